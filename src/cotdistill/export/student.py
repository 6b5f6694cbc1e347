"""Load a trained student as one plain transformers model, LoRA merged into the base weights."""

from __future__ import annotations

import json
from pathlib import Path

from cotdistill.errors import CotdistillError


def is_adapter_folder(model_dir: Path) -> bool:
    """`cotdistill train --lora --no-merge` leaves a peft adapter instead of full weights."""
    return (model_dir / "adapter_config.json").is_file() and not (model_dir / "model.safetensors").is_file() \
        and not any(model_dir.glob("model-*.safetensors"))


def load_merged_student(model_dir: str | Path, dtype=None):
    """(model, tokenizer) with any LoRA adapter merged in, in float32 unless `dtype` says otherwise."""
    import torch

    from cotdistill.models import load_causal_lm

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise CotdistillError(f"model folder '{model_dir}' does not exist")
    dtype = dtype or torch.float32
    if not is_adapter_folder(model_dir):
        model, tokenizer = load_causal_lm(model_dir, dtype=dtype)
        return model, tokenizer
    return _merge_adapter(model_dir, dtype)


def _merge_adapter(model_dir: Path, dtype):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotdistill.models import resolve

    base_name = json.loads((model_dir / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base_name:
        raise CotdistillError(f"{model_dir}/adapter_config.json names no base model; cannot merge the LoRA adapter")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForCausalLM.from_pretrained(resolve(base_name), dtype=dtype, use_safetensors=True)
    if base.get_input_embeddings().weight.shape[0] < len(tokenizer):
        # --new-sep-token: the adapter carries the resized embedding; the base must have its shape first.
        base.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # the adapter's rows replace the new ones
    return PeftModel.from_pretrained(base, model_dir).merge_and_unload(), tokenizer
