"""Scoring helpers against hand-computed values."""

import pytest

from cotdistill.evaluation.metrics import answer_spread, majority_vote, summarise, wilson_interval


def test_wilson_interval_matches_hand_computed_values():
    # 8/10 at z=1.96: centre (0.8 + 0.19208)/1.38415 = 0.71676, half 0.22652 -> [0.4902, 0.9433]
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_at_the_edges_stays_inside_unit_interval():
    # k=0: [0, z^2/(n+z^2)] = [0, 3.8415/13.8415]; k=n: [n/(n+z^2), 1]
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_majority_vote_ignores_unparsed_and_breaks_ties_by_first_seen():
    assert majority_vote(["3", None, "4", "4", None, None]) == "4"
    assert majority_vote(["b", "a", "a", "b"]) == "b"
    assert majority_vote([None, None]) is None


def test_summarise_divides_time_and_tokens_per_question():
    metrics = summarise([True, False, True, True], [10, 20, 30, 40], total_seconds=2.0, similarities=[0.5, 0.7])
    assert metrics["n"] == 4 and metrics["correct"] == 3
    assert metrics["accuracy"] == 0.75
    assert metrics["mean_generated_tokens"] == 25.0
    assert metrics["mean_latency_s"] == 0.5
    assert metrics["tokens_per_s"] == 50.0
    assert metrics["rationale_similarity"] == pytest.approx(0.6)
    low, high = metrics["ci95"]
    assert low < 0.75 < high


def test_answer_spread_flags_a_student_stuck_on_one_guess():
    spread = answer_spread(["1", "12", "7", None, "1", "15"])
    assert spread == {"distinct_answers": 4, "top_answer": "1", "top_answer_share": 2 / 6,  # share of all questions
                      "top_first_char": "1", "top_first_char_share": 4 / 6}  # "1", "12", "1", "15" start alike
    assert answer_spread([None, None]) == {"distinct_answers": 0, "top_answer": None, "top_answer_share": 0.0,
                                           "top_first_char": None, "top_first_char_share": 0.0}
