"""The one sampling interface every teacher backend implements.

The contract is deliberately tiny (as in distilabel): a backend answers ONE request, `agenerate`,
with up to `request.n` completions. Concurrency, resumption, parsing and storage live in the runner
(`cotdistill.teachers.runner`), so a new backend is one small class.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cotdistill.errors import CotdistillError
from cotdistill.records import Record


class TeacherError(CotdistillError):
    """A request that failed for good (after retries, or a non-retryable error such as HTTP 401).

    `fatal` errors (a wrong key, URL or model) stop the whole run; others lose just that request,
    which a re-run asks for again.
    """

    def __init__(self, message: str, *, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class SamplingParams(BaseModel):
    """Decoding settings sent with every request; part of the teacher-config key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(1.0, ge=0.0, description="Sampling temperature (SCoTD uses 1.0).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(256, gt=0, description="Most tokens generated per completion.")
    stop: tuple[str, ...] = Field((), description="Strings that end a completion early.")

    def with_(self, **changes: Any) -> "SamplingParams":
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class Prompt:
    """A prompt for either endpoint kind: `text` for completions, `messages` for chat."""

    text: str
    system: str | None = None

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, {"role": "user", "content": self.text}]


@dataclass(frozen=True)
class Request:
    """One call to a backend: n completions of one prompt for one question."""

    record: Record
    prompt: Prompt
    n: int
    params: SamplingParams
    seed: int
    # One seed per sample, for backends that can seed each choice on its own (the reference
    # teacher): sample i then depends only on (config, question, i), never on how the request was
    # grouped, so a resumed run draws exactly what an uninterrupted one would. Empty: use `seed`.
    sample_seeds: tuple[int, ...] = ()


@dataclass
class Completion:
    """One completion as returned by a backend."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None


@dataclass
class BackendStats:
    """Counters a backend keeps for the end-of-run summary."""

    requests: int = 0
    retries: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def failed(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1


class Backend(ABC):
    """A teacher. Subclasses implement `agenerate` for one request."""

    #: short name stored with every sample ("openai", "hf", "vllm", "reference")
    name: str = "backend"
    #: True when outputs are written by a program rather than a model (the `reference` backend)
    synthetic: bool = False
    #: False when the backend ignores the prompt (the `reference` backend writes its own solutions)
    uses_prompts: bool = True
    #: whether one request can return n>1 completions; None = unknown, the runner finds out
    supports_n: bool | None = True
    #: default concurrency for this backend (a local model gains nothing from more than its batch)
    default_concurrency: int = 8

    def __init__(self, model: str):
        self.model = model
        self.stats = BackendStats()

    @abstractmethod
    async def agenerate(self, request: Request) -> list[Completion]:
        """Up to `request.n` completions for `request.prompt` (fewer if the server ignores `n`)."""

    def key_fields(self) -> dict[str, Any]:
        """Backend settings that change outputs and so belong in the teacher-config key."""
        return {}

    async def aclose(self) -> None:
        """Release connections, engines, threads."""


class BatchingBackend(Backend):
    """A local model: concurrent requests are gathered into batches and generated together.

    `agenerate` queues the request; a single worker takes up to `batch_size` queued requests, groups
    them by (n, params) and runs `generate_batch` in a thread, so the event loop (and the progress
    bar and store writes) keeps running while the model computes.
    """

    supports_n = True

    def __init__(self, model: str, batch_size: int = 8):
        super().__init__(model)
        self.batch_size = batch_size
        self.default_concurrency = batch_size
        self.batches = 0  # generate_batch calls so far
        self._queue: asyncio.Queue[tuple[Request, asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None

    @abstractmethod
    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        """Completions for several requests sharing n and params, in request order (blocking)."""

    async def agenerate(self, request: Request) -> list[Completion]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._serve())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def _serve(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(0)  # let concurrently started requests reach the queue
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for group in _group_by_settings(batch):
                requests = [request for request, _ in group]
                self.stats.requests += len(requests)
                self.batches += 1
                try:
                    results = await asyncio.to_thread(self.generate_batch, requests)
                except Exception as error:  # hand the failure to every waiting request
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), completions in zip(group, results):
                    if not future.done():
                        future.set_result(completions)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker, self._queue = None, None


def _group_by_settings(batch: list[tuple[Request, asyncio.Future]]) -> list[list[tuple[Request, asyncio.Future]]]:
    groups: dict[tuple, list] = {}
    for item in batch:
        request = item[0]
        groups.setdefault((request.n, request.params), []).append(item)
    return list(groups.values())
