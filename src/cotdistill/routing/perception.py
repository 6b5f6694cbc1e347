"""The perception probe: a logistic probe on the answer-first student's mean hidden state over the question.

The router's optional signal (routing.router.PERCEPTION), beside the answer-first student's confidence
in its own answer. The paper tunes a soft prompt on the student; a linear probe on the same frozen
representation is the smallest module that reads the question alone, fits in seconds on a CPU, and
keeps no second model. Its score is P(answering first is right); the router sends a question on to the
think-first student where the score is below its threshold. The router cell fits it on the two
students' own right and wrong answers on the dev slice, scored out of fold (`split_folds`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from cotdistill.errors import DataError

PERCEPTION_FILE = "perception.safetensors"  # in the router's folder, beside router.json


def question_features(model, tokenizer, prompts: list[str], batch_size: int = 16) -> torch.Tensor:
    """Mean of the last layer's hidden states over each prompt's tokens, [n, hidden], float32 on the CPU."""
    rows = []
    with torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            encoded = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(model.device)
            hidden = model(**encoded, output_hidden_states=True).hidden_states[-1].float()
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).cpu())
    return torch.cat(rows) if rows else torch.zeros(0, model.config.hidden_size)


def student_features(model_dir: Path, records: list, batch_size: int = 16) -> torch.Tensor:
    """question_features of a student folder on its own prompts for the records."""
    from cotdistill.evaluation.generation import prepare_tokenizer
    from cotdistill.models import inference_device, load_causal_lm
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    strategy = strategy_from_metadata(read_model_metadata(model_dir))
    model, tokenizer = load_causal_lm(str(model_dir))
    model.to(inference_device()).eval()
    prepare_tokenizer(tokenizer)
    return question_features(model, tokenizer, [strategy.prompt(r) for r in records], batch_size)


def split_folds(questions: list[str], k: int, seed: int) -> list[set[str]]:
    """k disjoint folds of the questions, seeded, sizes within one of each other."""
    order = sorted(set(questions))
    random.Random(seed).shuffle(order)
    return [set(order[i::k]) for i in range(k)]


@dataclass
class PerceptionModule:
    """score(x) = sigmoid(w . (x - mean) / scale + b)."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    @classmethod
    def fit(cls, features: torch.Tensor, labels: torch.Tensor, l2: float = 1.0, steps: int = 100) -> "PerceptionModule":
        """L2-regularised logistic regression (L-BFGS on standardised features).

        One class only gives a constant score near that class's smoothed share (nothing in the question
        tells the modes apart); no labels at all give 0.25, below any sensible threshold: nothing
        says answering first suffices, so every question goes on to think.
        """
        if not len(labels):
            features, labels = torch.zeros(1, features.shape[1]), torch.zeros(1)
        mean, scale = features.mean(0), features.std(0, unbiased=False).clamp_min(1e-6)
        x, y = (features - mean) / scale, labels.float()
        prior = (y.sum() + 0.5) / (len(y) + 1.0)  # +0.5 / +1: a one-class fit stays off 0 and 1
        weight = torch.zeros(x.shape[1], requires_grad=True)
        bias = torch.logit(prior).reshape(1).clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weight + bias, y)
            loss = loss + l2 / len(y) * weight.square().sum()
            loss.backward()
            return loss

        if 0 < y.sum() < len(y):
            optimizer.step(closure)
        return cls(mean, scale, weight.detach(), bias.detach())

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((features - self.mean) / self.scale @ self.weight + self.bias)

    def save(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        from safetensors.torch import save_file

        tensors = {"mean": self.mean, "scale": self.scale, "weight": self.weight, "bias": self.bias}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: Path) -> "PerceptionModule":
        from safetensors.torch import load_file

        if not path.is_file():
            raise DataError(path, "missing: a router with signal 'perception' needs its probe",
                            hint="the router cell of `cotdistill run` fits it on the dev slice (run it with --split dev); "
                                 "or use a confidence signal (first, product or min)")  # fmt: skip
        tensors = load_file(str(path))
        return cls(tensors["mean"], tensors["scale"], tensors["weight"], tensors["bias"])
