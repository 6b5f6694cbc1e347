"""The one training loop, driven by accelerate: `train(config) -> Path`.

Every strategy runs through it; a strategy only decides the token sequences, the per-token loss
kinds and the LossSpec. Optimiser: torch AdamW; schedule: transformers' get_scheduler; LoRA: peft.
Runs the same in one process and under `accelerate launch` (each process takes every n-th batch).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from cotdistill.errors import CotdistillError
from cotdistill.files import write_text_atomic
from cotdistill.strategies import METADATA_FILE, Strategy, get_strategy
from cotdistill.training import checkpoint as ckpt
from cotdistill.training.config import TrainConfig
from cotdistill.training.data import collate, encode_records, length_grouped_batches, micro_batches, read_curated
from cotdistill.training.losses import (
    combine_cross_entropy,
    kept_cross_entropy,
    marker_states,
    predicts_target,
    rationale_mean_states,
    semantic_loss,
    semantic_row_count,
    step_counts,
)
from cotdistill.training.modeling import lora_metadata, load_student, save_student, wrap_lora

LOG_FILE = "train_log.jsonl"
HEAD_FILE = "semantic_head.safetensors"


class TrainingError(CotdistillError):
    """Training cannot go on (e.g. a non-finite loss); says at which step and what to try."""


def forward_losses(model, batch: dict, strategy: Strategy, head=None, targets=None, counts=None) -> dict:
    """All loss components of one batch: {"loss", "answer_ce", "rationale_ce"[, "semantic"]}.

    With counts (step_counts of the whole optimizer step), each mean is over the step, so the parts
    of its micro-batches add up. The CE components are detached (for logging); "semantic" keeps its
    graph so it can be trained alone.
    """
    spec = strategy.loss_spec()
    keep = predicts_target(batch["kinds"])
    outputs = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        use_cache=False,  # training reads no cache (with activation checkpointing transformers warns of one)
        logits_to_keep=keep,
        output_hidden_states=head is not None,
    )
    token_ce, target_kinds = kept_cross_entropy(outputs.logits, batch["input_ids"], batch["kinds"], keep)
    parts = combine_cross_entropy(token_ce, target_kinds, spec, counts)
    if head is not None:
        hidden = outputs.hidden_states[-1]
        if strategy.sem_source == "marker":
            states, rows = marker_states(hidden, batch["marker_index"])
        else:
            states, rows = rationale_mean_states(hidden, batch["kinds"])
        count = counts["semantic"] if counts else None
        sem = semantic_loss(head(states), targets[batch["target_row"][rows]], count) if len(rows) else hidden.sum() * 0
        parts["loss"] = parts["loss"] + spec.semantic_weight * sem
        parts["semantic"] = sem
    return parts


def check_finite(loss: torch.Tensor, step: int, epoch: int, micro_batch: int) -> None:
    """Stop with a clear message on a NaN/inf loss instead of silently training on garbage."""
    if not torch.isfinite(loss):
        raise TrainingError(
            f"loss became {loss.item()} at optimizer step {step} (epoch {epoch}, micro-batch {micro_batch}). "
            "Lower --lr, drop --bf16, or check the student's weights and the data; the last checkpoint "
            "is in OUT/checkpoints (continue with --resume)"
        )


def _semantic_setup(config: TrainConfig, strategy: Strategy, model, tokenizer, source: str, examples: list):
    """PST only: the projection head and the (cached) target table, made before any weight changes."""
    from cotdistill.training.semantic import (
        SemanticHead,
        default_cache_dir,
        minilm_encoder,
        self_encoder,
        target_table,
    )

    if strategy.sem_target == "minilm":
        encoder, identity = minilm_encoder()
    else:
        encoder, identity = self_encoder(model, tokenizer, source, config.max_len)
    table = target_table(
        [e.rationale for e in examples],
        [e.record_id for e in examples],
        encoder,
        identity,
        config.sem_cache_dir or default_cache_dir(),
        strategy.sem_centroid,
    )
    head = SemanticHead(model.config.hidden_size, table.matrix.size(1), strategy.sem_head)
    return head, table


def _write_json(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, default=str))


def train(config: TrainConfig) -> Path:
    """Train a student as configured; returns the output folder (model + tokenizer + cotdistill.json)."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed
    from transformers import get_scheduler

    started = time.time()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    strategy = get_strategy(config.strategy, **config.strategy_options())
    records, manifest = read_curated(config.data)

    _fresh_accelerator_state()
    accelerator = Accelerator(
        mixed_precision="bf16" if config.bf16 else "no",
        log_with=list(config.report_to) or None,
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
    )
    set_seed(config.seed)
    model, tokenizer, added, source = load_student(config, strategy)
    examples, data_stats = encode_records(strategy, records, tokenizer, config.max_len)
    if not examples:
        raise TrainingError(f"no training sequence fits --max-len {config.max_len}; raise it")

    head = table = None
    if strategy.name == "pst":
        head, table = _semantic_setup(config, strategy, model, tokenizer, source, examples)
        data_stats["semantic_targets_computed"] = table.computed
    if config.activation_checkpointing:
        # transformers' default, non-reentrant: under LoRA the adapters' grads flow with frozen embeddings.
        model.activation_checkpointing_enable()
    if config.lora:
        model = wrap_lora(model, config, added)
    model.train()

    params = [p for p in model.parameters() if p.requires_grad]
    if head is not None:
        params += list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate(), weight_decay=config.weight_decay)

    # Batches: the same per-epoch order on every process; process k takes batches k, k+n, ...
    lengths = [len(e) for e in examples]
    record_of = [e.record_index for e in examples]  # a record's sequences (prefix's two tasks) share a step
    n_proc, rank = accelerator.num_processes, accelerator.process_index
    per_process = len(length_grouped_batches(lengths, config.batch_size, config.seed, 0, record_of)) // n_proc
    if per_process == 0:
        raise TrainingError(f"{len(examples)} sequences make fewer batches than processes ({n_proc})")
    steps_per_epoch = math.ceil(per_process / config.grad_accum)
    total_steps = config.max_steps or math.ceil(config.epochs * steps_per_epoch)
    scheduler = get_scheduler(
        config.scheduler, optimizer, num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )  # fmt: skip

    if head is not None:
        model, head, optimizer = accelerator.prepare(model, head, optimizer)
        targets = table.matrix.to(accelerator.device)
    else:
        model, optimizer = accelerator.prepare(model, optimizer)
        targets = None
    # Our step counts are already per process, so the scheduler is not wrapped (that would step it
    # once per process); it is registered so checkpoints carry it.
    accelerator.register_for_checkpointing(scheduler)

    step, tokens_total, resumed_from = 0, 0, None
    if config.resume:
        for folder in ckpt.incomplete_checkpoints(out):
            accelerator.print(f"not resuming from {folder}: a file of it is missing or cut short (interrupted while "
                              "saving, or copied in part)")
        found = ckpt.list_checkpoints(out)
        if found:
            saved = ckpt.load_checkpoint(accelerator, found[-1], [m for m in (model, head) if m is not None])
            step, tokens_total = saved["step"], saved.get("tokens", 0)
            resumed_from = {"step": step, "wall_s": saved.get("wall_s", 0.0)}
            started -= resumed_from["wall_s"]  # wall_s counts the training before the interruption too
            accelerator.print(f"resumed from {found[-1]} (step {step} of {total_steps})")
        if accelerator.is_main_process:
            _truncate_log(out / LOG_FILE, step)  # from step 0 where no checkpoint can be resumed from

    trackers = list(config.report_to)
    if trackers:
        accelerator.init_trackers("cotdistill", config=_flat_hparams(config))
    progress = _progress(config, accelerator, total_steps, step)
    window = {"tokens": 0, "time": time.time(), "cpu": time.process_time()}
    last = {}

    epoch = step // steps_per_epoch
    while step < total_steps:
        batches = length_grouped_batches(lengths, config.batch_size, config.seed, epoch, record_of)
        mine = batches[rank : per_process * n_proc : n_proc]
        groups = [mine[i : i + config.grad_accum] for i in range(0, len(mine), config.grad_accum)]
        for index_in_epoch, group in enumerate(groups):
            if epoch * steps_per_epoch + index_in_epoch < step:
                continue  # already done before the checkpoint we resumed from
            if step >= total_steps:
                break
            micros = [micro for batch in group for micro in micro_batches(batch, lengths, config.batch_size)]
            sums, step_tokens = _accumulate(accelerator, model, micros, examples, table, tokenizer.pad_token_id,
                                            strategy, head, targets, step + 1, epoch)  # fmt: skip
            accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last = sums
            tokens_total += step_tokens
            window["tokens"] += step_tokens
            if step % config.log_every == 0 or step == total_steps:
                _log_step(accelerator, out, progress, step, epoch, sums, scheduler, window, trackers)
            if progress is not None:
                progress.update(1)
            if step % config.save_every == 0 or step == total_steps:
                ckpt.save_checkpoint(accelerator, out, step, {"epoch": epoch, "tokens": tokens_total, "losses": sums,
                                                              "wall_s": time.time() - started},
                                     config.keep_checkpoints)  # fmt: skip
        epoch += 1

    if progress is not None:
        progress.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _save_outputs(accelerator, config, strategy, model, head, tokenizer, added, source, records, manifest,
                      data_stats, step, tokens_total, last, started, resumed_from)  # fmt: skip
    accelerator.wait_for_everyone()
    if trackers:
        accelerator.end_training()
    return out


