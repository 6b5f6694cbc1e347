"""Answer parsing, extraction and scoring: hand-computed cases, properties, and real teacher rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotdistill.answers import (
    answer_span,
    canonical_answer,
    extract_answer,
    format_number,
    is_correct,
    parse_number,
    strip_answer_sentence,
    target_answer,
)
from cotdistill.records import Record

CHOICES = ["park", "coloring book", "garden center", "math problem", "gravity"]


# ------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("1,234", 1234.0),
        ("1,234,567.5", 1234567.5),
        ("$5.50", 5.5),
        ("\u20ac 12", 12.0),
        ("50%", 50.0),
        ("3/4", 0.75),
        ("-2", -2.0),
        ("( 84.0 / 2.0 )", 42.0),
        ("( ( 17.0 + 15.0 ) + 2.0 )", 34.0),
        ("(120 / 3)", 40.0),
        ("3 x 4", 12.0),
        ("2 ** 3", 8.0),
        ("007", 7.0),
        ("1.05", 1.05),
        ("twelve", 12.0),
        ("42.", 42.0),
    ],
)
def test_parse_number_reads_written_numbers(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "__import__('os')", "1 / 0", "9 ** 9 ** 9", "x + 1", None, "1e999"])
def test_parse_number_refuses_what_is_not_a_number(text):
    assert parse_number(text) is None


@pytest.mark.parametrize(("value", "text"), [(42.0, "42"), (2.5, "2.5"), (-0.125, "-0.125"), (1 / 3, "0.333333"),
                                             (-0.0, "0"), (1e6, "1000000")])
def test_format_number_is_canonical(value, text):
    assert format_number(value) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["", "$", "\u00a3"]), st.booleans(),
       st.sampled_from(["", "%"]))
def test_integers_round_trip_through_any_formatting(number, currency, separators, percent):
    written = f"{currency}{number:,}{percent}" if separators else f"{currency}{number}{percent}"
    assert parse_number(written) == number
    assert extract_answer(f"Some working. The answer is {written}.", "numeric") == str(number)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False))
def test_decimals_round_trip(number):
    assert parse_number(f"{number:,.2f}") == pytest.approx(float(number))
    assert is_correct(f"{number:.2f}", format_number(float(number)), "numeric")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6), st.integers(0, 10**6),
       st.sampled_from(["The answer is", "So the answer is", "Therefore, the answer is", "Answer:"]))
def test_the_answer_phrase_beats_earlier_and_later_numbers(noise, answer, phrase):
    before = " ".join(f"We have {n} apples." for n in noise)
    text = f"{before} {phrase} {answer}.\n\nQ: Another question with {noise[0] + 1} apples."
    assert extract_answer(text, "numeric") == str(answer)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6))
def test_without_a_phrase_the_last_number_wins(numbers):
    text = " ".join(f"then {n} items" for n in numbers)
    assert extract_answer(text, "numeric") == str(numbers[-1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Luke scored 84 points. 84 / 2 = 42. The answer is (84 / 2).", "42"),
        ("The answer is 84 / 2 = 42.", "42"),
        ("So the answer is $1,200.", "1200"),
        ("Answer: 3.5", "3.5"),
        ("Therefore, the answer is 25%.", "25"),
        ("The answer is twelve.", "12"),
        ("She has 5 + 3 = 8 apples.", "8"),
        ("Therefore, Mary needs to add 1 more cup of flour than the 4 cups of salt.", "1"),
        ("To arrive at this answer:\n- add 4 packs\n4 + 22 + 16 = 42.\nTherefore, Lucy bought 42 packs.", "42"),
        ("Jack received a total of 8 emails (3 in the morning + 5 in the afternoon).", "8"),
        ("Conclusion: Therefore, Jessie weighed 192 kilograms (422.40 pounds) before.", "192"),
        ("So far 3 + 4 = 7.\nThen 7 * 2 = 14 in the end", "14"),  # only the closing sentence concludes
        ("No numbers here.", None),
        ("", None),
    ],
)
def test_extract_numeric(text, expected):
    assert extract_answer(text, "numeric") == expected


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        ("42", "42", True),
        ("42.0", "42", True),
        ("1,234", "1234", True),
        ("$42", "42", True),
        ("8.33", "8.333333", True),  # rounded to the decimals shown
        ("8.3", "8.333333", False),  # one decimal is too coarse to count
        ("43", "42", False),
        ("0.1", "0.10000001", True),
        (None, "42", False),
        ("forty", "42", False),
    ],
)
def test_numeric_scoring(predicted, gold, expected):
    assert is_correct(predicted, gold, "numeric") is expected


# --------------------------------------------------------------------------------- multiple choice


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So the answer is (d) math problem.", "D"),
        ("The answer is C.", "C"),
        ("The answer is C) garden center", "C"),
        ("The answer is: (B)", "B"),
        ("The answer is gravity.", "E"),
        ("the answer is garden center because it sells plants", "C"),
        ("It could be (b), but on reflection (e) fits.", "E"),
        ("People play in a park; a coloring book is for kids.", "B"),
        ("Nothing matches.", None),
    ],
)
def test_extract_multiple_choice(text, expected):
    assert extract_answer(text, "multiple_choice", CHOICES) == expected


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [("D", "D", True), ("(d) math problem", "D", True), ("math problem", "D", True), ("d", "D", True),
     ("C", "D", False), ("gravity", "D", False)],
)
def test_multiple_choice_scoring(predicted, gold, expected):
    assert is_correct(predicted, gold, "multiple_choice", CHOICES) is expected


def test_repeated_choice_texts_count_as_the_same_answer():
    choices = ["bus depot", "beach", "train station", "bridge", "bridge"]
    assert is_correct("E", "D", "multiple_choice", choices)
    assert not is_correct("A", "D", "multiple_choice", choices)


# --------------------------------------------------------------------------------- yes/no and text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The coin was flipped twice, so it is heads up. So the answer is yes.", "yes"),
        ("Therefore, the answer (Yes or No) is No.", "no"),
        ("It is not possible. No", "no"),
        ("The answer is true.", "yes"),
        ("I cannot tell.", None),
    ],
)
def test_extract_yes_no(text, expected):
    assert extract_answer(text, "yes_no") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [('The last letters are "y", "a". The answer is "ya".', "ya"), ("Step one.\nyajo", "yajo"),
     ("The answer is **nk**.", "nk")],
)
def test_extract_text(text, expected):
    assert extract_answer(text, "text") == expected


@pytest.mark.parametrize(
    ("text", "answer_type", "first", "last"),
    [
        ("100 | 100 | 110 | 120 | 34", "numeric", "100", "34"),  # a real run-on of an answer-first student
        ("12 apples. Therefore, there are 15 left.", "numeric", "12", "15"),
        ("(B) or maybe (D)", "multiple_choice", "B", "D"),
        ("no, then yes", "yes_no", "no", "yes"),
        ("ya\nyajo", "text", "ya", "yajo"),
    ],
)
def test_answer_first_text_is_read_from_its_first_candidate(text, answer_type, first, last):
    choices = ["a", "b", "c", "d", "e"] if answer_type == "multiple_choice" else None
    assert extract_answer(text, answer_type, choices, first=True) == first
    assert extract_answer(text, answer_type, choices) == last
    assert extract_answer(f"The answer is {last}.\n{text}", answer_type, choices, first=True) == last  # a phrase wins


def test_text_scoring_normalises_case_articles_and_punctuation():
    assert is_correct("The Garden Center.", "garden center", "text")
    assert not is_correct("garden", "garden center", "text")


# ------------------------------------------------------------------------------- targets and helpers


def test_target_answer_per_type():
    mc = Record(id="1", question="q", choices=CHOICES, answer="C", answer_type="multiple_choice")
    assert target_answer(mc) == "(C) garden center"
    assert target_answer(Record(id="2", question="q", answer="42", answer_type="numeric")) == "42"
    assert target_answer(Record(id="3", question="q", answer="yes", answer_type="yes_no")) == "yes"
    assert target_answer(Record(id="4", question="q", answer="yajo", answer_type="text")) == "yajo"


def test_target_answer_is_what_extraction_reads_back():
    mc = Record(id="1", question="q", choices=CHOICES, answer="C", answer_type="multiple_choice")
    assert extract_answer(f"Because. The answer is {target_answer(mc)}.", "multiple_choice", CHOICES) == "C"


def test_canonical_answer_and_span_helpers():
    assert canonical_answer("math problem", "multiple_choice", CHOICES) == "D"
    assert canonical_answer("(b)", "multiple_choice", CHOICES) == "B"
    assert canonical_answer("Yes.", "yes_no") == "yes"
    assert canonical_answer("1,000", "numeric") == "1000"
    assert answer_span("x. So the answer is (d) math problem.\nQ: next") == "(d) math problem."
    assert strip_answer_sentence("84 / 2 = 42. So the answer is (84 / 2).") == "84 / 2 = 42."
    assert strip_answer_sentence("no phrase here") == "no phrase here"


# ------------------------------------------------------------------------------------ on real rows


def test_real_palm_svamp_rows(shared_data):
    outputs = json.loads((shared_data / "distilling-step-by-step/svamp/llm/train_CoT_0.json").read_text())
    rows = [json.loads(line) for line in (shared_data / "distilling-step-by-step/svamp/svamp_train.json").open()]
    # Row 0: "... 84 / 2 = 42. The answer is (84 / 2)." then the next few-shot example with other numbers.
    assert extract_answer(outputs[0], "numeric") == "120"  # uncut, the next example's answer wins
    cut = outputs[0].split("\n\nQ:")[0]
    assert extract_answer(cut, "numeric") == "42"
    assert is_correct(extract_answer(cut, "numeric"), rows[0]["label"], "numeric")
    # Row 1: PaLM multiplies the pencils instead of the crayons: (7 * 36) = 252, gold ( 7.0 * 30.0 ) = 210.
    cut = outputs[1].split("\n\nQ:")[0]
    assert extract_answer(cut, "numeric") == "252"
    assert not is_correct("252", rows[1]["label"], "numeric")


def test_real_palm_cqa_row(shared_data):
    outputs = json.loads((shared_data / "distilling-step-by-step/cqa/llm/train_CoT_0.json").read_text())
    row = json.loads((shared_data / "distilling-step-by-step/cqa/cqa_train.json").open().readline())
    cut = outputs[0].split("\n\nQ:")[0]
    assert extract_answer(cut, "multiple_choice", row["choices"]) == "D"
    assert is_correct("D", row["answer"], "multiple_choice", row["choices"])
