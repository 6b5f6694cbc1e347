"""How long the pending cells of a run will take, said before they start.

Training time is training tokens over a rate: the rate this run measured on its finished cells
(trained.json: the student's own training time), else a CPU default (SmolLM2-135M with LoRA on 2
cores, fitted to the benchmark cells). What an interrupted cell finished (its last checkpoint) is not
counted again. A router cell trains nothing and decodes nothing of its own: the runner leaves it out.
Tokens are counted from the curated data (characters / CHARS_PER_TOKEN, as each strategy lays them
out); evaluation is a per-question cost plus the decoding steps. Teacher sampling is not
included: it depends on the teacher's endpoint, and `teach` reports its own progress.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cotdistill.experiments.config import Cell, ExperimentConfig

CPU_TRAIN_TOKENS_PER_S = 180.0
CHARS_PER_TOKEN = 3.6  # English prose and maths, SmolLM2's tokenizer
EVAL_S_PER_QUESTION, DECODE_STEPS_PER_S, CELL_OVERHEAD_S = 0.35, 180.0, 15.0
PROMPT_OVERHEAD_TOKENS = 8  # the template's "Question: ... Answer:" and the separator or answer phrase


def record_tokens(folder: Path, strategy: str) -> tuple[int, float]:
    """(records, mean training tokens per record) of a curated folder, for one strategy (prefix: both
    sequences)."""
    question = rationale = answer = 0
    records = 0
    with (folder / "train.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                records += 1
                question += len(row["question"]) + sum(len(c) + 5 for c in row.get("choices") or [])
                rationale += sum(len(r) for r in row.get("rationales", []))
                answer += len(str(row["answer"]))
    if not records:
        return 0, 0.0
    q, r, a = (chars / records / CHARS_PER_TOKEN for chars in (question, rationale, answer))
    per_record = {"answer-only": q + a, "prefix": 2 * q + r + a + PROMPT_OVERHEAD_TOKENS}.get(strategy, q + r + a)
    return records, per_record + PROMPT_OVERHEAD_TOKENS


def measured_rate(run_dir: Path) -> float | None:
    """Training tokens per second over this run's trained cells, if any finished."""
    tokens = seconds = 0.0
    for path in (run_dir / "cells").glob("*/trained.json"):
        trained = json.loads(path.read_text(encoding="utf-8"))
        took = trained.get("train_seconds") or trained.get("seconds")  # the cell's whole training, before train_seconds
        if trained.get("train_tokens") and took:
            tokens += trained["train_tokens"]
            seconds += took
    return tokens / seconds if seconds else None


def finished_share(model_dir: Path | None, steps: int) -> float:
    """How much of a student's training an interrupted run has done: its last checkpoint's step over all."""
    from cotdistill.training.checkpoint import checkpoint_step, list_checkpoints

    checkpoints = list_checkpoints(model_dir) if model_dir is not None else []
    return min(1.0, checkpoint_step(checkpoints[-1]) / steps) if checkpoints and steps else 0.0


def cell_seconds(config: ExperimentConfig, cell: Cell, data: Path, eval_questions: int, rate: float,
                 train: bool = True, model_dir: Path | None = None) -> float:
    """Train (unless its student is trained already) + evaluate seconds of one cell whose curated data is
    `data`; `model_dir`: where its student trains, to leave out what an interrupted run finished."""
    training = {**config.training, **cell.task.training, **cell.strategy.training}
    records, per_record = record_tokens(data, cell.strategy.name)
    batch = training.get("batch_size", 8) * training.get("grad_accum", 1)  # records per step
    if training.get("max_steps"):
        trained = training["max_steps"] * batch
    else:
        trained = math.ceil(records * training.get("epochs", 3.0) / batch) * batch
    steps = config.eval.max_new_tokens / 2 if cell.strategy.name == "pre-thinking" else 8
    per_question = EVAL_S_PER_QUESTION + steps * config.eval.self_consistency / DECODE_STEPS_PER_S
    student_s = trained * per_record / rate if train else 0.0
    training_s = student_s * (1 - finished_share(model_dir, trained // batch))
    return training_s + eval_questions * per_question + CELL_OVERHEAD_S
