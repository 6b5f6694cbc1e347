"""The student: loading it (with any tokens a strategy adds), LoRA via peft, and saving a folder plain transformers loads."""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch

from cotdistill.strategies import Strategy
from cotdistill.training.config import TrainConfig


@contextmanager
def dropped_log_message(logger_name: str, containing: str):
    """Drop one library's log message (the one containing `containing`) while the block runs; its others pass."""
    logger = logging.getLogger(logger_name)

    def keep(record: logging.LogRecord) -> bool:
        return containing not in record.getMessage()

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def load_student(config: TrainConfig, strategy: Strategy):
    """(model in float32, tokenizer, ids of added tokens, resolved source) of the student."""
    from cotdistill.models import load_causal_lm, resolve

    source = resolve(config.student)
    model, tokenizer = load_causal_lm(source, dtype=torch.float32)
    added = strategy.setup_tokenizer(tokenizer)
    if added:
        # New rows start at the mean of the old ones (transformers' mean_resizing); they are trained. That is our
        # choice, so transformers' notice of it (and how to turn it off) is not a user's to act on.
        with dropped_log_message("transformers.modeling_utils", "The new embeddings will be initialized"):
            model.resize_token_embeddings(len(tokenizer))
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, added, source


def wrap_lora(model, config: TrainConfig, added_token_ids: list[int]):
    """peft LoRA adapters; an added token's embedding row is trained via `trainable_token_indices`."""
    from peft import LoraConfig, get_peft_model

    targets = config.lora_target_modules
    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha or 2 * config.lora_r,
        lora_dropout=config.lora_dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
        task_type="CAUSAL_LM",
        trainable_token_indices=added_token_ids or None,
    )
    with warnings.catch_warnings():
        # peft reads a transformers property that transformers deprecates: nothing a user can act on.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora_config)


def lora_metadata(config: TrainConfig, added_token_ids: list[int]) -> dict | None:
    if not config.lora:
        return None
    return {
        "r": config.lora_r,
        "alpha": config.lora_alpha or 2 * config.lora_r,
        "dropout": config.lora_dropout,
        "target_modules": config.lora_target_modules,
        "merged": config.merge_lora,
        "trainable_token_indices": added_token_ids,
    }


def save_student(model, tokenizer, out: Path, *, lora: bool, merge: bool) -> None:
    """Write the trained student into out: merged full weights, or (LoRA without merge) the adapter.

    Written to a temporary folder first and moved in file by file, so a crash never leaves a
    half-written model beside a complete-looking one.
    """
    staging = out / ".model-tmp"
    shutil.rmtree(staging, ignore_errors=True)
    if lora and merge:
        model = model.merge_and_unload()
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    for item in staging.iterdir():
        os.replace(item, out / item.name)
    staging.rmdir()
