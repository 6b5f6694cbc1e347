"""The training configuration: one pydantic model, from a YAML file and/or CLI flags, checked before any compute.

Every problem (wrong type, out of range, an option that does not apply to the chosen strategy, a
missing data file) is collected and reported at once as one `ConfigError`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cotdistill.errors import ConfigError, DataError
from cotdistill.files import read_text

# Strategy settings that the training config passes through to `get_strategy` (None = its default).
STRATEGY_OPTIONS = (
    "prompt_template", "separator", "new_separator_token", "rationale_weight", "semantic_weight",
    "alpha", "sem_target", "sem_source", "sem_centroid", "sem_head",
)  # fmt: skip


class TrainConfig(BaseModel):
    """Everything `cotdistill train` needs; also saved in the model folder's cotdistill.json."""

    model_config = ConfigDict(extra="forbid")

    data: Path = Field(description="Curated folder with train.jsonl and manifest.json.")
    strategy: Literal["answer-only", "pre-thinking", "post-thinking", "prefix", "pst"] = Field(
        description="How x, y, r become training sequences and losses."
    )
    student: str = Field(description="Student model: registered name, local folder or hub id.")
    out: Path = Field(description="Output folder (model, tokenizer, cotdistill.json, logs, checkpoints).")

    # Strategy settings (None: the strategy's own default; see docs/strategies.md).
    prompt_template: str | None = Field(None, description="Prompt with '{question}'; default 'Question: {question}\\nAnswer:'.")
    separator: str | None = Field(None, description="Answer/rationale separator (post-thinking, pst): 'eos' (default, the end-of-sequence token) or text.")
    new_separator_token: bool | None = Field(None, description="Add '[SEP]' as one new vocabulary token (post-thinking, pst).")
    rationale_weight: float | None = Field(None, ge=0, description="b: rationale CE weight (post-thinking, pst); default 1.")
    semantic_weight: float | None = Field(None, ge=0, description="l: semantic loss weight (pst); default 1.")
    alpha: float | None = Field(None, ge=0, le=1, description="a: label-task weight (prefix); default 0.5.")
    sem_target: Literal["minilm", "self"] | None = Field(None, description="e(r): MiniLM or the frozen initial student (pst).")
    sem_source: Literal["marker", "rationale-mean"] | None = Field(None, description="h: marker state or rationale mean (pst).")
    sem_centroid: bool | None = Field(None, description="Target each question's rationale centroid (pst).")
    sem_head: Literal["linear", "mlp"] | None = Field(None, description="g: linear or 2-layer MLP head (pst).")
    sem_cache_dir: Path | None = Field(None, description="Cache of e(r); default $COTDISTILL_HOME/semantic-targets.")

    # Model and adapters.
    lora: bool = Field(False, description="Train LoRA adapters instead of all weights.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha; default 2 * r.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: str = Field("all-linear", description="peft target_modules ('all-linear' or comma list).")
    merge_lora: bool = Field(True, description="Save merged weights (else base + adapter).")

    # Optimisation.
    epochs: float = Field(3.0, gt=0, description="Passes over the data (fractions allowed).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (overrides epochs).")
    lr: float | None = Field(None, gt=0, description="Peak learning rate; default 2e-4 with LoRA, 5e-5 without.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Fraction of steps with linear warm-up.")
    scheduler: str = Field("linear", description="transformers scheduler name (linear, cosine, constant, ...).")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    batch_size: int = Field(8, ge=1, description="Sequences per micro-batch (per process).")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    max_len: int = Field(512, ge=8, description="Longest training sequence in tokens (longer ones are cut on the right).")
    bf16: bool = Field(False, description="bf16 autocast (works on CPU too).")
    activation_checkpointing: bool = Field(
        False, description="Recompute each layer's activations in the backward pass: less memory, more compute."
    )
    seed: int = Field(0, description="Seed for initialisation, data order and dropout.")

    # Bookkeeping.
    save_every: int = Field(200, ge=1, description="Checkpoint every K optimizer steps.")
    keep_checkpoints: int = Field(2, ge=1, description="How many recent checkpoints to keep.")
    resume: bool = Field(False, description="Continue from the last checkpoint in OUT/checkpoints.")
    log_every: int = Field(1, ge=1, description="Log every N optimizer steps.")
    report_to: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=lambda: ["tensorboard"], description="Trackers: tensorboard, wandb (empty list: none)."
    )
    progress: bool = Field(True, description="Show a progress bar.")

    def strategy_options(self) -> dict:
        """The strategy settings that were set (the rest keep the strategy's defaults)."""
        return {k: getattr(self, k) for k in STRATEGY_OPTIONS if getattr(self, k) is not None}

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (2e-4 if self.lora else 5e-5)


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """A validated config from an optional YAML file plus overrides (CLI flags win); all problems at once."""
    raw: dict = {}
    source = "training config"
    if path is not None:
        source = str(path)
        try:
            raw = yaml.safe_load(read_text(path)) or {}
        except DataError as error:
            raise ConfigError([str(error)], source=source) from None
        except yaml.YAMLError as error:
            raise ConfigError([f"not valid YAML: {error}"], source=source) from None
        if not isinstance(raw, dict):
            raise ConfigError(["expected a mapping of field: value at the top level"], source=source)
        raw = {k.replace("-", "_"): v for k, v in raw.items()}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return validate(raw, source)


