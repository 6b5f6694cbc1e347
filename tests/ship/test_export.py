"""`cotdistill export`: merged HF folders that stop like `eval`, and GGUF files llama.cpp decodes identically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eval_students import RECORDS

from cotdistill.errors import CotdistillError
from cotdistill.evaluation.generation import DecodeSettings, generate_batch, prepare_tokenizer
from cotdistill.export import UnsupportedExport, export_model
from cotdistill.models import load_causal_lm
from cotdistill.strategies import read_model_metadata, strategy_from_metadata

PROMPTS_EXTRA = ["Question: What is 7 + 1?\nAnswer:"]
SEP = " [SEP]"  # pinned where a test reads the separator's text; the others follow the strategy's default


def _prompts(model_dir: Path) -> tuple[object, list[str]]:
    strategy = strategy_from_metadata(read_model_metadata(model_dir))
    return strategy, [strategy.prompt(r) for r in RECORDS] + PROMPTS_EXTRA


def _transformers_texts(model_dir: Path, prompts: list[str], stops: list[str]) -> list[str]:
    model, tokenizer = load_causal_lm(model_dir)
    prepare_tokenizer(tokenizer)
    generations, _ = generate_batch(model, tokenizer, prompts, DecodeSettings(max_new_tokens=40, stop_strings=tuple(stops)))
    return [g[0].text for g in generations]


def test_hf_export_stops_answer_first_students_at_the_separator_with_plain_generate(student, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = export_model(student("pst", separator=SEP), tmp_path / "hf", "hf").out
    config = json.loads((out / "generation_config.json").read_text())
    assert config["stop_strings"] == ["[SEP]"] and config["do_sample"] is False
    assert json.loads((out / "cotdistill.json").read_text())["export"]["separator"] == "[SEP]"
    # plain transformers, no cotdistill code: the saved generation config alone ends the answer
    model, tokenizer = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    ids = tokenizer("Question: What is 2 + 3?\nAnswer:", return_tensors="pt")["input_ids"]
    output = model.generate(ids, tokenizer=tokenizer)
    assert tokenizer.decode(output[0, ids.shape[1]:]) == " 5 [SEP]"
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], tokenize=False)
    assert chat == "Question: What is 2 + 3?\nAnswer:"  # a chat request becomes the trained prompt


def test_hf_export_of_a_pre_thinking_student_runs_to_eos(student, tmp_path):
    out = export_model(student("pre-thinking"), tmp_path / "hf", "hf").out
    config = json.loads((out / "generation_config.json").read_text())
    assert "stop_strings" not in config or config["stop_strings"] is None
    assert config["eos_token_id"] == 2


def test_hf_export_adds_a_one_token_separator_to_the_eos_ids(student, tmp_path):
    out = export_model(student("pst", new_separator_token=True), tmp_path / "hf", "hf").out
    config = json.loads((out / "generation_config.json").read_text())
    from transformers import AutoTokenizer

    sep_id = AutoTokenizer.from_pretrained(out).convert_tokens_to_ids("[SEP]")
    assert config["eos_token_id"] == [2, sep_id]  # vLLM stops on ids without being told the stop string


def test_gguf_export_writes_strategy_metadata_and_an_ollama_modelfile(student, tmp_path):
    from gguf import GGUFReader

    result = export_model(student("pst", separator=SEP), tmp_path / "g", "gguf", quantization="q8_0")
    gguf_file = next(f for f in result.files if f.suffix == ".gguf")
    fields = GGUFReader(gguf_file).fields
    assert fields["general.architecture"].contents() == "llama"
    assert fields["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert fields["cotdistill.separator"].contents() == "[SEP]"
    assert fields["cotdistill.stop_strings"].contents() == ["[SEP]"]
    assert fields["cotdistill.prompt_template"].contents() == "Question: {question}\nAnswer:"
    modelfile = (result.out / "Modelfile").read_text()
    assert f"FROM ./{gguf_file.name}" in modelfile
    assert 'TEMPLATE """Question: {{ .Prompt }}\nAnswer:"""' in modelfile
    assert 'PARAMETER stop "[SEP]"' in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile


def test_modelfile_writes_a_newline_separator_verbatim(student, tmp_path):
    from cotdistill.export.modelfile import modelfile
    from cotdistill.export.spec import serving_spec

    spec = serving_spec(student("pst", separator="\n"))
    assert spec.stop_strings == ("\n",)
    assert 'PARAMETER stop """\n"""' in modelfile("s.gguf", spec, "<|im_end|>")


@pytest.mark.parametrize("strategy_name,options",
                         [("pst", {}), ("pst", {"separator": SEP}), ("pre-thinking", {}), ("pst", {"new_separator_token": True})])
def test_gguf_decodes_like_transformers_in_llama_cpp(student, tmp_path, strategy_name, options):
    llama_cpp = pytest.importorskip("llama_cpp")
    model_dir = student(strategy_name, **options)
    strategy, prompts = _prompts(model_dir)
    for explain in (False, True):
        stops = strategy.stop_strings(explain)
        expected = [_strip_stop(t, stops) for t in _transformers_texts(model_dir, prompts, stops)]
        for quantization in ("f16", "q8_0"):
            gguf_file = export_model(model_dir, tmp_path / quantization, "gguf", quantization=quantization).files[0]
            llm = llama_cpp.Llama(str(gguf_file), n_ctx=256, n_threads=1, verbose=False)
            got = [llm.create_completion(p, max_tokens=40, temperature=0, stop=stops)["choices"][0]["text"] for p in prompts]
            assert got == expected, (quantization, explain)


def _strip_stop(text: str, stops: list[str]) -> str:
    """llama.cpp leaves the stop string out of the text; evaluation keeps it."""
    for stop in stops:
        if text.endswith(stop):
            return text[: -len(stop)]
    return text


def test_unsupported_architecture_names_what_is_supported(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from cotdistill.export.gguf_writer import check_supported
    from cotdistill.models.sources import smollm2_tokenizer

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    with pytest.raises(UnsupportedExport, match="supports llama students.*not 'gpt2'"):
        check_supported(model, smollm2_tokenizer(), "f16")


def test_unknown_format_and_type_are_user_errors(student, tmp_path):
    with pytest.raises(CotdistillError, match="supported: hf, gguf"):
        export_model(student("pst"), tmp_path / "x", "onnx")
    with pytest.raises(CotdistillError, match="supported: f32, f16, q8_0"):
        export_model(student("pst"), tmp_path / "x", "gguf", quantization="q4_k")


def test_export_cli_prints_the_files_and_fails_cleanly(student, tmp_path):
    cli = [str(Path(sys.executable).parent / "cotdistill")]
    ok = subprocess.run(cli + ["export", str(student("pst")), "--out", str(tmp_path / "g"), "--format", "gguf", "--type", "f16"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "Modelfile" in ok.stdout and ".gguf" in ok.stdout
    bad = subprocess.run(cli + ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "h")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nope" in bad.stderr


@pytest.mark.parametrize("new_separator_token", [False, True])
def test_an_unmerged_lora_adapter_is_merged_into_the_export(tiny_llama, tmp_path, new_separator_token):
    import torch
    from transformers import AutoModelForCausalLM

    from cotdistill.training import load_config, train

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(r.to_json() + "\n" for r in RECORDS))
    (data / "manifest.json").write_text(json.dumps({"task": "toy", "answer_type": "numeric", "count": len(RECORDS)}))
    config = load_config(data=data, strategy="post-thinking", student="tiny-llama", out=tmp_path / "adapter", lora=True,
                         merge_lora=False, max_steps=2, lr=1e-2, new_separator_token=new_separator_token,
                         batch_size=2, report_to=[], progress=False, seed=0)  # fmt: skip
    adapter = train(config)
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    out = export_model(adapter, tmp_path / "hf", "hf").out
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    ids = torch.tensor([[1, 2, 3, 400, 5000]])
    with torch.no_grad():
        reference = _unmerged(adapter)(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(out)(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_llama)(ids).logits
    assert torch.allclose(merged, reference, atol=1e-4)
    assert not torch.allclose(merged[..., : base.shape[-1]], base, atol=1e-4)  # the adapter did change something


def _unmerged(adapter: Path):
    """The adapter applied on the fly (not merged), loaded as a user would: peft's AutoPeftModelForCausalLM,
    which resizes the base to the adapter's tokenizer (transformers' own loader cannot, with --new-sep-token)."""
    from peft import AutoPeftModelForCausalLM

    return AutoPeftModelForCausalLM.from_pretrained(adapter).eval()