"""bench/suite.py's goal table (issue 15): margins over the best constant answer, the published students,
and pst against pre-thinking only where both learnt."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cotdistill.reports.aggregate import Summary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import goals  # noqa: E402
import suite  # noqa: E402

FLOORS = {"best_constant_accuracy": 0.55, "best_constant_ci95": [0.47, 0.63]}


def summary(task: str, strategy: str, accuracy: float, ci_low: float, noise: float = 0.0) -> Summary:
    return Summary(task=task, strategy=strategy, noise=noise, samples_per_question=1, seeds=1, n=150,
                   accuracy=accuracy, ci_low=ci_low, ci_high=min(1.0, accuracy + 0.05), accuracy_sd=None,
                   mean_generated_tokens=2.0, mean_latency_s=0.1, floors=FLOORS)


def rows_by_task(lines: list[str]) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")]
                                              for line in lines if line.startswith("| ") and "---" not in line)}


def test_goal_table_measures_the_best_clean_student_and_compares_pst_only_where_both_learnt():
    config = SimpleNamespace(tasks=[SimpleNamespace(name="coin-flip"), SimpleNamespace(name="last-letters")])
    summaries = [
        summary("coin-flip", "pre-thinking", 0.96, 0.92), summary("coin-flip", "pst", 0.99, 0.96),
        summary("coin-flip", "pst", 1.0, 0.97, noise=0.3),  # a noisy cell is not the clean best
        summary("last-letters", "pre-thinking", 0.80, 0.70), summary("last-letters", "pst", 0.50, 0.42),
    ]
    table = rows_by_task(suite.goal_lines(config, summaries))
    assert table["coin-flip"] == ["pst 99.0", "+44.0", "77.3", "98.7",
                                  "pst vs pre-thinking: +3.0 points (higher, intervals overlap)"]
    assert table["last-letters"][:2] == ["pre-thinking 80.0", "+25.0"]
    assert table["last-letters"][4] == "pst vs pre-thinking: not testable (pst did not learn)"


def result_file(folder: Path, name: str, rows: list[tuple], split: str = "test") -> Path:
    """A rendered suite result (the .json rows bench/goals.py reads, the .md line that names the split)."""
    floors = {**FLOORS, "best_constant_accuracy": 0.55}
    payload = {"rows": [{"task": t, "strategy": s, "noise": 0.0, "samples_per_question": k, "seeds": 2, "n": 150,
                         "accuracy": a, "ci95": [low, min(1.0, a + 0.05)], "mean_generated_tokens": 2.0,
                         "mean_latency_s": 0.1, "floors": floors} for t, s, k, a, low in rows]}
    (folder / f"{name}.json").write_text(json.dumps(payload))
    (folder / f"{name}.md").write_text(f"Run folder `runs/{name}`, evaluated on the {split} questions.\n")
    return folder / f"{name}.json"


def test_goals_take_the_best_learnt_student_of_any_file_and_compare_within_one(tmp_path):
    a = result_file(tmp_path, "a", [("coin-flip", "pre-thinking", 1, 0.96, 0.92), ("coin-flip", "pst", 1, 0.99, 0.96),
                                    ("last-letters", "pst", 1, 0.60, 0.50)])  # pst not past the gate (0.63)
    b = result_file(tmp_path, "b", [("last-letters", "pre-thinking", 1, 0.80, 0.70),
                                    ("svamp-mcc", "pre-thinking", 1, 0.70, 0.64), ("svamp-mcc", "pre-thinking", 10, 0.90, 0.85)])
    files = {"a": goals.read_result(a), "b": goals.read_result(b)}
    coin, letters = goals.task_goals("coin-flip", files), goals.task_goals("last-letters", files)
    assert coin["best"]["strategy"] == "pst" and round(coin["margin"], 2) == 0.44 and coin["pst_holds"] == ["a"]
    assert {k: letters["best"][k] for k in ("file", "strategy", "seeds", "accuracy")} == \
        {"file": "b", "strategy": "pre-thinking", "seeds": 2, "accuracy": 0.80}
    assert letters["pst_vs_pre_thinking"] == [] and not letters["pst_holds"]  # pst and pre-thinking in other files
    assert goals.task_goals("multiarith", files)["best"] is None
    lines, met = goals.scotd_lines(files)
    assert met and lines == ["- b, svamp-mcc, pre-thinking: k = 10 vs k = 1: +20.0 points (higher, intervals apart)"]
    dev = result_file(tmp_path, "dev", [], split="dev-slice")
    with pytest.raises(SystemExit, match="not a test-split suite result"):
        goals.read_result(dev)
