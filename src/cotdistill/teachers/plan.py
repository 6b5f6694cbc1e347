"""A teacher run's plan: what it is about to request and spend, computed before its first request from the
prompts and what the store (and the stores it may reuse) already hold. `teach` shows it, `--max-requests`
refuses a larger one, `teach --check` prints it and spends nothing.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cotdistill.errors import CotdistillError
from cotdistill.records import Record
from cotdistill.store import RationaleStore
from cotdistill.store.sqlite import same_question
from cotdistill.teachers.base import Backend, Prompt
from cotdistill.teachers.prompts import PromptStyle, ZeroShotCoT

CHARS_PER_TOKEN = 4  # the plan's rough token count (no tokenizer is loaded for it); the TPM limiter uses the same


def estimate_tokens(prompt: Prompt) -> int:
    """A prompt's tokens, roughly: its characters (system message included) / 4, rounded up."""
    return math.ceil((len(prompt.text) + len(prompt.system or "")) / CHARS_PER_TOKEN)


@dataclass
class TeachPlan:
    """What a teacher run is about to spend, computed before its first request (`plan_teach`)."""

    task: str
    split: str
    teacher: str  # backend:model
    config_key: str
    questions: int
    samples: int  # per question
    stored: int  # of questions x samples: in the store already
    reusable: int  # copied from the `reuse` stores instead of requested
    missing: int  # samples to request
    requests: int  # at most (a server that ignores n gets one request per sample)
    requests_with_n: int  # when the backend honours n: one request per question and stage
    prompt_tokens: int  # estimated: characters / 4 of the prompts of those `requests`
    completion_tokens: int  # at most: every completion as long as max_tokens allows
    max_tokens: int
    answer_stage: bool  # zero-shot CoT: a second, short request per sample extracts the answer
    spends: bool  # False for the reference teacher: no model is called, nothing is spent
    token_estimate: str = f"characters / {CHARS_PER_TOKEN}"

    @property
    def wanted(self) -> int:
        return self.questions * self.samples

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "wanted": self.wanted}

    def lines(self) -> list[str]:
        """The plan as a few readable lines."""
        def n(value: int) -> str:
            return f"{value:,}"

        lines = [
            f"teacher plan for {self.task}/{self.split} with {self.teacher} (config {self.config_key}):",
            f"  questions:            {n(self.questions)}",
            f"  samples per question: {n(self.samples)} ({n(self.wanted)} wanted: {n(self.stored)} stored"
            + (f", {n(self.reusable)} to copy from --reuse" if self.reusable else "") + f", {n(self.missing)} to request)",
        ]
        if not self.missing:
            return lines + ["  requests:             none (every sample is stored already)"]
        stage = " and one answer-stage request per sample" if self.answer_stage else ""
        if self.requests_with_n < self.requests:
            lines.append(f"  requests:             at most {n(self.requests)} ({n(self.requests_with_n)} if the server honours n: "
                         f"one per question{stage})")
        else:
            lines.append(f"  requests:             {n(self.requests)}" + (f" (one per question{stage})" if self.missing > 1 else ""))
        if not self.spends:
            return lines + ["  tokens:               none (the reference teacher computes its solutions: no model is called)"]
        completions = self.missing * (2 if self.answer_stage else 1)
        answer = f" + {n(self.missing)} answer-stage completions x {ZeroShotCoT.answer_params.max_tokens}" if self.answer_stage else ""
        return lines + [
            f"  prompt tokens:        ~{n(self.prompt_tokens)} (estimated as {self.token_estimate} of the actual prompts, "
            f"over {'those' if self.requests_with_n < self.requests else 'the'} {n(self.requests)} requests)",
            f"  completion tokens:    at most {n(self.completion_tokens)} ({n(self.missing)} completions x max_tokens "
            f"{n(self.max_tokens)}{answer}; {n(completions)} completions in all)",
        ]

    def text(self) -> str:
        return "\n".join(self.lines())


