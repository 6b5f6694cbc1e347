"""The experiment config: shape and names checked before any compute, every problem at once."""

from pathlib import Path

import pytest
import yaml

from cotdistill.errors import ConfigError, DataError
from cotdistill.experiments import load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"name": "t", "tasks": [{"name": "synth-coin-flip", "train_size": 8}], "strategies": ["answer-only"]}


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def test_grid_is_tasks_by_noise_by_k_by_strategies_by_seeds():
    config = parse_config({**MINIMAL, "strategies": ["answer-only", {"name": "pst", "label": "pst-l0", "options": {"semantic_weight": 0}}],
                           "seeds": [0, 1], "noise": [0.0, 0.2], "samples_per_question": [1, 4]})
    cells = config.cells()
    assert len(cells) == 1 * 2 * 2 * 2 * 2
    assert len({c.id for c in cells}) == len(cells)
    assert cells[0].id == "synth-coin-flip__answer-only__k1__noise0__seed0"
    assert "synth-coin-flip__pst-l0__k4__noise0p2__seed1" in {c.id for c in cells}


def test_a_students_train_key_changes_with_what_changes_its_training_data_only():
    from cotdistill.experiments.runner import train_key

    def keys(curation: dict, **changes) -> dict[str, str]:
        config = parse_config({**MINIMAL, "noise": [0.0, 0.3], "curation": curation, **changes})
        return {cell.id: train_key(config, cell) for cell in config.cells()}

    clean, swapped = keys({"filter": "correct"}), keys({"filter": "correct", "noise_kind": "swap"})
    assert clean["synth-coin-flip__answer-only__k1__noise0__seed0"] == swapped["synth-coin-flip__answer-only__k1__noise0__seed0"]
    assert clean["synth-coin-flip__answer-only__k1__noise0p3__seed0"] != swapped["synth-coin-flip__answer-only__k1__noise0p3__seed0"]
    assert keys({"filter": "all"}) != clean and keys({"filter": "correct"}, eval={"split": "test", "max_new_tokens": 9}) == clean



def test_decoding_in_bfloat16_re_evaluates_without_retraining_and_float32_keeps_the_keys_made_before_it():
    from cotdistill.experiments.runner import eval_key, settings_key, train_key

    default, bf16 = parse_config(MINIMAL), parse_config({**MINIMAL, "eval": {"dtype": "bfloat16"}})
    cell = default.cells()[0]
    assert train_key(bf16, cell) == train_key(default, cell) and eval_key(bf16, cell) != eval_key(default, cell)
    before = {name: value for name, value in default.eval.model_dump(mode="json").items() if name not in ("dtype", "engine")}
    assert eval_key(default, cell) == settings_key(train_key(default, cell), before)  # finished cells stay done

def test_a_strategy_revision_retrains_only_that_strategys_students(monkeypatch):
    from cotdistill.experiments.runner import train_key
    from cotdistill.strategies import STRATEGIES

    config = parse_config({**MINIMAL, "strategies": ["answer-only", "prefix"]})
    before = {cell.id: train_key(config, cell) for cell in config.cells()}
    monkeypatch.setattr(STRATEGIES["prefix"], "revision", STRATEGIES["prefix"].revision + 1)
    after = {cell.id: train_key(config, cell) for cell in config.cells()}
    assert after["synth-coin-flip__answer-only__k1__noise0__seed0"] == before["synth-coin-flip__answer-only__k1__noise0__seed0"]
    assert after["synth-coin-flip__prefix__k1__noise0__seed0"] != before["synth-coin-flip__prefix__k1__noise0__seed0"]


def test_every_problem_is_reported_at_once_with_its_field():
    problems = problems_of({
        "name": "t",
        "tasks": [{"name": "synth-coin-flipp"}, {"name": "synth-coin-flip", "options": {"n_peple": 3}}],
        "strategies": ["pst", {"name": "prefix", "options": {"alpha": 2}}, "foo"],
        "noise": [1.5],
        "teacher": {"teacher": "reference", "samples": 3},
        "training": {"lora": "maybe", "epochz": 1, "semantic_weight": 2},
    })
    expected_fields = ["noise", "tasks.0.name", "tasks.1.options.n_peple", "strategies.1.options", "strategies.2.name",
                       "teacher.samples", "training.lora", "training.epochz", "training.semantic_weight"]
    for field in expected_fields:
        assert any(p.startswith(field) for p in problems), (field, problems)


def test_stage_settings_are_checked_against_the_stages_own_models():
    problems = problems_of({**MINIMAL, "teacher": {"teacher": "reference", "error_rate": 3},
                            "curation": {"filter": "some"},
                            "strategies": [{"name": "answer-only", "training": {"lr": -1}}]})
    assert any(p.startswith("teacher.error_rate") for p in problems)
    assert any(p.startswith("curation.filter") for p in problems)
    assert any(p.startswith("strategies.0.training.lr") for p in problems)


def test_unknown_top_level_settings_and_duplicate_labels_are_errors():
    problems = problems_of({**MINIMAL, "strategys": ["pst"], "strategies": ["pst", "pst"]})
    assert any(p.startswith("strategys") and "unknown setting" in p for p in problems)
    assert any("duplicate strategy labels" in p for p in problems)


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(path)
    with pytest.raises(DataError, match="missing.yaml: file not found"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_examples_validate(example):
    config = load_config(example)
    assert config.cells()
    assert yaml.safe_load(example.read_text())["name"] == config.name
