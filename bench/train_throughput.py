"""Training throughput: `cotdistill train` vs a plain HF Trainer that pads every batch to the maximum length,
and vs TRL's SFTTrainer.

Five runs over the same curated data (real SVAMP teacher rationales from ../shared/data/mcc-kd, several
per question, or the curated folder --data names), same student, LoRA, batch size and one epoch, each
in its own process so peak memory is its own:
  - cotdistill-post : `cotdistill train --strategy post-thinking` (length-grouped batches, logits only
                      where a loss reads them)
  - hf-padded       : transformers `Trainer` on the same post-thinking sequences and label masks, every
                      batch padded to the longest sequence of the data set
  - cotdistill-pst  : `cotdistill train --strategy pst` (semantic targets computed first, then cached)
  - cotdistill-pre  : `cotdistill train --strategy pre-thinking`
  - trl-sft         : TRL's `SFTTrainer` on the same pre-thinking token ids and completion masks,
                      completion-only loss (pre-thinking's loss, one token mean over r + y, is exactly
                      it), TRL's defaults otherwise (batches padded to their own longest sequence)
                      except gradient checkpointing, off as in `cotdistill train`. Needs the `bench`
                      extra (`pip install -e .[bench]`); skipped without it.
Tokens/s counts real (non-padding) tokens over the time spent in training steps. Goals: cotdistill
at least 1.5x the padded Trainer; PST's time per epoch at most 1.15x post-thinking's.

    .venv/bin/python bench/train_throughput.py                 # quick setting, a few minutes on 2 cores
    .venv/bin/python bench/train_throughput.py --questions 100 --rationales 4

cotdistill vs TRL on coin flip's 316 correct-only examples (Fine-tune-CoT's train split, one rationale each):

    .venv/bin/cotdistill import --format ftcot --store /tmp/coin-flip.sqlite --data-dir ../shared/data \
        --path ../shared/data/fine-tune-cot/completion_data/B_text-davinci-002__C_zs_cot/D_coin_flip.json
    .venv/bin/cotdistill curate --store /tmp/coin-flip.sqlite --out /tmp/coin-flip --filter correct --dedup \
        --label gold --max-per-question 1
    .venv/bin/python bench/train_throughput.py --data /tmp/coin-flip --runs cotdistill-pre trl-sft \
        --name train_throughput-trl-coin-flip
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SVAMP, BenchResult, svamp_rows, write_svamp_curated  # noqa: E402

RUNS = ("cotdistill-post", "hf-padded", "cotdistill-pst", "cotdistill-pre", "trl-sft")
STRATEGY = {"cotdistill-post": "post-thinking", "cotdistill-pst": "pst", "cotdistill-pre": "pre-thinking"}


def write_curated(folder: Path, questions: int, rationales: int, seed: int) -> Path:
    """A curated folder from real SVAMP teacher rationales: `rationales` lines per question."""
    rows = svamp_rows()
    random.Random(seed).shuffle(rows)
    lines = [(f"svamp-{index}", row, rationale) for index, row in enumerate(rows[:questions])
             for rationale in row["output"][:rationales]]  # fmt: skip
    return write_svamp_curated(folder, lines)


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_cotdistill(args, strategy: str, data: Path, work: Path) -> dict:
    """The real CLI command, in this process; step times come from its train_log.jsonl."""
    from cotdistill.cli import app

    out = work / f"out-{strategy}"
    argv = ["train", "--data", str(data), "--strategy", strategy, "--student", args.student, "--out", str(out),
            "--epochs", "1", "--batch-size", str(args.batch_size), "--max-len", str(args.max_len),
            "--lr", str(args.lr), "--seed", "0", "--save-every", "100000", "--report-to", "none", "--no-progress"]  # fmt: skip
    argv += ["--lora", "--lora-r", str(args.lora_r)] if args.lora else []
    argv += ["--bf16"] if args.bf16 else []
    argv += ["--sem-cache-dir", str(work / "sem-cache")] if strategy == "pst" else []
    started = time.perf_counter()
    app(argv, standalone_mode=False)
    wall = time.perf_counter() - started
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    meta = json.loads((out / "cotdistill.json").read_text())
    return {"command": "cotdistill " + " ".join(argv), "steps": len(log), "tokens": sum(r["tokens"] for r in log),
            "train_s": sum(r["seconds"] for r in log), "train_cpu_s": sum(r["cpu_seconds"] for r in log), "wall_s": wall, "final_loss": log[-1]["loss"],
            "sequences": meta["data"]["examples"]}  # fmt: skip


def load_student_and_sequences(args, strategy: str, data: Path, out: Path):
    """(model with the package's LoRA, tokenizer, the package's encoded sequences) for a Trainer row."""
    import torch

    from cotdistill.models import load_causal_lm
    from cotdistill.strategies import get_strategy
    from cotdistill.training.config import load_config
    from cotdistill.training.data import encode_records, read_curated
    from cotdistill.training.modeling import wrap_lora

    config = load_config(data=data, strategy=strategy, student=args.student, out=out,
                         lora=args.lora, lora_r=args.lora_r, max_len=args.max_len)  # fmt: skip
    model, tokenizer = load_causal_lm(args.student, dtype=torch.float32)
    if args.lora:
        model = wrap_lora(model, config, [])
    examples, _ = encode_records(get_strategy(strategy), read_curated(data)[0], tokenizer, args.max_len)
    return model, tokenizer, examples


def trainer_settings(args, out: Path, sequences: int) -> dict:
    """What the Trainer rows share with `cotdistill train`: batch, lr, schedule, warm-up, clipping, bf16, seed."""
    import torch

    return {"output_dir": str(out), "per_device_train_batch_size": args.batch_size, "num_train_epochs": 1,
            "learning_rate": args.lr, "lr_scheduler_type": "linear",
            "warmup_steps": int(0.03 * math.ceil(sequences / args.batch_size)), "max_grad_norm": 1.0, "bf16": args.bf16,
            "use_cpu": not torch.cuda.is_available(), "logging_steps": 1, "save_strategy": "no", "report_to": [], "seed": 0,
            "dataloader_num_workers": 0, "disable_tqdm": True}  # fmt: skip


def step_timer():
    """A TrainerCallback summing the wall and CPU time of the training steps (on its class)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        seconds = cpu_seconds = 0.0

        def on_step_begin(self, *a, **k):
            self.began, self.began_cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            StepTimer.seconds += time.perf_counter() - self.began
            StepTimer.cpu_seconds += time.process_time() - self.began_cpu

    return StepTimer()


