"""`cotdistill serve --engine llama.cpp`: concurrent requests share one llama.cpp context's decoding steps.

On a CPU a decoding step of a 135M student takes 26.7 ms in llama.cpp and 56 ms in transformers
(bench/results/decode.md), and a step of 8 rows 2.7x one row's: so llama.cpp answers sooner one request at a
time and keeps up under load. The transformers engine (engine.py) is for GPUs and the perception probe.

- The student folder is converted once to an f16 GGUF and cached (export/gguf_cache.py).
- The student's own (Hugging Face) tokenizer turns the prompt into ids and llama.cpp gets the ids, so BOS
  and special tokens are those evaluation feeds.
- One decoding thread owns the context (evaluation/llama_cpp.py's continuous batching): a request joins the
  batch at the next step and leaves it at the token that ends its row, cut and counted as `cotdistill eval`
  cuts rows. Greedy and sampled requests share the batch; each row draws or takes the likeliest token itself.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from cotdistill.errors import CotdistillError
from cotdistill.evaluation.generation import DecodeSettings, Generation, prepare_tokenizer
from cotdistill.export.gguf_cache import cached_student, require_llama_cpp
from cotdistill.serve.engine import Completion, DecodeParams, EngineStats, _set_exception, _set_result

ROW_TOKENS = 2048  # KV cache per batch place (prompt and answer), as the transformers engine's CACHE_TOKENS_PER_REQUEST
_STOP = object()


@dataclass
class _Request:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    prompt_tokens: int
    rows: list  # one Generation per completion asked for (n), None until it ends


class LlamaCppEngine:
    """BatchingEngine's interface (complete, count_tokens, close, stats, context_length, tokenizer, logprobs) on one
    llama.cpp context, up to `max_batch` rows decoded side by side."""

    def __init__(self, model_dir: str | Path, *, max_batch: int = 8, logprobs: bool = False, cache_dir: Path | None = None):
        """logprobs: greedy rows keep each token's log-probability (a routed pair's answer-first student)."""
        require_llama_cpp()
        import torch
        from transformers import AutoTokenizer

        from cotdistill.evaluation.llama_cpp import LlamaCppDecoder

        model_dir = Path(model_dir)
        student = cached_student(model_dir, cache_dir)
        self.gguf, self.eos_ids, self.logprobs = student.gguf, student.eos_ids, logprobs
        self.context_length = min(student.context_length or ROW_TOKENS, ROW_TOKENS)
        # Two tokenizers: a fast tokenizer must not encode on the event loop while the decoding thread decodes
        # with it ("Already borrowed"); each thread has its own.
        self.tokenizer, decoding_tokenizer = (AutoTokenizer.from_pretrained(model_dir) for _ in range(2))
        for tokenizer in (self.tokenizer, decoding_tokenizer):
            prepare_tokenizer(tokenizer)
        self._decoder = LlamaCppDecoder(self.gguf, self.eos_ids, decoding_tokenizer, rows=max_batch,
                                        row_tokens=self.context_length, threads=torch.get_num_threads())  # fmt: skip
        self.stats = EngineStats()
        self._commands: queue.Queue = queue.Queue()
        self._requests: dict[str, _Request] = {}  # owned by the decoding thread
        self._thread = threading.Thread(target=self._run, name="cotdistill-llama-cpp", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the decoding thread (rows in flight are dropped) and free the model."""
        self._commands.put(_STOP)
        self._thread.join(timeout=60)
        self._decoder.close()

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode(prompt))

    async def complete(self, prompt: str, params: DecodeParams) -> Completion:
        loop = asyncio.get_running_loop()
        ids = self._encode(prompt)
        request, key = _Request(loop, loop.create_future(), len(ids), [None] * params.n), uuid.uuid4().hex
        self.stats.requests += 1
        self.stats.sampled_batches += not params.greedy
        settings = DecodeSettings(max_new_tokens=params.max_tokens, stop_strings=params.stop, eos_count=params.eos_count,
                                  temperature=params.temperature or 1.0, top_p=params.top_p,
                                  logprobs=self.logprobs and params.greedy)  # fmt: skip
        self._commands.put(("add", key, request, ids, settings, not params.greedy))
        try:
            return await request.future
        except asyncio.CancelledError:  # the client went away: its rows leave the batch
            self._commands.put(("cancel", key, request))
            raise

    def question_features(self, prompt: str):
        raise CotdistillError("the perception probe reads the student's hidden states through transformers; "
                              "serve this routed pair with --engine transformers")  # fmt: skip

    def _encode(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    # --- the decoding thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                command = self._commands.get(block=not self._decoder.busy)
                while command is not _STOP:
                    self._apply(*command)
                    command = self._commands.get_nowait()
            except queue.Empty:
                command = None
            if command is _STOP:
                return
            try:
                ended = self._decoder.step()
            except Exception as error:  # noqa: BLE001 - every caller hears of it, the thread lives on
                for key, request in list(self._requests.items()):
                    self._apply("cancel", key, request)
                    request.loop.call_soon_threadsafe(_set_exception, request.future, error)
                continue
            self.stats.largest_batch = max(self.stats.largest_batch, self._decoder.in_flight + len(ended))
            for (key, k), generation in ended:
                self._finish(key, k, generation)

    def _apply(self, action: str, key: str, request: _Request, *row) -> None:
        if action == "add":
            ids, settings, sample = row
            self._requests[key] = request
            for k in range(len(request.rows)):
                self._decoder.add((key, k), ids, settings, sample)
        else:
            self._requests.pop(key, None)
            for k in range(len(request.rows)):
                self._decoder.cancel((key, k))

    def _finish(self, key: str, k: int, generation: Generation) -> None:
        request = self._requests.get(key)
        if request is None:
            return
        request.rows[k] = generation
        if all(row is not None for row in request.rows):
            del self._requests[key]
            request.loop.call_soon_threadsafe(_set_result, request.future, Completion(request.prompt_tokens, request.rows))
