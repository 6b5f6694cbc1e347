"""The prepared tiny-llama and MiniLM load offline and behave like the real thing they stand for."""

from __future__ import annotations

import json

import pytest
import torch

from cotdistill.errors import CotdistillError
from cotdistill.models import load_causal_lm, load_encoder
from cotdistill.models.sources import TINY_LLAMA_SHAPE, build_tiny_llama


def test_tiny_llama_is_a_small_safetensors_llama_with_the_smollm2_tokenizer(tiny_llama):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = {p.name for p in tiny_llama.iterdir()}
    assert "model.safetensors" in files and not any(name.endswith(".bin") for name in files)
    assert (tiny_llama / "model.safetensors").stat().st_size < 20_000_000
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)  # plain transformers, no help from us
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    assert model.config.num_hidden_layers == TINY_LLAMA_SHAPE["num_hidden_layers"]
    assert model.config.hidden_size == TINY_LLAMA_SHAPE["hidden_size"]
    assert model.config.vocab_size == len(tokenizer) == 49152
    assert tokenizer.eos_token == "<|im_end|>" and model.config.eos_token_id == tokenizer.eos_token_id
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    ids = tokenizer("The answer is 42.").input_ids
    assert ids[0] != tokenizer.bos_token_id  # SmolLM2 adds no BOS
    assert tokenizer.convert_ids_to_tokens(ids)[-3:] == ["4", "2", "."]  # digits are split one by one
    assert tokenizer.decode(ids) == "The answer is 42."


def test_tiny_llama_build_is_seeded(tiny_llama, tmp_path):
    from safetensors.torch import load_file

    build_tiny_llama(tmp_path)
    rebuilt, cached = load_file(tmp_path / "model.safetensors"), load_file(tiny_llama / "model.safetensors")
    assert rebuilt.keys() == cached.keys()
    assert all(torch.equal(rebuilt[key], cached[key]) for key in cached)


def test_load_causal_lm_runs_a_forward_pass_and_a_generation(tiny_llama):
    model, tokenizer = load_causal_lm("tiny-llama")
    batch = tokenizer(["Q: 2 + 2?", "A longer question here?"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, batch.input_ids.shape[1], 49152)
    out = model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] <= batch.input_ids.shape[1] + 3


def test_load_causal_lm_accepts_the_folder_and_a_dtype_name(tiny_llama):
    model, _ = load_causal_lm(str(tiny_llama), dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(CotdistillError, match="unknown dtype 'float99'"):
        load_causal_lm(tiny_llama, dtype="float99")


def test_load_causal_lm_never_runs_remote_code_by_default(tiny_llama, tmp_path):
    # A folder whose config asks for custom code: refused unless trust_remote_code=True.
    for item in tiny_llama.iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    config = json.loads((tmp_path / "config.json").read_text())
    config["model_type"] = "evil-llama"
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_causal_lm(tmp_path)


def test_minilm_encodes_offline_to_384_dimensions(minilm):
    encoder = load_encoder()
    vectors = encoder.encode(
        ["The cat sat on the mat.", "A cat was sitting on a mat.", "Stock prices fell sharply today."],
        normalize_embeddings=True,
        convert_to_tensor=True,
    )
    assert vectors.shape == (3, 384)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > 0.8 and unrelated < 0.3
