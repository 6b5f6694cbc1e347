"""`--format hf`: merged safetensors, tokenizer, and a generation_config.json that stops like `cotdistill eval`.

transformers honours `stop_strings` in generation_config.json (pass `tokenizer=` to `generate`);
vLLM and other servers that read only token ids honour `eos_token_id`. The default separator is EOS
itself, so they stop after the answer unasked; a separator that is another single token (a newline,
`--new-sep-token`) has its id added there too; a longer text separator must be sent as `stop=[...]`. The chat template
is replaced by one that renders the strategy's prompt, so chat requests prompt the student as trained.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cotdistill.export.gguf_writer import chat_template
from cotdistill.export.spec import ServingSpec
from cotdistill.files import write_json_atomic
from cotdistill.strategies.registry import METADATA_FILE

DEFAULT_MAX_NEW_TOKENS = 256  # what `cotdistill eval` decodes at most


def export_hf(model, tokenizer, spec: ServingSpec, model_dir: Path, out: Path) -> list[Path]:
    """Write the merged student to `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = generation_config(model, tokenizer, spec)
    # The base model's chat template (ChatML for SmolLM2) is not what the student was trained on: a chat
    # request to vLLM or transformers' pipelines must become the strategy's prompt instead.
    tokenizer.chat_template = chat_template(spec)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    _copy_metadata(model_dir, out, spec)
    return sorted(p for p in out.iterdir() if p.is_file())


def generation_config(model, tokenizer, spec: ServingSpec):
    """Greedy decoding that ends where evaluation ends: at the separator (answer-first) or at EOS."""
    from transformers import GenerationConfig

    eos_ids = end_token_ids(model, tokenizer, spec)
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
        stop_strings=list(spec.stop_strings) or None,
    )


def end_token_ids(model, tokenizer, spec: ServingSpec) -> list[int]:
    """EOS ids, plus each stop string that is a single token of its own (so id-only servers stop there)."""
    from cotdistill.evaluation.generation import eos_token_ids

    ids = list(eos_token_ids(model, tokenizer))
    for stop in spec.stop_strings:
        stop_ids = tokenizer(stop, add_special_tokens=False)["input_ids"]
        if len(stop_ids) == 1 and tokenizer.decode(stop_ids) == stop and stop_ids[0] not in ids:
            ids.append(stop_ids[0])
    return ids


def _copy_metadata(model_dir: Path, out: Path, spec: ServingSpec) -> None:
    """Keep cotdistill.json (so `eval` and `serve` read the export) and note the export in it."""
    source = model_dir / METADATA_FILE
    meta = json.loads(source.read_text()) if source.is_file() else {}
    meta["export"] = {"format": "hf", "from": str(model_dir.resolve()), "lora_merged": True, **spec.metadata()}
    write_json_atomic(out / METADATA_FILE, meta)
    # The semantic head is training-only, but harmless and keeps the folder a faithful copy. (A router's
    # perception probe lies in the router's folder, not a student's: export/__init__.py copies it.)
    if (model_dir / "semantic_head.safetensors").is_file():
        shutil.copy2(model_dir / "semantic_head.safetensors", out / "semantic_head.safetensors")
