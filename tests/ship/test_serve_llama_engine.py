"""`cotdistill serve --engine llama.cpp` on overfit tiny-llama students: rows, token counts and log-probabilities as
the transformers engine gives them, the GGUF converted once per weights, and the refusals (one line each).

The students are overfit (conftest.py), so their greedy outputs on the trained questions are certain and an
f16 GGUF picks the same tokens as float32 transformers (test_export.py checks the same for llama.cpp's own
completion API); the third, untrained question exercises a less certain row.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import sys

import pytest
from eval_students import RECORDS
from test_serve_router import pair  # noqa: F401 - the routed pair fixture (answer-first knows q1 only)

from cotdistill.errors import CotdistillError
from cotdistill.evaluation.generation import eos_count_for
from cotdistill.export.spec import serving_spec
from cotdistill.models.sources import smollm2_tokenizer
from cotdistill.serve import ServeOptions, build_app
from cotdistill.serve.engine import DecodeParams
from cotdistill.strategies import read_model_metadata, strategy_from_metadata

needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason="llama-cpp-python is not installed (pip install llama-cpp-python)")  # fmt: skip
QUESTIONS = [r.question for r in RECORDS] + ["What is 7 + 1?"]
SEP = " [SEP]"
LOGPROB_TOLERANCE = 2e-3  # f16 weights against float32: these rows' log p differ by < 5e-4 here


@pytest.fixture(scope="module")
def gguf_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gguf-cache")


@pytest.fixture
def cache_home(gguf_cache, tiny_llama, monkeypatch):
    """build_app's engines convert into this module's cache ($COTDISTILL_HOME/gguf), not the user's. tiny_llama is
    resolved first: COTDISTILL_HOME also says where prepared models live."""
    monkeypatch.setenv("COTDISTILL_HOME", str(gguf_cache))


@pytest.fixture(scope="module")
def engines(student, gguf_cache):
    """engines(strategy_name, **options) -> (LlamaCppEngine, BatchingEngine) on one student, both with logprobs."""
    from cotdistill.export.student import load_merged_student
    from cotdistill.serve.engine import BatchingEngine
    from cotdistill.serve.llama_engine import LlamaCppEngine

    made: dict = {}

    def make(strategy_name: str, **options):
        key = (strategy_name, tuple(sorted(options.items())))
        if key not in made:
            folder = student(strategy_name, **options)
            made[key] = (LlamaCppEngine(folder, logprobs=True, cache_dir=gguf_cache / "engines", max_batch=4),
                         BatchingEngine(*load_merged_student(folder), logprobs=True))  # fmt: skip
        return made[key]

    yield make
    for pair_of_engines in made.values():
        for engine in pair_of_engines:
            engine.close()


def _cases():
    """(student, options, explain or a DecodeParams override, expected stopped_by of q1) for the comparison."""
    for options in ({}, {"separator": SEP}):
        for explain in (False, True):
            yield pytest.param("pst", options, explain, id=f"pst{options.get('separator', '')}-explain={explain}")
    yield pytest.param("pre-thinking", {}, False, id="pre-thinking")
    # a stop string inside the rationale (past the EOS separator), and the length limit
    yield pytest.param("pst", {}, DecodeParams(max_tokens=40, stop=("three makes",), eos_count=2), id="pst-stop-string")
    yield pytest.param("pst", {}, DecodeParams(max_tokens=3, stop=(), eos_count=2), id="pst-length")


@needs_llama_cpp
@pytest.mark.parametrize("strategy_name,options,how", list(_cases()))
def test_llama_cpp_rows_are_the_transformers_engines(engines, student, strategy_name, options, how):
    llama, transformers = engines(strategy_name, **options)
    folder = student(strategy_name, **options)
    spec, strategy = serving_spec(folder), strategy_from_metadata(read_model_metadata(folder))
    if isinstance(how, DecodeParams):
        params = how
    else:  # as the server asks: the strategy's stops, past an EOS separator when explaining
        params = DecodeParams(max_tokens=40, stop=spec.stops(how), eos_count=eos_count_for(strategy, llama.tokenizer, how))
    for question in QUESTIONS:
        prompt = spec.prompt(question)
        got = asyncio.run(llama.complete(prompt, params))  # (a second call below counts what it feeds)
        want = asyncio.run(transformers.complete(prompt, params))
        row, expected = got.generations[0], want.generations[0]
        assert (row.text, row.n_tokens, row.stopped_by) == (expected.text, expected.n_tokens, expected.stopped_by), question
        assert got.prompt_tokens == want.prompt_tokens
        assert len(row.logprobs) == row.n_tokens and row.logprobs == pytest.approx(expected.logprobs, abs=LOGPROB_TOLERANCE)
        # nothing decoded past the token that ended the row: llama.cpp evaluated the prompt and every kept token
        # but the last (chosen from the step before it, never fed back)
        assert fed(llama, lambda: llama.complete(prompt, params)) == got.prompt_tokens + row.n_tokens - 1
    if isinstance(how, DecodeParams) and how.stop:
        assert row.stopped_by == "stop" and row.text.endswith("three makes")  # the untrained question: still q1's
    if isinstance(how, DecodeParams) and how.max_tokens == 3:
        assert row.stopped_by == "length" and row.n_tokens == 3


@needs_llama_cpp
def test_the_comparison_covers_every_way_a_row_ends(engines, student):
    """The cases above must reach EOS, a stop string and the length limit, or they prove less than they claim."""
    seen = set()
    for strategy_name, options, how in (c.values for c in _cases()):
        llama, _ = engines(strategy_name, **options)
        spec = serving_spec(student(strategy_name, **options))
        params = how if isinstance(how, DecodeParams) else DecodeParams(max_tokens=40, stop=spec.stops(how))
        seen.add(asyncio.run(llama.complete(spec.prompt(QUESTIONS[0]), params)).generations[0].stopped_by)
    assert seen == {"eos", "stop", "length"}


def fed(engine, ask) -> int:
    """Tokens llama.cpp evaluated while `ask()` (a coroutine factory) ran alone on the engine."""
    counted = []
    original = engine._decoder._decode

    def counting():
        original()
        counted.append(engine._decoder._batch.n_tokens)

    engine._decoder._decode = counting
    try:
        asyncio.run(ask())
    finally:
        engine._decoder._decode = original
    return sum(counted)


@needs_llama_cpp
def test_concurrent_requests_share_the_batch_and_a_short_answer_does_not_wait_for_a_long_one(engines, student):
    llama, _ = engines("pst")
    spec = serving_spec(student("pst"))
    long = DecodeParams(max_tokens=300, stop=(), eos_count=1000)  # on past every EOS (it writes many): 300 steps

    async def ask_while_ticking():
        ticks, finished = 0, []

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1

        async def ask(name, prompt, params):
            completion = await llama.complete(prompt, params)
            finished.append(name)
            return completion

        ticker = asyncio.create_task(tick())
        rows = await asyncio.gather(ask("long", spec.prompt(QUESTIONS[0]), long),
                                    *(ask(q, spec.prompt(q), DecodeParams(max_tokens=40, stop=())) for q in QUESTIONS))  # fmt: skip
        ticker.cancel()
        return rows, ticks, finished

    before = llama.stats.requests
    (first, *answers), ticks, finished = asyncio.run(ask_while_ticking())
    assert first.generations[0].n_tokens == 300 and first.generations[0].stopped_by == "length"
    assert [a.generations[0].text for a in answers[:2]] == [" 5", " 8"]
    assert finished[-1] == "long"  # the answers left the batch as they ended, beside the long row
    assert ticks > 100  # the event loop ran on while the thread decoded
    assert llama.stats.requests == before + 4 and llama.stats.largest_batch == 4


@needs_llama_cpp
def test_a_request_whose_client_went_away_stops_decoding(engines, student):
    llama, _ = engines("pst")
    prompt = serving_spec(student("pst")).prompt(QUESTIONS[0])
    prompt_tokens = llama.count_tokens(prompt)

    async def cancel_midway():
        long = asyncio.create_task(llama.complete(prompt, DecodeParams(max_tokens=1500, stop=(), eos_count=10**4)))
        while sum(len(row.tokens) for row in list(llama._decoder._running.values())) < 10:  # read across threads: a test's peek
            await asyncio.sleep(0.001)
        long.cancel()
        while not long.done() or llama._decoder.busy or not llama._commands.empty():
            await asyncio.sleep(0.01)

    decoded = fed(llama, cancel_midway) - prompt_tokens
    assert 10 <= decoded < 1000


@needs_llama_cpp
def test_sampled_requests_draw_n_different_rows(engines, student):
    llama, _ = engines("pst")
    prompt = serving_spec(student("pst")).prompt(QUESTIONS[2])
    completion = asyncio.run(llama.complete(prompt, DecodeParams(max_tokens=12, stop=(), temperature=2.0, n=4, eos_count=99)))
    texts = [g.text for g in completion.generations]
    assert len(texts) == 4 and len(set(texts)) > 1 and all(g.n_tokens == 12 for g in completion.generations)
    assert all(g.logprobs == () for g in completion.generations)  # as the transformers engine: greedy rows only


@needs_llama_cpp
def test_the_gguf_is_converted_once_per_weights(student, tmp_path, capsys):
    from cotdistill.serve.llama_engine import LlamaCppEngine

    folder = tmp_path / "student"
    shutil.copytree(student("pst"), folder)
    cache = tmp_path / "cache"

    def engine_gguf():
        engine = LlamaCppEngine(folder, cache_dir=cache, max_batch=1)
        engine.close()
        return engine.gguf, [line for line in capsys.readouterr().err.splitlines() if "converting" in line]

    first, said = engine_gguf()
    assert first.is_file() and first.parent.parent == cache
    assert len(said) == 1 and str(folder) in said[0] and str(first) in said[0] and "f16" in said[0]
    again, said_again = engine_gguf()
    assert again == first and said_again == []  # a restart reuses the file
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # retrained (or touched) weights
    touched, said_touched = engine_gguf()
    assert touched != first and touched.is_file() and len(said_touched) == 1
    assert not list(cache.rglob("*.tmp"))  # no staging file left behind


@needs_llama_cpp
def test_one_http_request_on_llama_cpp(student, cache_home):
    from fastapi.testclient import TestClient

    with TestClient(build_app(student("pst"), ServeOptions(engine="llama.cpp"))) as client:
        body = {"model": "model", "messages": [{"role": "user", "content": RECORDS[0].question}]}
        response = client.post("/v1/chat/completions", json=body).json()
        explained = client.post("/v1/chat/completions", json={**body, "explain": True}).json()
        health = client.get("/health").json()
    choice = response["choices"][0]
    assert choice["message"]["content"] == "5" and choice["finish_reason"] == "stop"
    answer_tokens = len(smollm2_tokenizer()(" 5", add_special_tokens=False)["input_ids"])
    assert response["usage"]["completion_tokens"] == answer_tokens + 1  # " 5" and the EOS separator, nothing past it
    assert explained["choices"][0]["rationale"] == RECORDS[0].rationales[0]
    assert health["engine"] == "llama.cpp" and health["requests"] == 2 and health["largest_batch"] == 1


@needs_llama_cpp
def test_a_routed_pair_on_llama_cpp_answers_first_or_thinks(pair, cache_home):  # noqa: F811 - the imported fixture
    from fastapi.testclient import TestClient

    with TestClient(build_app(pair, ServeOptions(engine="llama.cpp"))) as client:
        def ask(question: str) -> dict:
            body = {"model": "", "messages": [{"role": "user", "content": question}]}
            return client.post("/v1/chat/completions", json=body).json()

        sure, unsure = ask(RECORDS[0].question), ask(RECORDS[1].question)
        health = client.get("/health").json()
    first = sure["choices"][0]
    assert first["mode"] == "answer-first" and first["answer"] == "5" and sure["usage"]["completion_tokens"] <= 3
    thought = unsure["choices"][0]
    assert thought["mode"] == "think-first" and thought["answer"].endswith("8") and thought["rationale"]
    assert thought["route_score"] < first["route_score"]
    assert health["engine"] == "llama.cpp" and health["routing"]["modes"] == {"answer-first": 1, "think-first": 1}


def test_a_perception_router_is_refused_on_llama_cpp_before_loading_anything(student, tmp_path, monkeypatch):
    from cotdistill.routing.pair import RouterFile, write_router

    write_router(tmp_path, RouterFile(answer_first=str(student("pst")), think_first=str(student("pre-thinking")),
                                      signal="perception", threshold=0.5))  # no probe file: loading it would fail otherwise
    monkeypatch.setattr("cotdistill.export.student.load_merged_student", _must_not_load)
    monkeypatch.setattr("cotdistill.serve.llama_engine.cached_student", _must_not_load, raising=False)
    with pytest.raises(CotdistillError, match="perception probe.*--engine transformers") as error:
        build_app(tmp_path, ServeOptions(engine="llama.cpp"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("options,message", [
    (ServeOptions(engine="vllm"), "unknown --engine 'vllm'; supported: transformers, llama.cpp"),
    (ServeOptions(dtype="float16"), "unknown --dtype 'float16'; supported: float32, bfloat16"),
    (ServeOptions(engine="llama.cpp", dtype="bfloat16"), "--dtype bfloat16 is for --engine transformers"),
])  # fmt: skip
def test_bad_engine_and_dtype_values_are_one_line(student, monkeypatch, options, message):
    monkeypatch.setattr("cotdistill.export.student.load_merged_student", _must_not_load)
    with pytest.raises(CotdistillError) as error:
        build_app(student("pst"), options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_llama_cpp_names_the_install(student, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` raises ImportError
    with pytest.raises(CotdistillError, match=r"pip install llama-cpp-python") as error:
        build_app(student("pst"), ServeOptions(engine="llama.cpp"))
    assert "\n" not in str(error.value)


def test_bfloat16_weights_serve_on_the_transformers_engine(student):
    from fastapi.testclient import TestClient

    with TestClient(build_app(student("pst"), ServeOptions(dtype="bfloat16"))) as client:
        response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": RECORDS[0].question}]}).json()
        health = client.get("/health").json()
    assert response["choices"][0]["answer"] == "5" and health["engine"] == "transformers"


def _must_not_load(*args, **kwargs):
    raise AssertionError("a refused configuration must fail before any model is loaded")
