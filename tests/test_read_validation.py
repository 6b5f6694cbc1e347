"""Every metadata file cotdistill writes and reads back is validated as it is read (issue 49).

A hand-edited or foreign file (the wrong JSON type at the top, a field of the wrong type) must end in one
line naming the file and the field, exit code 2, never an AttributeError, KeyError or TypeError on the bug
path. Each row corrupts one file and runs the command that reads it through the real entry point.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli_run import run_cli as _run
from cotdistill.errors import DataError
from cotdistill.strategies import get_strategy

PST = {"format_version": 1, "strategy": get_strategy("pst").metadata(), "answer_type": "numeric", "task": "toy",
       "base_model": {"name": "tiny-llama", "source": "registry"}, "stop_strings": ["\n"], "steps": 2, "tokens": 10,
       "wall_s": 1.5, "resumed_from": None, "data": {"examples": 3}}


def _model(tmp: Path, meta) -> Path:
    """A model folder whose cotdistill.json holds `meta` (a dict, or the raw text of the file)."""
    folder = tmp / "model"
    folder.mkdir()
    (folder / "cotdistill.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return folder


def _strategy(**changes) -> dict:
    return {**PST, "strategy": {**PST["strategy"], **changes}}


def _eval(tmp: Path, meta) -> list[str]:
    return ["eval", "--model", str(_model(tmp, meta)), "--task", "synth-coin-flip", "--out", str(tmp / "e.json"),
            "--limit", "2"]


def _curated(tmp: Path, manifest) -> Path:
    from cotdistill.records import Record

    folder = tmp / "cur"
    folder.mkdir()
    records = [Record(id=f"a{i}", question=f"What is {i} plus {i}?", answer=str(2 * i), answer_type="numeric",
                      rationales=[f"{i} plus {i} is {2 * i}."]) for i in range(4)]
    (folder / "train.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _train(tmp: Path, manifest) -> list[str]:
    return ["train", "--data", str(_curated(tmp, manifest)), "--strategy", "answer-only", "--student", "tiny-llama",
            "--out", str(tmp / "out"), "--no-progress"]


GRID = {"name": "grid", "student": "tiny-llama", "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}],
        "strategies": ["answer-only"], "teacher": {"teacher": "reference"}}
CELL = "synth-coin-flip__answer-only__k1__noise0__seed0"


def _run_check(tmp: Path, name: str, content) -> list[str]:
    config = tmp / "grid.yaml"
    config.write_text(yaml.safe_dump(GRID))
    cell = tmp / "run" / "cells" / CELL
    cell.mkdir(parents=True)
    (cell / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return ["run", str(config), "--check", "--run-dir", str(tmp / "run")]


CASES = [
    # a model folder's cotdistill.json (trained, or exported with --format hf), read by eval, export and serve
    ("cotdistill.json: a list", lambda t: _eval(t, [1, 2]), ["cotdistill.json", "expected a JSON object, got a list"]),
    ("cotdistill.json: not JSON", lambda t: _eval(t, "{strategy"), ["cotdistill.json:1", "not valid JSON"]),
    ("cotdistill.json: strategy a string", lambda t: _eval(t, {**PST, "strategy": "pst"}), ["field 'strategy'", "JSON object"]),
    ("cotdistill.json: no strategy", lambda t: _eval(t, {"answer_type": "numeric"}), ["field 'strategy'", "required"]),
    ("cotdistill.json: strategy name a number", lambda t: _eval(t, _strategy(name=3)), ["field 'strategy.name'", "string"]),
    ("cotdistill.json: unknown strategy", lambda t: _eval(t, _strategy(name="pts")), ["field 'strategy.name'", "'pts'"]),
    ("cotdistill.json: a weight as text", lambda t: _eval(t, _strategy(rationale_weight="heavy")),
     ["field 'strategy.rationale_weight'", "valid number"]),
    ("cotdistill.json: sem_head not a choice", lambda t: _eval(t, _strategy(sem_head="deep")), ["field 'strategy.sem_head'"]),
    ("cotdistill.json: answer_type a number", lambda t: _eval(t, {**PST, "answer_type": 5}), ["field 'answer_type'"]),
    ("cotdistill.json: stop string a number", lambda t: _eval(t, {**PST, "stop_strings": [5]}), ["field 'stop_strings.0'"]),
    ("cotdistill.json via export", lambda t: ["export", str(_model(t, {**PST, "steps": "two"})), "--out", str(t / "x")],
     ["cotdistill.json", "field 'steps'"]),
    ("cotdistill.json via serve", lambda t: ["serve", str(_model(t, {**PST, "base_model": 7}))], ["field 'base_model'"]),
    # a curated folder's manifest.json, read by train
    ("manifest.json: a list", lambda t: _train(t, [1]), ["manifest.json", "expected a JSON object, got a list"]),
    ("manifest.json: counts a list", lambda t: _train(t, {"task": "toy", "counts": [1]}), ["manifest.json", "field 'counts'"]),
    ("manifest.json: kept as text", lambda t: _train(t, {"task": "toy", "counts": {"kept": "all"}}), ["field 'counts.kept'"]),
    ("manifest.json: content_hash a number", lambda t: _train(t, {"content_hash": 12}), ["field 'content_hash'"]),
    ("manifest.json: task a list", lambda t: _train(t, {"task": ["toy"]}), ["manifest.json", "field 'task'"]),
    # a run folder's cell files, read by run (--check reads them as a run does)
    ("eval.json: a list", lambda t: _run_check(t, "eval.json", [1]), [f"{CELL}/eval.json", "expected a JSON object"]),
    ("eval.json: not JSON", lambda t: _run_check(t, "eval.json", "{"), ["eval.json:1", "not valid JSON"]),
    ("eval.json: eval_key a number", lambda t: _run_check(t, "eval.json", {"eval_key": 5}), ["eval.json", "field 'eval_key'"]),
    ("trained.json: a string", lambda t: _run_check(t, "trained.json", '"done"'), ["trained.json", "got a string"]),
    ("trained.json: train_key a list", lambda t: _run_check(t, "trained.json", {"train_key": []}), ["field 'train_key'"]),
    ("running.json: pid as text", lambda t: _run_check(t, "running.json", {"pid": "me", "host": "h"}),
     ["running.json", "field 'pid'"]),
]


@pytest.mark.parametrize("name, setup, words", CASES, ids=[case[0] for case in CASES])
def test_a_corrupt_metadata_file_is_one_line_naming_file_and_field(name, setup, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(setup(tmp_path), capsys)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cotdistill bug" not in lines[0], err
    for word in words:
        assert word in lines[0], lines[0]


def test_the_files_cotdistill_writes_pass(tmp_path):
    """The validation is of shape only: what the stages write today reads back unchanged."""
    from cotdistill.experiments.runner import read_json
    from cotdistill.strategies import read_model_metadata
    from cotdistill.training.preflight import read_manifest

    assert read_model_metadata(_model(tmp_path, PST)) == PST
    manifest = {"task": "toy", "split": "train", "answer_type": ["numeric", "yes_no"], "counts": {"kept": 3, "dropped": {}},
                "content_hash": "sha256:00", "settings": {"seed": 0}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(tmp_path / "manifest.json") == manifest
    trained = {"train_key": "k", "seconds": 2, "examples": 8, "steps": 1, "train_tokens": 100, "train_seconds": 1.5}
    (tmp_path / "trained.json").write_text(json.dumps(trained))
    assert read_json(tmp_path / "trained.json") == trained
    assert read_json(tmp_path / "eval.json") is None  # absent: not done


def test_a_half_written_lock_reads_as_absent(tmp_path):
    from cotdistill.experiments.runner import read_json

    (tmp_path / "running.json").write_text('{"pid": 12')  # created, not yet written: another process is claiming it
    assert read_json(tmp_path / "running.json") is None


def test_every_trained_json_of_the_run_is_read_before_the_estimate(tmp_path):
    from cotdistill.experiments.runner import read_json

    path = tmp_path / "trained.json"
    path.write_text(json.dumps({"train_key": "k", "train_tokens": "many"}))
    with pytest.raises(DataError, match=r"trained.json, field 'train_tokens': Input should be a valid integer"):
        read_json(path)


def test_run_settings_json_of_a_resumed_training(tmp_path):
    from cotdistill.training.preflight import _refuse_mismatch

    path = tmp_path / "run-settings.json"
    path.write_text("[]")
    with pytest.raises(DataError, match=r"run-settings.json: expected a JSON object, got a list"):
        _refuse_mismatch(path, {"data_sha256": "x"})
    path.write_text(json.dumps({"data_sha256": 3}))
    with pytest.raises(DataError, match=r"run-settings.json, field 'data_sha256'"):
        _refuse_mismatch(path, {"data_sha256": "x"})


@pytest.mark.parametrize("content, words", [("[1]", "expected a JSON object, got a list"), ("{", "not valid JSON"),
                                            (json.dumps({"name": 5, "tasks": [], "strategies": []}), "name")])
def test_a_run_folders_config_json(tmp_path, content, words):
    from cotdistill.errors import CotdistillError
    from cotdistill.experiments.config import run_config

    (tmp_path / "config.json").write_text(content)
    with pytest.raises(CotdistillError) as error:
        run_config(tmp_path)
    assert "config.json" in str(error.value) and words in str(error.value)
