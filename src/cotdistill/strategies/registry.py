"""Looking strategies up by name, and re-creating them from a trained model's metadata."""

from __future__ import annotations

import json
from pathlib import Path

from cotdistill.errors import ConfigError, DataError, unknown_name
from cotdistill.strategies.base import Strategy
from cotdistill.strategies.builtin import STRATEGIES

METADATA_FILE = "cotdistill.json"


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


def read_model_metadata(model_dir: str | Path) -> dict:
    """The cotdistill.json of a trained model folder."""
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise DataError(path, "missing", hint="is this a folder written by `cotdistill train`?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno) from error
