"""The experiment config: tasks x strategies x seeds (x noise levels x samples per question).

Validated as a whole before any compute: pydantic checks the shape, then
`checks.semantic_problems` checks every name against its registry and the teacher, curation and
training settings against those stages' own config models; all problems are raised at once as one
ConfigError naming each field.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cotdistill.errors import ConfigError
from cotdistill.models.loading import DECODE_DTYPES, DECODE_ENGINES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_ADDED_LATER = frozenset({"dev_split", "mix"})  # TaskSpec fields newer than existing run folders' cache keys


class TaskSpec(_Strict):
    """One task of the grid: where its training questions and held-out test questions come from."""

    name: str = Field(description="A registered task name (`cotdistill tasks list`), e.g. synth-coin-flip.")
    train_split: str = Field("train", description="Split the teacher explains and the student trains on.")
    test_split: str = Field("test", description="Held-out split the student is evaluated on.")
    train_size: int | None = Field(None, gt=0, description="Training questions (synthetic: generated; real: a seeded subset).")
    test_size: int | None = Field(None, gt=0, description="Test questions (synthetic: generated; real: a seeded subset).")
    dev_size: int | None = Field(None, gt=0, description="Questions held out of the training split as the dev slice (seeded; never trained on); with dev_split, a seeded subset of that split.")
    dev_split: str | None = Field(None, description="The task's own published dev split as the dev slice, instead of holding dev_size questions out of training (e.g. svamp-mcc's dev).")
    data_dir: str | None = Field(None, description="Data folder for real tasks; falls back to $COTDISTILL_DATA.")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra task options passed to load_task (e.g. difficulty).")
    teacher: dict[str, Any] | None = Field(None, description="This task's teacher, replacing the experiment's (e.g. its own published outputs to import).")
    training: dict[str, Any] = Field(default_factory=dict, description="Training settings for this task only (its budget: epochs, lr, max_len); a strategy's own win.")
    mix: list[str] | None = Field(None, min_length=2, description="Other tasks of this grid whose questions this one pools: "
                                  "their curated training sets, dev slices and test questions together (its name is then a label).")

    def key_settings(self, exclude: set[str] = frozenset()) -> dict:
        """The settings that identify this task in cache keys (teacher samples, trained students). A field
        added after runs existed is left out while unset, so their keys, and their paid teacher samples, stand."""
        settings = self.model_dump(mode="json", exclude=set(exclude))
        return {name: value for name, value in settings.items() if not (name in _ADDED_LATER and value is None)}

    @property
    def slug(self) -> str:
        """The task name as one safe folder name (`jsonl:data/{split}.jsonl` holds '/' and ':')."""
        if re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            return self.name
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-")[-40:]
        return f"{readable}-{hashlib.sha256(self.name.encode()).hexdigest()[:6]}"


class StrategySpec(_Strict):
    """One strategy column: a registered strategy and its options."""

    name: str = Field(description="answer-only, pre-thinking, post-thinking, prefix or pst; or router, which trains nothing and "
                                  "routes each question between two other strategies' students (options: cotdistill.routing.RouterOptions).")
    label: str | None = Field(None, description="Column name in the report; defaults to the strategy name.")
    options: dict[str, Any] = Field(default_factory=dict, description="Strategy options (e.g. semantic_weight for pst).")
    training: dict[str, Any] = Field(default_factory=dict, description="Training settings for this strategy only (override `training`).")

    @property
    def id(self) -> str:
        return self.label or self.name


class EvalSpec(_Strict):
    """How each cell's student is evaluated."""

    split: Literal["test", "dev"] = Field("test", description="test: the task's test questions; dev: its dev slice (choose settings here).")
    batch_size: int = Field(8, gt=0, description="Questions decoded together.")
    max_new_tokens: int = Field(256, gt=0, description="Most new tokens per question.")
    self_consistency: int = Field(1, gt=0, description="Samples per question with majority vote (1 = greedy).")
    temperature: float = Field(0.7, gt=0, description="Sampling temperature for self-consistency.")
    explain: bool = Field(False, description="Answer-first models also generate their rationale.")
    similarity: bool = Field(True, description="Score generated rationales against the reference ones (MiniLM).")
    dtype: Literal[DECODE_DTYPES] = Field("float32", description="Weights' dtype while decoding; bfloat16 is faster "
                                                  "batched on a CPU and may change a nearly tied greedy answer.")
    engine: Literal[DECODE_ENGINES] = Field("transformers", description="What decodes: transformers, or llama.cpp "
                                                         "on the student's f16 GGUF (greedy; faster on a CPU).")


