"""`--format gguf`: a llama.cpp / Ollama file for llama-family students, written with the `gguf` package.

The layout follows llama.cpp's own converter for Llama (`convert_hf_to_gguf.py`, which pip's `gguf`
does not ship): tensor names from `gguf.get_tensor_name_map`, Q and K rows permuted from the Hugging
Face rotary layout (rotate-half) to llama.cpp's (interleaved pairs), a tied output matrix left out
(llama.cpp reuses token_embd), 1-D norms kept in float32. The tokenizer is byte-level BPE: tokens
and merges from tokenizer.json, special ids through `gguf.SpecialVocab`, and the pre-tokenizer named
by matching tokenizer.json's pre-tokenizer against the ones llama.cpp knows. The strategy's contract
(separator, stop strings, prompt template) goes into `cotdistill.*` keys, and the chat template
renders the strategy's prompt, so llama.cpp's /v1/chat/completions prompts the student as trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cotdistill.errors import CotdistillError
from cotdistill.export.spec import ServingSpec

SUPPORTED_ARCHITECTURES = ("llama",)  # config.model_type values (SmolLM/SmolLM2, TinyLlama, Llama 2/3 without rope scaling)
QUANTIZATIONS = ("f32", "f16", "q8_0")
# Llama 3's split regex in tokenizer.json (llama.cpp's pre-tokenizer "llama-bpe").
LLAMA3_SPLIT = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)
METADATA_PREFIX = "cotdistill."


class UnsupportedExport(CotdistillError):
    """The student's architecture or tokenizer is not one the GGUF writer handles."""


def export_gguf(model, tokenizer, spec: ServingSpec, out_file: Path, quantization: str = "f16", name: str = "") -> Path:
    """Write `out_file` (one GGUF) from a merged float model and its tokenizer."""
    import gguf

    check_supported(model, tokenizer, quantization)
    writer = gguf.GGUFWriter(str(out_file), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    _add_model_metadata(writer, model.config, quantization, name or out_file.stem)
    _add_tokenizer(writer, tokenizer, spec, model.config.vocab_size)
    _add_strategy(writer, spec)
    for gguf_name, data, qtype in _tensors(model, quantization):
        writer.add_tensor(gguf_name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file


def check_supported(model, tokenizer, quantization: str) -> None:
    """Raise UnsupportedExport naming what is supported, before anything is written."""
    config = model.config
    if config.model_type not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedExport(
            f"GGUF export supports {', '.join(SUPPORTED_ARCHITECTURES)} students (config.model_type), "
            f"not '{config.model_type}'. Export with --format hf and convert with llama.cpp's convert_hf_to_gguf.py"
        )
    if quantization not in QUANTIZATIONS:
        raise UnsupportedExport(f"unknown GGUF type '{quantization}'; supported: {', '.join(QUANTIZATIONS)}")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise UnsupportedExport(f"GGUF export supports llama students without rope scaling, not rope_type '{rope.get('rope_type')}'")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise UnsupportedExport("GGUF export supports llama students without attention or MLP biases")
    pre_tokenizer_name(tokenizer)  # raises for tokenizers it cannot describe


def pre_tokenizer_name(tokenizer) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer ("gpt-2", "smollm", "llama-bpe")."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise UnsupportedExport("GGUF export needs a fast (tokenizer.json) byte-level BPE tokenizer")
    spec = json.loads(backend.to_str())
    if spec["model"]["type"] != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise UnsupportedExport(
            "GGUF export supports byte-level BPE tokenizers (GPT-2 style: SmolLM2, Llama 3), "
            f"not a {spec['model']['type']} tokenizer"
        )
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True) and not steps[0].get("add_prefix_space"):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and steps[0].get("pattern", {}).get("Regex") == LLAMA3_SPLIT:
        return "llama-bpe"
    raise UnsupportedExport(
        f"GGUF export does not know this tokenizer's pre-tokenizer ({' + '.join(map(str, kinds))}); "
        "supported: GPT-2 byte-level, SmolLM (digits + byte-level), Llama 3"
    )


def _add_model_metadata(writer, config, quantization: str, name: str) -> None:
    import gguf

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // config.num_attention_heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_vocab_size(config.vocab_size)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quantization]  # fmt: skip
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_tokenizer(writer, tokenizer, spec: ServingSpec, vocab_size: int) -> None:
    """Byte-level BPE tokens (by id), their types, merges, special ids and the student's chat template."""
    import gguf

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(tokenizer))
    tokens, types = token_table(tokenizer, vocab_size)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = _special_vocab(tokenizer, vocab_size)
    # What the tokenizer really does when evaluation tokenises a prompt, not what a config claims.
    probe = tokenizer("a")["input_ids"]
    special.add_special_token["bos"] = tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]
    special.add_special_token["eos"] = tokenizer.eos_token_id is not None and probe[-1:] == [tokenizer.eos_token_id]
    special.chat_template = chat_template(spec)
    special.add_to_gguf(writer, quiet=True)


def token_table(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Every id's token text and GGUF type; ids past the tokenizer (padded embedding rows) are UNUSED."""
    import gguf

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder  # id -> AddedToken
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            # A special token is a control token; a plain added one (the [SEP] of --new-sep-token) is text
            # llama.cpp must print, or its stop string would never be seen.
            tokens.append(added[i].content)
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _special_vocab(tokenizer, vocab_size: int):
    """gguf.SpecialVocab (merges, bos/eos/unk/pad ids) read from the tokenizer saved to a scratch folder."""
    import tempfile

    import gguf

    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        return gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)


def chat_template(spec: ServingSpec) -> str:
    """A Jinja chat template that wraps the last user message in the strategy's prompt."""
    return (
        "{%- for message in messages -%}{%- if loop.last -%}"
        "{% raw %}" + spec.prompt_prefix + "{% endraw %}"
        "{{ message['content'] | trim }}"
        "{% raw %}" + spec.prompt_suffix + "{% endraw %}"
        "{%- endif -%}{%- endfor -%}"
    )


def _add_strategy(writer, spec: ServingSpec) -> None:
    meta = spec.metadata()
    writer.add_string(METADATA_PREFIX + "strategy", meta["strategy"])
    writer.add_bool(METADATA_PREFIX + "answer_first", meta["answer_first"])
    writer.add_string(METADATA_PREFIX + "prompt_template", meta["prompt_template"])
    writer.add_string(METADATA_PREFIX + "separator", meta["separator"])
    writer.add_array(METADATA_PREFIX + "stop_strings", meta["stop_strings"])


def _tensors(model, quantization: str):
    """(GGUF name, numpy data, GGML type) for every weight, in the model's order."""
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    target = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
              "q8_0": gguf.GGMLQuantizationType.Q8_0}[quantization]  # fmt: skip
    tied = getattr(config, "tie_word_embeddings", False)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd.weight when output.weight is absent
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise UnsupportedExport(f"GGUF export cannot map the tensor '{hf_name}' of this llama student")
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = rotary_to_interleaved(data, config.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = rotary_to_interleaved(data, config.num_key_value_heads)
        qtype = target if data.ndim > 1 else gguf.GGMLQuantizationType.F32
        yield gguf_name, gguf.quants.quantize(data, qtype), qtype


def rotary_to_interleaved(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder each head's rows from HF's rotate-half pairs (i, i + d/2) to llama.cpp's (2i, 2i + 1)."""
    return (
        weight.reshape(n_heads, 2, weight.shape[0] // n_heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )
