"""Training memory: a training process's peak memory, and its time per step, by how a step is run.

Why: a 135M LoRA student held about 13 GB of RSS through the SCoTD runs on this machine's CPU, more
than a 16 GB laptop leaves free. This measures where that goes, on real SVAMP teacher rationales (the
longest, so every sequence is cut to --max-len: each step is the worst case of the suite's settings),
each setting in its own `cotdistill train` process (so its peak is its own), side by side in one run:
  - the suite's step (batch 8) as it is;
  - the same 8 sequences per optimizer step cut into micro-batches (--batch-size b --grad-accum 8/b);
  - --activation-checkpointing (each layer's activations recomputed in the backward pass).
Peak memory is the child's peak RSS (os.wait4's ru_maxrss; on a GPU machine that is host memory
only). Time per step is the median of the training steps after the first, from train_log.jsonl.

    .venv/bin/python bench/train_memory.py                     # about 6 minutes on 2 cores
    .venv/bin/python bench/train_memory.py --steps 6 --max-len 512
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SVAMP, BenchResult, svamp_rows, write_svamp_curated  # noqa: E402

STEP_SEQUENCES = 8  # sequences per optimizer step in every setting: the suite's batch
SETTINGS = {  # name: extra `cotdistill train` flags
    "batch 8": ["--batch-size", "8"],
    "batch 4 x accum 2": ["--batch-size", "4", "--grad-accum", "2"],
    "batch 2 x accum 4": ["--batch-size", "2", "--grad-accum", "4"],
    "batch 8, activation checkpointing": ["--batch-size", "8", "--activation-checkpointing"],
    "batch 2 x accum 4, activation checkpointing": ["--batch-size", "2", "--grad-accum", "4", "--activation-checkpointing"],
}


def write_longest(folder: Path, sequences: int) -> Path:
    """A curated folder of the `sequences` longest real SVAMP teacher rationales (one per line)."""
    pairs = sorted(((row, output) for row in svamp_rows() for output in row["output"]), key=lambda p: -len(p[1]))
    return write_svamp_curated(folder, [(f"svamp-{index}", row, output) for index, (row, output) in enumerate(pairs[:sequences])])


def run_setting(args, flags: list[str], data: Path, out: Path) -> dict:
    """One `cotdistill train` process: its peak RSS and its steps' times."""
    command = [str(Path(sys.executable).parent / "cotdistill"), "train", "--data", str(data), "--strategy", "pre-thinking",
               "--student", args.student, "--out", str(out), "--max-steps", str(args.steps), "--max-len", str(args.max_len),
               "--lr", "1e-3", "--lora", "--lora-r", "16", "--bf16", "--seed", "0", "--save-every", "100000",
               "--report-to", "none", "--no-progress", *flags]  # fmt: skip
    with open(out.parent / f"{out.name}.log", "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{(out.parent / f'{out.name}.log').read_text()[-4000:]}")
    steps = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    later = steps[1:] or steps  # the first step also warms the kernels up
    return {"peak_rss_mib": round(usage.ru_maxrss / 1024), "step_s": round(statistics.median(s["seconds"] for s in later), 2),
            "step_cpu_s": round(statistics.median(s["cpu_seconds"] for s in later), 2),
            "tokens_per_step": round(statistics.median(s["tokens"] for s in steps)), "final_loss": steps[-1]["loss"],
            "command": "cotdistill " + " ".join(command[1:])}  # fmt: skip


def markdown(rows: list[dict], args) -> str:
    base = rows[0]
    lines = ["| setting | peak RSS MiB | vs batch 8 | time per step s (median) | vs batch 8 | CPU s per step | tokens per step | loss after the last step |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['setting']} | {r['peak_rss_mib']} | {r['peak_rss_mib'] / base['peak_rss_mib']:.2f}x | {r['step_s']:.2f} | "
                     f"{r['step_s'] / base['step_s']:.2f}x | {r['step_cpu_s']:.2f} | {r['tokens_per_step']} | {r['final_loss']:.4f} |")  # fmt: skip
    lines += [
        "",
        f"Every setting trains {STEP_SEQUENCES} sequences of {args.max_len} tokens per optimizer step (the "
        f"{STEP_SEQUENCES * args.steps} longest SVAMP teacher rationales, pre-thinking, SmolLM2-135M-Instruct, LoRA r = 16, "
        f"bf16 autocast, {args.steps} steps), one process per setting, run one after the other. With activation "
        "checkpointing a step's loss is the one without it (the same batches, recomputed); micro-batches of another "
        "size draw other batches (the order is drawn per batch size), so their last steps' losses differ.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per setting")
    parser.add_argument("--max-len", type=int, default=384, help="every sequence is cut to this (the suite's)")
    args = parser.parse_args()

    result = BenchResult("train_memory")
    with tempfile.TemporaryDirectory(prefix="train-memory-") as tmp:
        data = write_longest(Path(tmp) / "data", STEP_SEQUENCES * args.steps)
        for index, (name, flags) in enumerate(SETTINGS.items()):
            row = {"setting": name, **run_setting(args, flags, data, Path(tmp) / f"out-{index}")}
            result.rows.append(row)
            print(f"{name}: peak {row['peak_rss_mib']} MiB, {row['step_s']:.2f} s/step", flush=True)
    result.extra = {"settings": vars(args) | {"data": str(SVAMP)}}
    print(f"wrote {result.write(markdown(result.rows, args))}")


if __name__ == "__main__":
    main()