def _accumulate(accelerator, model, micros, examples, table, pad_id, strategy, head, targets, step, epoch):
    """Forward and backward over the micro-batches of one optimizer step; (the step's loss parts, real tokens).

    Each loss is a mean over the whole step's targets (as if it were one batch), so micro-batches
    of different token counts weigh by their tokens, not equally.
    """
    batches = [collate([examples[i] for i in indices], pad_id, [table.rows[i] for i in indices] if table else None)
               for indices in micros]  # fmt: skip
    semantic = sum(semantic_row_count(b["kinds"], b["marker_index"], strategy.sem_source) for b in batches) if head is not None else 0
    counts = step_counts([b["kinds"] for b in batches], semantic)
    sums, losses, tokens = {}, [], 0
    for micro, batch in enumerate(batches):
        tokens += int(batch["attention_mask"].sum())  # counted on the CPU copy: no device sync
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        sync = micro == len(batches) - 1  # under DDP, all-reduce gradients only on the last micro-batch
        with nullcontext() if sync else accelerator.no_sync(model):
            with accelerator.autocast():
                parts = forward_losses(model, batch, strategy, head, targets, counts)
            accelerator.backward(parts["loss"])
        losses.append(parts["loss"].detach())
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value.detach()
    # One device sync per optimizer step, not one per loss part and micro-batch: the GPU keeps the queue the
    # CPU launches ahead of it. A non-finite micro-batch is found here, before the optimizer step uses its gradients.
    sums = dict(zip(sums, torch.stack([value.float() for value in sums.values()]).tolist()))
    if not math.isfinite(sums["loss"]):
        micro = next(i for i, loss in enumerate(losses) if not torch.isfinite(loss))
        check_finite(losses[micro], step, epoch, micro)
    return sums, tokens


