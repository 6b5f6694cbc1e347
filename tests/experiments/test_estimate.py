"""The run's time estimate: the student's own training rate, and what an interrupted cell finished left out."""

from __future__ import annotations

import json

import pytest

from cotdistill.experiments import parse_config
from cotdistill.experiments.estimate import cell_seconds, measured_rate
from cotdistill.training.checkpoint import STATE_FILE


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "curated"
    folder.mkdir()
    rows = [{"question": "q" * 36, "answer": "yes", "rationales": ["r" * 360]} for _ in range(16)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _cell(strategy: str):
    config = parse_config({"name": "e", "student": "tiny-llama", "tasks": [{"name": "synth-coin-flip"}],
                           "strategies": [strategy], "training": {"epochs": 4, "batch_size": 8}})  # fmt: skip
    return config, config.cells()[0]


def _checkpoint(model_dir, step: int) -> None:
    folder = model_dir / "checkpoints" / f"step-{step}"
    folder.mkdir(parents=True)
    (folder / STATE_FILE).write_text(json.dumps({"step": step}))


def _training_s(config, cell, data, model_dir=None) -> float:
    """A cell's training seconds at a rate so slow that its evaluation is lost in the rounding."""
    return cell_seconds(config, cell, data, 1, rate=0.01, model_dir=model_dir)


def test_a_resumed_student_counts_only_the_steps_after_its_last_checkpoint(data, tmp_path):
    config, cell = _cell("pre-thinking")  # 16 records x 4 epochs / 8 per step = 8 steps
    model_dir = tmp_path / "model"
    fresh = _training_s(config, cell, data, model_dir)
    _checkpoint(model_dir, 6)
    assert _training_s(config, cell, data, model_dir) == pytest.approx(fresh * 2 / 8, rel=1e-3)


def test_the_measured_rate_is_the_students_own_not_its_cells(tmp_path):
    cells = tmp_path / "cells"
    (cells / "a").mkdir(parents=True)
    (cells / "b").mkdir()
    # both times recorded: the student's own training time (train_seconds) counts, not the cell's (seconds)
    (cells / "a" / "trained.json").write_text(json.dumps({"train_tokens": 240_000, "seconds": 2000, "train_seconds": 800}))
    (cells / "b" / "trained.json").write_text(json.dumps({"train_tokens": 60_000, "seconds": 200}))  # before train_seconds
    assert measured_rate(tmp_path) == pytest.approx(300_000 / 1000)
