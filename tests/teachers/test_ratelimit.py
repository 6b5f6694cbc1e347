"""Rate limits on a fake clock, the backoff delay and Retry-After parsing."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from cotdistill.teachers.ratelimit import SlidingWindowLimiter, backoff_delay, parse_retry_after


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _times(limiter: SlidingWindowLimiter, clock: FakeClock, amounts: list[float]) -> list[float]:
    async def run():
        stamps = []
        for amount in amounts:
            await limiter.acquire(amount)
            stamps.append(clock.now)
        return stamps

    return asyncio.run(run())


def test_requests_per_window():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 60, clock=clock, sleep=clock.sleep)
    # three fit in the first minute; the 4th waits until the 1st leaves the window, and so on
    assert _times(limiter, clock, [1] * 7) == pytest.approx([0, 0, 0, 60, 60, 60, 120])


def test_tokens_per_window_and_oversized_requests():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(1000, 60, clock=clock, sleep=clock.sleep)
    # 600 + 300 fit; 500 more must wait for the 600 to expire (then 300 + 500 = 800 fit)
    assert _times(limiter, clock, [600, 300, 500]) == pytest.approx([0, 0, 60])
    clock2 = FakeClock()
    big = SlidingWindowLimiter(100, 60, clock=clock2, sleep=clock2.sleep)
    # a request bigger than the limit goes alone into an empty window
    assert _times(big, clock2, [50, 250, 10]) == pytest.approx([0, 60, 120])


def test_backoff_grows_with_jitter_and_honours_retry_after():
    rng = random.Random(0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        delays = [backoff_delay(attempt, base_s=0.5, max_s=30, rng=rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert len(set(delays)) > 100  # jittered, not constant
    assert backoff_delay(0, base_s=0.5, retry_after_s=7.0, rng=rng) == 7.0
    assert 15 <= backoff_delay(5, base_s=1, max_s=30, retry_after_s=0.1, rng=rng) <= 30


def test_parse_retry_after():
    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500", "Retry-After": "9"})) == 1.5
    assert parse_retry_after(httpx.Headers({})) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # in the past
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
