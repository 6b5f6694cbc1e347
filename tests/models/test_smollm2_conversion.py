"""The GGUF -> safetensors conversion of SmolLM2-135M-Instruct is a working chat model."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.slow  # converts once (~30 s on 2 cores) unless the cache already has it


def test_converted_folder_is_plain_float32_safetensors(smollm2):
    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config  # would make transformers look for the GGUF again
    assert config["num_hidden_layers"] == 30 and config["hidden_size"] == 576
    assert config["tie_word_embeddings"] is True
    assert (smollm2 / "model.safetensors").stat().st_size > 500_000_000  # 134.5M float32 params
    assert not list(smollm2.glob("*.gguf")) and not list(smollm2.glob("*.bin"))


def test_tokenizer_has_chat_template_and_eos(smollm2, tiny_llama):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id == 2
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    # tiny-llama shares this exact tokenizer, so its smoke runs tokenise prompts as SmolLM2 does
    tiny = AutoTokenizer.from_pretrained(tiny_llama)
    text = "Q: Take the last letters of 'Ada Lovelace'. Let's think step by step. 12,345 + 0.5"
    assert tiny(text).input_ids == tokenizer(text).input_ids
    assert tiny.chat_template == tokenizer.chat_template


def test_greedy_generation_is_sensible_english(smollm2):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2)
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert model.dtype == torch.float32
    answers = {}
    for question in ("What is the capital of France?", "What color is the sky on a clear day?"):
        inputs = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        answers[question] = tokenizer.decode(new_tokens, skip_special_tokens=True)
    assert "Paris" in answers["What is the capital of France?"], answers
    assert "blue" in answers["What color is the sky on a clear day?"].lower(), answers
