"""What every command-line option allows: one table, checked where the CLI parses the options.

`RULES` maps each subcommand ("teach", "tasks show", ...) to its options (by parameter name) and what
each allows: a `Range` for a number, a `Choice` for a fixed set of words, `FREE` for a name, path or
text that the stage itself resolves (a task name, a model folder). `install(app)` wraps every command
so that, before the command body runs (before any import of a model, any file written, any request),
all its option values are checked against the table and every problem is reported at once as one
line: `error: --top-p 0: out of range; allowed: 0 < x <= 1` (exit code 2). The libraries behind the
commands (a teacher backend's pydantic parameter model, transformers' generation settings) then never
see a value they would refuse with a traceback.

Where a library model already states a range (SamplingParams, TeachConfig, CurateConfig, TrainConfig)
the rule is read from its field, so the CLI and the model cannot drift apart. A new option of any
command must be added here: tests/test_cli_ranges.py enumerates the options from the typer app and
fails for one the table does not classify, and tries an out-of-range value for every rule.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

import typer

from cotdistill.errors import OptionError


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Range:
    """A number's bounds (inclusive ge/le, exclusive gt/lt); NaN and infinities are always refused."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def allowed(self) -> str:
        low = f"{_number(self.ge)} <= " if self.ge is not None else f"{_number(self.gt)} < " if self.gt is not None else ""
        high = f" <= {_number(self.le)}" if self.le is not None else f" < {_number(self.lt)}" if self.lt is not None else ""
        if low and high:
            return f"{low}x{high}"
        if low:
            return "x " + (f">= {_number(self.ge)}" if self.ge is not None else f"> {_number(self.gt)}")
        return f"x{high}" if high else "any number"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"not a number; allowed: {self.allowed()}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"not a finite number; allowed: {self.allowed()}"
        inside = ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                  and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))
        return None if inside else f"out of range; allowed: {self.allowed()}"

    def outside(self, integer: bool) -> list[str]:
        """Values (as typed on a command line) that this range refuses: for the table test."""
        step = 1 if integer else 0.5
        values = []
        if self.ge is not None:
            values.append(self.ge - step)
        if self.gt is not None:
            values.append(self.gt)
        if self.le is not None:
            values.append(self.le + step)
        if self.lt is not None:
            values.append(self.lt)
        texts = [str(int(v)) if integer else repr(float(v)) for v in values]
        return texts + ([] if integer else ["nan", "inf"])


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words (`comma`: a comma-separated list of them)."""

    values: tuple[str, ...]
    comma: bool = False

    def allowed(self) -> str:
        return ("a comma list of " if self.comma else "one of ") + ", ".join(self.values)

    def problem(self, value: Any) -> str | None:
        words = [w.strip() for w in str(value).split(",") if w.strip()] if self.comma else [value]
        wrong = [w for w in words if w not in self.values]
        if not wrong:
            return None
        close = difflib.get_close_matches(str(wrong[0]), self.values, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"not {self.allowed()}{hint}"

    def outside(self, integer: bool = False) -> list[str]:
        return ["no-such-" + self.values[0]]


@dataclass(frozen=True)
class Free:
    """No range here: a name, path or text that the stage resolves and reports itself."""

    why: str

    def problem(self, value: Any) -> None:
        return None


Rule = Union[Range, Choice, Free]

COUNT = Range(ge=1)  # how many of something: at least one
FRACTION = Range(ge=0, le=1)
SEED = Range(ge=0, le=2**32 - 1)  # numpy's and torch's seed range: a larger one fails inside training
PORT = Range(ge=1, le=65535)
NAME, PATH, TEXT = Free("a name the stage resolves"), Free("a path"), Free("free text")


def from_field(model, name: str, integer: bool | None = None) -> Rule:
    """The rule a pydantic model's field states (its ge/gt/le/lt, or its Literal values)."""
    field = model.model_fields[name]
    bounds = {key: getattr(meta, key) for meta in field.metadata for key in ("ge", "gt", "le", "lt")
              if getattr(meta, key, None) is not None}
    annotation = _unoptional(field.annotation)
    if bounds:
        if (integer if integer is not None else annotation is int) and "gt" in bounds:
            bounds["ge"] = bounds.pop("gt") + 1  # an integer above 0 is one at least 1: say it so
        return Range(**bounds)
    if typing.get_origin(annotation) is Literal:
        return Choice(tuple(typing.get_args(annotation)))
    if typing.get_origin(annotation) is list and typing.get_origin(typing.get_args(annotation)[0]) is Literal:
        return Choice(tuple(typing.get_args(typing.get_args(annotation)[0])), comma=True)
    raise TypeError(f"{model.__name__}.{name} states no range or choices: give its CLI option a rule in cli/ranges.py")


