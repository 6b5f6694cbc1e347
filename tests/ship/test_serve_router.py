"""`cotdistill serve` and `export` of a routed pair, on overfit tiny-llama students: the answer-first student
knows q1 only, the think-first student both questions, and the router's threshold lies between the
answer-first student's confidence in its two answers, so q1 is answered first and q2 thought through.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from eval_students import RECORDS, overfit_student

from cotdistill.evaluation import EvalOptions, evaluate
from cotdistill.routing.pair import RouterFile, write_router

OPTIONS = EvalOptions(max_new_tokens=60, similarity=False)


@pytest.fixture(scope="module")
def pair(tiny_llama, tmp_path_factory):
    from cotdistill.evaluation.evaluate import decode_and_score

    root = tmp_path_factory.mktemp("pair")
    first = overfit_student(tiny_llama, root / "first", "post-thinking", records=RECORDS[:1], steps=60)
    think = overfit_student(tiny_llama, root / "think", "pre-thinking", steps=80)
    rows, _ = decode_and_score(first, RECORDS, OPTIONS)
    sure, unsure = (row["confidence"]["product"] for row in rows)
    assert sure > unsure  # what the test rests on: the student is surer of the answer it learnt
    write_router(root / "router", RouterFile(answer_first="../first", think_first=str(think), threshold=(sure + unsure) / 2))
    return root / "router"


def _client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)


def _ask(server, question: str, **extra):
    response = _client(server).chat.completions.create(model="", messages=[{"role": "user", "content": question}], **extra)
    return response.choices[0], response.usage


def test_a_confident_answer_returns_at_once_and_an_unsure_one_goes_on_to_think(serve, pair):
    server = serve(pair)
    first, first_usage = _ask(server, RECORDS[0].question)
    assert first.model_extra["mode"] == "answer-first" and first.model_extra["answer"] == "5"
    assert first.message.content == "5" and first_usage.completion_tokens <= 3  # the answer and its EOS, nothing more
    thought, thought_usage = _ask(server, RECORDS[1].question)
    assert thought.model_extra["mode"] == "think-first" and thought.model_extra["answer"].endswith("8")
    assert thought.model_extra["rationale"] and thought.model_extra["route_score"] < first.model_extra["route_score"]
    assert thought_usage.completion_tokens > 10  # both students' tokens: the unsure answer, then the thinking
    health = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
    assert health["routing"]["modes"] == {"answer-first": 1, "think-first": 1} and health["routing"]["signal"] == "product"


def test_serve_routes_as_eval_does_and_explains_a_confident_answer(serve, pair, tmp_path):
    metrics = evaluate(pair, records=RECORDS, options=OPTIONS, out=tmp_path / "eval.json")
    rows = [json.loads(line) for line in (tmp_path / "eval.predictions.jsonl").read_text().splitlines()]
    assert [r["mode"] for r in rows] == ["answer-first", "think-first"] and metrics["accuracy"] == 1.0
    assert metrics["modes"] == {"answer-first": 1, "think-first": 1}
    assert rows[0]["generated_tokens"] <= 3 and rows[1]["answer_first"]["generated_tokens"] <= 3  # the unsure answer, counted ...
    assert rows[1]["generated_tokens"] > 10 + rows[1]["answer_first"]["generated_tokens"]  # ... on top of the thinking
    explained, _ = _ask(serve(pair), RECORDS[0].question, extra_body={"explain": True})
    assert explained.model_extra["answer"] == "5" and explained.model_extra["rationale"] == RECORDS[0].rationales[0]


def test_threshold_flag_overrides_the_route_and_sampling_is_refused(serve, pair):
    nobody_thinks, _ = _ask(serve(pair, "--threshold", "0"), RECORDS[1].question)
    assert nobody_thinks.model_extra["mode"] == "answer-first"
    with pytest.raises(openai.BadRequestError, match="answers greedily"):
        _ask(serve(pair), RECORDS[0].question, temperature=0.7)


def test_an_hf_export_carries_both_students_and_the_router(pair, tmp_path, serve):
    from cotdistill.export import export_model
    from cotdistill.routing.pair import read_router

    result = export_model(pair, tmp_path / "hf", "hf")
    router = read_router(result.out)  # validated: both students are there
    assert router.answer_first == "answer-first" and router.threshold == read_router(pair).threshold
    assert (result.out / "think-first" / "model.safetensors").is_file()
    choice, _ = _ask(serve(result.out), RECORDS[1].question)
    assert choice.model_extra["mode"] == "think-first" and choice.model_extra["answer"].endswith("8")
    with pytest.raises(Exception, match="routed pair: export it with --format hf"):
        export_model(pair, tmp_path / "gguf", "gguf")
