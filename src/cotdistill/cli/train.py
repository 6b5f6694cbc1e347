"""`cotdistill train`: fine-tune a student on a curated folder with one strategy (thin layer over cotdistill.training)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cotdistill.training.config import TrainConfig


def _help(field: str) -> str:
    return TrainConfig.model_fields[field].description or ""


def train_command(
    data: Optional[Path] = typer.Option(None, "--data", help=_help("data")),
    strategy: Optional[str] = typer.Option(
        None, "--strategy", help="answer-only, pre-thinking, post-thinking, prefix or pst."
    ),
    student: Optional[str] = typer.Option(None, "--student", help=_help("student")),
    out: Optional[Path] = typer.Option(None, "--out", help=_help("out")),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file with the same fields; flags override it."),
    lora: Optional[bool] = typer.Option(None, "--lora/--full", help=_help("lora")),
    lora_r: Optional[int] = typer.Option(None, "--lora-r", help=_help("lora_r")),
    merge_lora: Optional[bool] = typer.Option(None, "--merge/--no-merge", help=_help("merge_lora")),
    epochs: Optional[float] = typer.Option(None, "--epochs", help=_help("epochs")),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help=_help("max_steps")),
    lr: Optional[float] = typer.Option(None, "--lr", help=_help("lr")),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=_help("batch_size")),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum", help=_help("grad_accum")),
    max_len: Optional[int] = typer.Option(None, "--max-len", help=_help("max_len")),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--fp32", help=_help("bf16")),
    activation_checkpointing: Optional[bool] = typer.Option(
        None, "--activation-checkpointing/--no-activation-checkpointing", help=_help("activation_checkpointing")
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help=_help("seed")),
    prompt_template: Optional[str] = typer.Option(None, "--prompt-template", help=_help("prompt_template")),
    separator: Optional[str] = typer.Option(None, "--separator", help=_help("separator")),
    new_separator_token: Optional[bool] = typer.Option(None, "--new-sep-token", help=_help("new_separator_token")),
    rationale_weight: Optional[float] = typer.Option(None, "--rationale-weight", help=_help("rationale_weight")),
    semantic_weight: Optional[float] = typer.Option(None, "--semantic-weight", help=_help("semantic_weight")),
    alpha: Optional[float] = typer.Option(None, "--alpha", help=_help("alpha")),
    sem_target: Optional[str] = typer.Option(None, "--sem-target", help="minilm or self. " + _help("sem_target")),
    sem_source: Optional[str] = typer.Option(None, "--sem-source", help="marker or rationale-mean. " + _help("sem_source")),
    sem_centroid: Optional[bool] = typer.Option(None, "--sem-centroid", help=_help("sem_centroid")),
    sem_head: Optional[str] = typer.Option(None, "--sem-head", help="linear or mlp. " + _help("sem_head")),
    sem_cache_dir: Optional[Path] = typer.Option(None, "--sem-cache-dir", help=_help("sem_cache_dir")),
    save_every: Optional[int] = typer.Option(None, "--save-every", help=_help("save_every")),
    resume: Optional[bool] = typer.Option(None, "--resume", help=_help("resume")),
    report_to: Optional[str] = typer.Option(
        None, "--report-to", help="Comma list of trackers: tensorboard (default), wandb; 'none' for none."
    ),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help=_help("progress")),
) -> None:
    """Fine-tune a student on DIR/train.jsonl with one strategy; writes a model folder with cotdistill.json."""
    flags = dict(locals())
    flags.pop("config")
    from cotdistill.training import load_config, train

    if report_to is not None:
        flags["report_to"] = [] if report_to.strip() == "none" else [t.strip() for t in report_to.split(",") if t.strip()]
    settings = load_config(config, **flags)
    folder = train(settings)
    typer.echo(f"trained {settings.strategy} student written to {folder}")


def register(app: typer.Typer) -> None:
    """Add `cotdistill train` to the main app."""
    app.command("train", help="Fine-tune a student with a strategy (answer-only, pre-thinking, post-thinking, prefix, pst).")(
        train_command
    )
