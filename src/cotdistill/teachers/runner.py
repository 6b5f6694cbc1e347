"""Sample N rationales per question from a teacher into the store, resumably.

What is stored is never requested again: the runner asks the store which (question, sample index)
pairs exist for this teacher-config key and requests only the rest. Each finished sample is
committed on its own, so `kill -9` loses at most the requests in flight.

Per question with k missing samples: one request with n=k where the backend honours `n`; when a
server returns fewer choices than asked (llama.cpp ignores `n`) the rest are requested one by one
with distinct seeds, and later questions go one by one from the start.

Before the first request the run's plan is computed from the store and the prompts alone and shown
(`TeachPlan`: questions, samples, the requests at most, prompt tokens estimated as characters / 4 of
the actual prompts, completion tokens at most requests x max_tokens); `max_requests` refuses a larger
plan before anything is requested or written, and `plan_teach` computes it without running anything.
Samples already stored (or copied from `reuse` stores) are not requests: only the missing ones count.

What resumption guarantees (tested in tests/teachers/test_runner_reference.py):
- every backend: no sample is lost or stored twice, however often the run is killed or however
  many processes share the store; an interrupted run, completed, holds exactly the (question,
  sample index) pairs an uninterrupted run would;
- the reference teacher: the same texts too, bit for bit. Each sample is drawn from its own seed,
  a hash of (config key, base seed, question id, sample index), whatever request it was part of;
- model backends (openai, hf, vllm): each request carries a seed derived the same way, but a
  grouped request (n = k missing samples) is seeded by its first missing index and the server
  draws its k choices from that one seed, and the hf backend seeds a whole batch at once. So a
  question interrupted midway may get different (equally valid) texts for its remaining samples
  than an uninterrupted run, and servers that ignore seeds never repeat texts anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cotdistill.errors import CotdistillError
from cotdistill.records import Record
from cotdistill.store import RationaleStore, Sample, TeacherConfig
from cotdistill.store.sqlite import same_question
from cotdistill.teachers.base import Backend, Completion, Request, SamplingParams, TeacherError
from cotdistill.teachers.parsing import parse_completion
from cotdistill.teachers.plan import TeachPlan, build_plan, check_budget, print_plan
from cotdistill.teachers.prompts import PROMPT_STYLES, PromptStyle, ZeroShotCoT, answer_trigger, get_prompt_style

log = logging.getLogger(__name__)

TEACHERS = ("openai", "hf", "vllm", "reference")


class TeachConfig(BaseModel):
    """Everything `cotdistill teach` needs; validated before any request is made."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="Task name (see `cotdistill tasks list`).")
    split: str = Field("train", description="Task split whose questions are sampled.")
    teacher: Literal["openai", "hf", "vllm", "reference"] = Field(description="Teacher backend.")
    model: str = Field("reference", description="Model name (server model id, HF id/folder/GGUF, vLLM model).")
    store: Path = Field(description="SQLite rationale store to fill (created if absent).")
    samples: int = Field(1, ge=1, description="Samples per question (SCoTD: 30).")
    params: SamplingParams = Field(default_factory=SamplingParams, description="Decoding settings.")
    prompt: str = Field("chat", description=f"Prompt style: one of {', '.join(PROMPT_STYLES)}.")
    exemplars: Path | None = Field(None, description="Few-shot exemplar file (few-shot-cot).")
    exemplar_key: str | None = Field(None, description="Entry of a multi-task exemplar file (default: the task).")
    limit: int | None = Field(None, ge=1, description="Use only the first K questions of the split.")
    shard: str | None = Field(None, description="'i/n': sample only the i-th (0-based) of n question ranges.")
    concurrency: int | None = Field(None, ge=1, description="Most requests in flight (default: the backend's).")
    seed: int = Field(0, description="Base seed; each sample's seed derives from it, the question and index.")
    reuse: list[Path] = Field(default_factory=list, description="Other stores whose samples of this very teacher "
                              "(same config key, same question text) are copied in before any request: a grown "
                              "grid pays only for what is new.")
    task_options: dict[str, Any] = Field(default_factory=dict, description="Extra load_task options (size, seed).")
    # OpenAI-compatible servers
    base_url: str | None = Field(None, description="Server URL, e.g. http://127.0.0.1:8080/v1.")
    endpoint: Literal["chat", "completions"] = Field("chat", description="Which OpenAI endpoint to call.")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key (never stored).")
    rpm: float | None = Field(None, gt=0, description="Requests-per-minute limit.")
    tpm: float | None = Field(None, gt=0, description="Tokens-per-minute limit (prompt + max completion).")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(8, ge=0, description="Retries per request on 429/5xx/timeouts/connection errors.")
    # local models
    batch_size: int = Field(8, ge=1, description="Prompts per generate() call (hf, vllm).")
    # reference
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="Reference teacher: chance of a wrong solution.")

    @model_validator(mode="after")
    def _consistent(self) -> "TeachConfig":
        """Every problem at once, before any request: what is missing and which option supplies it."""
        problems = []
        if self.teacher != "reference" and self.model == "reference":
            problems.append(f"--teacher {self.teacher} needs --model (a server model id, HF id/folder or GGUF file)")
        if self.prompt not in PROMPT_STYLES:
            problems.append(f"--prompt must be one of {', '.join(PROMPT_STYLES)}, got '{self.prompt}'")
        if self.prompt == "few-shot-cot" and self.exemplars is None and self.teacher != "reference":
            problems.append("--prompt few-shot-cot needs --exemplars FILE")
        if self.teacher == "openai" and self.base_url is None and self.api_key_env is None:
            problems.append("--teacher openai needs --base-url URL (a local server) or --api-key-env NAME (the OpenAI API)")
        if self.error_rate and self.teacher != "reference":
            problems.append("--error-rate applies only to --teacher reference")
        problems += [f"--reuse {path}: no such store (a rationale store written by teach, import or run)"
                     for path in self.reuse if not Path(path).is_file()]
        try:
            parse_shard(self.shard)
        except CotdistillError as error:
            problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass
