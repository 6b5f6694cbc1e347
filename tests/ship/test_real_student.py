"""The real check: a SmolLM2-135M student trained with LoRA, exported to GGUF, decoded by llama.cpp.

Greedy answers on held-out questions must match transformers (what `cotdistill eval` runs): every
output identical for f16. For q8_0, whose weights are rounded to 8 bits, greedy text is no test: an
8-step student's next tokens are near-ties that any rounding (or another thread count in training)
flips. Instead both files score the same continuations, and q8_0's log-probabilities must stay
within a small distance of f16's. The adapter is left unmerged in training, so export's own LoRA
merge is exercised too.
"""

from __future__ import annotations

import json

import pytest

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

    files = {q: export_model(trained_pst, tmp_path / q, "gguf", quantization=q).files[0] for q in ("f16", "q8_0")}
    f16 = llama_cpp.Llama(str(files["f16"]), n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    got = [f16.create_completion(p, max_tokens=MAX_NEW_TOKENS, temperature=0, stop=stops)["choices"][0]["text"]
           for p in prompts]  # fmt: skip
    assert got == expected

    q8 = llama_cpp.Llama(str(files["q8_0"]), n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    gaps = [abs(a - b) for p, t in zip(prompts, expected) for a, b in zip(_logprobs(f16, p, t), _logprobs(q8, p, t))]
    assert len(gaps) >= HELD_OUT  # every question has at least one scored token
    # Measured here: 0.067 nats mean, 0.25 at most, over 54 tokens (one training thread).
    assert sum(gaps) / len(gaps) < 0.2 and max(gaps) < 1.5, (sum(gaps) / len(gaps), max(gaps))


def _logprobs(llm, prompt: str, continuation: str) -> list[float]:
    """The log-probability of each token of `continuation` after `prompt`, teacher-forced through llama.cpp."""
    import numpy as np

    prompt_ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    ids = prompt_ids + llm.tokenize(continuation.encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(ids)
    logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return [float(log_softmax[i - 1, ids[i]]) for i in range(len(prompt_ids), len(ids))]
