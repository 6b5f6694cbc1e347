"""A grid grown to more samples per question pays its sampling teacher only for the new samples."""

from __future__ import annotations

import json

from cotdistill.experiments import parse_config
from cotdistill.experiments.pipeline import Pipeline

CONFIG = {
    "name": "grown",
    "student": "tiny-llama",
    "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}],
    "strategies": ["pre-thinking"],
    "samples_per_question": [2],
    "teacher": {"teacher": "reference", "error_rate": 0.25},
}


def _store(run_dir, samples_per_question, log):
    pipeline = Pipeline(parse_config({**CONFIG, "samples_per_question": samples_per_question}), run_dir, log=log.append)
    store = pipeline.teacher_store(pipeline.config.tasks[0])
    return store, json.loads((store.parent / "done.json").read_text())


def test_a_larger_k_copies_the_samples_the_run_already_holds(tmp_path):
    log: list[str] = []
    first, before = _store(tmp_path, [2], log)
    grown, after = _store(tmp_path, [1, 2, 5], log)
    assert grown.parent != first.parent  # the folder is keyed by the grid's largest k
    assert (before["new_samples"], before["reused"]) == (16, 0)
    assert (after["reused"], after["new_samples"], after["samples_target"]) == (16, 24, 40)
    assert "16 samples copied from this run's earlier stores, 24 new" in log[-1]