def _unoptional(annotation):
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _rules() -> dict[str, dict[str, Rule]]:
    from cotdistill.curation.curate import CurateConfig
    from cotdistill.models import DECODE_DTYPES, DECODE_ENGINES
    from cotdistill.records import AnswerType
    from cotdistill.store.importers import IMPORT_FORMATS
    from cotdistill.teachers import PROMPT_STYLES, TEACHERS, SamplingParams, TeachConfig
    from cotdistill.training.config import TrainConfig

    def train(name: str) -> Rule:
        return from_field(TrainConfig, name)

    return {
        "teach": {
            "task": NAME, "teacher": Choice(TEACHERS), "store": PATH, "model": NAME,
            # SCoTD samples 30; past 10,000 a question's missing indices alone fill memory before a request is made
            "samples": Range(ge=from_field(TeachConfig, "samples").ge, le=10_000),
            "temperature": from_field(SamplingParams, "temperature"),
            "top_p": from_field(SamplingParams, "top_p"),
            "max_tokens": from_field(SamplingParams, "max_tokens"),
            "prompt": Choice(PROMPT_STYLES), "exemplars": PATH, "exemplar_key": NAME, "split": NAME,
            "limit": from_field(TeachConfig, "limit"),
            "shard": Free("i/n, checked with the other settings before any request"),
            "concurrency": from_field(TeachConfig, "concurrency"),
            "rpm": from_field(TeachConfig, "rpm"), "tpm": from_field(TeachConfig, "tpm"),
            "base_url": TEXT, "endpoint": from_field(TeachConfig, "endpoint"), "api_key_env": NAME,
            "timeout": from_field(TeachConfig, "timeout_s"),
            "max_retries": from_field(TeachConfig, "max_retries"),
            "batch_size": from_field(TeachConfig, "batch_size"),
            "error_rate": from_field(TeachConfig, "error_rate"),
            "seed": SEED, "reuse": PATH, "data_dir": PATH, "task_option": TEXT,
            "max_requests": COUNT,
        },
        "import": {
            "format": Choice(IMPORT_FORMATS), "store": PATH, "task": NAME, "split": NAME, "path": PATH, "data_dir": PATH,
            "model": NAME, "answer_type": Choice(tuple(t.value for t in AnswerType)),
        },
        "curate": {
            "store": PATH, "out": PATH, "task": NAME, "split": NAME, "teacher_key": NAME,
            "filter": from_field(CurateConfig, "filter"),
            "max_per_question": from_field(CurateConfig, "max_per_question"),
            "downsample": from_field(CurateConfig, "downsample"),
            "noise": from_field(CurateConfig, "noise"),
            "noise_kind": from_field(CurateConfig, "noise_kind"),
            "label": from_field(CurateConfig, "label"),
            "seed": SEED,
        },
        "train": {
            "data": PATH, "strategy": train("strategy"), "student": NAME, "out": PATH, "config": PATH,
            "lora_r": train("lora_r"), "epochs": train("epochs"), "max_steps": train("max_steps"), "lr": train("lr"),
            "batch_size": train("batch_size"), "grad_accum": train("grad_accum"), "max_len": train("max_len"),
            "seed": SEED, "prompt_template": TEXT, "separator": TEXT,
            "rationale_weight": train("rationale_weight"), "semantic_weight": train("semantic_weight"),
            "alpha": train("alpha"), "sem_target": train("sem_target"), "sem_source": train("sem_source"),
            "sem_head": train("sem_head"), "sem_cache_dir": PATH, "save_every": train("save_every"),
            "report_to": Choice(("tensorboard", "wandb", "none"), comma=True),
        },
        "eval": {
            "model": PATH, "task": NAME, "out": PATH, "split": NAME, "limit": COUNT, "self_consistency": COUNT,
            "batch_size": COUNT, "max_new_tokens": COUNT, "max_prompt_tokens": COUNT,
            "temperature": Range(gt=0),  # sampling (self-consistency) needs a positive temperature
            "seed": SEED,
            "threshold": Range(ge=0),  # as router.json's threshold (routing.pair.RouterFile)
            "dtype": Choice(DECODE_DTYPES), "engine": Choice(DECODE_ENGINES), "data_dir": PATH, "option": TEXT,
        },
        "report": {"run_dir": PATH, "out": PATH, "title": TEXT},
        "run": {
            "config": PATH, "run_dir": PATH, "split": Choice(("test", "dev")), "threads": COUNT, "task": NAME,
            "strategy": NAME, "seed": SEED, "noise": FRACTION, "samples": COUNT, "students_from": PATH,
            "max_requests": COUNT,
        },
        "export": {
            "model": PATH, "out": PATH,
            "fmt": Choice(("hf", "gguf")),  # cotdistill.export.FORMATS (not imported here: it loads numpy)
            "quantization": Choice(("f32", "f16", "q8_0")),  # cotdistill.export.QUANTIZATIONS
        },
        "serve": {
            "model": PATH, "host": NAME, "port": PORT, "max_batch": COUNT, "batch_wait_ms": Range(ge=0),
            "model_name": NAME, "threshold": Range(ge=0), "engine": Choice(DECODE_ENGINES), "dtype": Choice(DECODE_DTYPES),
        },
        "tasks list": {},
        "tasks show": {"task": NAME, "split": NAME, "limit": COUNT, "data_dir": PATH, "option": TEXT},
        "models list": {},
        "models prepare": {"name": NAME},
    }


