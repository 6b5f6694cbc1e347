"""What a self-consistency vote gains over one sample, and what it leaves: per cell of a run evaluated with
eval.self_consistency > 1 (not a test).

Reads each cell's eval.predictions.jsonl (every sampled answer per question) and scores, on the same questions:
- one sample: the mean accuracy of a single sampled answer (what sampling at that temperature costs);
- the vote: the majority answer (the cell's accuracy);
- any sample: questions where at least one of the k samples is right (the most any choice among them could reach);
- agreement: the mean share of the samples that give the majority answer.

    python bench/votes.py --run-dir runs/suite-selfconsistency-dev --name votes-dev
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, cell_predictions  # noqa: E402

from cotdistill.answers import is_correct  # noqa: E402
from cotdistill.experiments import run_config  # noqa: E402
from cotdistill.experiments.pipeline import task_questions  # noqa: E402
from cotdistill.tasks.files import read_jsonl  # noqa: E402


def cell_votes(predictions: Path, records: dict) -> dict:
    counts = {"questions": 0, "vote_right": 0, "any_right": 0, "sample_right": 0.0, "agreement": 0.0}
    for _, row in read_jsonl(predictions):
        record, answers = records[row["id"]], row.get("sample_answers") or [row["predicted"]]
        right = [a is not None and is_correct(a, record.answer, record.answer_type, record.choices) for a in answers]
        counts["questions"] += 1
        counts["vote_right"] += bool(row["correct"])
        counts["any_right"] += any(right)
        counts["sample_right"] += sum(right) / len(right)
        counts["agreement"] += (answers.count(row["predicted"]) / len(answers)) if row["predicted"] is not None else 0.0
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/suite-selfconsistency-dev"))
    parser.add_argument("--name", default="votes-dev")
    args = parser.parse_args()

    config = run_config(args.run_dir)
    records = {r.id: r for task in config.tasks
               for r in task_questions(task, config.data_seed).evaluated(config.eval.split)}
    k, temperature = config.eval.self_consistency, config.eval.temperature
    result = BenchResult(args.name)
    lines = [f"Run folder `{args.run_dir}`: {k} samples per question at temperature {temperature:g}, each cell's "
             "own outputs on its evaluated questions.", "",
             f"| cell | one sample | the vote | any of the {k} | agreement with the vote |", "|---|---:|---:|---:|---:|"]
    for cell_name, predictions in cell_predictions(args.run_dir):
        c = cell_votes(predictions, records)
        n = max(c["questions"], 1)
        result.rows.append({"cell": cell_name, "samples": k, "temperature": temperature, **c})
        lines.append(f"| {cell_name} | {100 * c['sample_right'] / n:.1f}% | {c['vote_right']}/{n} "
                     f"({100 * c['vote_right'] / n:.1f}%) | {c['any_right']}/{n} ({100 * c['any_right'] / n:.1f}%) "
                     f"| {100 * c['agreement'] / n:.0f}% |")
    result.write("\n".join(lines))


if __name__ == "__main__":
    main()
