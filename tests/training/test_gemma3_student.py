"""A second real student family: Gemma 3 270M (262k-token vocabulary, <bos> first, no chat template)
trains and answers through the same API as SmolLM2."""

from __future__ import annotations

import json

import pytest

from cotdistill.evaluation import EvalOptions, evaluate
from cotdistill.training import load_config, train
from cotdistill.training.data import read_curated

pytestmark = pytest.mark.slow  # ~1 min: a 268M model, 4 LoRA steps and 4 answers on the CPU


def test_a_gemma3_student_trains_and_answers_first(gemma3, curated, tmp_path):
    config = load_config(data=curated, strategy="pst", student=str(gemma3), out=tmp_path / "student", lora=True, lora_r=4,
                         max_steps=4, batch_size=4, max_len=64, lr=1e-3, report_to=[], progress=False, seed=0)  # fmt: skip
    out = train(config)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4] and log[-1]["answer_ce"] < log[0]["answer_ce"]
    records, _ = read_curated(curated)
    result = evaluate(out, records=records[:4], options=EvalOptions(batch_size=4, max_new_tokens=16, similarity=False))
    assert result["n"] == 4 and result["unparsed"] == 0
    assert result["mean_generated_tokens"] < 8  # answer first: decoding stops at the separator, not after a rationale
