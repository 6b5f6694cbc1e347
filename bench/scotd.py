"""SCoTD on real multi-sample teacher data (not a test): bench/results/scotd.{md,json}.

SVAMP from MCC-KD, 10 teacher rationales per training question: the same questions trained with 1, 3
or all 10 rationales kept per question (correct-only, deduplicated, random downsampling), 2 seeds.
The claim checked (Li et al. 2023): more sampled rationales per question beat one.

    .venv/bin/python bench/scotd.py --quick     # pre-thinking, 50 questions, smoke scale
    .venv/bin/python bench/scotd.py             # pre-thinking and pst, 150 questions
"""

from __future__ import annotations

from realdata import default_seeds, grid, parser, run_and_write, setup
from report import compare, mean_by

SAMPLES = (1, 3, 10)


def claims(rows: list[dict]) -> list[str]:
    means = mean_by(rows, "strategy", "samples_per_question")
    out = []
    for strategy in dict.fromkeys(r["strategy"] for r in rows):
        one, ten = means.get((strategy, 1)), means.get((strategy, 10))
        if one and ten:
            out.append(f"{strategy}: 10 rationales/question {100 * ten['accuracy']:.1f}% vs 1 {100 * one['accuracy']:.1f}%"
                       f" -> claim '10 > 1' {'holds' if ten['accuracy'] > one['accuracy'] else 'does NOT hold'} here"
                       + compare(ten, one))
    return out


def default_cells(quick: bool, strategies=None, seeds=None) -> list:
    """SVAMP with 10 rationales per question, k in {1, 3, 10}: pre-thinking, one seed (quick); and pst, two seeds (full)."""
    strategies = strategies or (["pre-thinking"] if quick else ["pre-thinking", "pst"])
    return grid(["svamp-mcc"], strategies, default_seeds(quick, seeds), samples_per_question=SAMPLES)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--strategies", nargs="+", default=None, help="Default: pre-thinking (quick); pre-thinking pst (full).")
    args = p.parse_args()
    cells = default_cells(args.quick, args.strategies, args.seeds)
    ready = setup(args, "scotd", ["svamp-mcc"])
    if ready is None:
        return
    settings, name = ready
    notes = ("Same training questions for every k; k rationales kept per question, so k=10 trains on up to 10x the "
             "examples (and steps) of k=1, as in SCoTD.\n\n")
    run_and_write(name, cells, settings, args, claims, notes)


if __name__ == "__main__":
    main()
