"""bench/suite.py's goal table (issue 15): margins over the best constant answer, the published students,
and pst against pre-thinking only where both learnt."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from cotdistill.reports.aggregate import Summary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
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
