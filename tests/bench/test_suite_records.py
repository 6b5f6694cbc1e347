"""bench/suite.py keeps a run's records in the repository, and a fresh checkout extends the run from them:
the runner skips the kept cells and runs only the new ones."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from cotdistill.errors import CotdistillError
from cotdistill.experiments import parse_config, run_experiment
from cotdistill.reports import collect_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import suite  # noqa: E402

pytestmark = pytest.mark.slow

CONFIG = {
    "name": "tiny-suite",
    "student": "tiny-llama",
    "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}],
    "strategies": ["answer-only"],
    "teacher": {"teacher": "reference"},
    "curation": {"filter": "all", "label": "gold"},
    "training": {"max_steps": 1, "batch_size": 4, "report_to": []},
    "eval": {"batch_size": 4, "max_new_tokens": 4, "similarity": False},
}


def test_kept_records_render_and_let_a_fresh_checkout_run_only_the_new_cells(tmp_path):
    trained_here = tmp_path / "runs" / "tiny-suite"
    assert run_experiment(parse_config(CONFIG), trained_here, log=lambda line: None, report=False).ok
    records = tmp_path / "results" / "tiny-suite" / "run"
    assert suite.keep_records([trained_here], records) == 1
    kept = sorted(p.relative_to(records).as_posix() for p in records.rglob("*") if p.is_file())
    cell = "synth-coin-flip__answer-only__k1__noise0__seed0"
    assert kept == [f"cells/{cell}/cell.json", f"cells/{cell}/eval.json", "config.json"]  # no weights, no predictions
    assert collect_rows(records) == collect_rows(trained_here)

    # another machine: the records only, and a config with one more strategy
    fresh = tmp_path / "elsewhere" / "tiny-suite"
    shutil.copytree(records, fresh)
    lines: list[str] = []
    summary = run_experiment(parse_config({**CONFIG, "strategies": ["answer-only", "pre-thinking"]}), fresh,
                             log=lines.append, report=False)
    assert summary.skipped == [cell] and summary.finished == ["synth-coin-flip__pre-thinking__k1__noise0__seed0"]
    assert suite.keep_records([fresh], records) == 2  # replaced whole
    assert not records.with_name("run.partial").exists()


def test_a_grid_run_in_parts_renders_as_one_and_parts_of_another_grid_are_refused(tmp_path):
    parts = [tmp_path / "runs" / f"seed{seed}" for seed in (0, 1)]
    for seed, part in enumerate(parts):  # one process per seed, each with its own config and run folder
        assert run_experiment(parse_config({**CONFIG, "seeds": [seed]}), part, log=lambda line: None, report=False).ok
    config, rows, stale = suite.read_runs(parts)
    assert sorted(r["cell_id"] for r in rows) == [f"synth-coin-flip__answer-only__k1__noise0__seed{s}" for s in (0, 1)]
    assert stale == [] and config.training == parse_config(CONFIG).training

    records = tmp_path / "results" / "tiny-suite" / "run"
    assert suite.keep_records(parts, records) == 2
    assert sorted(p.name for p in records.iterdir()) == ["seed0", "seed1"]  # one folder per part, each with its config
    kept = [records / "seed0", records / "seed1"]
    assert suite.read_runs(kept)[1] == rows
    assert suite.keep_records(kept, records) == 0  # a re-render from the records leaves them as they are

    other = tmp_path / "runs" / "longer"
    assert run_experiment(parse_config({**CONFIG, "training": {**CONFIG["training"], "max_steps": 2}}), other,
                          log=lambda line: None, report=False).ok
    with pytest.raises(CotdistillError, match=r"longer/config.json differs from .* in training;"):
        suite.read_runs([parts[0], other])
    with pytest.raises(CotdistillError, match="a folder of its own name"):
        suite.read_runs([parts[0], parts[0]])  # the same part twice would count its cells twice
