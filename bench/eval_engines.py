"""`cotdistill eval` of one student by each engine, side by side (not a test): bench/results/<name>.{md,json}.

Each setting decodes the same questions through `evaluate()`, exactly as `cotdistill eval --engine E --dtype D
--batch-size B` would (the GGUF conversion is cached before the first timed pass). The settings take turns, one
pass each per repeat (A B C, A B C, ...), so a neighbour's load falls on all of them alike; the table gives
each one's median generated tokens/s and its ratio to today's (transformers, float32) at the same batch size,
and how many outputs differ from today's.

    .venv/bin/python bench/eval_engines.py --model runs/.../pre-thinking/model --task last-letters \\
        --data-dir ../shared/data --questions 64 --repeats 3 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from common import BenchResult

SETTINGS = {  # label: (engine, dtype)
    "transformers float32 (today)": ("transformers", "float32"),
    "transformers bfloat16": ("transformers", "bfloat16"),
    "llama.cpp f16": ("llama.cpp", "float32"),
}
TODAY = "transformers float32 (today)"


def one_pass(model: Path, records, engine: str, dtype: str, batch: int, args) -> dict:
    from cotdistill.evaluation import EvalOptions
    from cotdistill.evaluation.evaluate import decode_and_score

    options = EvalOptions(batch_size=batch, max_new_tokens=args.max_new_tokens, engine=engine, dtype=dtype,
                          similarity=False, answer_likelihood=False)  # untimed scoring left out: only decoding is compared
    started = time.perf_counter()
    rows, metrics = decode_and_score(model, records, options)
    return {"tokens_per_s": metrics["tokens_per_s"], "wall_s": time.perf_counter() - started,
            "accuracy": metrics["accuracy"], "tokens": sum(r["generated_tokens"] for r in rows),
            "outputs": [r["output"] for r in rows]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, type=Path, help="a student folder")
    p.add_argument("--task", default="synth-coin-flip")
    p.add_argument("--split", default="test")
    p.add_argument("--data-dir", default=os.environ.get("COTDISTILL_DATA"))
    p.add_argument("--questions", type=int, default=32)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--name", default="eval_engines")
    args = p.parse_args()

    import torch

    from cotdistill.export.gguf_cache import cached_student
    from cotdistill.tasks import load_task

    torch.set_num_threads(args.threads)
    records = load_task(args.task, args.split, data_dir=args.data_dir, limit=args.questions)
    cached_student(args.model)  # the one-off conversion is not decoding
    result = BenchResult(args.name, extra={"task": args.task, "questions": len(records), "threads": args.threads})
    for batch in args.batch_sizes:
        passes: dict[str, list[dict]] = {label: [] for label in args.settings}
        for repeat in range(args.repeats):
            for label in args.settings:
                found = one_pass(args.model, records, *SETTINGS[label], batch, args)
                passes[label].append(found)
                print(f"b={batch} repeat {repeat}: {label:30s} {found['tokens_per_s']:6.1f} tok/s", flush=True)
        today = statistics.median(f["tokens_per_s"] for f in passes[TODAY]) if TODAY in passes else None
        reference = passes[TODAY][0]["outputs"] if TODAY in passes else None
        for label, found in passes.items():
            speed = statistics.median(f["tokens_per_s"] for f in found)
            result.rows.append({
                "setting": label, "batch": batch, "tokens_per_s": round(speed, 1),
                "vs_today": round(speed / today, 2) if today else None, "tokens": found[0]["tokens"],
                "accuracy": found[0]["accuracy"], "repeats": [round(f["tokens_per_s"], 1) for f in found],
                "differ": sum(a != b for a, b in zip(found[0]["outputs"], reference)) if reference else None,
            })
    lines = ["| setting | batch | tokens/s (median) | vs today | each repeat | generated tokens | accuracy | outputs differing from today's |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in result.rows:
        vs = f"{r['vs_today']:.2f}x" if r["vs_today"] else "–"
        differ = f"{r['differ']}/{len(records)}" if r["differ"] is not None else "–"
        lines.append(f"| {r['setting']} | {r['batch']} | {r['tokens_per_s']:.1f} | {vs} | {', '.join(map(str, r['repeats']))} | "
                     f"{r['tokens']} | {r['accuracy']:.3f} | {differ} |")
    notes = (f"`{args.model}` on {len(records)} questions of {args.task} ({args.split}), greedy, max {args.max_new_tokens} new "
             f"tokens, {args.threads} thread(s); each setting decodes every question once per repeat, the settings in turn. "
             "tokens/s: generated tokens / decoding wall time, as `cotdistill eval` reports it.\n\n")
    print(result.write(notes + "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
