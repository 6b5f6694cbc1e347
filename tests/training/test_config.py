"""The training config: YAML plus flags, every problem reported at once, before any compute."""

from __future__ import annotations

import pytest

from cotdistill.errors import ConfigError
from cotdistill.training.config import load_config


def test_yaml_and_flags_merge(curated, tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(f"data: {curated}\nstrategy: pst\nstudent: tiny-llama\nout: {tmp_path / 'o'}\n"
                    "semantic-weight: 0.5\nlr: 0.001\nlora: true\n")  # fmt: skip
    config = load_config(path, lr=0.01, sem_centroid=True, batch_size=None)
    assert (config.lr, config.semantic_weight, config.sem_centroid, config.lora) == (0.01, 0.5, True, True)
    assert config.batch_size == 8  # None (flag not given) keeps the file's or the default value
    assert config.strategy_options() == {"semantic_weight": 0.5, "sem_centroid": True}


def test_every_problem_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: /no/such/dir\nstrategy: post-thinking\nstudent: /no/model\n"
                    "lr: -1\nalpha: 0.3\nepochs: many\nbogus: 1\n")  # fmt: skip
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = "\n".join(error.value.problems)
    for expected in ("out: Field required", "lr: Input should be greater than 0", "epochs:", "bogus: Extra inputs",
                     "/no/such/dir/train.jsonl does not exist", "student: model folder '/no/model' does not exist",
                     "alpha: does not apply to strategy 'post-thinking'"):  # fmt: skip
        assert expected in text
    assert str(path) in str(error.value)


def test_existing_run_needs_resume(curated, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    args = dict(data=curated, strategy="answer-only", student="tiny-llama", out=tmp_path)
    with pytest.raises(ConfigError, match="pass --resume"):
        load_config(**args)
    assert load_config(**args, resume=True).resume


def test_bad_yaml_is_one_clear_error(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