def validate(raw: dict, source: str = "training config") -> TrainConfig:
    problems = []
    config = None
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"]) or "config"
            problems.append(f"{where}: {item['msg']}")
    problems += _file_problems(raw) + _strategy_option_problems(raw)
    if config is not None:
        problems += _consistency_problems(config)
    if problems:
        raise ConfigError(problems, source=source)
    return config


def _file_problems(raw: dict) -> list[str]:
    problems = []
    data = raw.get("data")
    if isinstance(data, (str, Path)):
        for name in ("train.jsonl", "manifest.json"):
            if not (Path(data) / name).is_file():
                problems.append(f"data: {Path(data) / name} does not exist (run `cotdistill curate` first)")
    out = raw.get("out")
    if isinstance(out, (str, Path)) and not raw.get("resume"):
        if (Path(out) / "checkpoints").is_dir() or (Path(out) / "cotdistill.json").is_file():
            problems.append(f"out: {out} already holds a training run; pass --resume or choose another --out")
    student = raw.get("student")
    if isinstance(student, str):
        problems += _student_problems(student)
    return problems


def _student_problems(student: str) -> list[str]:
    from cotdistill.models import list_models

    names = {info.name for info in list_models()}
    path = Path(student).expanduser()
    if student in names or path.is_dir():
        return []
    if student.startswith(("/", ".", "~")) or path.exists():
        return [f"student: model folder '{student}' does not exist"]
    if student.count("/") == 1:
        from cotdistill.models.loading import unavailable_hub_id

        problem = unavailable_hub_id(student)  # offline and not cached: say so now, not after a traceback
        return [f"student: {problem}"] if problem else []
    return [f"student: '{student}' is not a registered model ({', '.join(sorted(names))}), a folder or a hub id"]


def _strategy_option_problems(raw: dict) -> list[str]:
    """Options set for a strategy that does not use them (checked on the raw values, so always reported)."""
    from cotdistill.strategies import STRATEGIES

    name = raw.get("strategy")
    if name not in STRATEGIES:
        return []
    valid = STRATEGIES[name].option_names()
    return [
        f"{key}: does not apply to strategy '{name}' (it uses: {', '.join(k for k in STRATEGY_OPTIONS if k in valid)})"
        for key in STRATEGY_OPTIONS
        if raw.get(key) is not None and key not in valid
    ]


def _consistency_problems(config: TrainConfig) -> list[str]:
    problems = []
    if config.prompt_template is not None:
        problems += _template_problems(config.prompt_template)
    if config.sem_cache_dir is not None and config.strategy != "pst":
        problems.append(f"sem_cache_dir: only used by strategy 'pst', not '{config.strategy}'")
    if "wandb" in config.report_to and importlib.util.find_spec("wandb") is None:
        problems.append("report_to: wandb is not installed (pip install wandb, or drop it)")
    if config.scheduler not in _scheduler_names():
        problems.append(f"scheduler: unknown '{config.scheduler}'; valid: {', '.join(_scheduler_names())}")
    return problems


def _template_problems(template: str) -> list[str]:
    """A prompt template must format with `question` alone: '{question} {oops}' would fail mid-training."""
    from string import Formatter

    try:
        fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as error:
        return [f"prompt_template: not a valid template ({error}); write literal braces as {{{{ and }}}}"]
    problems = [] if "question" in fields else ["prompt_template: must contain '{question}'"]
    others = sorted(fields - {"question"})
    if others:
        shown = ", ".join("{" + name + "}" for name in others)
        problems.append(f"prompt_template: only {{question}} is filled in, not {shown}; write literal braces as {{{{ and }}}}")
    return problems


def _scheduler_names() -> list[str]:
    from transformers import SchedulerType

    return [s.value for s in SchedulerType]