def trainer_row(trainer, timer, examples, started: float, command: str) -> dict:
    metrics = trainer.train().metrics
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"command": command, "steps": trainer.state.global_step, "tokens": sum(len(e) for e in examples),
            "train_s": timer.seconds, "train_cpu_s": timer.cpu_seconds, "wall_s": time.perf_counter() - started,
            "final_loss": losses[-1] if losses else None, "sequences": len(examples),
            "trainer_runtime_s": metrics["train_runtime"]}  # fmt: skip


def run_hf_padded(args, data: Path, work: Path) -> dict:
    """transformers Trainer, same model/LoRA/sequences/label masks, every batch padded to the global maximum."""
    from transformers import Trainer, TrainingArguments, default_data_collator

    from cotdistill.strategies import PROMPT

    started = time.perf_counter()
    model, tokenizer, examples = load_student_and_sequences(args, "post-thinking", data, work / "hf")
    width = max(len(e) for e in examples)
    rows = []
    for e in examples:
        pad = width - len(e)
        labels = [t if k != PROMPT else -100 for t, k in zip(e.input_ids, e.kinds)]
        rows.append({"input_ids": e.input_ids + [tokenizer.pad_token_id] * pad,
                     "attention_mask": [1] * len(e) + [0] * pad, "labels": labels + [-100] * pad})  # fmt: skip

    timer = step_timer()
    training_args = TrainingArguments(**trainer_settings(args, work / "hf", len(rows)), remove_unused_columns=False)
    trainer = Trainer(model=model, args=training_args, train_dataset=rows, data_collator=default_data_collator,
                      callbacks=[timer])  # fmt: skip
    command = "transformers.Trainer (padding to the data set's longest sequence)"
    return trainer_row(trainer, timer, examples, started, command) | {"padded_width": width}


