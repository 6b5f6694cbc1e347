"""Evaluation: decode a trained student with its own strategy, score it, time it.

    from cotdistill.evaluation import evaluate, EvalOptions
    metrics = evaluate("runs/x/model", "synth-coin-flip", options=EvalOptions(batch_size=8), out="eval.json")
"""

from cotdistill.evaluation.evaluate import EvalOptions, evaluate, predictions_path
from cotdistill.evaluation.metrics import majority_vote, summarise, wilson_interval

__all__ = ["EvalOptions", "evaluate", "majority_vote", "predictions_path", "summarise", "wilson_interval"]