class ExperimentConfig(_Strict):
    """A whole experiment, from teacher data to report."""

    name: str = Field(description="Experiment name (report title).")
    student: str = Field("smollm2-135m-instruct", description="Student model: a registered name, a folder or a hub id.")
    tasks: list[TaskSpec] = Field(min_length=1, description="Tasks (report columns).")
    strategies: list[StrategySpec] = Field(min_length=1, description="Strategies (report rows).")
    seeds: list[int] = Field([0], min_length=1, description="Training seeds; one cell per seed.")
    noise: list[float] = Field([0.0], min_length=1, description="Fractions of training rationales corrupted; one cell per level.")
    samples_per_question: list[int] = Field([1], min_length=1, description="Rationales kept per question; the teacher samples the largest once.")
    data_seed: int = Field(0, description="Seed for task generation, teacher sampling and curation (shared by all cells).")
    teacher: dict[str, Any] = Field(
        default_factory=lambda: {"teacher": "reference"},
        description="Teacher settings: `cotdistill.teachers.TeachConfig` fields (teacher, model, params, prompt, error_rate, ...), "
        "or published outputs: {import: FORMAT, path: FILE[, model: NAME]} (`cotdistill import` formats).",
    )
    curation: dict[str, Any] = Field(
        default_factory=dict,
        description="Curation settings: `cotdistill.curation.CurateConfig` fields (filter, dedup, downsample, noise_kind, label).",
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="Training settings: `cotdistill.training.TrainConfig` fields (lora, epochs, max_steps, lr, batch_size, ...).",
    )
    eval: EvalSpec = Field(default_factory=EvalSpec)

    @field_validator("strategies", mode="before")
    @classmethod
    def _names_as_specs(cls, value):
        """`- pst` is short for `- {name: pst}`."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("noise")
    @classmethod
    def _noise_fractions(cls, value: list[float]) -> list[float]:
        bad = [v for v in value if not 0.0 <= v <= 1.0]
        if bad:
            raise ValueError(f"noise levels are fractions in [0, 1], got {bad}")
        return value

    @field_validator("samples_per_question")
    @classmethod
    def _positive_samples(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if v < 1]
        if bad:
            raise ValueError(f"samples per question must be >= 1, got {bad}")
        return value

    def cells(self) -> list["Cell"]:
        """Every (task, strategy, seed, noise, samples per question) combination, in report order."""
        return [
            Cell(task=task, strategy=strategy, seed=seed, noise=noise, samples_per_question=k)
            for task, noise, k, strategy, seed in itertools.product(
                self.tasks, self.noise, self.samples_per_question, self.strategies, self.seeds
            )
        ]


class Cell(BaseModel):
    """One trained-and-evaluated student."""

    model_config = ConfigDict(frozen=True)

    task: TaskSpec
    strategy: StrategySpec
    seed: int
    noise: float
    samples_per_question: int

    @property
    def id(self) -> str:
        """A readable folder name, unique within an experiment."""
        noise = f"{self.noise:g}".replace(".", "p")
        return f"{self.task.slug}__{self.strategy.id}__k{self.samples_per_question}__noise{noise}__seed{self.seed}"


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML experiment config; every problem is reported at once."""
    from cotdistill.files import read_text

    path = Path(path)
    try:
        data = yaml.safe_load(read_text(path))  # a missing or non-UTF-8 file: a DataError naming it
    except yaml.YAMLError as error:
        raise ConfigError([f"not valid YAML: {error}"], source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(["the top level must be a mapping of settings (name:, tasks:, strategies:, ...)"], source=str(path))
    return parse_config(data, source=str(path))


def run_config(run_dir: str | Path) -> ExperimentConfig:
    """The validated config a run folder was started with (the runner writes it as config.json)."""
    from cotdistill.errors import DataError
    from cotdistill.files import json_type, read_json

    path = Path(run_dir) / "config.json"
    data = read_json(path)  # missing, not UTF-8, not JSON: a DataError naming it
    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object, got {json_type(data)}", hint="the run writes it: re-run `cotdistill run`")
    return parse_config(data, source=str(path))


def parse_config(data: dict, source: str = "config") -> ExperimentConfig:
    """Validate the shape with pydantic, then every name and stage setting; raise all problems together.

    When some sections are malformed, the others are still checked in depth (with stand-ins for the
    malformed ones), so one run of the validator lists everything there is to fix.
    """
    from cotdistill.experiments.checks import semantic_problems

    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as error:
        problems = [_describe(e) for e in error.errors()]
        broken = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
        partial = _with_stand_ins({k: v for k, v in data.items() if k not in broken})
        if partial is not None and not any(e["type"] == "value_error" and not e["loc"] for e in error.errors()):
            problems += [p for p in semantic_problems(partial) if p.split(".", 1)[0].split(":", 1)[0] not in broken]
        raise ConfigError(list(dict.fromkeys(problems)), source=source) from None
    problems = semantic_problems(config)
    if problems:
        raise ConfigError(problems, source=source)
    return config


_STAND_INS = {"name": "stand-in", "tasks": [{"name": "synth-coin-flip"}], "strategies": [{"name": "answer-only"}]}


def _with_stand_ins(data: dict) -> ExperimentConfig | None:
    try:
        return ExperimentConfig.model_validate({**{k: v for k, v in _STAND_INS.items() if k not in data}, **data})
    except ValidationError:
        return None


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling; see examples/quickstart.yaml)"
    return f"{where}: {message}"
