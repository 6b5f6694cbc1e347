"""`cotdistill eval --engine llama.cpp`: greedy decoding of many questions at once in one llama.cpp context.

Up to `rows` questions are in flight, each its own llama.cpp sequence; every step decodes one token of each in
one batch, and a row that ends gives its place (and its KV cache) to the next question at once, so no step is
spent on padding or on rows that are done (continuous batching). On this CPU a step of 8 rows costs under 3x a
step of one (bench/results/decode.md), where transformers' costs about 2.5x and pads finished rows.

Rows are cut and counted as `generate_batch` cuts them: the student's own tokenizer gives the prompt ids, and
after every token `trim_row` decides whether the row has ended (a completed stop string, its eos_count-th EOS,
the token limit); the token that ends a row is never fed back. llama.cpp's low-level API is used because its
high-level `Llama` decodes one sequence at a time.
"""

from __future__ import annotations

import ctypes
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cotdistill.evaluation.generation import DecodeSettings, Generation, text_stops, trim_row


@dataclass
class _Row:
    index: int  # the question's position in the call
    prompt: list[int]
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    logits_at: int = -1  # where this row's logits sit in the last decoded batch


class LlamaCppDecoder:
    """One llama.cpp context for `rows` sequences of up to `row_tokens` tokens each (prompt and answer)."""

    def __init__(self, gguf: Path, eos_ids: list[int], *, rows: int, row_tokens: int, threads: int):
        import logging

        import llama_cpp

        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its loader's info lines are not the user's business
        self._llama, self.eos_ids, self.rows = llama_cpp, eos_ids, rows
        llama_cpp.llama_backend_init()
        self._model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), llama_cpp.llama_model_default_params())
        if not self._model:
            raise RuntimeError(f"llama.cpp could not load {gguf}")
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        params = llama_cpp.llama_context_default_params()
        params.n_seq_max, params.kv_unified = rows, True  # one KV pool that the rows share as they come and go
        params.n_ctx = params.n_batch = rows * row_tokens
        params.n_threads = params.n_threads_batch = threads
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._memory = llama_cpp.llama_get_memory(self._ctx)

    def close(self) -> None:
        self._llama.llama_batch_free(self._batch)
        self._llama.llama_free(self._ctx)
        self._llama.llama_model_free(self._model)

    def decode(self, prompts: list[list[int]], settings: DecodeSettings, tokenizer, on_row=None) -> list[Generation]:
        """One greedy row per prompt (token ids), in the prompts' order; on_row(), if given, as each row ends."""
        if settings.sampling:
            raise ValueError("the llama.cpp engine decodes greedily (one sample per question)")
        waiting = deque(_Row(i, ids) for i, ids in enumerate(prompts))
        running: dict[int, _Row] = {}  # by sequence id
        done: list[Generation | None] = [None] * len(prompts)
        watched = bool(text_stops(tokenizer, settings.stop_strings, settings.eos_count))
        while waiting or running:
            for seq in (s for s in range(self.rows) if s not in running):
                if not waiting:
                    break
                running[seq] = waiting.popleft()
            self._step(running)
            for seq, row in list(running.items()):
                token, logprob = self._choose(row.logits_at, settings.logprobs)
                row.tokens.append(token)
                row.logprobs.append(logprob)
                ended = self._ended(row, settings, tokenizer, watched)
                if ended is not None:
                    done[row.index] = replace(ended, logprobs=tuple(row.logprobs[: ended.n_tokens])) if settings.logprobs else ended
                    self._llama.llama_memory_seq_rm(self._memory, seq, -1, -1)  # its place goes to the next question
                    del running[seq]
                    if on_row is not None:
                        on_row()
        return done

    def _step(self, running: dict[int, _Row]) -> None:
        """Decode one batch: a new row's whole prompt, a running row's last token; logits at each row's last."""
        batch, n = self._batch, 0
        for seq, row in running.items():
            new = row.prompt if not row.tokens else row.tokens[-1:]
            start = 0 if not row.tokens else len(row.prompt) + len(row.tokens) - 1
            for offset, token in enumerate(new):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, start + offset, 1
                batch.seq_id[n][0], batch.logits[n] = seq, offset == len(new) - 1
                n += 1
            row.logits_at = n - 1
        batch.n_tokens = n
        status = self._llama.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode a batch of {n} tokens (llama_decode returned {status})")

    def _choose(self, at: int, with_logprob: bool) -> tuple[int, float]:
        """The greedy token and, when asked, its log-probability under the raw logits (as chosen_logprobs reads them)."""
        pointer = self._llama.llama_get_logits_ith(self._ctx, at)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))
        token = int(logits.argmax())
        if not with_logprob:
            return token, 0.0
        shifted = logits.astype(np.float64) - logits[token]  # the chosen token's logit is the maximum
        return token, float(-np.log(np.exp(shifted).sum()))

    def _ended(self, row: _Row, settings: DecodeSettings, tokenizer, watched: bool) -> Generation | None:
        """The row cut as generate_batch cuts it, once it has ended; None while it goes on."""
        if row.tokens[-1] in self.eos_ids or watched:  # only these can end a row before the limit
            generation = trim_row(row.tokens, tokenizer, self.eos_ids, settings.stop_strings, settings.eos_count)
            if generation.stopped_by != "length":
                return generation
        if len(row.tokens) >= settings.max_new_tokens:
            return trim_row(row.tokens, tokenizer, self.eos_ids, settings.stop_strings, settings.eos_count)
        return None
