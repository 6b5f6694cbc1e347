"""Inference cost of answer-first vs rationale-first students (not a test): bench/results/speed.{md,json}.

pst vs pre-thinking, trained as in bench/accuracy.py (seed 0), each evaluated twice on the same
test questions: at batch 8 (throughput) and batch 1 (what one user waits). Reported: generated
tokens, latency and tokens/s per question, and the pre-thinking / pst ratios (PST's claim: answer
first and stopping at the separator needs several times fewer tokens). Training tokens/s against a
plain HF Trainer and teacher samples/s are measured by bench/train_throughput.py and
bench/teacher_throughput.py; the training tokens/s of these cells is in the rows here too.

    .venv/bin/python bench/speed.py --quick      # SVAMP
    .venv/bin/python bench/speed.py              # SVAMP, CommonsenseQA, GSM8K
"""

from __future__ import annotations

from realdata import datasets_of, default_datasets, grid, parser, run_and_write, setup

BATCHES = (8, 1)


def claims(rows: list[dict]) -> list[str]:
    out = []
    by = {(r["dataset"], r["strategy"]): r for r in rows if r.get("status") == "ok"}
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        pst, pre = by.get((dataset, "pst")), by.get((dataset, "pre-thinking"))
        if not (pst and pre):
            continue
        tokens = pre["mean_generated_tokens"] / max(pst["mean_generated_tokens"], 1e-9)
        out.append(f"{dataset}: pre-thinking generates {tokens:.1f}x the tokens of pst "
                   f"({pre['mean_generated_tokens']:.1f} vs {pst['mean_generated_tokens']:.1f}) -> claim '>= 5x' "
                   f"{'holds' if tokens >= 5 else 'does NOT hold'}")
        for suffix, label in (("", "batch 8"), ("_b1", "batch 1")):
            a, b = pre.get(f"mean_latency_s{suffix}"), pst.get(f"mean_latency_s{suffix}")
            if a and b:
                out.append(f"{dataset}: latency per question at {label}: pre-thinking {a:.3f} s, pst {b:.3f} s "
                           f"({a / b:.1f}x)")
    return out


def default_cells(quick: bool, datasets=None, seeds=None) -> list:
    """Pre-thinking and pst, one seed (latency does not need two); SVAMP (quick) or all three datasets (full)."""
    return grid(default_datasets(quick, datasets), ["pre-thinking", "pst"], seeds or [0])


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--datasets", nargs="+", default=None, choices=("svamp", "cqa", "gsm8k"))
    args = p.parse_args()
    cells = default_cells(args.quick, args.datasets, args.seeds)
    ready = setup(args, "speed", datasets_of(cells), tag="__speed", eval_batch_sizes=BATCHES)
    if ready is None:
        return
    settings, name = ready
    notes = ("Latency is decoding wall time per question (batch time / questions in it), after one untimed "
             "warm-up batch; batch 1 numbers are in the `_b1` fields of the JSON rows.\n\n")
    run_and_write(name, cells, settings, args, claims, notes)


if __name__ == "__main__":
    main()
