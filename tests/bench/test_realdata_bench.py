"""The real-data benchmark driver (bench/realdata.py) end to end, with the tiny student so it runs in CI."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import realdata  # noqa: E402
from cost import estimate_minutes  # noqa: E402
from report import diagnostic_findings, first_characters  # noqa: E402
from pst_ablation import variants  # noqa: E402

ROW_FIELDS = {"dataset", "strategy", "seed", "accuracy", "ci95", "mean_generated_tokens"}


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                          timeout=900, cwd=REPO)


def default_grids(quick: bool) -> dict[str, list]:
    """The grids the bench scripts run without arguments, from the scripts themselves."""
    return {name: importlib.import_module(name).default_cells(quick)
            for name in ("accuracy", "scotd", "robustness", "pst_ablation", "speed")}


@pytest.mark.parametrize("quick, bound_minutes", [(True, 20), (False, 180)])
def test_every_default_grid_is_estimated_within_its_bound(quick, bound_minutes):
    scales = realdata.QUICK_SCALES if quick else realdata.FULL_SCALES
    grids = default_grids(quick)
    for name, cells in grids.items():
        batch_sizes = importlib.import_module(name).BATCHES if name == "speed" else (8,)
        assert estimate_minutes(cells, scales, batch_sizes) < bound_minutes, name
    accuracy = grids["accuracy"]
    assert estimate_minutes(accuracy, scales, (8, 1)) > estimate_minutes(accuracy, scales)


def test_without_the_data_folder_the_benchmark_says_why_and_writes_nothing(tmp_path):
    done = run_bench("accuracy.py", "--quick", "--data-dir", str(tmp_path / "absent"), "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "SKIPPED" in done.stdout and "absent" in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_tiny_accuracy_grid_writes_rows_and_resumes(shared_data, tiny_llama, minilm, tmp_path):
    args = ("--student", "tiny-llama", "--data-dir", str(shared_data), "--train-questions", "8",
            "--test-questions", "4", "--seeds", "0", "--strategies", "answer-only", "pst", "--quick",
            "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"), "--threads", "1")
    first = run_bench("accuracy.py", *args)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    result = json.loads((tmp_path / "results" / "accuracy-quick-tiny-llama.json").read_text())
    rows = result["rows"]
    assert [(r["strategy"], r["status"]) for r in rows] == [("answer-only", "ok"), ("pst", "ok")]
    for row in rows:
        assert ROW_FIELDS <= set(row), row
        assert row["n"] == 4 and 0 <= row["ci95"][0] <= row["accuracy"] <= row["ci95"][1] <= 1
    assert "command" in result and "versions" in result
    assert (tmp_path / "results" / "accuracy-quick-tiny-llama.md").is_file()

    again = run_bench("accuracy.py", *args)  # finished cells are skipped, not retrained
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("done already, skipped") == 2

    # a re-render keeps the training run's provenance and says it re-rendered
    again_json = json.loads((tmp_path / "results" / "accuracy-quick-tiny-llama.json").read_text())
    rerendered = run_bench("accuracy.py", *args, "--report-only")
    assert rerendered.returncode == 0, rerendered.stderr[-2000:]
    after = json.loads((tmp_path / "results" / "accuracy-quick-tiny-llama.json").read_text())
    assert after["rows"] == again_json["rows"]
    for kept in ("command", "wall_time_s", "date", "load_average_1_5_15min"):
        assert after[kept] == again_json[kept], kept
    assert "--report-only" in after["rerendered"] and "--report-only" not in after["command"]


def test_benchmarks_share_the_default_pst_cell(tmp_path):
    """accuracy, robustness and pst_ablation train the default pst once: same folder, same key."""
    settings = realdata.Settings(data_dir=tmp_path, work=tmp_path, student="s", scales=realdata.QUICK_SCALES)
    from_accuracy = realdata.grid(["svamp"], ["pst"], [0])[0]
    from_robustness = [c for c in realdata.grid(["svamp"], ["pre-thinking", "pst"], [0], noise=(0.0, 0.3))
                       if c.strategy.name == "pst" and c.noise == 0][0]
    from_ablation = [c for c in realdata.grid(["svamp"], variants(), [0]) if c.id == from_accuracy.id]
    assert len(from_ablation) == 1
    for cell in (from_robustness, from_ablation[0]):
        assert (cell.id, realdata.cell_key(cell, settings)) == (from_accuracy.id, realdata.cell_key(from_accuracy, settings))


def test_a_cell_at_another_scale_gets_its_own_folder_and_legacy_cells_are_adopted(tmp_path):
    legacy = tmp_path / "svamp__pst__k1__noise0__seed0"
    legacy.mkdir()
    (legacy / "result.json").write_text(json.dumps({"key": "aaaaaaaaaaaa", "accuracy": 0.1}))

    adopted = realdata.cell_folder(tmp_path, legacy.name, "aaaaaaaaaaaa")
    assert adopted == tmp_path / "svamp__pst__k1__noise0__seed0__aaaaaaaa" and not legacy.exists()
    assert json.loads((adopted / "result.json").read_text())["accuracy"] == 0.1

    other_scale = realdata.cell_folder(tmp_path, legacy.name, "bbbbbbbbbbbb")
    assert other_scale != adopted and not other_scale.exists() and adopted.exists()


def test_first_characters_expose_a_student_stuck_on_the_leading_digit_prior():
    assert first_characters(["12", "1", "7", None, "150"]) == {"first_char": "1", "first_char_share": 0.75}
    assert first_characters([None], prefix="train_") == {}
    rows = [{"dataset": "svamp", "strategy": s, "status": "ok", "n": 4, "accuracy": 0.25,
             **first_characters(answers)}
            for s, answers in (("pst", ["1", "10", "19", "1"]), ("pre-thinking", ["3", "12", "7", "40"]))]
    baselines = {"svamp": {"answer": "1", "accuracy": 0.1, **first_characters(["1", "2", "30"], "train_")}}
    rows[0]["mean_answer_nll"] = 2.5  # answer-first students only
    collapse, likelihood = diagnostic_findings(rows, baselines)
    assert "pst 100%, pre-thinking 25%" in collapse and 'start with "1" 33%' in collapse
    assert likelihood.endswith("pst 2.50")


def test_the_best_constant_answer_is_the_commonest_gold_answer_and_never_below_the_floor(shared_data, tmp_path):
    settings = realdata.Settings(data_dir=shared_data, work=tmp_path, student="s", scales=realdata.FULL_SCALES)
    base = realdata.constant_baseline("gsm8k", settings)
    golds = [r.answer for r in realdata.eval_records("gsm8k", "test", realdata.FULL_SCALES["gsm8k"].test_questions,
                                                      shared_data)]
    assert base["n"] == len(golds)
    assert base["best_accuracy"] == max(golds.count(a) for a in golds) / len(golds)
    assert base["best_accuracy"] >= base["accuracy"]
