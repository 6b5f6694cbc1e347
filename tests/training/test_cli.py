"""`cotdistill train` from a YAML file with flags overriding it, and a bad config failing before any compute."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.errors import ConfigError, OptionError


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
    assert isinstance(result.exception, OptionError) and "--alpha 2" in str(result.exception)  # a range: the CLI's check
    result = CliRunner().invoke(app, ["train", "--data", str(curated), "--strategy", "prefix", "--student", "tiny-llama",
                                      "--out", str(tmp_path / "o"), "--alpha", "0.5", "--rationale-weight", "1"])  # fmt: skip
    assert isinstance(result.exception, ConfigError)  # not an option of prefix: the strategy's own check
    assert len(result.exception.problems) == 1 and "rationale_weight" in result.exception.problems[0]
    assert not (tmp_path / "o").exists()
