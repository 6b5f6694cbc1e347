"""Looking strategies up by name, and re-creating them from a trained model's metadata."""

from __future__ import annotations

import dataclasses
import functools
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from cotdistill.errors import ConfigError, DataError, unknown_name
from cotdistill.strategies.base import Strategy
from cotdistill.strategies.builtin import STRATEGIES

METADATA_FILE = "cotdistill.json"
_REWRITE = "re-train or re-export the model, or restore the file cotdistill wrote"


class StrategyMetadata(BaseModel):
    """cotdistill.json's `strategy`: the name, and the strategy's settings (typed by its dataclass)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    answer_first: bool | None = None


class ModelMetadata(BaseModel):
    """The fields of a model folder's cotdistill.json that are read back (eval, serve, export, run)."""

    model_config = ConfigDict(extra="allow", strict=True)

    format_version: int | None = None
    strategy: StrategyMetadata
    answer_type: str | list[str] | None = None
    task: str | None = None
    base_model: dict[str, Any] | str | None = None
    stop_strings: list[str] | None = None
    data: dict[str, Any] | None = None
    steps: int | None = None
    tokens: int | None = None
    wall_s: float | None = None
    resumed_from: dict[str, Any] | None = None
    export: dict[str, Any] | None = None


def get_strategy(name: str, **options) -> Strategy:
    """A strategy by name with its settings; every unknown or invalid option is reported at once."""
    if name not in STRATEGIES:
        raise unknown_name("strategy", name, list(STRATEGIES))
    cls = STRATEGIES[name]
    valid = cls.option_names()
    problems = [
        f"option '{key}' does not apply to strategy '{name}' (its options: {', '.join(valid)})"
        for key in options
        if key not in valid
    ]
    problems += _range_problems(options)
    if problems:
        raise ConfigError(problems, source=f"strategy '{name}'")
    return cls(**options)


def _range_problems(options: dict) -> list[str]:
    problems = []
    for key in ("rationale_weight", "semantic_weight"):
        if key in options and not options[key] >= 0:
            problems.append(f"{key} must be >= 0, got {options[key]}")
    if "alpha" in options and not 0 <= options["alpha"] <= 1:
        problems.append(f"alpha must be in [0, 1], got {options['alpha']}")
    if "prompt_template" in options and "{question}" not in options["prompt_template"]:
        problems.append("prompt_template must contain '{question}'")
    for key, allowed in (("sem_target", ("minilm", "self")), ("sem_source", ("marker", "rationale-mean")),
                         ("sem_head", ("linear", "mlp"))):
        if key in options and options[key] not in allowed:
            problems.append(f"{key} must be one of {', '.join(allowed)}, got '{options[key]}'")
    return problems


def strategy_from_metadata(meta: dict) -> Strategy:
    """Re-create a strategy from `Strategy.metadata()` or from a whole cotdistill.json."""
    if isinstance(meta.get("strategy"), dict):
        meta = meta["strategy"]
    if "name" not in meta:
        raise ConfigError(["strategy metadata has no 'name'"], source="cotdistill.json")
    options = {k: v for k, v in meta.items() if k not in ("name", "answer_first")}
    return get_strategy(meta["name"], **options)


@functools.lru_cache(maxsize=None)
def _options_model(cls: type[Strategy]) -> type[BaseModel]:
    """A pydantic model of a strategy's settings, typed as its dataclass fields are (for reading them back)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: (hints[f.name], None) for f in dataclasses.fields(cls)}
    return create_model(f"{cls.__name__}Settings", __config__=ConfigDict(strict=True), **fields)


def read_model_metadata(model_dir: str | Path) -> dict:
    """The cotdistill.json of a trained model folder, validated: a hand-edited or foreign file is a
    DataError naming the file and the field (the strategy's settings are typed by its dataclass)."""
    from cotdistill.files import check_json, read_json

    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise DataError(path, "missing", hint="is this a folder written by `cotdistill train`?")
    meta = read_json(path, ModelMetadata, hint=_REWRITE)
    strategy = meta["strategy"]
    if strategy["name"] not in STRATEGIES:
        raise DataError(path, f"unknown strategy {strategy['name']!r}; valid: {', '.join(sorted(STRATEGIES))}",
                        field="strategy.name", hint=_REWRITE)
    cls = STRATEGIES[strategy["name"]]
    options = {k: v for k, v in strategy.items() if k not in ("name", "answer_first") and k in cls.option_names()}
    check_json(path, options, _options_model(cls), hint=_REWRITE, at="strategy")
    return meta