class TeachSummary:
    """What a run did; printed at the end and returned to Python callers."""

    config_key: str
    questions: int
    samples_target: int
    already_stored: int
    reused: int = 0  # of already_stored: copied from the stores in TeachConfig.reuse
    new_samples: int = 0
    failed_samples: int = 0
    parse_errors: int = 0
    stored_correct: int = 0
    stored_total: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    retries: int = 0
    wall_s: float = 0.0
    synthetic: bool = False
    n_supported: bool | None = None
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def teacher_accuracy(self) -> float | None:
        return self.stored_correct / self.stored_total if self.stored_total else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "teacher_accuracy": self.teacher_accuracy}


def parse_shard(shard: str | None) -> tuple[int, int]:
    """'i/n' -> (i, n), 0 <= i < n; None -> (0, 1)."""
    if shard is None:
        return 0, 1
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise CotdistillError(f"--shard must look like i/n (e.g. 0/4), got '{shard}'") from None
    if count < 1 or not 0 <= index < count:
        raise CotdistillError(f"--shard {shard}: need 0 <= i < n (shards are numbered from 0)")
    return index, count


def select_shard(records: list[Record], shard: str | None) -> list[Record]:
    """The i-th of n contiguous question ranges (every question is in exactly one shard)."""
    index, count = parse_shard(shard)
    start, end = index * len(records) // count, (index + 1) * len(records) // count
    return records[start:end]


def make_backend(config: TeachConfig) -> Backend:
    if config.teacher == "reference":
        from cotdistill.teachers.reference import ReferenceBackend

        return ReferenceBackend(error_rate=config.error_rate)
    if config.teacher == "openai":
        from cotdistill.teachers.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            config.model,
            base_url=config.base_url,
            endpoint=config.endpoint,
            api_key_env=config.api_key_env,
            rpm=config.rpm,
            tpm=config.tpm,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
        )
    if config.teacher == "hf":
        from cotdistill.teachers.hf import TransformersBackend

        return TransformersBackend(config.model, batch_size=config.batch_size)
    from cotdistill.teachers.vllm_backend import VLLMBackend

    return VLLMBackend(config.model, batch_size=config.batch_size)


def teacher_config(config: TeachConfig, backend: Backend, style: PromptStyle) -> TeacherConfig:
    """The config whose hash keys every sample. The base URL, key, concurrency and limits are left
    out on purpose: they change how samples are fetched, not what they are."""
    params = config.params.model_dump(mode="json")
    if not backend.uses_prompts:
        params = {}  # the reference teacher ignores prompts and decoding settings
    return TeacherConfig(
        task=config.task,
        split=config.split,
        backend=backend.name,
        model=config.model,
        prompt=style.name if backend.uses_prompts else "none",
        params=params,
        synthetic=backend.synthetic,
        extra={
            "seed": config.seed,
            "task_options": config.task_options,
            **(style.key_fields() if backend.uses_prompts else {}),
            **backend.key_fields(),
            **({"endpoint": config.endpoint} if config.teacher == "openai" else {}),
        },
    )


