"""Where a pre-thinking arithmetic student goes wrong: the arithmetic of its own steps, or elsewhere.
(not a test)

Reads each cell's eval.predictions.jsonl (what the student wrote on the evaluated questions) and checks every
equation its rationale writes out ("4 + 21 = 55"): is the result right for the operands the student itself
chose? So a wrong answer splits into arithmetic a 135M student gets wrong and a plan (which numbers, which
operation) that is wrong. Steps written in words ("a total of 36 pictures") are not checked.

    python bench/arithmetic_steps.py --run-dir runs/suite-20epochs --name arithmetic-steps
    python bench/arithmetic_steps.py --run-dir runs/suite-20epochs-dev --name arithmetic-steps-dev
"""

from __future__ import annotations

import argparse
import operator
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, cell_predictions, share  # noqa: E402

from cotdistill.tasks.files import read_jsonl  # noqa: E402

NUMBER = r"(\d+(?:,\d{3})*(?:\.\d+)?)"
EQUATION = re.compile(rf"{NUMBER}\s*([-+x*/×÷])\s*{NUMBER}\s*=\s*{NUMBER}")
OPERATIONS = {"+": operator.add, "-": operator.sub, "x": operator.mul, "*": operator.mul, "×": operator.mul,
              "/": operator.truediv, "÷": operator.truediv}


def equation_right(left: str, op: str, right: str, result: str) -> bool:
    a, b, c = (float(n.replace(",", "")) for n in (left, right, result))
    if OPERATIONS[op] is operator.truediv and b == 0:
        return False
    return abs(OPERATIONS[op](a, b) - c) < 1e-6


def cell_counts(predictions: Path) -> dict:
    counts = {"questions": 0, "correct": 0, "equations": 0, "equations_right": 0,
              "with_equations": 0, "all_right": 0, "all_right_correct": 0}
    for _, row in read_jsonl(predictions):
        counts["questions"] += 1
        counts["correct"] += bool(row["correct"])
        checks = [equation_right(*eq) for eq in EQUATION.findall(row["output"])]
        counts["equations"] += len(checks)
        counts["equations_right"] += sum(checks)
        if checks:
            counts["with_equations"] += 1
            counts["all_right"] += all(checks)
            counts["all_right_correct"] += all(checks) and bool(row["correct"])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/suite-20epochs-dev"))
    parser.add_argument("--task", default="multiarith", help="Only the cells of this task.")
    parser.add_argument("--name", default="arithmetic-steps")
    args = parser.parse_args()

    result = BenchResult(args.name)
    lines = [f"Run folder `{args.run_dir}`: each cell's own outputs on its evaluated questions.", "",
             "| cell | accuracy | equations right | answers with every written equation right "
             "| of those, answer correct |", "|---|---:|---:|---:|---:|"]
    for cell_name, predictions in cell_predictions(args.run_dir, f"{args.task}__*"):
        c = cell_counts(predictions)
        result.rows.append({"cell": cell_name, **c})
        lines.append(f"| {cell_name} | {share(c['correct'], c['questions'])} "
                     f"| {share(c['equations_right'], c['equations'])} "
                     f"| {share(c['all_right'], c['with_equations'])} "
                     f"| {share(c['all_right_correct'], c['all_right'])} |")
    result.write("\n".join(lines))


if __name__ == "__main__":
    main()
