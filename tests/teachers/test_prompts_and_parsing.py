"""Prompt styles, exemplar files and completion parsing (hand-checked strings)."""

from __future__ import annotations

import json

import pytest

from cotdistill.errors import CotdistillError, DataError
from cotdistill.records import Record
from cotdistill.teachers.parsing import clean_rationale, parse_completion
from cotdistill.teachers.prompts import answer_trigger, get_prompt_style, load_exemplars

NUMERIC = Record(id="n1", question="Tom has 3 apples and buys 4 more. How many apples?", answer="7", answer_type="numeric")
CHOICE = Record(id="c1", question="Where do fish live?", choices=["desert", "water", "sky"], answer="B", answer_type="multiple_choice")


def test_zero_shot_cot_is_two_stage_kojima():
    style = get_prompt_style("zero-shot-cot")
    first = style.first(NUMERIC)
    assert first.text == "Q: Tom has 3 apples and buys 4 more. How many apples?\nA: Let's think step by step."
    second = style.second(NUMERIC, " 3 + 4 = 7.\n\nQ: invented next question")
    assert second.text == first.text + " 3 + 4 = 7.\nTherefore, the answer (arabic numerals) is"
    assert answer_trigger(CHOICE) == "Therefore, among A through C, the answer is"


def test_chat_and_rationalize_prompts():
    chat = get_prompt_style("chat").first(CHOICE)
    assert chat.text == "Where do fish live?\nAnswer Choices:\n(A) desert\n(B) water\n(C) sky"
    assert "Answer: <answer>" in chat.system
    assert chat.messages()[0]["role"] == "system" and chat.messages()[1] == {"role": "user", "content": chat.text}
    rationalize = get_prompt_style("rationalize").first(CHOICE)
    assert "The correct answer is (B) water." in rationalize.text
    assert rationalize.text.endswith('end with "The answer is (B) water."')


def test_few_shot_simple_format_and_errors(tmp_path):
    path = tmp_path / "ex.json"
    path.write_text(json.dumps([{"question": "1 + 1?", "rationale": "One plus one is two.", "answer": "2"}]))
    style = get_prompt_style("few-shot-cot", exemplars=path)
    assert style.first(NUMERIC).text == (
        "Q: 1 + 1?\nA: One plus one is two. The answer is 2.\n\nQ: Tom has 3 apples and buys 4 more. How many apples?\nA:")
    assert style.key_fields()["exemplars_sha256"]
    jsonl = tmp_path / "ex.jsonl"
    jsonl.write_text('{"question": "q", "rationale": "r", "answer": "a"}\n{"question": "q2"}\n')
    with pytest.raises(DataError, match=r"record 1\), field 'rationale'"):
        load_exemplars(jsonl)
    with pytest.raises(DataError, match="needs an exemplar file"):
        get_prompt_style("few-shot-cot")
    with pytest.raises(CotdistillError, match="unknown prompt style 'nope'"):
        get_prompt_style("nope")


def test_few_shot_reads_fine_tune_cot_prompts(shared_data):
    path = shared_data / "fine-tune-cot" / "few_shot_cot_prompts.json"
    svamp = load_exemplars(path, task="svamp")
    assert svamp.startswith("Q: There are 15 trees in the grove.") and svamp.count("\nA: ") >= 7
    assert load_exemplars(path, task="cqa") == json.loads(path.read_text())["commonsense_qa"]["prompt"]
    with pytest.raises(DataError, match="has no exemplars for 'synth-x'"):
        load_exemplars(path, task="synth-x")


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("  3 + 4 = 7. The answer is 7.\n\nQ: next one\nA: blah", "3 + 4 = 7. The answer is 7."),
        ("He has 2.5 kg. So the answer is 2.5. Extra chatter after.", "He has 2.5 kg. So the answer is 2.5."),
        ("Step one.\nStep two.\nAnswer: 7\nSome trailing text", "Step one.\nStep two.\nAnswer: 7"),
        ("No answer statement here", "No answer statement here"),
    ],
)
def test_clean_rationale(raw, cleaned):
    assert clean_rationale(raw) == cleaned


def test_parse_completion_outcomes():
    right = parse_completion(NUMERIC, "3 + 4 = 7. The answer is 7.")
    assert (right.answer, right.correct, right.error) == ("7", True, None)
    wrong = parse_completion(NUMERIC, "3 + 5 = 8. The answer is 8.")
    assert (wrong.answer, wrong.correct) == ("8", False)
    # the answer stage wins over the reasoning (two-stage zero-shot CoT)
    staged = parse_completion(NUMERIC, "3 + 4 is 7, or maybe 8", answer_text=" 7.")
    assert (staged.answer, staged.correct, staged.rationale) == ("7", True, "3 + 4 is 7, or maybe 8")
    empty = parse_completion(NUMERIC, "   ")
    assert empty.error == "empty completion" and empty.answer is None
    unparsed = parse_completion(NUMERIC, "I do not know.")
    assert unparsed.error == "no numeric answer found in the completion" and unparsed.rationale == "I do not know."
    choice = parse_completion(CHOICE, "Fish need water.\nAnswer: (B)")
    assert (choice.answer, choice.correct) == ("B", True)
