"""The `reference` teacher: worked solutions that the synthetic tasks compute themselves.

No model is involved: each sample is a fresh `reference_rationale(record, rng, error_rate)` in
varied wording, wrong on purpose with probability `error_rate`. Samples are marked synthetic in the
store, and curation carries the mark into every training record it writes from them.
"""

from __future__ import annotations

import random

from cotdistill.errors import CotdistillError
from cotdistill.teachers.base import Backend, Completion, Request


class ReferenceBackend(Backend):
    name = "reference"
    synthetic = True
    uses_prompts = False
    supports_n = True
    default_concurrency = 1

    def __init__(self, model: str = "reference", error_rate: float = 0.0):
        if not 0.0 <= error_rate <= 1.0:
            raise CotdistillError(f"--error-rate must be between 0 and 1, got {error_rate}")
        super().__init__(model)
        self.error_rate = error_rate

    def key_fields(self) -> dict:
        return {"error_rate": self.error_rate}

    async def agenerate(self, request: Request) -> list[Completion]:
        from cotdistill.tasks.synthetic import reference_rationale

        self.stats.requests += 1
        # each sample from its own seed, derived from (config, question, sample index): the same text
        # whether it was requested alone, in a group, first time or on resumption
        seeds = request.sample_seeds or tuple(request.seed + i for i in range(request.n))
        try:
            texts = [reference_rationale(request.record, random.Random(seed), error_rate=self.error_rate) for seed in seeds]
        except (KeyError, ValueError, TypeError) as error:
            raise CotdistillError(
                f"question {request.record.id}: the reference teacher works only on the built-in synthetic "
                f"tasks (synth-*), which know how to solve their own questions ({error})"
            ) from error
        return [Completion(text=text, prompt_tokens=0, completion_tokens=len(text.split()), latency_s=0.0) for text in texts]
