"""Adaptive thinking's perception module: which mode (answer first or think first) each question gets.

    fit_perception_module(config, train_loop)   # after training an `adaptive` student (training.train calls it)
    route_questions(model, tokenizer, strategy, records, model_dir)   # before decoding (evaluation calls it)
    mode_for(module.score(features)[0], threshold)                   # one question (`cotdistill serve`)

Labels come from students that did not see the question (held-out folds of the training set); the
module is a logistic probe on the final student's own representation of the question.
"""

from cotdistill.routing.folds import fit_perception_module
from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule, mode_for, question_features, route_questions

__all__ = ["PERCEPTION_FILE", "PerceptionModule", "fit_perception_module", "mode_for", "question_features", "route_questions"]
