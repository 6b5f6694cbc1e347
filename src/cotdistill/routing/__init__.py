"""The adaptive router: two separately trained students and the rule that picks between them per question.

An answer-first student (post-thinking, pst) answers every question in a few tokens; where its signal is
below the threshold, the question goes on to a think-first student (pre-thinking). Each student is
trained exactly as its own strategy; the router trains nothing.

    router.py      pure functions over per-question rows, no decoding:
                     confidence(logprobs)          the answer-first student's P(its own greedy answer):
                                                   first token, product over its tokens, min token
                     sweep(pairs) / choose(points, budget)   every threshold's accuracy and cost; the
                                                   dev slice's pick (highest accuracy, fewer tokens)
                     routed(pairs, threshold) / oracle(pairs)   the router's rows; the best mode per question
    pair.py        a routed pair on disk (router.json: RouterFile, read_router / write_router) and in use
                   (evaluate_routed: what `cotdistill eval` of a router folder runs); RouterOptions: a
                   `router` cell of a run grid (cotdistill.experiments.router_cell)
    perception.py  the optional probe signal: PerceptionModule on question_features of the answer-first
                   student, fitted by the router cell on the two students' dev-slice answers (split_folds)
"""

from cotdistill.routing.pair import ROUTER, ROUTER_FILE, RouterFile, RouterOptions, evaluate_routed, is_router, read_router, write_router
from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule, question_features, split_folds
from cotdistill.routing.router import (
    ANSWER_FIRST,
    CONFIDENCE_SIGNALS,
    PERCEPTION,
    SIGNALS,
    THINK_FIRST,
    Point,
    QuestionPair,
    answer_logprobs,
    choose,
    confidence,
    oracle,
    routed,
    summary,
    sweep,
)

__all__ = [
    "ANSWER_FIRST", "CONFIDENCE_SIGNALS", "PERCEPTION", "SIGNALS", "THINK_FIRST", "Point", "QuestionPair",
    "answer_logprobs", "choose", "confidence", "oracle", "routed", "summary", "sweep",
    "ROUTER", "ROUTER_FILE", "RouterFile", "RouterOptions", "evaluate_routed", "is_router", "read_router", "write_router",
    "PERCEPTION_FILE", "PerceptionModule", "question_features", "split_folds",
]  # fmt: skip
