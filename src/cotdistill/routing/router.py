"""The adaptive router: an answer-first student answers every question in a few tokens; where its own
answer is unlikely under it (or, with the probe, where the question looks like one it gets wrong), the
question goes on to a think-first student. Each student is trained exactly as its own strategy.

Pure functions over per-question rows (what `cotdistill eval` writes to its predictions file), so a
threshold sweep, the choice of a threshold and the oracle all cost no decoding:

    confidence(logprobs)                     -> {"first", "product", "min"}: P(own answer), three readings
    QuestionPair(id, score, first, think)    one question answered both ways
    sweep(pairs) / choose(points, budget)    every threshold's accuracy and cost; the dev slice's pick
    routed(pairs, threshold) / oracle(pairs) the rows a router (or the best mode per question) produces

A question thinks where its score is below the threshold: threshold 0 never thinks, one above every
score always does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cotdistill.evaluation.metrics import summarise

CONFIDENCE_SIGNALS = ("first", "product", "min")  # readings of the answer tokens' probabilities
PERCEPTION = "perception"  # the probe on the question's representation
SIGNALS = (*CONFIDENCE_SIGNALS, PERCEPTION)
ANSWER_FIRST, THINK_FIRST = "answer-first", "think-first"


def confidence(logprobs: list[float] | tuple[float, ...]) -> dict[str, float]:
    """The probability the answer-first student gives its own greedy answer, read three ways: its first
    token's, the product over its tokens (the whole answer's), and the least likely token's. An empty
    answer has none: 0, so it always thinks."""
    if not logprobs:
        return dict.fromkeys(CONFIDENCE_SIGNALS, 0.0)
    return {"first": math.exp(logprobs[0]), "product": math.exp(sum(logprobs)), "min": math.exp(min(logprobs))}


def answer_logprobs(generation) -> tuple[float, ...]:
    """The answer's own tokens of an answer-first generation: those before the token that ended it (the
    separator, EOS by default). A row cut by the length limit is all answer."""
    ended = generation.stopped_by in ("eos", "stop")
    return tuple(generation.logprobs[: generation.n_tokens - 1 if ended else generation.n_tokens])


@dataclass(frozen=True)
class QuestionPair:
    """One question: the routing score and the answer-first row; the think-first row where it was decoded.
    A row is what evaluation writes per question: correct, generated_tokens, seconds, predicted, ..."""

    id: str
    score: float
    first: dict
    think: dict | None = None


@dataclass(frozen=True)
class Point:
    """A router at one threshold, over a set of questions."""

    threshold: float
    thought: float  # share of questions sent on to the think-first student
    accuracy: float
    tokens: float  # generated tokens per question: answer-first's for all, think-first's for those that thought
    seconds: float  # decoding seconds per question, counted the same way

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "thought": self.thought, "accuracy": self.accuracy,
                "tokens": self.tokens, "seconds": self.seconds}  # fmt: skip


def thinks(score: float, threshold: float) -> bool:
    """The routing rule: a question goes on to the think-first student where its score is below the threshold."""
    return score < threshold


def thresholds(pairs: list[QuestionPair]) -> list[float]:
    """Every threshold that routes differently: 0 (none think), each score (those below it think), and
    just above the highest (all think)."""
    scores = sorted({p.score for p in pairs})
    return sorted({0.0, *scores, math.nextafter(max(scores, default=0.0), math.inf)})


def at_threshold(pairs: list[QuestionPair], threshold: float) -> Point:
    """Accuracy and cost of routing at `threshold` (needs the think-first row of every pair that thinks)."""
    rows = routed(pairs, threshold)
    n = max(len(rows), 1)
    return Point(threshold, sum(r["mode"] == THINK_FIRST for r in rows) / n, sum(r["correct"] for r in rows) / n,
                 sum(r["generated_tokens"] for r in rows) / n, sum(r["seconds"] for r in rows) / n)  # fmt: skip


def sweep(pairs: list[QuestionPair]) -> list[Point]:
    return [at_threshold(pairs, t) for t in thresholds(pairs)]


def choose(points: list[Point], budget: float | None = None) -> Point:
    """The dev slice's threshold: the highest accuracy, fewer generated tokens breaking ties (then the lower
    threshold); with a budget, among the thresholds that send at most that share of questions to think."""
    allowed = [p for p in points if budget is None or p.thought <= budget + 1e-12]
    return max(allowed, key=lambda p: (round(p.accuracy, 12), -p.tokens, -p.threshold))


def routed(pairs: list[QuestionPair], threshold: float) -> list[dict]:
    """Per question, the row the router returns: the think-first row (its tokens and seconds on top of the
    answer-first student's) where the question thinks, else the answer-first row."""
    rows = []
    for pair in pairs:
        if not thinks(pair.score, threshold):
            rows.append({**pair.first, "mode": ANSWER_FIRST, "route_score": pair.score})
            continue
        if pair.think is None:
            raise ValueError(f"question {pair.id} thinks at threshold {threshold} but has no think-first answer")
        rows.append({**pair.think, "mode": THINK_FIRST, "route_score": pair.score,
                     "generated_tokens": pair.first["generated_tokens"] + pair.think["generated_tokens"],
                     "seconds": pair.first.get("seconds", 0.0) + pair.think.get("seconds", 0.0),
                     "answer_first": {k: pair.first.get(k) for k in ("predicted", "correct", "generated_tokens")}})  # fmt: skip
    return rows


def oracle(pairs: list[QuestionPair]) -> list[dict]:
    """The reference a router aims at: per question the cheaper mode that is right (answer first where both
    are, or neither), paying nothing to choose it."""
    rows = []
    for pair in pairs:
        think = pair.think is not None and pair.think["correct"] and not pair.first["correct"]
        rows.append({**(pair.think if think else pair.first), "mode": THINK_FIRST if think else ANSWER_FIRST})
    return rows


def summary(rows: list[dict]) -> dict:
    """Accuracy with its interval, tokens and seconds per question, the share that thought."""
    seconds = sum(r.get("seconds", 0.0) for r in rows)
    metrics = summarise([r["correct"] for r in rows], [r["generated_tokens"] for r in rows], seconds)
    metrics["thought"] = sum(r.get("mode") == THINK_FIRST for r in rows) / max(len(rows), 1)
    return metrics