def _questions(config: TeachConfig, records: list[Record] | None, data_dir: str | Path | None) -> tuple[list[Record], PromptStyle]:
    if records is None:
        from cotdistill.tasks import load_task

        records = load_task(config.task, config.split, data_dir=data_dir, limit=config.limit, **config.task_options)
    elif config.limit is not None:
        records = records[: config.limit]
    records = select_shard(records, config.shard)
    style = get_prompt_style(config.prompt, exemplars=config.exemplars, task=config.exemplar_key or config.task)
    return records, style


def teach(
    config: TeachConfig,
    *,
    records: list[Record] | None = None,
    backend: Backend | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    max_requests: int | None = None,
    show_plan: Callable[[TeachPlan], None] | None = print_plan,
) -> TeachSummary:
    """Fill the store with `config.samples` samples per question; returns what was done.

    `records` replaces loading the task (tests, notebooks); `backend` replaces building one from
    the config; `data_dir` is the real data folder (default $COTDISTILL_DATA). The plan is passed to
    `show_plan` (default: printed on stderr; None: not shown) before the first request, and a plan of
    more than `max_requests` requests is refused (`PlanTooLarge`) before anything is requested or written.
    """
    records, style = _questions(config, records, data_dir)
    backend = backend or make_backend(config)
    plan = build_plan(config, records, style, backend, teacher_config(config, backend, style).key)
    if show_plan is not None:
        show_plan(plan)
    check_budget(plan, max_requests)
    with RationaleStore(config.store) as store:
        return asyncio.run(_Run(config, records, style, backend, store, progress).execute())


def plan_teach(
    config: TeachConfig,
    *,
    records: list[Record] | None = None,
    backend: Backend | None = None,
    data_dir: str | Path | None = None,
) -> TeachPlan:
    """What `teach(config)` would request and spend, computed without requesting or writing anything."""
    records, style = _questions(config, records, data_dir)
    backend = backend or make_backend(config)
    return build_plan(config, records, style, backend, teacher_config(config, backend, style).key)


