"""The real check: a SmolLM2-135M student trained with LoRA, exported to GGUF, decoded by llama.cpp.

Greedy answers on held-out questions must match transformers (what `cotdistill eval` runs): every
output identical for f16; for q8_0, whose weights are rounded to 8 bits, the extracted answers of
three in four. The adapter is left unmerged in training, so export's own LoRA merge is exercised too.
"""

from __future__ import annotations

import json

import pytest

from cotdistill.answers import extract_answer
from cotdistill.evaluation.generation import DecodeSettings, generate_batch, prepare_tokenizer
from cotdistill.export import export_model
from cotdistill.records import Record
from cotdistill.strategies import read_model_metadata, strategy_from_metadata
from cotdistill.tasks import load_task

pytestmark = pytest.mark.slow
HELD_OUT = 24
MAX_NEW_TOKENS = 48


@pytest.fixture(scope="module")
def trained_pst(smollm2, minilm, tmp_path_factory):
    from cotdistill.training import load_config, train

    data = tmp_path_factory.mktemp("real-data")
    records = load_task("synth-last-letters", "train", size=48, n_words=2)
    (data / "train.jsonl").write_text("".join(r.model_copy(update={"rationales": r.rationales[:1]}).to_json() + "\n" for r in records))
    (data / "manifest.json").write_text(json.dumps({"task": "synth-last-letters", "answer_type": "text", "count": len(records)}))
    config = load_config(data=data, strategy="pst", student="smollm2-135m-instruct", out=tmp_path_factory.mktemp("real") / "pst",
                         lora=True, lora_r=8, merge_lora=False, max_steps=8, lr=1e-3, batch_size=8, max_len=128,
                         report_to=[], progress=False, seed=0)  # fmt: skip
    return train(config)


def _held_out() -> list[Record]:
    return load_task("synth-last-letters", "test", size=HELD_OUT, n_words=2)


def _transformers_outputs(model_dir, prompts, stops) -> list[str]:
    """Greedy, one question at a time (llama.cpp decodes one sequence; no padding differences)."""
    from cotdistill.export.student import load_merged_student

    model, tokenizer = load_merged_student(model_dir)
    prepare_tokenizer(tokenizer)
    settings = DecodeSettings(max_new_tokens=MAX_NEW_TOKENS, stop_strings=tuple(stops))
    texts = []
    for prompt in prompts:
        text = generate_batch(model, tokenizer, [prompt], settings)[0][0][0].text
        texts.append(text[: -len(stops[0])] if stops and text.endswith(stops[0]) else text)
    return texts


def test_exported_gguf_answers_like_transformers(trained_pst, tmp_path):
    llama_cpp = pytest.importorskip("llama_cpp")
    assert (trained_pst / "adapter_config.json").is_file()  # the unmerged adapter: export merges it
    strategy = strategy_from_metadata(read_model_metadata(trained_pst))
    records = _held_out()
    prompts = [strategy.prompt(r) for r in records]
    stops = strategy.stop_strings()
    expected = _transformers_outputs(trained_pst, prompts, stops)

    def answers(texts):
        return [extract_answer(strategy.split_output(t)[0], r.answer_type, r.choices, first=True) for r, t in zip(records, texts)]

    for quantization in ("f16", "q8_0"):
        gguf_file = export_model(trained_pst, tmp_path / quantization, "gguf", quantization=quantization).files[0]
        llm = llama_cpp.Llama(str(gguf_file), n_ctx=512, n_threads=2, verbose=False)
        got = [llm.create_completion(p, max_tokens=MAX_NEW_TOKENS, temperature=0, stop=stops)["choices"][0]["text"]
               for p in prompts]  # fmt: skip
        if quantization == "f16":
            assert got == expected
        else:
            # An 8-step student's answers are near-ties between letters; 8-bit weights flip some of them.
            same = sum(a == b for a, b in zip(answers(got), answers(expected)))
            assert same >= HELD_OUT * 3 // 4, (same, list(zip(got, expected)))
