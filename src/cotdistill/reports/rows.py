"""Result rows: read them from a run folder's cells and check each has what the report needs.

A run folder holds `cells/<cell_id>/eval.json` (one finished cell: task, strategy, seed, noise,
samples_per_question, n, accuracy, ci95, mean_generated_tokens, mean_latency_s) or, for a failed
cell, `cells/<cell_id>/error.json` ({"error": ..., "message": ...}). Benchmark scripts may pass
rows straight to `render_report` instead; the same checks apply.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cotdistill.errors import CotdistillError, DataError

REQUIRED = ("strategy", "n", "accuracy", "ci95")  # plus `task` (or `dataset`)
OPTIONAL_NUMBERS = ("mean_generated_tokens", "mean_latency_s")


def collect_rows(run_dir: str | Path) -> list[dict]:
    """One row per cell of `run_dir`, finished or failed, in the experiment's own order.

    Finished rows are the cell's eval.json, checked and normalised (`task`, `noise` as float,
    `status: "ok"`); failed rows carry `status: "failed"` and `error` (what and why), with the
    task/strategy/seed from the cell's `cell.json` where the runner wrote one. Cells with neither
    file (still running, or never started) are skipped.
    """
    run_dir = Path(run_dir)
    cells = run_dir / "cells"
    if not cells.is_dir():
        raise CotdistillError(
            f"{run_dir} is not a run folder: it has no cells/ subfolder (expected cells/<cell_id>/eval.json, "
            "as written by `cotdistill run`)"
        )
    rows = []
    for folder in sorted(p for p in cells.iterdir() if p.is_dir()):
        if (folder / "eval.json").is_file():
            rows.append(normalise_row(_read_object(folder / "eval.json"), folder / "eval.json", cell_id=folder.name))
        elif (folder / "error.json").is_file():
            rows.append(_failed_row(folder))
    return _in_config_order(rows, run_dir / "config.json")


def normalise_row(row: dict, source: str | Path, *, cell_id: str | None = None) -> dict:
    """A copy of a finished row with `task`, `noise`, `samples_per_question`, `seed` and `status` set.

    Raises DataError naming `source` and the field when a required field is missing or malformed.
    """
    if not isinstance(row, dict):
        raise DataError(source, f"expected a JSON object, got {type(row).__name__}")
    if row.get("status") == "failed" or ("error" in row and "accuracy" not in row):
        return {"status": "failed", "cell_id": cell_id, **row}
    out = dict(row)
    out["task"] = row.get("task") or row.get("dataset")
    if not out["task"]:
        raise DataError(source, "missing the task name", field="task", hint="add `task` (or `dataset`)")
    for field in REQUIRED:
        if row.get(field) is None:
            raise DataError(source, "missing a required field", field=field, hint=f"eval rows need {', '.join(REQUIRED)}")
    out["accuracy"] = _fraction(row["accuracy"], source, "accuracy")
    ci = row["ci95"]
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2):
        raise DataError(source, f"expected [low, high], got {ci!r}", field="ci95")
    low, high = (_fraction(value, source, "ci95") for value in ci)
    if not low <= high:
        raise DataError(source, f"low {low} is above high {high}", field="ci95")
    out["ci95"] = [low, high]
    out["n"] = _number(row["n"], source, "n")
    out["noise"] = _number(row.get("noise") or 0.0, source, "noise")
    samples = row.get("samples_per_question")
    out["samples_per_question"] = None if samples is None else int(_number(samples, source, "samples_per_question"))
    for field in OPTIONAL_NUMBERS:
        out[field] = None if row.get(field) is None else _number(row[field], source, field)
    out["strategy"] = str(row["strategy"])
    out.setdefault("seed", None)
    out["status"] = "ok"
    if cell_id is not None:
        out["cell_id"] = cell_id
    return out


def _failed_row(folder: Path) -> dict:
    error = _read_object(folder / "error.json")
    kind, message = error.get("error"), error.get("message")
    text = f"{kind}: {message}" if kind and message else str(kind or message or "failed (no message)")
    cell = _read_object(folder / "cell.json") if (folder / "cell.json").is_file() else {}
    return {
        "status": "failed",
        "cell_id": folder.name,
        "task": _name(cell.get("task")),
        "strategy": _strategy_id(cell.get("strategy")),
        "seed": cell.get("seed"),
        "noise": cell.get("noise"),
        "samples_per_question": cell.get("samples_per_question"),
        "stage": error.get("stage"),
        "error": text.strip().splitlines()[0] if text.strip() else text,
    }


def _in_config_order(rows: list[dict], config_path: Path) -> list[dict]:
    """Sort rows as the experiment config lists tasks and strategies (the report's column/row order)."""
    if not config_path.is_file():
        return rows
    config = _read_object(config_path)
    tasks = [_name(t) for t in config.get("tasks", [])]
    strategies = [_strategy_id(s) for s in config.get("strategies", [])]

    def position(values: list, value) -> int:
        return values.index(value) if value in values else len(values)

    return sorted(rows, key=lambda r: (position(tasks, r.get("task")), position(strategies, r.get("strategy"))))


def _name(spec: Any) -> str | None:
    return spec.get("name") if isinstance(spec, dict) else spec


def _strategy_id(spec: Any) -> str | None:
    return (spec.get("label") or spec.get("name")) if isinstance(spec, dict) else spec


def _read_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno) from None
    if not isinstance(value, dict):
        raise DataError(path, f"expected a JSON object, got {type(value).__name__}")
    return value


def _number(value: Any, source: str | Path, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(source, f"expected a finite number, got {value!r}", field=field)
    return value


def _fraction(value: Any, source: str | Path, field: str) -> float:
    number = _number(value, source, field)
    if not 0.0 <= number <= 1.0:
        raise DataError(source, f"expected a fraction in [0, 1], got {number!r}", field=field)
    return float(number)
