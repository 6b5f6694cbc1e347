"""Adaptive thinking's threshold: accuracy against generated tokens, per adaptive cell of a run (not a test).

For each finished adaptive cell, its student answers the cell's questions in each mode alone
(`cotdistill eval --mode answer-first` and `--mode think-first`), and each question's perception score
is read from the cell's own predictions (mode auto). A threshold t sends a question answer first where
its score reaches t, so the accuracy and the tokens at t are those of that mode's outputs: with greedy
decoding the whole curve comes from the two runs, with no run per threshold. The cell's own accuracy
is printed beside the curve at its threshold, as a check. "Best mode per question" (answer first where
that is right, else think first) is what a perfect perception module would reach.

    python bench/adaptive_threshold.py --run-dir runs/suite-adaptive-dev --name adaptive-threshold-dev
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, BenchResult  # noqa: E402

from cotdistill.evaluation import EvalOptions, evaluate  # noqa: E402
from cotdistill.experiments import run_config  # noqa: E402
from cotdistill.experiments.pipeline import task_questions  # noqa: E402
from cotdistill.tasks.files import read_jsonl  # noqa: E402

MODES = ("answer-first", "think-first")
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def mode_outputs(cell: Path, meta: dict, config, out: Path) -> dict[str, dict[str, dict]]:
    """mode -> question id -> prediction row, the student evaluated in each mode alone (kept in `out`);
    `meta`: the cell's cell.json."""
    task = next(t for t in config.tasks if t.name == meta["task"]["name"])
    records = task_questions(task, config.data_seed).evaluated(config.eval.split)
    spec = config.eval
    rows = {}
    for mode in MODES:
        predictions = out / f"{cell.name}.{mode}.predictions.jsonl"
        options = EvalOptions(batch_size=spec.batch_size, max_new_tokens=spec.max_new_tokens, similarity=False,
                              seed=meta["seed"], mode=mode)  # fmt: skip
        evaluate(cell / "model", task.name, records=records, options=options, predictions_out=predictions)
        rows[mode] = {row["id"]: row for _, row in read_jsonl(predictions)}
    return rows


def curve(scores: dict[str, float], rows: dict[str, dict[str, dict]]) -> list[dict]:
    points = []
    for label, pick in [(f"{t:.1f}", lambda q, t=t: MODES[0] if scores[q] >= t else MODES[1]) for t in THRESHOLDS] + [
        ("best mode per question", lambda q: MODES[0] if rows[MODES[0]][q]["correct"] else MODES[1])
    ]:
        chosen = [rows[pick(q)][q] for q in scores]
        points.append({"threshold": label, "answer_first": sum(pick(q) == MODES[0] for q in scores) / len(scores),
                       "accuracy": sum(r["correct"] for r in chosen) / len(chosen),
                       "tokens": sum(r["generated_tokens"] for r in chosen) / len(chosen)})  # fmt: skip
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/suite-adaptive-dev"))
    parser.add_argument("--name", default="adaptive-threshold-dev")
    args = parser.parse_args()

    config = run_config(args.run_dir)
    result = BenchResult(args.name)
    out = RESULTS / args.name
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"Run folder `{args.run_dir}`, evaluated on its {config.eval.split} questions. Each cell's student in each "
             "mode alone; a question goes answer first where its perception score reaches the threshold.", ""]
    for cell in sorted((args.run_dir / "cells").iterdir()):
        if not (cell / "eval.json").is_file():
            continue
        cell_meta = json.loads((cell / "cell.json").read_text())
        if cell_meta["strategy"]["name"] != "adaptive":
            continue
        own = json.loads((cell / "eval.json").read_text())
        scores = {row["id"]: row["perception_score"] for _, row in read_jsonl(cell / "eval.predictions.jsonl")}
        points = curve(scores, mode_outputs(cell, cell_meta, config, out))
        meta = json.loads((cell / "model" / "cotdistill.json").read_text())
        summary, threshold = meta.get("perception", {}), meta["strategy"].get("threshold", 0.5)
        result.rows.append({"cell": cell.name, "perception": summary, "points": points, "own_accuracy": own["accuracy"]})
        lines += [f"## {cell.name}", "",
                  f"Perception labels (held-out folds): answer first right on {summary.get('answer_first_right')}, "
                  f"only think first on {summary.get('labelled', 0) - summary.get('answer_first_right', 0)}, neither on "
                  f"{summary.get('neither_right')} of {summary.get('questions')} questions. The cell's own run (threshold "
                  f"{threshold:g}): {100 * own['accuracy']:.1f}%, {own.get('modes')}.", "",
                  "| threshold | answered first | accuracy % | tokens / question |", "|---|---:|---:|---:|"]
        lines += [f"| {p['threshold']} | {100 * p['answer_first']:.0f}% | {100 * p['accuracy']:.1f} | {p['tokens']:.1f} |"
                  for p in points]
        lines.append("")
    result.write("\n".join(lines))


if __name__ == "__main__":
    main()
