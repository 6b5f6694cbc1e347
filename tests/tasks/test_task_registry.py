"""The registry API, and one generic test run over every registered task and split."""

from __future__ import annotations

import pytest

from cotdistill.answers import canonical_answer, extract_answer, format_number, is_correct, parse_number, target_answer
from cotdistill.errors import CotdistillError
from cotdistill.records import CHOICE_LETTERS, Record
from cotdistill.tasks import TaskInfo, get_task_info, list_tasks, load_task, task_options

FIXED = [info for info in list_tasks() if not info.prefix]
CASES = [pytest.param(info.name, split, id=f"{info.name}/{split}") for info in FIXED for split in info.splits]


def check_record_invariants(record: Record, info: TaskInfo) -> None:
    assert record.id and record.question.strip()
    assert record.answer_type == info.answer_type
    kind = record.answer_type
    if kind == "multiple_choice":
        assert record.choices and len(record.choices) >= 2
        assert record.answer in CHOICE_LETTERS[: len(record.choices)]
    elif kind == "yes_no":
        assert record.answer in ("yes", "no")
    elif kind == "numeric":
        value = parse_number(record.answer)
        assert value is not None and format_number(value) == record.answer
    assert canonical_answer(record.answer, kind, record.choices) == record.answer
    # The scorer reads back what a student is trained to write.
    written = f"Reasoning. The answer is {target_answer(record)}."
    assert is_correct(extract_answer(written, kind, record.choices), record.answer, kind, record.choices)
    assert all(isinstance(r, str) and r.strip() for r in record.rationales)
    if "teacher_answers" in record.meta:
        assert len(record.meta["teacher_answers"]) == len(record.rationales)
    assert Record.from_json(record.to_json()) == record


@pytest.mark.parametrize(("name", "split"), CASES)
def test_every_task_and_split_loads_valid_records(name, split, request):
    info = get_task_info(name)
    data_dir = request.getfixturevalue("shared_data") if info.needs_data_dir else None
    records = load_task(name, split, data_dir=data_dir, limit=5)
    assert 0 < len(records) <= 5
    assert len({r.id for r in records}) == len(records)
    for record in records:
        check_record_invariants(record, info)


def test_registry_lists_every_format_once():
    names = [info.name for info in list_tasks()]
    assert len(names) == len(set(names))
    expected = {"svamp", "cqa", "svamp-mcc", "gsm8k", "addsub", "aqua", "date", "shuffled-objects", "commonsenseqa",
                "gsm8k-zs", "last-letters", "multiarith", "singleeq", "strategyqa", "svamp-zs", "coin-flip",
                "synth-last-letters", "synth-coin-flip", "synth-arithmetic", "synth-shuffled-objects", "jsonl:", "hf:"}
    assert expected <= set(names)
    for info in list_tasks():
        assert info.source and (info.prefix or info.splits)


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(CotdistillError, match=r"unknown task 'svamq'.*svamp.*synth-arithmetic"):
        load_task("svamq")


def test_unknown_split_lists_the_valid_splits():
    with pytest.raises(CotdistillError, match=r"unknown split 'dev'.*Valid splits: test, train"):
        load_task("synth-arithmetic", "dev")


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(CotdistillError, match=r"no option 'sise'.*size"):
        load_task("synth-arithmetic", "train", sise=3)
    assert task_options(get_task_info("synth-arithmetic")) == {"size": None, "seed": 0, "n_steps": 3}


def test_missing_data_dir_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("COTDISTILL_DATA", raising=False)
    with pytest.raises(CotdistillError, match=r"--data-dir.*COTDISTILL_DATA"):
        load_task("svamp", "train")
    with pytest.raises(CotdistillError, match="does not exist"):
        load_task("svamp", "train", data_dir="/nonexistent/folder")


def test_data_dir_falls_back_to_the_environment(monkeypatch, shared_data):
    monkeypatch.setenv("COTDISTILL_DATA", str(shared_data))
    assert len(load_task("svamp", "test", limit=2)) == 2


def test_limit_is_applied_and_checked():
    assert len(load_task("synth-coin-flip", "train", limit=3)) == 3
    assert load_task("synth-coin-flip", "train", limit=0) == []
    with pytest.raises(CotdistillError, match="limit"):
        load_task("synth-coin-flip", "train", limit=-1)
