"""Dynamic batching: concurrent requests are decoded together in one `generate` call, not one by one.

Requests queue up; a single worker thread takes the oldest, waits `batch_wait_s` for others with
the same decoding settings to join (up to `max_batch`), decodes them as one left-padded batch and
hands each caller its rows. Rows are cut where `cotdistill eval` cuts them (`trim_row`: the first
completed stop string, EOS, or the length limit), so the token counts are the real ones.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass, field

from cotdistill.evaluation.generation import Generation, eos_token_ids, prepare_tokenizer, trim_row


@dataclass(frozen=True)
class DecodeParams:
    """Requests with equal params can share a batch."""

    max_tokens: int
    stop: tuple[str, ...]
    temperature: float = 0.0  # 0: greedy, as evaluation decodes
    top_p: float = 1.0
    n: int = 1


@dataclass
class Completion:
    prompt_tokens: int
    generations: list[Generation]


@dataclass
class _Job:
    prompt: str
    params: DecodeParams
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class EngineStats:
    batches: int = 0
    requests: int = 0
    largest_batch: int = 0


class BatchingEngine:
    """Owns the model; `await engine.complete(prompt, params)` from any number of concurrent requests."""

    def __init__(self, model, tokenizer, *, max_batch: int = 8, batch_wait_s: float = 0.005):
        prepare_tokenizer(tokenizer)
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_s
        self.eos_ids = eos_token_ids(model, tokenizer)
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        self.stats = EngineStats()
        # A fast tokenizer's padding settings are mutable state: a padded batch encode in the worker and
        # a token count in the event loop must not run at once ("Already borrowed").
        self._tokenizer_lock = threading.Lock()
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._held: list[_Job] = []  # taken from the queue but waiting for a batch with their settings
        self._worker = threading.Thread(target=self._run, name="cotdistill-batcher", daemon=True)
        self._worker.start()

    def count_tokens(self, prompt: str) -> int:
        with self._tokenizer_lock:
            return len(self.tokenizer(prompt)["input_ids"])

    async def complete(self, prompt: str, params: DecodeParams) -> Completion:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(prompt, params, loop, future))
        return await future

    # --- worker thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                results = self._decode([job.prompt for job in batch], batch[0].params)
            except Exception as error:  # noqa: BLE001 - every caller gets the error, the worker lives on
                for job in batch:
                    job.loop.call_soon_threadsafe(_set_exception, job.future, error)
                continue
            for job, result in zip(batch, results):
                job.loop.call_soon_threadsafe(_set_result, job.future, result)

    def _next_batch(self) -> list[_Job]:
        """The oldest job plus every job with the same params that arrives within the wait, up to max_batch."""
        first = self._held.pop(0) if self._held else self._queue.get()
        batch, others = [first], []
        for job in self._held:
            (batch if job.params == first.params and len(batch) < self.max_batch else others).append(job)
        deadline = time.perf_counter() + self.batch_wait_s
        while len(batch) < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            (batch if job.params == first.params else others).append(job)
        self._held = others
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        return batch

    def _decode(self, prompts: list[str], params: DecodeParams) -> list[Completion]:
        import torch

        with self._tokenizer_lock:
            encoded = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.model.device)
        kwargs = dict(max_new_tokens=params.max_tokens, eos_token_id=self.eos_ids,
                      pad_token_id=self.tokenizer.pad_token_id, num_return_sequences=params.n)  # fmt: skip
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        rows = output[:, encoded["input_ids"].shape[1] :].tolist()
        generations = [trim_row(ids, self.tokenizer, self.eos_ids, params.stop) for ids in rows]
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        n = params.n
        return [Completion(int(prompt_tokens[i]), generations[i * n : (i + 1) * n]) for i in range(len(prompts))]


def _set_result(future: asyncio.Future, value) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(value)


def _set_exception(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