@functools.lru_cache(maxsize=1)
def rules() -> dict[str, dict[str, Rule]]:
    return _rules()


def option_flag(name: str, default: Any) -> str:
    """How the user writes a parameter: its first --long declaration, or NAME for an argument."""
    declarations = [d for d in (getattr(default, "param_decls", None) or ()) if isinstance(d, str)]
    for declaration in declarations:
        for part in declaration.split("/"):
            if part.startswith("--"):
                return part
    if isinstance(default, typer.models.ArgumentInfo):
        return name.upper()
    return "--" + name.replace("_", "-")


def problems(path: str, values: dict[str, Any], flags: dict[str, str]) -> list[str]:
    """Every option value of one command outside its rule, as '--flag value: what is allowed'."""
    found = []
    for name, rule in rules().get(path, {}).items():
        value = values.get(name)
        if value is None or isinstance(rule, Free):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, bool) and not isinstance(rule, Choice):
                continue
            problem = rule.problem(item)
            if problem:
                shown = _number(item) if isinstance(item, (int, float)) else str(item)
                found.append(f"{flags.get(name, name)} {shown[:60]}: {problem}")
    return found


def checked(path: str, callback):
    """The command `callback`, checking its options against RULES[path] before its body runs."""
    if getattr(callback, "__cotdistill_ranges__", None) == path:
        return callback
    flags = {name: option_flag(name, p.default) for name, p in inspect.signature(callback).parameters.items()}

    @functools.wraps(callback)
    def command(*args, **kwargs):
        bound = inspect.signature(callback).bind_partial(*args, **kwargs).arguments
        found = problems(path, bound, flags)
        if found:
            raise OptionError(found)
        return callback(*args, **kwargs)

    command.__cotdistill_ranges__ = path
    return command


def _annotate_help(path: str, callback) -> None:
    """Append each rule to its option's --help text once (typer shows no range it does not check)."""
    for name, parameter in inspect.signature(callback).parameters.items():
        rule, info = rules().get(path, {}).get(name), parameter.default
        if rule is None or isinstance(rule, Free) or not hasattr(info, "help"):
            continue
        note = f"(allowed: {rule.allowed()})"
        help_text = info.help or ""
        if isinstance(rule, Choice) and all(value in help_text for value in rule.values):
            continue  # the help already lists them
        if note not in help_text:
            info.help = f"{help_text} {note}".strip()


def commands(app: typer.Typer, prefix: str = ""):
    """(path, CommandInfo) of every command of `app` and its sub-apps, e.g. ('tasks show', info)."""
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        yield (f"{prefix} {name}".strip(), info)
    for group in app.registered_groups:
        yield from commands(group.typer_instance, f"{prefix} {group.name}".strip())


def install(app: typer.Typer) -> None:
    """Check every command's options against the table before it runs; show the ranges in --help."""
    for path, info in commands(app):
        _annotate_help(path, info.callback)
        info.callback = checked(path, info.callback)