class _Run:
    def __init__(self, config: TeachConfig, records: list[Record], style: PromptStyle, backend: Backend, store: RationaleStore, progress: bool):
        self.config, self.records, self.style, self.backend, self.store = config, records, style, backend, store
        self.teacher = teacher_config(config, backend, style)
        self.key = self.teacher.key
        self.show_progress = progress
        self.semaphore = asyncio.Semaphore(config.concurrency or backend.default_concurrency)

    async def execute(self) -> TeachSummary:
        started = time.perf_counter()
        self.store.register_config(self.teacher)
        self.store.add_questions(self.config.task, self.config.split, self.records)
        reused = self._reuse_stored()
        stored = self.store.stored_indices(self.key)
        jobs = []
        for record in self.records:
            have = stored.get(record.id, set())
            missing = [i for i in range(self.config.samples) if i not in have]
            if missing:
                jobs.append((record, missing))
        target = len(self.records) * self.config.samples
        missing_total = sum(len(m) for _, m in jobs)
        self.summary = TeachSummary(self.key, len(self.records), target, target - missing_total, reused=reused,
                                    synthetic=self.backend.synthetic)
        from cotdistill.teachers.progress import SamplingProgress

        self.progress = SamplingProgress(missing_total, enabled=self.show_progress, label=f"{self.config.task} {self.backend.name}:{self.config.model}")
        try:
            with self.progress:
                await self._run_jobs(jobs)
        finally:
            await self.backend.aclose()
        self.summary.requests = self.backend.stats.requests
        self.summary.retries = self.backend.stats.retries
        self.summary.failures = dict(self.backend.stats.failures)
        self.summary.n_supported = self.backend.supports_n
        self._count_stored()
        self.summary.wall_s = time.perf_counter() - started
        return self.summary

    def _reuse_stored(self) -> int:
        """Copy this teacher's samples of these questions (indices below `samples`) from the reuse stores.

        A sample counts only where the other store holds the same question under the same id: ids of
        generated tasks can name other questions at another size or seed."""
        wanted = {record.id: record for record in self.records}
        copied = 0
        for path in self.config.reuse:
            if Path(path).resolve() == Path(self.config.store).resolve():
                continue
            with RationaleStore(path, create=False) as other:
                same = {qid for qid, record in other.questions(self.config.task, self.config.split).items()
                        if qid in wanted and same_question(wanted[qid], record)}
                copied += self.store.add_samples(sample for sample in other.samples([self.key])
                                                 if sample.qid in same and sample.sample_index < self.config.samples)
        return copied

    async def _run_jobs(self, jobs: list[tuple[Record, list[int]]]) -> None:
        tasks = [asyncio.create_task(self._sample_question(record, missing)) for record, missing in jobs]
        try:
            for finished in asyncio.as_completed(tasks):
                await finished
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _seed(self, qid: str, index: int) -> int:
        digest = hashlib.sha256(f"{self.key}:{self.config.seed}:{qid}:{index}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    async def _call(self, request: Request) -> list[Completion]:
        async with self.semaphore:
            return await self.backend.agenerate(request)

    async def _sample_question(self, record: Record, missing: list[int]) -> None:
        prompt = self.style.first(record) if self.backend.uses_prompts else None
        params = self.config.params.with_(stop=tuple(self.config.params.stop) + self.style.stop)
        pending = list(missing)
        try:
            if len(pending) > 1 and self.backend.supports_n is not False:
                completions = await self._call(Request(record, prompt, len(pending), params, self._seed(record.id, pending[0]),
                                                       tuple(self._seed(record.id, i) for i in pending)))
                self._learn_n_support(len(pending), len(completions))
                finished = await asyncio.gather(*(self._finish(record, i, c) for i, c in zip(pending, completions)))
                pending = pending[len(finished):]
            # one request per remaining sample, each with its own seed
            await asyncio.gather(*(self._sample_one(record, prompt, params, index) for index in pending))
        except TeacherError as error:
            if error.fatal:
                raise
            # retries exhausted: these samples stay missing; a re-run requests them again
            self.summary.failed_samples += len(pending)
            self.progress.failed(len(pending))
            log.warning("question %s: %s", record.id, error)

    def _learn_n_support(self, asked: int, got: int) -> None:
        if got < asked and self.backend.supports_n is not False:
            log.info("%s returned %d of %d choices: it ignores n; using one request per sample with distinct seeds", self.backend.name, got, asked)
            self.backend.supports_n = False
        elif got >= asked and self.backend.supports_n is None:
            self.backend.supports_n = True

    def _count_failure(self, record: Record, index: int, error: TeacherError, stage: str = "") -> None:
        """A sample that failed after every retry: counted and logged, left for a re-run to fill; fatal errors stop the run."""
        if error.fatal:
            raise error
        self.summary.failed_samples += 1
        self.progress.failed(1)
        log.warning("question %s sample %d%s: %s", record.id, index, stage, error)

    async def _sample_one(self, record: Record, prompt, params: SamplingParams, index: int) -> None:
        try:
            seed = self._seed(record.id, index)
            completions = await self._call(Request(record, prompt, 1, params, seed, (seed,)))
        except TeacherError as error:
            self._count_failure(record, index, error)
            return
        if not completions:
            raise TeacherError(f"{self.backend.name} returned no completion for question {record.id}")
        await self._finish(record, index, completions[0])

    async def _finish(self, record: Record, index: int, completion: Completion) -> int:
        """Run the answer stage if the prompt has one, parse, and commit the sample."""
        raw, answer_text = completion.text, None
        prompt_tokens, completion_tokens, latency = completion.prompt_tokens, completion.completion_tokens, completion.latency_s
        second = self.style.second(record, completion.text) if self.backend.uses_prompts else None
        if second is not None:
            try:
                answers = await self._call(Request(record, second, 1, ZeroShotCoT.answer_params, self._seed(record.id, index)))
            except TeacherError as error:
                self._count_failure(record, index, error, stage=", answer stage")
                return index
            answer = answers[0] if answers else Completion(text="")
            answer_text = answer.text
            raw = f"{completion.text.rstrip()}\n{answer_trigger(record)} {answer.text.strip()}"
            prompt_tokens = _add(prompt_tokens, answer.prompt_tokens)
            completion_tokens = _add(completion_tokens, answer.completion_tokens)
            latency = _add(latency, answer.latency_s)
        parsed = parse_completion(record, completion.text, answer_text)
        sample = Sample(
            config_key=self.key,
            qid=record.id,
            sample_index=index,
            raw=raw,
            rationale=parsed.rationale,
            answer=parsed.answer,
            correct=parsed.correct,
            parse_error=parsed.error,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            backend=self.backend.name,
            model=self.config.model,
            params=self.teacher.params,
            synthetic=self.backend.synthetic,
        )
        if self.store.add_sample(sample):
            self.summary.new_samples += 1
            self.summary.parse_errors += parsed.error is not None
            self.summary.prompt_tokens += prompt_tokens or 0
            self.summary.completion_tokens += completion_tokens or 0
        self.progress.stored(correct=parsed.correct, parse_error=parsed.error is not None)
        return index

    def _count_stored(self) -> None:
        wanted = {record.id for record in self.records}
        for sample in self.store.samples([self.key]):
            if sample.qid in wanted and sample.sample_index < self.config.samples:
                self.summary.stored_total += 1
                self.summary.stored_correct += bool(sample.correct)


def _add(a: float | int | None, b: float | int | None):
    return None if a is None and b is None else (a or 0) + (b or 0)
