"""Accuracy of the five strategies on real teacher data (not a test): bench/results/accuracy.{md,json}.

Student SmolLM2-135M-Instruct (LoRA); strategies answer-only, pre-thinking, post-thinking, prefix,
pst; datasets SVAMP (PaLM-540B rationales), CommonsenseQA (PaLM-540B, a training subset), GSM8K
(human rationales, a subset); 2 seeds; accuracy with 95% Wilson intervals and generated tokens per
question. (1 vs 3 vs 10 rationales per question: bench/scotd.py.)

    .venv/bin/python bench/accuracy.py --quick          # SVAMP only, smoke scale, < 20 min on 2 cores
    .venv/bin/python bench/accuracy.py                  # all datasets, < 3 h on 2 cores
    .venv/bin/python bench/accuracy.py --split dev ...  # the dev slice of train, for any tuning
"""

from __future__ import annotations

from realdata import (FULL_SCALES, STRATEGIES, datasets_of, default_datasets, default_seeds, grid, parser,
                      run_and_write, setup)
from report import compare, mean_by


def claims(rows: list[dict]) -> list[str]:
    """The paper's claims, checked on the measured means over seeds."""
    means = mean_by(rows, "dataset", "strategy")
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        get = lambda s: means.get((dataset, s))  # noqa: E731
        pst, pre, ans = get("pst"), get("pre-thinking"), get("answer-only")
        if pst and pre and ans:
            ok = pst["accuracy"] >= max(pre["accuracy"], ans["accuracy"])
            out.append(f"{dataset}: pst {100 * pst['accuracy']:.1f}% vs pre-thinking {100 * pre['accuracy']:.1f}% "
                       f"and answer-only {100 * ans['accuracy']:.1f}% -> claim 'pst >= both' "
                       f"{'holds' if ok else 'does NOT hold'} here"
                       + compare(pst, pre if pre["accuracy"] > ans["accuracy"] else ans))
        if pst and pre and pst.get("mean_generated_tokens"):
            ratio = pre["mean_generated_tokens"] / pst["mean_generated_tokens"]
            out.append(f"{dataset}: pre-thinking generates {ratio:.1f}x the tokens of pst "
                       f"({pre['mean_generated_tokens']:.1f} vs {pst['mean_generated_tokens']:.1f}) -> claim '>= 5x' "
                       f"{'holds' if ratio >= 5 else 'does NOT hold'}")
    return out


def default_cells(quick: bool, datasets=None, strategies=STRATEGIES, seeds=None) -> list:
    """The grid run without arguments: SVAMP and one seed (quick); SVAMP, CQA and GSM8K, two seeds (full)."""
    return grid(default_datasets(quick, datasets), strategies, default_seeds(quick, seeds))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--datasets", nargs="+", default=None, choices=list(FULL_SCALES),
                   help="Default: svamp (quick); svamp, cqa, gsm8k (full).")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    args = p.parse_args()
    cells = default_cells(args.quick, args.datasets, args.strategies, args.seeds)
    ready = setup(args, "accuracy", datasets_of(cells))
    if ready is None:
        return
    settings, name = ready
    run_and_write(name, cells, settings, args, claims)


if __name__ == "__main__":
    main()