def _fresh_accelerator_state() -> None:
    """Let one process call train() several times with different settings (notebooks, tests, grids).

    accelerate keeps mixed precision in a process-wide singleton and refuses a second, different
    Accelerator; resetting it (not the distributed PartialState) is what accelerate's own tests do.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()


def _answer_types(records) -> str | list[str]:
    """The answer type the student learnt, or the sorted list of them (a mixed task's)."""
    types = sorted({str(r.answer_type) for r in records})
    return types[0] if len(types) == 1 else types


def _save_outputs(accelerator, config, strategy, model, head, tokenizer, added, source, records, manifest,
                  data_stats, step, tokens_total, last, started, resumed_from) -> None:  # fmt: skip
    """The model folder, the semantic head (training-only) and cotdistill.json, written last."""
    from safetensors.torch import save_file

    out = Path(config.out)
    save_student(accelerator.unwrap_model(model), tokenizer, out, lora=config.lora, merge=config.merge_lora)
    head_meta = None
    if head is not None:
        head = accelerator.unwrap_model(head)
        state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
        save_file(state, str(out / HEAD_FILE))
        head_meta = {"file": HEAD_FILE, **head.config(), "target": strategy.sem_target,
                     "source": strategy.sem_source, "centroid": strategy.sem_centroid}  # fmt: skip
    separator = getattr(strategy, "separator", None)
    metadata = {
        "format_version": 1,
        "strategy": strategy.metadata(),
        "separator": separator,
        "marker": _marker_metadata(strategy, tokenizer),
        "answer_type": _answer_types(records),
        "task": manifest.get("task") or manifest.get("task_name"),
        "prompt_template": strategy.prompt_template,
        "stop_strings": strategy.stop_strings(),
        "base_model": {"name": config.student, "source": source},
        "lora": lora_metadata(config, added),
        "added_tokens": tokenizer.convert_ids_to_tokens(added) if added else [],
        "semantic_head": head_meta,
        "training": config.model_dump(mode="json"),
        "data": {"folder": str(config.data), "manifest": manifest, **data_stats},
        "final_losses": last,
        "steps": step,
        "tokens": tokens_total,
        "wall_s": round(time.time() - started, 2),
        "resumed_from": resumed_from,  # the checkpoint's step and the wall time before it; None: one go
        "versions": _versions(),
    }
    _write_json(out / METADATA_FILE, metadata)


def _marker_metadata(strategy: Strategy, tokenizer) -> dict | None:
    if strategy.name != "pst":
        return None
    return {
        "position": "last token of the separator" if strategy.sem_source == "marker" else "rationale mean",
        "text": strategy.separator_text,
        "new_token": strategy.new_separator_token,
    }


def _log_step(accelerator, out: Path, progress, step, epoch, sums, scheduler, window, trackers) -> None:
    elapsed = max(time.time() - window["time"], 1e-9)
    cpu_seconds = time.process_time() - window["cpu"]  # this process's CPU time: robust on a shared machine
    tokens_per_s = window["tokens"] * accelerator.num_processes / elapsed
    record = {"step": step, "epoch": epoch, **{k: round(v, 6) for k, v in sums.items()},
              "lr": scheduler.get_last_lr()[0], "tokens": window["tokens"] * accelerator.num_processes,
              "seconds": round(elapsed, 4), "cpu_seconds": round(cpu_seconds, 4),
              "tokens_per_s": round(tokens_per_s, 1)}  # fmt: skip
    window.update(tokens=0, time=time.time(), cpu=time.process_time())
    if trackers:
        accelerator.log({f"train/{k}": v for k, v in record.items() if k not in ("step", "epoch")}, step=step)
    if accelerator.is_main_process:
        with (out / LOG_FILE).open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    if progress is not None:
        short = {"loss": "loss", "answer_ce": "ans", "rationale_ce": "rat", "semantic": "sem"}
        postfix = {name: f"{sums[key]:.3f}" for key, name in short.items() if key in sums}
        progress.set_postfix(postfix | {"tok/s": f"{tokens_per_s:.0f}"}, refresh=False)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines after the checkpoint we resume from (they will be logged again)."""
    if path.is_file():
        kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))


def _progress(config: TrainConfig, accelerator, total: int, done: int):
    if not (config.progress and accelerator.is_main_process):
        return None
    from cotdistill.progress import progress_bar

    return progress_bar(total=total, initial=done, desc=f"train {config.strategy}", unit="step")


def _flat_hparams(config: TrainConfig) -> dict:
    """TensorBoard accepts only scalars and strings as hyper-parameters."""
    flat = {}
    for key, value in config.model_dump(mode="json").items():
        flat[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def _versions() -> dict:
    import accelerate
    import peft
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "accelerate": accelerate.__version__, "peft": peft.__version__}  # fmt: skip
