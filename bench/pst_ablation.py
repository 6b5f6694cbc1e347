"""PST ablation on real teacher data (not a test): bench/results/pst_ablation.{md,json}.

On SVAMP (PaLM-540B rationales): rationale weight b in {0, 0.1, 1} x semantic weight l in {0, 1}
(the marker state against a MiniLM target), then at b = l = 1 the two other choices PST leaves
open: h pooled over the rationale tokens ("rationale-mean") instead of the marker, and the frozen
initial student ("self") instead of MiniLM as e(r). The b = l = 1 cell is the default `pst` of
bench/accuracy.py (shared, trained once).

    .venv/bin/python bench/pst_ablation.py --quick               # 1 seed
    .venv/bin/python bench/pst_ablation.py [--split dev]         # 2 seeds; --split dev to choose defaults
"""

from __future__ import annotations

from realdata import Strategy, default_seeds, grid, parser, run_and_write, setup
from report import mean_by


def variants() -> list[Strategy]:
    out = []
    for b in (0.0, 0.1, 1.0):
        for l in (0.0, 1.0):
            if (b, l) == (1.0, 1.0):  # the defaults: the very cell of bench/accuracy.py, so trained once
                out.append(Strategy("pst"))
            else:
                out.append(Strategy("pst", f"pst b={b:g} l={l:g}", (("rationale_weight", b), ("semantic_weight", l))))
    out.append(Strategy("pst", "pst rationale-mean", (("sem_source", "rationale-mean"),)))
    out.append(Strategy("pst", "pst self-target", (("sem_target", "self"),)))
    return out


def claims(rows: list[dict]) -> list[str]:
    means = {k[0]: v for k, v in mean_by(rows, "strategy").items()}
    acc = lambda label: means[label]["accuracy"] if label in means else None  # noqa: E731
    out = []
    for b in ("0", "0.1", "1"):
        with_l = acc("pst" if b == "1" else f"pst b={b} l=1")
        without = acc(f"pst b={b} l=0")
        if with_l is not None and without is not None:
            out.append(f"b={b}: semantic loss l=1 {100 * with_l:.1f}% vs l=0 {100 * without:.1f}% "
                       f"({100 * (with_l - without):+.1f} points)")
    for label in ("pst rationale-mean", "pst self-target"):
        if acc(label) is not None and acc("pst") is not None:
            out.append(f"{label} {100 * acc(label):.1f}% vs default pst (marker, MiniLM) {100 * acc('pst'):.1f}%")
    return out


def default_cells(quick: bool, dataset: str = "svamp", seeds=None, only=None) -> list:
    """Every variant (or those labelled in `only`); one seed (quick) or two (full)."""
    chosen = [v for v in variants() if only is None or v.id in only]
    return grid([dataset], chosen, default_seeds(quick, seeds))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--dataset", default="svamp", choices=("svamp", "cqa", "gsm8k"))
    p.add_argument("--only", nargs="+", default=None, metavar="LABEL",
                   help="Run only these variants (labels as in the table, e.g. pst 'pst b=0.1 l=1').")
    args = p.parse_args()
    ready = setup(args, "pst_ablation", [args.dataset])
    if ready is None:
        return
    settings, name = ready
    notes = ("Reported on the split named below as measured; defaults are chosen only from a `--split dev` "
             "run (the dev slice of train), never from the test split.\n\n")
    cells = default_cells(args.quick, args.dataset, args.seeds, args.only)
    if not cells:
        p.error(f"--only matched no variant; labels: {', '.join(v.id for v in variants())}")
    run_and_write(name, cells, settings, args, claims, notes)


if __name__ == "__main__":
    main()
