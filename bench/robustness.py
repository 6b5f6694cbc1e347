"""Robustness to noisy rationales (not a test): bench/results/robustness.{md,json}.

pre-thinking vs pst on SVAMP (PaLM-540B rationales) with a fraction 0, 0.3 or 0.6 of the training
rationales corrupted (default: numbers perturbed, so the rationale no longer leads to the gold label),
2 seeds. The claim checked (PST): answer-first training loses less accuracy as noise grows.

    .venv/bin/python bench/robustness.py --quick
    .venv/bin/python bench/robustness.py [--noise-kind numbers|shuffle|swap|truncate]
"""

from __future__ import annotations

from realdata import default_seeds, grid, parser, run_and_write, setup
from report import compare, mean_by

NOISE = (0.0, 0.3, 0.6)


def claims(rows: list[dict]) -> list[str]:
    means = mean_by(rows, "strategy", "noise")
    drops, out = {}, []
    for strategy in ("pre-thinking", "pst"):
        clean, noisy = means.get((strategy, 0.0)), means.get((strategy, max(NOISE)))
        if clean and noisy:
            drops[strategy] = clean["accuracy"] - noisy["accuracy"]
            out.append(f"{strategy}: accuracy falls by {100 * drops[strategy]:.1f} points from noise 0 to "
                       f"{max(NOISE):g}" + compare(clean, noisy))
    if len(drops) == 2:
        holds = drops["pst"] <= drops["pre-thinking"] + 1e-9  # equal drops (as floats) count as no worse
        out.append(f"claim 'pst degrades no more than pre-thinking' {'holds' if holds else 'does NOT hold'} here")
    return out


def default_cells(quick: bool, dataset: str = "svamp", seeds=None) -> list:
    """Pre-thinking and pst at every noise level; one seed (quick) or two (full)."""
    return grid([dataset], ["pre-thinking", "pst"], default_seeds(quick, seeds), noise=NOISE)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--noise-kind", default="numbers", choices=("numbers", "shuffle", "swap", "truncate"))
    p.add_argument("--dataset", default="svamp", choices=("svamp", "cqa", "gsm8k"))
    args = p.parse_args()
    cells = default_cells(args.quick, args.dataset, args.seeds)
    ready = setup(args, "robustness", [args.dataset])
    if ready is None:
        return
    settings, name = ready
    settings.noise_kind = args.noise_kind
    run_and_write(name, cells, settings, args, claims)


if __name__ == "__main__":
    main()
