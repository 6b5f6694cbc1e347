"""The synthetic generators and the reference teacher's worked solutions."""

from __future__ import annotations

import random

import pytest

from cotdistill.answers import extract_answer, is_correct
from cotdistill.errors import CotdistillError
from cotdistill.records import Record
from cotdistill.tasks import load_task
from cotdistill.tasks.synthetic import reference_rationale

SYNTH = ["synth-last-letters", "synth-coin-flip", "synth-arithmetic", "synth-shuffled-objects"]


def _scored(record: Record, rationale: str) -> bool:
    predicted = extract_answer(rationale, record.answer_type, record.choices)
    return is_correct(predicted, record.answer, record.answer_type, record.choices)


@pytest.mark.parametrize("name", SYNTH)
def test_same_seed_same_records_other_seed_other_records(name):
    first = load_task(name, "train", size=20, seed=3)
    assert first == load_task(name, "train", size=20, seed=3)
    other = load_task(name, "train", size=20, seed=4)
    assert {r.question for r in first} != {r.question for r in other}


@pytest.mark.parametrize("name", SYNTH)
def test_train_and_test_never_share_a_question(name):
    train = {r.question for r in load_task(name, "train", size=400)}
    test = {r.question for r in load_task(name, "test", size=200)}
    assert len(train) == 400 and len(test) == 200  # distinct within a split
    assert not train & test


@pytest.mark.parametrize("name", SYNTH)
def test_any_size_and_a_limit_gives_a_prefix(name):
    assert len(load_task(name, "train", size=1234)) == 1234
    assert load_task(name, "train", limit=5) == load_task(name, "train", size=50)[:5]


@pytest.mark.parametrize("name", SYNTH)
def test_attached_rationale_is_correct_and_ends_with_the_answer(name):
    for record in load_task(name, "train", size=100):
        (rationale,) = record.rationales
        assert rationale.rstrip().endswith(".") and "The answer is " in rationale.splitlines()[-1]
        assert _scored(record, rationale), rationale
        assert record.meta["synthetic"] and record.meta["teacher"] == "reference"


@pytest.mark.parametrize("name", SYNTH)
def test_reference_rationale_error_rate(name):
    records = load_task(name, "test", size=200)
    rng = random.Random(0)
    assert all(_scored(r, reference_rationale(r, rng)) for r in records)
    assert not any(_scored(r, reference_rationale(r, rng, error_rate=1.0)) for r in records)
    right = sum(_scored(r, reference_rationale(r, rng, error_rate=0.3)) for r in records)
    assert 0.55 * len(records) < right < 0.85 * len(records)  # about 70% right


@pytest.mark.parametrize("name", SYNTH)
def test_reference_rationales_vary_in_wording(name):
    record = load_task(name, "train", size=1)[0]
    rng = random.Random(1)
    assert len({reference_rationale(record, rng) for _ in range(20)}) >= 3


def test_arithmetic_rationale_steps_are_hand_checkable():
    record = load_task("synth-arithmetic", "train", size=1, n_steps=2)[0]
    spec = record.meta["spec"]
    value = spec["start"]
    for op in spec["ops"]:
        value = {"gain": lambda v: v + op.get("k", 0), "lose": lambda v: v - op.get("k", 0),
                 "packs": lambda v: v + op.get("n", 0) * op.get("m", 0),
                 "double": lambda v: v * op.get("factor", 1), "share": lambda v: v / op.get("p", 1)}[op["kind"]](value)
    assert float(record.answer) == value
    assert len(spec["ops"]) == 2


def test_options_change_the_problems():
    record = load_task("synth-last-letters", "train", size=1, n_words=6)[0]
    assert len(record.meta["spec"]["words"]) == 6 and len(record.answer) == 6
    record = load_task("synth-shuffled-objects", "train", size=1, n_people=5, n_swaps=7)[0]
    assert len(record.choices) == 5 and len(record.meta["spec"]["swaps"]) == 7


def test_reference_rationale_refuses_real_records():
    record = Record(id="x", question="q", answer="1", answer_type="numeric")
    with pytest.raises(CotdistillError, match="not from a synthetic task"):
        reference_rationale(record, random.Random(0))


def test_bad_option_values_are_reported():
    with pytest.raises(CotdistillError, match="whole number"):
        load_task("synth-coin-flip", "train", size="many")
