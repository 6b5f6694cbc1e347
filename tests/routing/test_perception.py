"""The router's perception probe and the folds it is scored out of (no model needed)."""

from __future__ import annotations

import pytest
import torch

from cotdistill.errors import DataError
from cotdistill.routing import PERCEPTION_FILE, PerceptionModule
from cotdistill.routing.perception import split_folds


def test_probe_separates_what_a_direction_separates():
    torch.manual_seed(0)
    answerable = torch.randn(40, 8) + torch.tensor([3.0] + [0.0] * 7)  # answer first suffices
    decompose = torch.randn(40, 8) - torch.tensor([3.0] + [0.0] * 7)  # must think first
    module = PerceptionModule.fit(torch.cat([answerable, decompose]), torch.tensor([1] * 40 + [0] * 40))
    assert module.score(answerable).min() > 0.5 > module.score(decompose).max()


def test_one_class_gives_its_smoothed_share_and_no_labels_think_first():
    features = torch.randn(9, 4)
    always = PerceptionModule.fit(features, torch.ones(9))
    assert torch.allclose(always.score(torch.randn(3, 4)), torch.tensor(0.95))  # (9 + 0.5) / (9 + 1)
    never = PerceptionModule.fit(torch.zeros(0, 4), torch.zeros(0))
    assert torch.allclose(never.score(torch.randn(3, 4)), torch.tensor(0.25))  # nothing says answering first suffices


def test_saved_module_scores_the_same(tmp_path):
    module = PerceptionModule.fit(torch.randn(20, 4), torch.tensor([0, 1] * 10))
    module.save(tmp_path / PERCEPTION_FILE)
    features = torch.randn(5, 4)
    assert torch.equal(PerceptionModule.load(tmp_path / PERCEPTION_FILE).score(features), module.score(features))
    with pytest.raises(DataError, match="needs its probe") as error:
        PerceptionModule.load(tmp_path / "absent.safetensors")
    assert "router cell" in str(error.value) and "confidence signal" in str(error.value)


def test_folds_are_disjoint_balanced_and_keep_a_question_together():
    folds = split_folds([f"q{i}" for i in range(7)] + ["q0", "q1"], 2, seed=3)
    assert sorted(len(f) for f in folds) == [3, 4] and not folds[0] & folds[1]
    assert folds[0] | folds[1] == {f"q{i}" for i in range(7)}
    assert split_folds(["a", "b", "c"], 2, seed=3) == split_folds(["c", "b", "a"], 2, seed=3)  # order-free
