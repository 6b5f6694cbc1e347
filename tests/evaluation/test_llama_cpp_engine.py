"""`eval --engine llama.cpp` on overfit tiny-llama students: the same rows, token counts and answer
probabilities as the transformers engine, with questions coming and going in the batch.

The students are overfit, so their greedy tokens are certain and the f16 GGUF picks what float32 transformers
picks; an untrained question (q3) writes a less certain row of its own length, so rows end at different steps.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from eval_students import RECORDS

from cotdistill.evaluation import EvalOptions, evaluate, predictions_path
from cotdistill.records import Record

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                reason="llama-cpp-python is not installed (pip install llama-cpp-python)")  # fmt: skip

# Five questions, more than the rows in flight: each place in the batch is taken again as a row ends.
QUESTIONS = [*RECORDS, Record(id="q3", question="What is 7 + 1?", answer="8", answer_type="numeric"),
             *(Record(id=f"{r.id}-again", question=r.question, answer=r.answer, answer_type=r.answer_type) for r in RECORDS)]


@pytest.fixture(autouse=True)
def gguf_cache(tmp_path_factory, monkeypatch):
    """Conversions go to a test cache, not the user's ($COTDISTILL_HOME/gguf)."""
    monkeypatch.setenv("COTDISTILL_HOME", str(tmp_path_factory.getbasetemp() / "cotdistill-home"))


def rows_of(model_dir, tmp_path, engine: str, **options) -> tuple[dict, list[dict]]:
    out = tmp_path / f"{engine}.json"
    metrics = evaluate(model_dir, records=QUESTIONS, out=out,
                       options=EvalOptions(**{"max_new_tokens": 30, "similarity": False, "engine": engine, **options}))  # fmt: skip
    return metrics, [json.loads(line) for line in predictions_path(out).read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "options", "lengths_differ"),
                         [("pre-thinking", {}, True), ("pst", {}, False), ("pst", {"explain": True}, False)])
def test_llama_cpp_rows_are_the_transformers_engines(overfit, tmp_path, name, options, lengths_differ):
    model_dir = overfit(name)
    expected_metrics, expected = rows_of(model_dir, tmp_path, "transformers", batch_size=1, **options)  # no padding
    metrics, rows = rows_of(model_dir, tmp_path, "llama.cpp", batch_size=2, **options)
    assert metrics["engine"] == "llama.cpp" and metrics["device"] == "cpu (llama.cpp)"
    for row, want in zip(rows, expected, strict=True):
        assert (row["id"], row["output"], row["generated_tokens"], row["stopped_by"]) == \
            (want["id"], want["output"], want["generated_tokens"], want["stopped_by"])  # fmt: skip
        if "confidence" in want:  # the router's signal: f16 against float32 moves it by rounding only
            assert row["confidence"] == pytest.approx(want["confidence"], abs=2e-3)
        if "answer_nll" in want:  # scored by transformers either way
            assert row["answer_nll"] == pytest.approx(want["answer_nll"], abs=1e-5)
    assert (len({row["generated_tokens"] for row in rows}) > 1) == lengths_differ  # rows ending at different steps
    assert metrics["accuracy"] == expected_metrics["accuracy"] and metrics["mean_generated_tokens"] > 0


@pytest.mark.slow
def test_the_token_limit_ends_every_row_at_exactly_that_many_tokens(overfit, tmp_path):
    metrics, rows = rows_of(overfit("pre-thinking"), tmp_path, "llama.cpp", batch_size=3, max_new_tokens=4)
    assert [row["generated_tokens"] for row in rows] == [4] * len(QUESTIONS)
    assert metrics["stopped_by"] == {"length": len(QUESTIONS)}


def test_options_the_llama_cpp_engine_cannot_honour_are_refused_before_loading_anything(tiny_llama, tmp_path):
    from cotdistill.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        evaluate(tmp_path / "no-such-model", records=RECORDS,
                 options=EvalOptions(engine="llama.cpp", self_consistency=3, dtype="bfloat16"))  # fmt: skip
    assert "decodes greedily" in str(caught.value) and "f16 GGUF" in str(caught.value)
    with pytest.raises(ConfigError, match="engine must be one of transformers, llama.cpp"):
        evaluate(tmp_path / "no-such-model", records=RECORDS, options=EvalOptions(engine="vllm"))