def run_trl(args, data: Path, work: Path) -> dict:
    """TRL's SFTTrainer on the package's pre-thinking token ids and completion masks, completion-only loss."""
    import trl
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from cotdistill.strategies import PROMPT

    started = time.perf_counter()
    model, tokenizer, examples = load_student_and_sequences(args, "pre-thinking", data, work / "trl")
    # Pre-tokenised: SFTTrainer turns completion_mask into labels (-100 where 0) when completion_only_loss is on.
    rows = Dataset.from_list([{"input_ids": e.input_ids, "completion_mask": [int(k != PROMPT) for k in e.kinds]}
                              for e in examples])  # fmt: skip
    timer = step_timer()
    # max_length=None: the package already cut every sequence to --max-len. gradient_checkpointing: TRL's
    # default is on, `cotdistill train`'s (activation_checkpointing) off.
    config = SFTConfig(**trainer_settings(args, work / "trl", len(rows)), completion_only_loss=True, max_length=None,
                       gradient_checkpointing=False)  # fmt: skip
    trainer = SFTTrainer(model=model, args=config, train_dataset=rows, processing_class=tokenizer, callbacks=[timer])
    command = f"trl.SFTTrainer {trl.__version__} (completion-only loss, batches padded to their own longest sequence)"
    return trainer_row(trainer, timer, examples, started, command)


