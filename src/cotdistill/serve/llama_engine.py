"""`cotdistill serve --engine llama.cpp`: one request at a time on llama.cpp, rows cut as `cotdistill eval` cuts them.

On a CPU one decoding step of a 135M student takes 26.7 ms in llama.cpp and 56 ms in transformers
(bench/results/decode.md), so where requests come one at a time llama.cpp answers sooner; the
transformers engine (engine.py) batches concurrent requests instead.

- The student folder is converted once to an f16 GGUF and cached (export/gguf_cache.py).
- The student's own (Hugging Face) tokenizer turns the prompt into ids and llama.cpp gets the ids, so BOS
  and special tokens are those evaluation feeds. Greedy decoding; after every token the row is checked
  with `trim_row` (the first completed stop string, the eos_count-th EOS, max_tokens), so decoding stops at
  the token that ends it and the token counts are evaluation's.
- One llama.cpp context, one worker thread: requests queue for it while the event loop stays free.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from cotdistill.errors import CotdistillError
from cotdistill.evaluation.generation import Generation, prepare_tokenizer, text_stops, trim_row
from cotdistill.export.gguf_cache import cached_student, require_llama_cpp
from cotdistill.serve.engine import Completion, DecodeParams, EngineStats

ENGINE = "llama.cpp"
MAX_CONTEXT = 4096  # tokens of KV cache: past this a long-context student would hold memory no answer here needs


class LlamaCppEngine:
    """BatchingEngine's interface (complete, count_tokens, close, stats, context_length, tokenizer, logprobs) on
    one llama.cpp context; requests are decoded one after another, so `stats.largest_batch` is 1."""

    def __init__(self, model_dir: str | Path, *, logprobs: bool = False, cache_dir: Path | None = None):
        """logprobs: greedy rows keep each token's log-probability (a routed pair's answer-first student)."""
        require_llama_cpp()
        import llama_cpp
        import torch
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        student = cached_student(model_dir, cache_dir)
        self.gguf, self.eos_ids, self.logprobs = student.gguf, student.eos_ids, logprobs
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)  # the tokenizer load_merged_student gives
        prepare_tokenizer(self.tokenizer)
        self.context_length = min(student.context_length or MAX_CONTEXT, MAX_CONTEXT)
        threads = torch.get_num_threads()  # --threads / OMP_NUM_THREADS carry over
        self.llm = llama_cpp.Llama(str(self.gguf), n_ctx=self.context_length, n_threads=threads, n_threads_batch=threads,
                                   verbose=False)  # fmt: skip
        self.stats = EngineStats()
        # count_tokens runs on the event loop while the worker decodes: a fast tokenizer must not be used by
        # both threads at once ("Already borrowed").
        self._tokenizer_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cotdistill-llama-cpp")

    def close(self) -> None:
        """Wait for the request being decoded, drop the queued ones, free the model."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.llm.close()

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode(prompt))

    async def complete(self, prompt: str, params: DecodeParams) -> Completion:
        self.stats.requests += 1
        self.stats.largest_batch = 1
        if not params.greedy:
            self.stats.sampled_batches += 1
        cancelled = threading.Event()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, self._decode, prompt, params, cancelled)
        except asyncio.CancelledError:  # the client went away: a queued request is dropped, a decoding one stops
            cancelled.set()
            raise

    def question_features(self, prompt: str):
        raise CotdistillError("the perception probe reads the student's hidden states through transformers; "
                              "serve this routed pair with --engine transformers")  # fmt: skip

    def _encode(self, prompt: str) -> list[int]:
        with self._tokenizer_lock:
            return list(self.tokenizer(prompt)["input_ids"])

    def _decode(self, prompt: str, params: DecodeParams, cancelled: threading.Event) -> Completion:
        """In the worker thread: `params.n` rows, one after another (a sampled request's rows each draw anew)."""
        prompt_ids = self._encode(prompt)
        return Completion(len(prompt_ids), [self._row(prompt_ids, params, cancelled) for _ in range(params.n)])

    def _row(self, prompt_ids: list[int], params: DecodeParams, cancelled: threading.Event) -> Generation:
        # llama.cpp's own prompt cache applies: a prompt sharing a prefix with the last one decodes only the rest.
        tokens = self.llm.generate(prompt_ids, **_sampling(params))
        watched = bool(text_stops(self.tokenizer, params.stop, params.eos_count))
        keep_logprobs = self.logprobs and params.greedy
        ids, logprobs, generation = [], [], None
        try:
            # generate() yields each token before evaluating it, so breaking here decodes nothing past the end.
            for token in tokens:
                ids.append(token)
                if keep_logprobs:
                    logprobs.append(self._logprob(token))
                if token in self.eos_ids or watched:  # only these can end the row before the length limit
                    generation = self._trim(ids, params)
                    if generation.stopped_by != "length":
                        break
                if len(ids) >= params.max_tokens or cancelled.is_set():
                    generation = None
                    break
        finally:
            tokens.close()
        generation = generation or self._trim(ids, params)
        return replace(generation, logprobs=tuple(logprobs[: generation.n_tokens])) if keep_logprobs else generation

    def _trim(self, ids: list[int], params: DecodeParams) -> Generation:
        with self._tokenizer_lock:
            return trim_row(ids, self.tokenizer, self.eos_ids, params.stop, params.eos_count)

    def _logprob(self, token: int) -> float:
        """log p(token) under the raw logits of the step that chose it (log_softmax over the vocabulary), as
        evaluation's chosen_logprobs reads them; llama.cpp still holds that step's logits when it yields."""
        import llama_cpp

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm.ctx, -1), shape=(self.llm.n_vocab(),))
        logits = logits.astype(np.float64)
        peak = logits.max()
        return float(logits[token] - peak - np.log(np.exp(logits - peak).sum()))


def _sampling(params: DecodeParams) -> dict:
    """llama.cpp sampler settings: greedy (argmax), or OpenAI's temperature and top_p with llama.cpp's other
    filters (top_k 40, min_p 0.05 by default) off. A new random seed for every row."""
    if params.greedy:
        return {"temp": 0.0}
    return {"temp": params.temperature, "top_p": params.top_p, "top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0}
