"""`cotdistill serve` routes an adaptive student's questions as `cotdistill eval` does.

The student is tiny-llama overfit on both modes of two questions; its perception module is fitted here
on its own features of the two questions, labelled so that q1 is answered first and q2 thought through.
"""

from __future__ import annotations

import json
import shutil

import httpx
import openai
import pytest
from eval_students import RECORDS

from cotdistill.routing import PERCEPTION_FILE


@pytest.fixture(scope="module")
def adaptive(student, tmp_path_factory):
    from cotdistill.models import load_causal_lm
    from cotdistill.routing import PerceptionModule, question_features
    from cotdistill.strategies import get_strategy

    folder = tmp_path_factory.mktemp("adaptive") / "model"
    shutil.copytree(student("adaptive", steps=80), folder)
    model, tokenizer = load_causal_lm(folder)
    prompts = [get_strategy("adaptive").question_prompt(r) for r in RECORDS]
    import torch

    module = PerceptionModule.fit(question_features(model, tokenizer, prompts), torch.tensor([1.0, 0.0]))
    module.save(folder / PERCEPTION_FILE)
    return folder


def _client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)


def _ask(server, question: str, **extra):
    response = _client(server).chat.completions.create(model="model", messages=[{"role": "user", "content": question}], **extra)
    return response.choices[0], response.usage


def test_each_question_gets_the_mode_its_perception_score_picks(serve, adaptive):
    server = serve(adaptive)
    first, first_usage = _ask(server, RECORDS[0].question)
    assert first.model_extra["mode"] == "answer-first" and first.model_extra["perception_score"] >= 0.5
    assert first.model_extra["answer"] == "5" and first.message.content == "5"
    assert first_usage.completion_tokens <= 3  # the answer and its EOS separator, no rationale
    thought, thought_usage = _ask(server, RECORDS[1].question)
    assert thought.model_extra["mode"] == "think-first" and thought.model_extra["perception_score"] < 0.5
    assert thought.model_extra["answer"].endswith("8") and thought.model_extra["rationale"]  # the conclusion, as pre-thinking
    assert thought_usage.completion_tokens > 10
    health = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
    assert health["routing"] == {"threshold": 0.5, "modes": {"answer-first": 1, "think-first": 1}}


def test_explain_runs_an_answer_first_question_on_to_its_rationale(serve, adaptive):
    choice, _ = _ask(serve(adaptive), RECORDS[0].question, extra_body={"explain": True})
    assert choice.model_extra["answer"] == "5" and choice.model_extra["rationale"] == RECORDS[0].rationales[0]


def test_completions_explain_each_prompt_in_the_mode_its_control_names(serve, adaptive):
    from cotdistill.strategies import get_strategy

    strategy = get_strategy("adaptive")
    prompts = [strategy.mode_prompt(RECORDS[0], "answer-first"), strategy.mode_prompt(RECORDS[1], "think-first")]
    response = _client(serve(adaptive)).completions.create(model="model", prompt=prompts, max_tokens=60,
                                                            extra_body={"explain": True})  # fmt: skip
    first, thought = (choice.model_extra for choice in response.choices)
    assert first["mode"] == "answer-first" and first["answer"] == "5"
    assert first["rationale"] == RECORDS[0].rationales[0]  # on past the EOS separator, to the second EOS
    assert thought["mode"] == "think-first" and thought["rationale"] == RECORDS[1].rationales[0]


def test_eval_explains_each_mode_as_serve_does(adaptive):
    """Answer-first questions run on past their EOS separator and think-first ones stop at their EOS,
    in one evaluation: each decodes in batches of its own mode."""
    from cotdistill.evaluation import EvalOptions, evaluate

    metrics = evaluate(adaptive, records=RECORDS, options=EvalOptions(max_new_tokens=60, explain=True, similarity=False),
                       out=adaptive.parent / "explained.json")  # fmt: skip
    rows = [json.loads(line) for line in (adaptive.parent / "explained.predictions.jsonl").read_text().splitlines()]
    assert [r["mode"] for r in rows] == ["answer-first", "think-first"] and metrics["accuracy"] == 1.0
    assert rows[0]["rationale"] == RECORDS[0].rationales[0]  # past the first EOS, to the second
    assert rows[1]["rationale"] == RECORDS[1].rationales[0] and rows[1]["stopped_by"] == ["eos"]


def test_threshold_and_mode_flags_override_the_route(serve, adaptive):
    everyone_first, _ = _ask(serve(adaptive, "--threshold", "0"), RECORDS[1].question)
    assert everyone_first.model_extra["mode"] == "answer-first" and everyone_first.model_extra["answer"] == "8"
    fixed, _ = _ask(serve(adaptive, "--mode", "think-first"), RECORDS[0].question)
    assert "mode" not in fixed.model_extra and fixed.model_extra["rationale"]  # no module ran: nothing to report


def test_a_missing_perception_module_or_a_mode_for_another_strategy_stops_the_server_with_the_reason(
    adaptive, student, server_process, tmp_path
):
    unrouted = tmp_path / "unrouted"
    shutil.copytree(adaptive, unrouted)
    (unrouted / PERCEPTION_FILE).unlink()
    with pytest.raises(RuntimeError, match=rf"{PERCEPTION_FILE}: missing.*--mode think-first"):
        server_process(unrouted, tmp_path / "a.log")
    with pytest.raises(RuntimeError, match="mode: only adaptive students have modes; this one is pst"):
        server_process(student("pst"), tmp_path / "b.log", "--mode", "think-first")


def test_an_hf_export_keeps_the_perception_module(adaptive, tmp_path):
    from cotdistill.export import export_model

    result = export_model(adaptive, tmp_path / "hf", "hf")
    assert (result.out / PERCEPTION_FILE).read_bytes() == (adaptive / PERCEPTION_FILE).read_bytes()
