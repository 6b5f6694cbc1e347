"""`cotdistill serve` as a real process on 127.0.0.1, driven with the `openai` SDK.

The students are tiny-llama overfit on two questions, so their greedy outputs are known exactly:
" 5" EOS " Two plus three makes five, so the sum is 5." EOS (the default separator is EOS) and the
pre-thinking equivalent.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from eval_students import RECORDS

from cotdistill.models.sources import smollm2_tokenizer

QUESTION = "What is 2 + 3?"
PROMPT = f"Question: {QUESTION}\nAnswer:"


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)


def _n_tokens(text: str) -> int:
    return len(smollm2_tokenizer()(text, add_special_tokens=False)["input_ids"])


def test_models_and_health_name_the_student(serve):
    server = serve("pst")
    models = _client(server).models.list()
    assert [m.id for m in models.data] == ["model"]
    health = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
    assert health["status"] == "ok" and health["strategy"] == "pst"


def test_pst_chat_answers_and_stops_at_the_separator_with_real_usage(serve):
    response = _client(serve("pst")).chat.completions.create(
        model="model", messages=[{"role": "user", "content": QUESTION}]
    )
    choice = response.choices[0]
    assert choice.message.content == "5" and choice.finish_reason == "stop"
    assert choice.model_extra["answer"] == "5" and choice.model_extra["rationale"] is None
    # the student wrote " 5" and its separator (EOS) and nothing after it; the prompt is the trained template
    assert response.usage.completion_tokens == _n_tokens(" 5") + 1
    assert response.usage.prompt_tokens == _n_tokens(PROMPT)


def test_explain_returns_the_rationale_after_the_separator(serve):
    response = _client(serve("pst")).chat.completions.create(
        model="model", messages=[{"role": "user", "content": QUESTION}], extra_body={"explain": True}
    )
    choice = response.choices[0]
    assert choice.model_extra["answer"] == "5"
    assert choice.model_extra["rationale"] == RECORDS[0].rationales[0]
    assert choice.message.content == f"5\n\n{RECORDS[0].rationales[0]}"  # the EOS separator shown as a blank line
    # the answer, the separator (EOS), the rationale, then the EOS that ended it: all generated tokens
    assert response.usage.completion_tokens == _n_tokens(" 5") + 1 + _n_tokens(f" {RECORDS[0].rationales[0]}") + 1


def test_completions_take_the_prompt_verbatim(serve):
    response = _client(serve("pst")).completions.create(model="model", prompt=[PROMPT, "Question: What is 4 + 4?\nAnswer:"])
    assert [c.text for c in response.choices] == [" 5", " 8"]
    assert response.usage.prompt_tokens == _n_tokens(PROMPT) + _n_tokens("Question: What is 4 + 4?\nAnswer:")


def test_pre_thinking_runs_to_eos_and_decodes_as_evaluation_does(serve, student):
    from cotdistill.evaluation.generation import DecodeSettings, generate_batch, prepare_tokenizer
    from cotdistill.models import load_causal_lm

    response = _client(serve("pre-thinking")).chat.completions.create(
        model="model", messages=[{"role": "user", "content": QUESTION}]
    )
    model, tokenizer = load_causal_lm(student("pre-thinking"))
    prepare_tokenizer(tokenizer)
    expected = generate_batch(model, tokenizer, [PROMPT], DecodeSettings())[0][0][0]
    choice = response.choices[0]
    assert expected.stopped_by == "eos" and choice.finish_reason == "stop"
    assert choice.message.content == expected.text.strip()
    assert response.usage.completion_tokens == expected.n_tokens
    assert "Therefore, the answer is" in expected.text and choice.model_extra["rationale"]
    assert choice.model_extra["answer"].endswith("5")


def test_concurrent_requests_are_batched(serve):
    server = serve("pst", "--batch-wait-ms", "50")
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=60)

    async def ask_all():
        questions = [QUESTION, "What is 4 + 4?"] * 4
        return await asyncio.gather(*(client.chat.completions.create(
            model="model", messages=[{"role": "user", "content": q}]) for q in questions))  # fmt: skip

    responses = asyncio.run(ask_all())
    assert [r.choices[0].message.content for r in responses] == ["5", "8"] * 4
    health = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
    assert health["requests"] == 8 and health["largest_batch"] > 1


@pytest.mark.parametrize(
    "body,status,param",
    [
        ({"model": "model"}, 400, "messages"),
        ({"model": "model", "messages": []}, 400, "messages"),
        ({"model": "model", "messages": [{"role": "system", "content": "hi"}]}, 400, "messages"),
        ({"model": "model", "messages": [{"role": "user", "content": "q"}], "max_tokens": 0}, 400, "max_tokens"),
        ({"model": "model", "messages": [{"role": "user", "content": "q"}], "max_tokens": 10**6}, 400, "max_tokens"),
        ({"model": "model", "messages": [{"role": "user", "content": "q"}], "stream": True}, 400, "stream"),
        ({"model": "model", "messages": [{"role": "user", "content": "q"}], "n": 3}, 400, "n"),
        ({"model": "other", "messages": [{"role": "user", "content": "q"}]}, 404, "model"),
    ],
)
def test_bad_requests_get_the_openai_error_shape(serve, body, status, param):
    response = httpx.post(serve("pst").base_url + "/chat/completions", json=body, timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param and error["message"] and error["type"]
    assert "Traceback" not in response.text


def test_malformed_json_and_unknown_routes_are_4xx_with_the_error_shape(serve):
    base = serve("pst").base_url
    bad_json = httpx.post(base + "/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.get(base + "/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["message"]


def test_the_sdk_raises_its_typed_errors(serve):
    client = _client(serve("pst"))
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError, match="user message"):
        client.chat.completions.create(model="model", messages=[{"role": "assistant", "content": "x"}])
