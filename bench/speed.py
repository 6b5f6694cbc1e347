"""Inference cost of answer-first vs rationale-first students (not a test): bench/results/speed.{md,json}.

Runs bench/experiments/speed.yaml (pst and pre-thinking, seed 0) like bench/run.py, and evaluates
every cell twice on the same test questions: at the experiment's batch size (8: throughput) and at
batch 1 (what one user waits; the `_b1` fields of each row). The result file adds, per task, the
pre-thinking / pst ratios of generated tokens and of latency at both batch sizes (PST's claim:
answering first and stopping at the separator needs several times fewer tokens).

    .venv/bin/python bench/speed.py bench/experiments/speed.yaml         # SVAMP, CommonsenseQA, GSM8K
    .venv/bin/python bench/speed.py bench/experiments/speed-quick.yaml   # SVAMP, smoke scale
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

SINGLE = 1  # the second batch size: one question at a time


def ratio(slow: float | None, fast: float | None, spec: str) -> str:
    return f"{slow:{spec}} / {fast:{spec}} ({slow / fast:.1f}x)" if slow and fast else "–"


def latency_table(rows: list[dict]) -> str:
    """Per task: tokens and latency per question, pre-thinking / pst, at both batch sizes (seed 0)."""
    by = {(r["task"], r["strategy"]): r for r in rows if r["status"] == "ok" and r.get("seed") == 0}
    lines = ["## pre-thinking vs pst", "",
             "Latency is decoding wall time per question (batch time / questions in it), after one untimed warm-up "
             "batch.", "",
             "| task | tokens pre-thinking / pst | latency batch 8 (s) | latency batch 1 (s) |", "|---|---:|---:|---:|"]
    for task in dict.fromkeys(task for task, _ in by):
        pre, pst = by.get((task, "pre-thinking")), by.get((task, "pst"))
        if pre and pst:
            lines.append(f"| {task} | {ratio(pre['mean_generated_tokens'], pst['mean_generated_tokens'], '.1f')} | "
                         f"{ratio(pre['mean_latency_s'], pst['mean_latency_s'], '.3f')} | "
                         f"{ratio(pre.get(f'mean_latency_s_b{SINGLE}'), pst.get(f'mean_latency_s_b{SINGLE}'), '.3f')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(run.main(description=__doc__, extra_batch_sizes=(SINGLE,), extra_markdown=latency_table))
