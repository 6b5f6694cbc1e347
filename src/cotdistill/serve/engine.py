"""Batching for `cotdistill serve`: concurrent requests share the model's forward passes.

- Greedy requests (the default, and how `cotdistill eval` decodes) are continuously batched with
  transformers' `ContinuousBatchingManager`: a request joins the running batch at the next decoding
  step and leaves it as soon as it ends, so a short answer never waits for a long rationale beside it.
  Stop strings are watched token by token here (the manager knows only EOS ids); a row that completes
  one is cancelled, which frees its place at once.
- Sampled requests (temperature > 0, n completions each) take the older path: they queue up, the
  oldest waits `batch_wait_s` for others with the same settings (up to `max_batch`) and the group is
  decoded in one `generate` call, while the continuous batch pauses. The manager samples with one
  setting for all its requests, so it cannot mix them with greedy ones.

Rows are cut where `cotdistill eval` cuts them (`trim_row`: the first completed stop string, EOS, or
the length limit), so the token counts are the real ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from cotdistill.evaluation.generation import (
    Generation,
    eos_token_ids,
    prepare_tokenizer,
    row_end_kwargs,
    text_stops,
    trim_row,
)

# Tokens of KV cache per batch place. transformers sizes the cache from free memory (60% of it on a
# CPU, 14 GB here); this bounds it to what `max_batch` requests of up to this length need. A longer
# request still runs: the manager evicts and later recomputes a row when the cache is full.
CACHE_TOKENS_PER_REQUEST = 2048
CACHE_PAGE_TOKENS = 256


@dataclass(frozen=True)
class DecodeParams:
    """Requests with equal params can share a sampled batch."""

    max_tokens: int
    stop: tuple[str, ...]
    temperature: float = 0.0  # 0: greedy, as evaluation decodes
    top_p: float = 1.0
    n: int = 1
    eos_count: int = 1  # a row ends at its eos_count-th EOS (2: an EOS separator, then the rationale)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 and self.n == 1


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
    prompt_ids: list[int] = field(default_factory=list)


@dataclass
class EngineStats:
    requests: int = 0
    largest_batch: int = 0  # the most requests decoded side by side
    sampled_batches: int = 0


class BatchingEngine:
    """Owns the model; `await engine.complete(prompt, params)` from any number of concurrent requests."""

    def __init__(self, model, tokenizer, *, max_batch: int = 8, batch_wait_s: float = 0.005, logprobs: bool = False):
        """logprobs: greedy rows keep each token's log-probability (a routed pair's answer-first student)."""
        prepare_tokenizer(tokenizer)
        self.logprobs = logprobs
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_s
        self.eos_ids = eos_token_ids(model, tokenizer)
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        self.stats = EngineStats()
        # A fast tokenizer's padding settings are mutable state: a padded batch encode, a token count and
        # a decode in different threads must not run at once ("Already borrowed").
        self._tokenizer_lock = threading.Lock()
        self._continuous = self._start_continuous_batching()
        self._decoding: dict[str, _Job] = {}  # greedy requests in the continuous batch, by request id
        threading.Thread(target=self._route_outputs, name="cotdistill-router", daemon=True).start()
        self._sampled: queue.Queue[_Job] = queue.Queue()
        self._held: list[_Job] = []  # taken from the queue but waiting for a batch with their settings
        threading.Thread(target=self._run_sampled, name="cotdistill-sampler", daemon=True).start()

    def close(self) -> None:
        """Stop the decoding loop; its thread would otherwise keep the interpreter from exiting."""
        self._continuous.stop(block=True, timeout=30)

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode(prompt))

    async def complete(self, prompt: str, params: DecodeParams) -> Completion:
        loop = asyncio.get_running_loop()
        job = _Job(prompt, params, loop, loop.create_future())
        self.stats.requests += 1
        if not params.greedy:
            self._sampled.put(job)
            return await job.future
        job.prompt_ids = self._encode(prompt)
        request_id = uuid.uuid4().hex
        self._decoding[request_id] = job
        self.stats.largest_batch = max(self.stats.largest_batch, min(len(self._decoding), self.max_batch))
        # Streamed token by token when this side decides where the row ends: a stop string, or an EOS
        # that is a separator rather than the end.
        watched = bool(text_stops(self.tokenizer, params.stop, params.eos_count)) or params.eos_count > 1
        self._continuous.add_request(job.prompt_ids, request_id=request_id, max_new_tokens=params.max_tokens,
                                     streaming=watched, eos_token_id=self.eos_ids if params.eos_count == 1 else [])  # fmt: skip
        try:
            return await job.future
        finally:  # the client went away: its row leaves the batch
            if self._decoding.pop(request_id, None) is not None:
                self._continuous.cancel_request(request_id)

    def question_features(self, prompt: str):
        """The perception probe's input for one prompt (a routed pair's). A plain forward pass beside
        the decoding loop: the continuous batch pauses for it, as it does for a sampled batch."""
        from cotdistill.routing import question_features

        with self._continuous.pause(), self._tokenizer_lock:
            return question_features(self.model, self.tokenizer, [prompt])

    def _encode(self, prompt: str) -> list[int]:
        with self._tokenizer_lock:
            return list(self.tokenizer(prompt)["input_ids"])

    # --- greedy: continuous batching --------------------------------------------------------------
    def _start_continuous_batching(self):
        from transformers import ContinuousBatchingConfig, GenerationConfig

        tokens = self.max_batch * min(self.context_length or CACHE_TOKENS_PER_REQUEST, CACHE_TOKENS_PER_REQUEST)
        settings = ContinuousBatchingConfig(
            max_requests_per_batch=self.max_batch,
            page_size=CACHE_PAGE_TOKENS,
            num_blocks=math.ceil(tokens / CACHE_PAGE_TOKENS),  # a block holds one page of every layer
            return_logprobs=self.logprobs,
        )
        generation = GenerationConfig(do_sample=False, eos_token_id=self.eos_ids, pad_token_id=self.tokenizer.pad_token_id)
        manager = self.model.init_continuous_batching(generation_config=generation, continuous_batching_config=settings)
        manager.warmup()  # allocates the KV cache now: the server is ready only once it can decode
        manager.start()
        return manager

    def _route_outputs(self) -> None:
        """Hand each row to its caller once it ends: at a stop string or its last EOS (streamed rows, cut here) or
        where the manager ended it (EOS, the token limit)."""
        while True:
            output = self._continuous.get_result(timeout=1.0)
            if output is None:
                if not self._continuous.is_running():
                    self._fail_decoding(RuntimeError("the decoding loop stopped; see the server log"))
                    time.sleep(1.0)
                continue
            job = self._decoding.get(output.request_id)
            if job is None:  # answered already, or its caller went away
                continue
            if output.error is not None:
                self._decoding.pop(output.request_id, None)
                job.loop.call_soon_threadsafe(_set_exception, job.future, RuntimeError(output.error))
                continue
            with self._tokenizer_lock:
                generation = trim_row(output.generated_tokens, self.tokenizer, self.eos_ids, job.params.stop,
                                      job.params.eos_count)  # fmt: skip
            if self.logprobs:
                generation = dataclasses.replace(generation, logprobs=tuple(output.logprobs[: generation.n_tokens]))
            if generation.stopped_by != "length" or output.is_finished():
                self._decoding.pop(output.request_id, None)
                if not output.is_finished():  # ended here, not by the manager: free its place in the batch now
                    self._continuous.cancel_request(output.request_id)
                job.loop.call_soon_threadsafe(_set_result, job.future, Completion(len(job.prompt_ids), [generation]))

    def _fail_decoding(self, error: Exception) -> None:
        for job in list(self._decoding.values()):
            job.loop.call_soon_threadsafe(_set_exception, job.future, error)

    # --- sampled: static batches ------------------------------------------------------------------
    def _run_sampled(self) -> None:
        while True:
            batch = self._next_sampled_batch()
            try:
                with self._continuous.pause():
                    results = self._decode([job.prompt for job in batch], batch[0].params)
            except Exception as error:  # noqa: BLE001 - every caller gets the error, the worker lives on
                for job in batch:
                    job.loop.call_soon_threadsafe(_set_exception, job.future, error)
                continue
            for job, result in zip(batch, results):
                job.loop.call_soon_threadsafe(_set_result, job.future, result)

    def _next_sampled_batch(self) -> list[_Job]:
        """The oldest job plus every job with the same params that arrives within the wait, up to max_batch."""
        first = self._held.pop(0) if self._held else self._sampled.get()
        batch, others = [first], []
        for job in self._held:
            (batch if job.params == first.params and len(batch) < self.max_batch else others).append(job)
        deadline = time.perf_counter() + self.batch_wait_s
        while len(batch) < self.max_batch:
            try:
                job = self._sampled.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            (batch if job.params == first.params else others).append(job)
        self._held = others
        self.stats.sampled_batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        return batch

    def _decode(self, prompts: list[str], params: DecodeParams) -> list[Completion]:
        import torch

        with self._tokenizer_lock:
            encoded = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.model.device)
        kwargs = dict(max_new_tokens=params.max_tokens, pad_token_id=self.tokenizer.pad_token_id, num_return_sequences=params.n,
                      do_sample=True, temperature=params.temperature, top_p=params.top_p,
                      **row_end_kwargs(self.tokenizer, self.eos_ids, params.stop, params.eos_count, encoded["input_ids"].shape[1]))  # fmt: skip
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        rows = output[:, encoded["input_ids"].shape[1] :].tolist()
        with self._tokenizer_lock:
            generations = [trim_row(ids, self.tokenizer, self.eos_ids, params.stop, params.eos_count) for ids in rows]
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        n = params.n
        return [Completion(int(prompt_tokens[i]), generations[i * n : (i + 1) * n]) for i in range(len(prompts))]


def _set_result(future: asyncio.Future, value) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(value)


def _set_exception(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
