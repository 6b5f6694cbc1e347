"""`jsonl:<path>` (the documented generic format) and `hf:<id>` (Hugging Face datasets)."""

from __future__ import annotations

import json
import os
import time

import pytest

from cotdistill.errors import CotdistillError, DataError
from cotdistill.tasks import load_task


def write_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_records_are_read_and_answers_canonicalised(tmp_path):
    write_lines(tmp_path / "train.jsonl", [
        {"id": "a", "question": "What is 1,000 + 234?", "answer": "1,234", "answer_type": "numeric",
         "rationale": "1000 + 234 = 1234. The answer is 1234."},
        {"question": "Which is a colour?", "choices": ["dog", "red"], "answer": "red", "answer_type": "multiple_choice"},
        {"question": "Is 2 even?", "answer": "Yes", "answer_type": "yes_no", "meta": {"from": "me"}},
    ])
    records = load_task(f"jsonl:{tmp_path}", "train")  # a folder: <folder>/<split>.jsonl
    assert [r.answer for r in records] == ["1234", "B", "yes"]
    assert records[0].id == "a" and records[1].id == "train-2"
    assert records[0].rationales == ["1000 + 234 = 1234. The answer is 1234."]
    assert records[2].meta == {"from": "me"}


def test_jsonl_split_placeholder_and_answer_type_option(tmp_path):
    write_lines(tmp_path / "qs-test.jsonl", [{"question": "2 + 2?", "answer": 4}])
    records = load_task(f"jsonl:{tmp_path}/qs-{{split}}.jsonl", "test", answer_type="numeric")
    assert records[0].answer == "4" and records[0].answer_type == "numeric"


@pytest.mark.parametrize(
    ("row", "pattern"),
    [
        ({"question": "q", "answer": "1"}, r":1, field 'answer_type': missing field, expected one of numeric"),
        ({"question": "q", "answer": "1", "answer_type": "number"}, r":1, field 'answer_type': expected one of"),
        ({"question": "q", "answer": "z", "answer_type": "multiple_choice", "choices": ["a", "b"]},
         r":1, field 'answer': cannot read 'z' as a multiple_choice answer"),
        ({"question": "q", "answer": "a", "answer_type": "multiple_choice"}, r"field 'choices': a multiple_choice"),
        ({"question": "q", "answer_type": "numeric"}, r"field 'answer': expected the gold answer \(a number"),
        ({"question": "", "answer": "1", "answer_type": "numeric"}, r"field 'question': expected a non-empty"),
        ({"question": "q", "answer": "1", "answer_type": "numeric", "answers": 1}, r"field 'answers': unknown field"),
        ({"question": "q", "answer": "1", "answer_type": "numeric", "rationales": "x"}, r"field 'rationales'"),
    ],
)
def test_jsonl_errors_name_line_field_and_expectation(tmp_path, row, pattern):
    path = write_lines(tmp_path / "mine.jsonl", [row])
    with pytest.raises(DataError, match=pattern) as caught:
        load_task(f"jsonl:{path}", "train")
    assert str(path) in str(caught.value)


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = write_lines(tmp_path / "mine.jsonl", [{"question": "q", "answer": "1", "answer_type": "numeric"}, "[1, 2]"])
    with pytest.raises(DataError, match=r"mine.jsonl:2: expected a JSON object, got list"):
        load_task(f"jsonl:{path}", "train")


def test_hf_json_builder_reads_local_files_with_field_mapping(tmp_path):
    path = write_lines(tmp_path / "gsm.jsonl", [
        {"q": "Tom has 3 and gets 4. How many?", "sol": "3+4 = <<3+4=7>>7\n#### 7", "key": "t1"},
    ])
    records = load_task("hf:json", "train", data_files=str(path), question_field="q", answer_field="sol",
                        rationale_field="sol", answer_after="####", answer_type="numeric", id_field="key")
    assert records[0].id == "t1" and records[0].answer == "7" and records[0].rationales == ["3+4 = 7"]


def test_hf_choices_in_hub_layout(tmp_path):
    path = write_lines(tmp_path / "csqa.jsonl", [
        {"question": "Where?", "choices": {"label": ["A", "B"], "text": ["home", "park"]}, "answerKey": "B"},
    ])
    records = load_task("hf:json", "train", data_files=str(path), choices_field="choices", answer_field="answerKey",
                        answer_type="multiple_choice")
    assert records[0].choices == ["home", "park"] and records[0].answer == "B"


def test_hf_missing_field_is_named(tmp_path):
    path = write_lines(tmp_path / "x.jsonl", [{"text": "q", "answer": "1"}])
    with pytest.raises(DataError, match=r"\(record 0\), field 'question': missing field; the rows have text, answer"):
        load_task("hf:json", "train", data_files=str(path), answer_type="numeric")


def test_hf_hub_id_fails_fast_and_clearly_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    started = time.monotonic()
    with pytest.raises(CotdistillError, match=r"could not load Hugging Face dataset 'openai/gsm8k'.*jsonl:<path>"):
        load_task("hf:openai/gsm8k", "train", config="main", answer_type="numeric", answer_after="####")
    assert time.monotonic() - started < 60
