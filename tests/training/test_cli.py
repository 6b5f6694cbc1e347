"""`cotdistill train` from a YAML file with flags overriding it, and a bad config failing before any compute."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.errors import ConfigError


def test_train_command_with_yaml_and_flags(curated, tiny_llama, tmp_path):
    config = tmp_path / "pst.yaml"
    config.write_text(f"data: {curated}\nstrategy: pst\nstudent: tiny-llama\nout: {tmp_path / 'out'}\n"
                      "max_steps: 50\nsem_target: self\nsem_source: rationale-mean\nsem_centroid: true\n"
                      "sem_head: mlp\nbatch_size: 8\nmax_len: 96\nreport_to: []\n")  # fmt: skip
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--max-steps", "2", "--no-progress",
                                      "--semantic-weight", "0.5", "--sem-cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out" / "cotdistill.json").read_text())
    assert meta["steps"] == 2 and meta["training"]["max_steps"] == 2  # the flag won over the file
    assert meta["strategy"]["semantic_weight"] == 0.5 and meta["strategy"]["sem_centroid"] is True
    assert meta["semantic_head"]["kind"] == "mlp" and meta["semantic_head"]["out_dim"] == 64  # self: student width
    assert meta["data"]["semantic_targets_computed"] == 48


def test_bad_flags_fail_before_any_compute(curated, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(curated), "--strategy", "prefix", "--student", "tiny-llama",
                                      "--out", str(tmp_path / "o"), "--alpha", "2", "--rationale-weight", "1"])  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert len(result.exception.problems) == 2
    assert not (tmp_path / "o").exists()


def test_adaptive_from_the_command_line(curated, tiny_llama, tmp_path):
    out = tmp_path / "adaptive"
    result = CliRunner().invoke(app, ["train", "--data", str(curated), "--strategy", "adaptive", "--student", "tiny-llama",
                                      "--out", str(out), "--max-steps", "2", "--max-len", "96", "--report-to", "none",
                                      "--no-progress", "--perception-folds", "3", "--threshold", "0.4"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "perception module: of 24 questions" in result.output
    meta = json.loads((out / "cotdistill.json").read_text())
    assert meta["perception"]["folds"] == 3 and meta["strategy"]["threshold"] == 0.4
    questions = tmp_path / "questions.jsonl"  # one line per question (the curated file has two rationales each)
    questions.write_text("".join(line + "\n" for line in (curated / "train.jsonl").read_text().splitlines()[::2]))
    evaluated = CliRunner().invoke(app, ["eval", "--model", str(out), "--task", f"jsonl:{questions}",
                                         "--limit", "4", "--mode", "answer-first", "--max-new-tokens", "4",
                                         "--no-similarity", "--out", str(tmp_path / "eval.json")])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads((tmp_path / "eval.json").read_text())["modes"] == {"answer-first": 4}
    refused = CliRunner().invoke(app, ["train", "--data", str(curated), "--strategy", "adaptive", "--student", "tiny-llama",
                                       "--out", str(tmp_path / "o"), "--perception-folds", "1"])  # fmt: skip
    assert isinstance(refused.exception, ConfigError) and not (tmp_path / "o").exists()
