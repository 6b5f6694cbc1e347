"""The teachers' own rationales, scored with the answer scorer: their accuracy must be plausible.

Run with `pytest -s tests/tasks/test_teacher_accuracy.py` to see the figures.
"""

from __future__ import annotations

import pytest

from cotdistill.answers import extract_answer, is_correct, strip_answer_sentence
from cotdistill.tasks import load_task


def teacher_accuracy(records, transform=lambda text: text) -> tuple[int, int]:
    """(correct, total) over every rationale of every record."""
    correct = total = 0
    for record in records:
        for rationale in record.rationales:
            predicted = extract_answer(transform(rationale), record.answer_type, record.choices)
            correct += is_correct(predicted, record.answer, record.answer_type, record.choices)
            total += 1
    return correct, total


# (task, split, lowest plausible, highest plausible). Published few-shot CoT accuracy of PaLM-540B is
# about 79% on SVAMP and 80% on CommonsenseQA; human GSM8K solutions are right by construction.
CASES = [
    ("svamp", "train", 0.65, 0.85),
    ("svamp", "test", 0.65, 0.88),
    ("cqa", "train", 0.70, 0.85),
    ("cqa", "test", 0.70, 0.88),
    ("svamp-mcc", "train", 0.60, 0.85),
    ("gsm8k", "train", 1.0, 1.0),
    ("gsm8k", "test", 1.0, 1.0),
]


@pytest.mark.parametrize(("task", "split", "low", "high"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_teacher_accuracy_is_plausible(shared_data, task, split, low, high):
    records = load_task(task, split, data_dir=shared_data)
    correct, total = teacher_accuracy(records)
    print(f"\n{task}/{split}: teacher accuracy {correct}/{total} = {correct / total:.2%}")
    assert low <= correct / total <= high
    # The parsed answers kept for curation agree with a fresh parse.
    assert [a for r in records for a in r.meta["teacher_answers"]] == [
        extract_answer(t, r.answer_type, r.choices) for r in records for t in r.rationales]


def test_gsm8k_human_solutions_end_on_their_answer(shared_data):
    """Without the answer sentence, the last number of a human solution is nearly always the answer."""
    records = load_task("gsm8k", "train", data_dir=shared_data)
    correct, total = teacher_accuracy(records, strip_answer_sentence)
    print(f"\ngsm8k/train, answer sentence removed (last-number rule): {correct}/{total} = {correct / total:.2%}")
    assert correct / total > 0.97
