"""Pure scoring helpers: accuracy with a Wilson interval, majority voting, and summaries."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

# Two-sided 95% normal quantile.
Z95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (stays inside [0, 1], sane at 0 and n).

    Returns (0.0, 1.0) for n == 0: with no questions nothing is known.
    """
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def majority_vote(predictions: Sequence[str | None]) -> str | None:
    """The most frequent non-empty prediction; ties go to the one seen first (None if there is none)."""
    counts = Counter(p for p in predictions if p is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(p for p in predictions if p is not None and counts[p] == best)


def summarise(
    correct: Sequence[bool],
    generated_tokens: Sequence[int],
    total_seconds: float,
    similarities: Sequence[float] = (),
) -> dict:
    """Aggregate per-question results into the eval metrics.

    Latency is wall time per question: batched decoding is timed per batch and divided evenly over
    its questions, so `mean_latency_s` is total decoding time / n (what a user waits per question at
    this batch size), and `tokens_per_s` is total generated tokens / total decoding time.
    """
    n = len(correct)
    hits = sum(bool(c) for c in correct)
    low, high = wilson_interval(hits, n)
    total_tokens = int(sum(generated_tokens))
    return {
        "n": n,
        "correct": hits,
        "accuracy": hits / n if n else 0.0,
        "ci95": [low, high],
        "mean_generated_tokens": total_tokens / n if n else 0.0,
        "total_generated_tokens": total_tokens,
        "mean_latency_s": total_seconds / n if n else 0.0,
        "tokens_per_s": total_tokens / total_seconds if total_seconds > 0 else 0.0,
        "rationale_similarity": (sum(similarities) / len(similarities)) if similarities else None,
        "n_rationales_scored": len(similarities),
    }


def answer_spread(predicted: Sequence[str | None]) -> dict:
    """How varied the predicted answers are: a student that collapsed onto a few constant guesses
    (a common failure of small answer-first students) shows few distinct answers and a large top share.

    The first character too: a student writes a number digit by digit, so the first thing an
    answer-first student decides is the leading digit; one that learnt only the answer prior starts
    nearly every answer with the same character.
    """
    answered = [p for p in predicted if p is not None]
    if not answered:
        return {"distinct_answers": 0, "top_answer": None, "top_answer_share": 0.0, "top_first_char": None,
                "top_first_char_share": 0.0}
    top, count = Counter(answered).most_common(1)[0]
    first, first_count = Counter(p[:1] for p in answered).most_common(1)[0]
    return {"distinct_answers": len(set(answered)), "top_answer": top, "top_answer_share": count / len(predicted),
            "top_first_char": first, "top_first_char_share": first_count / len(predicted)}