class PlanTooLarge(CotdistillError):
    """A plan with more requests than the caller allows: refused before anything is requested or written."""

    def __init__(self, plan: TeachPlan, max_requests: int):
        self.plan, self.max_requests = plan, max_requests
        super().__init__(f"the teacher plan needs up to {plan.requests:,} requests ({plan.missing:,} samples of "
                         f"{plan.questions:,} questions), more than --max-requests {max_requests:,}; nothing was requested: "
                         "lower --samples or --limit, take a --shard, or raise --max-requests")


def print_plan(plan: TeachPlan) -> None:
    """The default way `teach` shows its plan: on stderr, before the first request."""
    print(plan.text(), file=sys.stderr, flush=True)


def check_budget(plan: TeachPlan, max_requests: int | None) -> None:
    """Refuse a plan larger than `max_requests` (None: no limit)."""
    if max_requests is not None and plan.requests > max_requests:
        raise PlanTooLarge(plan, max_requests)


def build_plan(config, records: list[Record], style: PromptStyle, backend: Backend, key: str) -> TeachPlan:
    """Read the store (and the reuse stores) for what is there; count what is missing, the requests and tokens
    (`key`: the teacher config's key, under which its samples are stored)."""
    have = _stored(config, records, key)
    reusable = _reusable(config, records, key, have)
    stored = sum(len(indices) for indices in have.values())
    copied = sum(len(indices) for indices in reusable.values())
    missing = requests = requests_with_n = prompt_tokens = completion_tokens = 0
    answer_stage = False
    for record in records:
        count = config.samples - len(have.get(record.id, set()) | reusable.get(record.id, set()))
        if count <= 0:
            continue
        missing += count
        grouped = count > 1 and backend.supports_n is not False  # one request asks for all of them (n)
        first = 1 if grouped and backend.supports_n is True else count
        requests += first
        requests_with_n += 1 if grouped else count
        if not backend.uses_prompts:
            continue
        prompt_tokens += first * estimate_tokens(style.first(record))
        completion_tokens += count * config.params.max_tokens
        second = style.second(record, "")
        if second is not None:  # one answer request per sample; its prompt carries the reasoning (<= max_tokens)
            answer_stage = True
            requests += count
            requests_with_n += count
            prompt_tokens += count * (estimate_tokens(second) + config.params.max_tokens)
            completion_tokens += count * ZeroShotCoT.answer_params.max_tokens
    return TeachPlan(
        task=config.task, split=config.split, teacher=f"{backend.name}:{config.model}", config_key=key,
        questions=len(records), samples=config.samples, stored=stored, reusable=copied, missing=missing,
        requests=requests, requests_with_n=requests_with_n, prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens, max_tokens=config.params.max_tokens, answer_stage=answer_stage,
        spends=backend.uses_prompts,
    )


def _stored(config, records: list[Record], key: str) -> dict[str, set[int]]:
    """Indices below `samples` already in the store for these questions (read only; no store: none).

    An id stored for another question is refused here, as the run itself would refuse it."""
    path = Path(config.store)
    if not path.is_file() or path.stat().st_size == 0:
        return {}
    wanted = {record.id for record in records}
    with RationaleStore(path, create=False) as store:
        store._refuse_conflicts(config.task, config.split, records)
        indices = store.stored_indices(key)
    return {qid: {i for i in found if i < config.samples} for qid, found in indices.items() if qid in wanted}


def _reusable(config, records: list[Record], key: str, have: dict[str, set[int]]) -> dict[str, set[int]]:
    """What `_Run._reuse_stored` would copy in and the store lacks: this teacher's samples of the same questions."""
    wanted = {record.id: record for record in records}
    found: dict[str, set[int]] = {}
    for path in config.reuse:
        if Path(path).resolve() == Path(config.store).resolve():
            continue
        with RationaleStore(path, create=False) as other:
            same = {qid for qid, record in other.questions(config.task, config.split).items()
                    if qid in wanted and same_question(wanted[qid], record)}
            for qid, indices in other.stored_indices(key).items():
                if qid in same:
                    found.setdefault(qid, set()).update(i for i in indices if i < config.samples)
    return {qid: indices - have.get(qid, set()) for qid, indices in found.items() if indices - have.get(qid, set())}
