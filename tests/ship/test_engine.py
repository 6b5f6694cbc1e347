"""The serving engine on tiny-llama: continuous batching decodes as evaluation does, and a short request
is never held behind a long one."""

from __future__ import annotations

import asyncio

import pytest
from cotdistill.evaluation.generation import DecodeSettings, generate_batch
from cotdistill.models import load_causal_lm
from cotdistill.serve.engine import BatchingEngine, DecodeParams

PROMPTS = ["Question: What is 2 + 3?\nAnswer:", "Question: Name a colour.\nAnswer:", "Question: Is ice cold?\nAnswer:"]


@pytest.fixture
def engine_for():
    """engine_for(model_dir) -> a BatchingEngine on that model, closed after the test."""
    engines = []

    def make(model_dir) -> BatchingEngine:
        engines.append(BatchingEngine(*load_causal_lm(model_dir)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(engine_for, tiny_llama):
    return engine_for(tiny_llama)


def test_concurrent_greedy_rows_match_evaluation_decoding(engine):
    params = DecodeParams(max_tokens=24, stop=())

    async def ask_all():
        return await asyncio.gather(*(engine.complete(p, params) for p in PROMPTS))

    served = asyncio.run(ask_all())
    expected, _ = generate_batch(engine.model, engine.tokenizer, PROMPTS, DecodeSettings(max_new_tokens=24))
    assert [c.generations[0] for c in served] == [rows[0] for rows in expected]
    assert [c.prompt_tokens for c in served] == [engine.count_tokens(p) for p in PROMPTS]
    assert engine.stats.largest_batch == 3


def test_a_stop_string_ends_the_row_where_evaluation_ends_it(engine_for, student):
    """The overfit pst student writes " 5" EOS " Two plus three makes five, ..." EOS (EOS is its separator);
    asked past its first EOS, a stop string inside its rationale ends the row."""
    engine = engine_for(student("pst"))
    model, tokenizer = engine.model, engine.tokenizer
    params = DecodeParams(max_tokens=48, stop=("three makes",), eos_count=2)
    served = asyncio.run(engine.complete(PROMPTS[0], params)).generations[0]
    answered = asyncio.run(engine.complete(PROMPTS[0], DecodeParams(max_tokens=48, stop=()))).generations[0]
    settings = DecodeSettings(max_new_tokens=48, stop_strings=params.stop, eos_count=2)
    assert served == generate_batch(model, tokenizer, PROMPTS[:1], settings)[0][0][0]
    assert served.stopped_by == "stop" and served.text == f" 5{tokenizer.eos_token} Two plus three makes"
    assert answered.text == " 5" and answered.stopped_by == "eos"


def test_a_short_request_is_answered_while_a_long_one_decodes(engine):
    """With one static batch per arrival window the short request would wait for all 1500 tokens."""

    async def long_then_short():
        long = asyncio.create_task(engine.complete(PROMPTS[0], DecodeParams(max_tokens=1500, stop=())))
        while not engine._decoding or engine._continuous.batch_processor is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the long row is decoding
        short = await engine.complete(PROMPTS[1], DecodeParams(max_tokens=2, stop=()))
        return short, long.done(), await long

    short, long_was_done, long = asyncio.run(long_then_short())
    assert short.generations[0].n_tokens == 2 and not long_was_done
    assert long.generations[0].stopped_by in ("length", "eos")


def test_sampled_requests_get_n_rows(engine):
    completion = asyncio.run(engine.complete(PROMPTS[0], DecodeParams(max_tokens=8, stop=(), temperature=1.0, n=3)))
    assert len(completion.generations) == 3 and engine.stats.sampled_batches == 1