def one(args) -> None:
    """Child process: one run, its result (with its own peak memory) as JSON on the last stdout line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data, work = Path(args.data), Path(args.work)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.one == "hf-padded":
        result = run_hf_padded(args, data, work)
    elif args.one == "trl-sft":
        result = run_trl(args, data, work)
    else:
        result = run_cotdistill(args, STRATEGY[args.one], data, work)
    result |= {"run": args.one, "peak_memory_mb": round(peak_memory_mb(), 1)}
    result["tokens_per_s"] = round(result["tokens"] / result["train_s"], 1)
    result["tokens_per_cpu_s"] = round(result["tokens"] / result["train_cpu_s"], 1)
    print("RESULT " + json.dumps(result))


def child_args(args) -> list[str]:
    flags = ["--student", args.student, "--batch-size", str(args.batch_size), "--max-len", str(args.max_len),
             "--lr", str(args.lr), "--lora-r", str(args.lora_r)]  # fmt: skip
    flags += ["--threads", str(args.threads)] if args.threads else []
    return flags + (["--bf16"] if args.bf16 else ["--no-bf16"]) + (["--lora"] if args.lora else ["--full"])


def markdown(rows: dict, extra: dict) -> str:
    lines = ["| run | sequences | steps | real tokens | train s (wall) | tokens/s (wall) | train CPU s | tokens per CPU s "
             "| wall s (whole run) | peak memory MiB | final loss |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in rows.items():
        lines.append(f"| {name} | {r['sequences']} | {r['steps']} | {r['tokens']} | {r['train_s']:.1f} | "
                     f"{r['tokens_per_s']:.1f} | {r['train_cpu_s']:.1f} | {r['tokens_per_cpu_s']:.1f} | {r['wall_s']:.1f} | "
                     f"{r['peak_memory_mb']:.0f} | {r['final_loss']:.3f} |")  # fmt: skip
    s = extra["summary"]
    lines.append("")
    if "speedup_cpu" in s:
        lines.append(f"- **cotdistill / padded Trainer throughput: {s['speedup_cpu']:.2f}x by CPU time, {s['speedup_wall']:.2f}x "
                     f"by wall time** (goal >= 1.5x). The Trainer pads every batch to {rows['hf-padded']['padded_width']} tokens.")  # fmt: skip
    if "pst_over_post_cpu" in s:
        lines.append(f"- **PST / post-thinking time per epoch (training steps): {s['pst_over_post_cpu']:.2f}x by CPU time, "
                     f"{s['pst_over_post_wall']:.2f}x by wall time** (goal <= 1.15x). PST's one-time work before the first "
                     f"step (loading MiniLM, embedding {rows['cotdistill-pst']['sequences']} rationales, then cached) adds "
                     f"{s['pst_setup_extra_s']:.1f} s of wall time.")  # fmt: skip
    if "over_trl_cpu" in s:
        lines.append(f"- **cotdistill / TRL SFTTrainer throughput (pre-thinking, the same token ids, completion masks and "
                     f"loss): {s['over_trl_cpu']:.2f}x by CPU time, {s['over_trl_wall']:.2f}x by wall time**; one epoch's "
                     f"training steps take {rows['cotdistill-pre']['train_s']:.0f} s and {rows['trl-sft']['train_s']:.0f} s.")  # fmt: skip
    lines += [f"- {note}" for note in extra.get("notes", [])]
    lines += [
        f"- CPU time is the training process's own user + system time over its training steps; it is the fairer "
        f"figure on a shared machine (load average before/after: {extra['load_before']} / {extra['load_after']}), "
        f"where wall time depends on what else runs.",
        "- Memory is each process's peak RSS on CPU (max allocated on GPU).",
        "",
        "Settings: " + json.dumps(extra["settings"]),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default="smollm2-135m-instruct")
    parser.add_argument("--questions", type=int, default=24, help="SVAMP questions")
    parser.add_argument("--rationales", type=int, default=4, help="teacher rationales per question")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-len", type=int, default=320)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--full", dest="lora", action="store_false")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="a curated folder (train.jsonl + manifest.json) instead of the SVAMP sample")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="which runs (default: all)")
    parser.add_argument("--threads", type=int, help="torch CPU threads of each run (default: torch's)")
    parser.add_argument("--name", default="train_throughput", help="result files bench/results/NAME.{md,json}")
    parser.add_argument("--one", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)

    result = BenchResult(args.name)
    load_before = os.getloadavg()[0]
    rows, notes = {}, []
    runs = [name for name in RUNS if name in args.runs]
    if "trl-sft" in runs and importlib.util.find_spec("trl") is None:
        runs.remove("trl-sft")
        notes.append("trl-sft skipped: TRL is not installed (pip install -e .[bench])")
        print(notes[-1], flush=True)
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        work = Path(tmp)
        data = Path(args.data).resolve() if args.data else write_curated(work / "data", args.questions, args.rationales, args.seed)
        for name in runs:
            command = [sys.executable, __file__, "--one", name, "--data", str(data), "--work", str(work), *child_args(args)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{name} failed:\n{done.stderr[-4000:]}")
            rows[name] = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("RESULT "))
            print(f"{name}: {rows[name]['tokens_per_s']:.1f} tokens/s, {rows[name]['tokens_per_cpu_s']:.1f} tokens/CPU-s, "
                  f"peak {rows[name]['peak_memory_mb']:.0f} MiB", flush=True)  # fmt: skip
    post, hf, pst, pre, trl = (rows.get(name) for name in ("cotdistill-post", "hf-padded", "cotdistill-pst", "cotdistill-pre", "trl-sft"))  # fmt: skip
    summary = {}
    if post and hf:
        summary |= {"speedup_cpu": post["tokens_per_cpu_s"] / hf["tokens_per_cpu_s"],
                    "speedup_wall": post["tokens_per_s"] / hf["tokens_per_s"]}  # fmt: skip
    if post and pst:
        summary |= {"pst_over_post_cpu": pst["train_cpu_s"] / post["train_cpu_s"],
                    "pst_over_post_wall": pst["train_s"] / post["train_s"],
                    "pst_setup_extra_s": (pst["wall_s"] - pst["train_s"]) - (post["wall_s"] - post["train_s"])}  # fmt: skip
    if pre and trl:
        summary |= {"over_trl_cpu": pre["tokens_per_cpu_s"] / trl["tokens_per_cpu_s"],
                    "over_trl_wall": pre["tokens_per_s"] / trl["tokens_per_s"]}  # fmt: skip
    settings = {k: v for k, v in vars(args).items() if k not in ("one", "data", "work", "name")}
    settings |= {"data": args.data or str(SVAMP)}
    result.rows = list(rows.values())
    result.extra = {"summary": summary, "settings": settings, "notes": notes, "load_before": round(load_before, 2),
                    "load_after": round(os.getloadavg()[0], 2)}  # fmt: skip
    path = result.write(markdown(rows, result.extra))
    print(json.dumps(summary, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
