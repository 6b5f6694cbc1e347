"""The benchmark grids (bench/experiments/*.yaml) are plain run experiments; bench/run.py and
bench/speed.py run one end to end with the tiny student, so this runs in CI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from cotdistill.experiments import parse_config

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "bench" / "experiments"

# The cells each old script ran without arguments (its `default_cells(quick)`), now one file each.
OLD_DEFAULT_GRIDS = {
    "accuracy": 30, "accuracy-quick": 5,       # (svamp, cqa, gsm8k) x 5 strategies x 2 seeds; svamp x 5 x 1 seed
    "accuracy-full-finetune": 6,               # svamp x (answer-only, pre-thinking, pst) x 2 seeds
    "scotd": 12, "scotd-quick": 3,             # k in {1, 3, 10} x (pre-thinking, pst) x 2 seeds; pre-thinking x 1 seed
    "robustness": 12, "robustness-quick": 6,   # noise in {0, 0.3, 0.6} x (pre-thinking, pst) x seeds
    "pst_ablation": 16, "pst_ablation-quick": 8,  # 8 pst variants x seeds
    "speed": 6, "speed-quick": 2,              # (pre-thinking, pst) x tasks, seed 0
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(OLD_DEFAULT_GRIDS))
def test_each_benchmark_is_a_valid_experiment_with_the_old_default_grid(name):
    config = parse_config(load(EXPERIMENTS / f"{name}.yaml"), source=name)
    assert config.name == name  # the result files are named after it
    assert len(config.cells()) == OLD_DEFAULT_GRIDS[name]


def test_every_experiment_file_is_listed():
    assert sorted(p.stem for p in EXPERIMENTS.glob("*.yaml")) == sorted(OLD_DEFAULT_GRIDS)


def tiny_speed_experiment(path: Path) -> Path:
    """speed-quick.yaml at a size CI can run: the tiny student on a synthetic task, one optimiser step."""
    data = load(EXPERIMENTS / "speed-quick.yaml")
    data.update(student="tiny-llama", teacher={"teacher": "reference"}, curation={"filter": "all", "label": "gold"},
                tasks=[{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}])
    data["training"].update(max_steps=1, batch_size=4)
    data["eval"].update(batch_size=4, max_new_tokens=4)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


sys.path.insert(0, str(REPO / "bench"))
import run  # noqa: E402
import speed  # noqa: E402


def run_speed(*args: str) -> None:
    """bench/speed.py's main, in this process (a subprocess would load torch again for each call)."""
    assert run.main(list(args), extra_batch_sizes=(speed.SINGLE,), extra_markdown=speed.latency_table) == 0


@pytest.mark.slow
def test_speed_runs_a_tiny_grid_drops_weights_writes_results_and_resumes(tiny_llama, minilm, tmp_path, capsys):
    experiment = tiny_speed_experiment(tmp_path / "speed-tiny.yaml")
    run_dir, results = tmp_path / "run", tmp_path / "results"
    args = (str(experiment), "--run-dir", str(run_dir), "--results", str(results), "--threads", "1")
    run_speed(*args)

    for strategy in ("pre-thinking", "pst"):
        cell = run_dir / "cells" / f"synth-coin-flip__{strategy}__k1__noise0__seed0"
        result = json.loads((cell / "eval.json").read_text())
        assert result["n"] == 4 and {"mean_latency_s_b1", "accuracy_b1", "mean_generated_tokens_b1"} <= set(result)
        assert (cell / "eval_b1.predictions.jsonl").is_file()
        assert not list((cell / "model").glob("*.safetensors")) and not (cell / "model" / "checkpoints").exists()
        assert (cell / "model" / "cotdistill.json").is_file()  # what was trained stays on record
        assert json.loads((cell / "trained.json").read_text())["weights_deleted"] is True

    written = json.loads((results / "speed-quick.json").read_text())
    assert {"command", "machine", "versions", "wall_time_s"} <= set(written)
    assert written["finished"] == written["cells"] == 2 and len(written["rows"]) == 2
    markdown = (results / "speed-quick.md").read_text()
    assert "## pre-thinking vs pst" in markdown and "| synth-coin-flip |" in markdown
    assert "## Cells" in markdown and (results / "speed-quick" / "report.md").is_file()

    capsys.readouterr()
    run_speed(*args)  # finished cells are skipped, not retrained
    assert capsys.readouterr().out.count("done already, skipped") == 2
    before = json.loads((results / "speed-quick.json").read_text())

    assert run.main([*args, "--results-only"]) == 0  # a re-render keeps the run's provenance and says so
    rerendered = json.loads((results / "speed-quick.json").read_text())
    assert rerendered["command"] == before["command"] and rerendered["wall_time_s"] == before["wall_time_s"]
    assert "rerendered" in rerendered and rerendered["rows"] == before["rows"]
