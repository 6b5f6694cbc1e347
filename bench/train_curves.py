"""Training loss components of several students side by side, averaged over equal windows of steps.
(not a test)

Each --curve is LABEL=MODEL_DIR:FIELD, FIELD a column of MODEL_DIR/train_log.jsonl (loss, answer_ce,
rationale_ce, semantic, ...; students of the removed one-student adaptive strategy logged thought_ce). For
comparing how fast the same sequences are learnt under two strategies, e.g. post-thinking's rationale
(rationale_ce) against a pre-thinking student (loss: its joint mean):

    python bench/train_curves.py --name train-curves-last-letters \\
      --curve post-thinking-rationale=runs/suite/cells/last-letters__post-thinking__k1__noise0__seed0/model:rationale_ce \\
      --curve pre-thinking=runs/suite/cells/last-letters__pre-thinking__k1__noise0__seed0/model:loss
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult  # noqa: E402

from cotdistill.errors import CotdistillError  # noqa: E402
from cotdistill.tasks.files import read_jsonl  # noqa: E402


def read_curve(spec: str) -> tuple[str, list[float]]:
    """(label, the column's value at each logged step); a CotdistillError naming what is wrong."""
    label, _, rest = spec.partition("=")
    folder, _, column = rest.rpartition(":")
    if not (label and folder and column):
        raise CotdistillError(f"--curve {spec!r}: expected LABEL=MODEL_DIR:FIELD")
    path = Path(folder) / "train_log.jsonl"
    if not path.is_file():
        raise CotdistillError(f"--curve {spec!r}: {path} not found; MODEL_DIR is a trained student's folder "
                              "(a run's cells/<cell>/model)")
    rows = read_jsonl(path)  # a malformed line: its DataError names the file and line
    for number, row in rows:
        if column not in row:
            raise CotdistillError(f"{path}, line {number}: no field '{column}' (it has: {', '.join(row)})")
    return label, [row[column] for _, row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curve", action="append", required=True, help="LABEL=MODEL_DIR:FIELD (repeatable)")
    parser.add_argument("--windows", type=int, default=8, help="Equal windows of steps to average over.")
    parser.add_argument("--name", default="train-curves")
    args = parser.parse_args()
    try:
        curves = dict(read_curve(spec) for spec in args.curve)
    except CotdistillError as error:
        parser.exit(2, f"error: {error}\n")
    steps = min(len(values) for values in curves.values())
    width = max(steps // args.windows, 1)
    result = BenchResult(args.name)
    lines = ["Mean of each curve over windows of optimizer steps (nats per token for the CE columns).", "",
             "| steps | " + " | ".join(curves) + " |", "|---|" + "---:|" * len(curves)]
    for start in range(0, steps, width):
        means = {label: statistics.fmean(values[start : start + width]) for label, values in curves.items()}
        lines.append(f"| {start + 1}-{min(start + width, steps)} | " + " | ".join(f"{m:.3f}" for m in means.values()) + " |")
        result.rows.append({"steps": [start + 1, min(start + width, steps)], **means})
    result.write("\n".join(lines))


if __name__ == "__main__":
    main()
