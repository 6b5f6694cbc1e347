"""Continuous batching on llama.cpp (`eval --engine llama.cpp`, `serve --engine llama.cpp`).

Up to `rows` rows are in flight in one llama.cpp context, each its own sequence; every step decodes one token of
each in one batch, and a row that ends gives its place (and its KV cache) to the next waiting row at once, so no
step is spent on padding or on rows that are done. On this CPU a step of 8 rows costs 2.7x a step of one
(bench/results/decode.md).

Rows are cut and counted as `generate_batch` cuts them: the caller gives the prompt's ids from the student's own
tokenizer, and after every token `trim_row` decides whether the row has ended (a completed stop string, its
eos_count-th EOS, the token limit); the token that ends a row is never fed back. llama.cpp's low-level API is
used because its high-level `Llama` decodes one sequence at a time.
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
    key: object  # the caller's name for it
    prompt: list[int]
    settings: DecodeSettings
    watched: bool  # a text stop string can end it: checked after every token, not only at EOS
    sample: bool  # draw each token at settings.temperature / top_p instead of taking the likeliest
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    logits_at: int = -1  # where its logits sit in the last decoded batch


class LlamaCppDecoder:
    """One llama.cpp context for `rows` sequences of up to `row_tokens` tokens each (prompt and answer). Not
    thread-safe: one thread adds, steps and cancels."""

    def __init__(self, gguf: Path, eos_ids: list[int], tokenizer, *, rows: int, row_tokens: int, threads: int, seed: int = 0):
        import logging

        import llama_cpp

        # llama.cpp's log lines are not the user's business (its loader's info; a context larger than the trained one,
        # which the shared KV pool below is by design); failures raise here instead. CRITICAL, not ERROR: this binding
        # maps ggml's current WARN level to ERROR.
        logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
        self._llama, self.eos_ids, self.tokenizer, self.rows = llama_cpp, eos_ids, tokenizer, rows
        llama_cpp.llama_backend_init()
        self._model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), llama_cpp.llama_model_default_params())
        if not self._model:
            raise RuntimeError(f"llama.cpp could not load {gguf}")
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        params = llama_cpp.llama_context_default_params()
        # One KV pool that the rows share as they come and go: `cotdistill eval --engine llama.cpp` on 16 last-letters
        # questions ran at 83 tokens/s with it and 61 with a cache per row.
        params.n_seq_max, params.kv_unified = rows, True
        params.n_ctx = params.n_batch = rows * row_tokens
        params.n_threads = params.n_threads_batch = threads
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._waiting: deque[_Row] = deque()
        self._running: dict[int, _Row] = {}  # by sequence id
        self._random = np.random.default_rng(seed)

    def close(self) -> None:
        self._llama.llama_batch_free(self._batch)
        self._llama.llama_free(self._ctx)
        self._llama.llama_model_free(self._model)

    @property
    def busy(self) -> bool:
        return bool(self._waiting or self._running)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def add(self, key, prompt: list[int], settings: DecodeSettings, sample: bool = False) -> None:
        """Queue a row (prompt token ids), greedy unless `sample`; it joins the batch at the next step with a free place."""
        watched = bool(text_stops(self.tokenizer, settings.stop_strings, settings.eos_count))
        self._waiting.append(_Row(key, prompt, settings, watched, sample))

    def cancel(self, key) -> None:
        """Drop a waiting or running row; a running row's place is free at the next step."""
        self._waiting = deque(row for row in self._waiting if row.key != key)
        for seq, row in list(self._running.items()):
            if row.key == key:
                self._free(seq)

    def step(self) -> list[tuple[object, Generation]]:
        """Admit waiting rows to free places, decode one token of every row; the rows that ended, with their keys."""
        for seq in range(self.rows):
            if not self._waiting:
                break
            if seq not in self._running:
                self._running[seq] = self._waiting.popleft()
        if not self._running:
            return []
        self._decode()
        ended = []
        for seq, row in list(self._running.items()):
            token, logprob = self._choose(row)
            row.tokens.append(token)
            row.logprobs.append(logprob)
            generation = self._ended(row)
            if generation is not None:
                if row.settings.logprobs:
                    generation = replace(generation, logprobs=tuple(row.logprobs[: generation.n_tokens]))
                ended.append((row.key, generation))
                self._free(seq)
        return ended

    def decode(self, prompts: list[list[int]], settings: DecodeSettings, on_row=None) -> list[Generation]:
        """One greedy row per prompt, in the prompts' order (eval's use); on_row(), if given, as each row ends."""
        for index, prompt in enumerate(prompts):
            self.add(index, prompt, settings)
        done: list[Generation | None] = [None] * len(prompts)
        while self.busy:
            for index, generation in self.step():
                done[index] = generation
                if on_row is not None:
                    on_row()
        return done

    def _free(self, seq: int) -> None:
        self._llama.llama_memory_seq_rm(self._memory, seq, -1, -1)
        del self._running[seq]

    def _decode(self) -> None:
        """One batch: a new row's whole prompt, a running row's last token; logits at each row's last."""
        batch, n = self._batch, 0
        for seq, row in self._running.items():
            new = row.tokens[-1:] if row.tokens else row.prompt
            start = len(row.prompt) + len(row.tokens) - len(new)
            for offset, token in enumerate(new):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, start + offset, 1
                batch.seq_id[n][0], batch.logits[n] = seq, offset == len(new) - 1
                n += 1
            row.logits_at = n - 1
        batch.n_tokens = n
        status = self._llama.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode a batch of {n} tokens (llama_decode returned {status})")

    def _choose(self, row: _Row) -> tuple[int, float]:
        """The next token (greedy, or sampled as the row's settings say) and, when asked, its log-probability under
        the raw logits (as chosen_logprobs reads them)."""
        pointer = self._llama.llama_get_logits_ith(self._ctx, row.logits_at)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))
        settings = row.settings
        token = self._sample(logits, settings.temperature, settings.top_p) if row.sample else int(logits.argmax())
        if not settings.logprobs:
            return token, 0.0
        shifted = logits.astype(np.float64) - logits.max()
        return token, float(shifted[token] - np.log(np.exp(shifted).sum()))

    def _sample(self, logits: np.ndarray, temperature: float, top_p: float) -> int:
        """A draw from softmax(logits / temperature), restricted to the top_p nucleus."""
        scaled = logits.astype(np.float64) / temperature
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        order = np.argsort(-probs)
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1]
        return int(self._random.choice(keep, p=probs[keep] / probs[keep].sum()))

    def _ended(self, row: _Row) -> Generation | None:
        """The row cut as generate_batch cuts it, once it has ended; None while it goes on."""
        if row.tokens[-1] in self.eos_ids or row.watched:  # only these can end a row before the limit
            generation = trim_row(row.tokens, self.tokenizer, self.eos_ids, row.settings.stop_strings, row.settings.eos_count)
            if generation.stopped_by != "length":
                return generation
        if len(row.tokens) >= row.settings.max_new_tokens:
            return trim_row(row.tokens, self.tokenizer, self.eos_ids, row.settings.stop_strings, row.settings.eos_count)
        return None
