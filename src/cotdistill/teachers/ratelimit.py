"""Requests- and tokens-per-minute limits, and the retry delay (exponential backoff with jitter).

The limiter is a sliding window: an acquisition of `amount` waits until the amounts acquired in the
last `window_s` seconds plus `amount` fit under `limit`. One amount larger than the limit on its own
is let through when the window is empty (otherwise it could never be sent). Clock and sleep are
injectable so tests can run on a fake clock.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: float,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        self.limit, self.window_s = limit, window_s
        self._clock, self._sleep = clock, sleep
        self._events: deque[tuple[float, float]] = deque()  # (time, amount)
        self._used = 0.0
        self._lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - self.window_s:
            self._used -= self._events.popleft()[1]

    async def acquire(self, amount: float = 1.0) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = self._clock()
                self._expire(now)
                if self._used + amount <= self.limit or not self._events:
                    self._events.append((now, amount))
                    self._used += amount
                    return
                # wait until enough of the oldest acquisitions leave the window
                freed, wake = self._used, now
                for stamp, used in self._events:
                    freed -= used
                    wake = stamp + self.window_s
                    if freed + amount <= self.limit:
                        break
                await self._sleep(max(wake - now, 1e-3))


def backoff_delay(attempt: int, *, base_s: float = 0.5, max_s: float = 30.0, retry_after_s: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    Exponential backoff with "equal jitter": half of min(max_s, base_s * 2**attempt) plus a random
    share of the other half, so concurrent clients spread out. A server's Retry-After is a floor.
    """
    rng = rng or random
    ceiling = min(max_s, base_s * 2**attempt)
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


def parse_retry_after(headers) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or OpenAI's retry-after-ms."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
