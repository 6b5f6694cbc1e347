"""The router's pure parts against hand-computed values: confidence readings, the threshold sweep, the
dev slice's choice, token accounting and the oracle."""

from __future__ import annotations

import math

import pytest

from cotdistill.evaluation.generation import Generation
from cotdistill.routing.router import QuestionPair, answer_logprobs, choose, confidence, oracle, routed, summary, sweep, thresholds


def test_confidence_reads_the_first_token_the_whole_answer_and_its_least_likely_token():
    got = confidence([math.log(0.9), math.log(0.5), math.log(0.8)])
    assert got == pytest.approx({"first": 0.9, "product": 0.36, "min": 0.5})
    assert confidence([]) == {"first": 0.0, "product": 0.0, "min": 0.0}  # no answer: always thinks


def test_the_answer_is_the_tokens_before_the_one_that_ended_it():
    row = Generation(text=" yes", n_tokens=3, stopped_by="eos", logprobs=(-0.1, -0.2, -0.3))
    assert answer_logprobs(row) == (-0.1, -0.2)  # the EOS separator's probability is not the answer's
    assert answer_logprobs(Generation(text=" ye", n_tokens=2, stopped_by="length", logprobs=(-0.1, -0.2))) == (-0.1, -0.2)


def pair(qid, score, first_right, think_right, first_tokens=2, think_tokens=50):
    return QuestionPair(qid, score, {"id": qid, "correct": first_right, "generated_tokens": first_tokens, "seconds": 0.1, "predicted": "a"},
                        {"id": qid, "correct": think_right, "generated_tokens": think_tokens, "seconds": 1.0, "predicted": "b"})  # fmt: skip


PAIRS = [pair("a", 0.9, True, True), pair("b", 0.6, False, True), pair("c", 0.3, False, True), pair("d", 0.2, True, False)]


def test_a_question_below_the_threshold_pays_both_students_tokens_and_seconds():
    rows = {r["id"]: r for r in routed(PAIRS, 0.5)}
    assert [rows[q]["mode"] for q in "abcd"] == ["answer-first", "answer-first", "think-first", "think-first"]
    assert rows["c"]["generated_tokens"] == 52 and rows["c"]["seconds"] == pytest.approx(1.1)
    assert rows["c"]["correct"] and not rows["d"]["correct"]  # the think-first answer is the one returned
    assert rows["a"]["generated_tokens"] == 2


def test_the_sweep_runs_from_never_thinking_to_always_and_counts_each_point():
    assert thresholds(PAIRS)[:5] == [0.0, 0.2, 0.3, 0.6, 0.9] and thresholds(PAIRS)[5] > 0.9
    points = dict(zip([0.0, 0.2, 0.3, 0.6, 0.9], sweep(PAIRS)))
    assert points[0.0].thought == 0 and points[0.0].accuracy == 0.5 and points[0.0].tokens == 2
    # at 0.9, b, c and d think: a right first, b and c right thinking, d wrong thinking
    assert points[0.9].thought == 0.75 and points[0.9].accuracy == 0.75 and points[0.9].tokens == pytest.approx((2 + 3 * 52) / 4)
    always = sweep(PAIRS)[-1]
    assert always.thought == 1 and always.accuracy == 0.75 and always.tokens == 52


def test_the_dev_choice_is_the_highest_accuracy_then_the_fewest_tokens_and_a_budget_caps_thinking():
    points = sweep(PAIRS)
    best = choose(points)
    # 75% at 0.9 (b, c, d think) and at "always" (all four): 0.9 costs fewer tokens
    assert best.accuracy == 0.75 and best.threshold == pytest.approx(0.9) and best.thought == 0.75
    capped = choose(points, budget=0.25)  # at most one question in four may think: never thinking is best then
    assert capped.threshold == 0.0 and capped.accuracy == 0.5


def test_the_oracle_takes_the_cheaper_right_mode_and_summary_counts_the_share_that_thought():
    rows = oracle(PAIRS)
    assert [r["mode"] for r in rows] == ["answer-first", "think-first", "think-first", "answer-first"]
    result = summary(rows)
    assert result["accuracy"] == 1.0 and result["thought"] == 0.5 and result["mean_generated_tokens"] == (2 + 50 + 50 + 2) / 4
    low, high = result["ci95"]
    assert low < 1.0 == high
