"""The loss functions against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from cotdistill.strategies import ANSWER as A, PROMPT as P, RATIONALE as R, LossSpec
from cotdistill.training.losses import (
    centroids,
    combine_cross_entropy,
    kept_cross_entropy,
    marker_states,
    masked_mean,
    mean_pool,
    predicts_target,
    rationale_mean_states,
    semantic_loss,
    semantic_row_count,
    step_counts,
    token_cross_entropy,
)


def test_token_cross_entropy_shifts_by_one():
    # Vocabulary of 2. Position 0 predicts token 1 with p = 3/4 (logits 0, ln 3); position 1 is uniform.
    logits = torch.tensor([[[0.0, math.log(3)], [0.0, 0.0], [9.0, 9.0]]])
    input_ids = torch.tensor([[0, 1, 0]])
    ce = token_cross_entropy(logits, input_ids)
    assert ce.shape == (1, 2)
    assert ce[0, 0].item() == pytest.approx(-math.log(3 / 4))
    assert ce[0, 1].item() == pytest.approx(math.log(2))


TOKEN_CE = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
KINDS = torch.tensor([[P, A, R, R], [P, P, A, P]])  # answer tokens: 2, 7; rationale: 3, 4


def test_post_thinking_weights_each_mean():
    parts = combine_cross_entropy(TOKEN_CE, KINDS, LossSpec(answer_weight=1.0, rationale_weight=0.5))
    assert parts["answer_ce"].item() == pytest.approx(4.5)  # (2 + 7) / 2
    assert parts["rationale_ce"].item() == pytest.approx(3.5)  # (3 + 4) / 2
    assert parts["loss"].item() == pytest.approx(4.5 + 0.5 * 3.5)


def test_prefix_alpha_mix():
    parts = combine_cross_entropy(TOKEN_CE, KINDS, LossSpec(answer_weight=0.3, rationale_weight=0.7))
    assert parts["loss"].item() == pytest.approx(0.3 * 4.5 + 0.7 * 3.5)


def test_pre_thinking_is_one_mean_over_all_targets():
    parts = combine_cross_entropy(TOKEN_CE, KINDS, LossSpec(joint=True))
    assert parts["loss"].item() == pytest.approx((2 + 3 + 4 + 7) / 4)


def test_prompt_tokens_never_count():
    bigger_prompt = TOKEN_CE.clone()
    bigger_prompt[KINDS == P] = 1000.0
    for spec in (LossSpec(1.0, 1.0), LossSpec(joint=True)):
        assert combine_cross_entropy(bigger_prompt, KINDS, spec)["loss"] == combine_cross_entropy(TOKEN_CE, KINDS, spec)["loss"]


def test_micro_batches_with_step_counts_add_up_to_the_step_mean():
    # TOKEN_CE's two rows as two micro-batches of one step: each divides by the step's counts, so
    # their sum is the one-batch loss. Averaging the micro-batches' own means would halve the
    # rationale CE: (3.5 + 0) / 2, the second row having no rationale token.
    kinds = torch.tensor([[P, P, A, R, R], [P, P, P, A, P]])  # as KINDS, with the unpredicted token 0
    counts = step_counts([kinds[:1], kinds[1:]])
    assert counts == {"answer": 2, "rationale": 2, "target": 4, "semantic": 0}
    for spec in (LossSpec(answer_weight=0.5, rationale_weight=0.5), LossSpec(joint=True)):
        whole = combine_cross_entropy(TOKEN_CE, KINDS, spec)
        parts = [combine_cross_entropy(TOKEN_CE[i : i + 1], KINDS[i : i + 1], spec, counts) for i in (0, 1)]
        for key in ("loss", "answer_ce", "rationale_ce"):
            assert (parts[0][key] + parts[1][key]).item() == pytest.approx(whole[key].item())


def test_semantic_loss_over_a_step_count():
    predicted = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    target = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # distances 1 and 2
    assert semantic_loss(predicted, target, count=4).item() == pytest.approx(3 / 4)
    kinds = torch.tensor([[P, A, R], [P, A, P], [P, R, R]])
    assert semantic_row_count(kinds, torch.tensor([1, -1, -1]), "marker") == 1
    assert semantic_row_count(kinds, torch.tensor([1, -1, -1]), "rationale-mean") == 2


def test_empty_kind_gives_zero_with_gradient():
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    mean = masked_mean(values, torch.tensor([False, False]))
    assert mean.item() == 0.0 and mean.requires_grad


def test_semantic_loss_is_one_minus_cosine():
    predicted = torch.tensor([[2.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 3.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    expected = (0.0 + 1.0 + 2.0 + (1 - 1 / math.sqrt(2))) / 4
    assert semantic_loss(predicted, target).item() == pytest.approx(expected)


def test_marker_states_skip_sequences_without_marker():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)
    states, rows = marker_states(hidden, torch.tensor([2, -1]))
    assert rows.tolist() == [0]
    assert states.tolist() == [[4.0, 5.0]]


def test_rationale_mean_states():
    hidden = torch.tensor([[[1.0], [2.0], [4.0]], [[1.0], [1.0], [1.0]]])
    kinds = torch.tensor([[P, R, R], [P, A, P]])
    states, rows = rationale_mean_states(hidden, kinds)
    assert rows.tolist() == [0] and states.tolist() == [[3.0]]


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_centroids_are_normalised_means_of_unit_vectors():
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 5.0], [0.0, -1.0]])
    out = centroids(embeddings, ["q1", "q1", "q2"])
    s = 1 / math.sqrt(2)
    assert out["q1"].tolist() == pytest.approx([s, s])  # mean of (1, 0) and (0, 1), normalised
    assert out["q2"].tolist() == pytest.approx([0.0, -1.0])


def test_kept_positions_give_the_same_ce_as_full_logits():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    input_ids = torch.randint(0, 7, (2, 5))
    kinds = torch.tensor([[P, P, A, R, R], [P, A, A, P, P]])
    keep = predicts_target(kinds)
    assert keep.tolist() == [[False, True, True, True, False], [True, True, False, False, False]]
    ce, kept_kinds = kept_cross_entropy(logits[keep], input_ids, kinds, keep)
    full = token_cross_entropy(logits, input_ids)
    assert torch.allclose(ce, full[kinds[:, 1:] != P])
    assert kept_kinds.tolist() == [A, R, R, A, A]
    spec = LossSpec(answer_weight=1.0, rationale_weight=0.5)
    assert combine_cross_entropy(ce, kept_kinds, spec)["loss"] == pytest.approx(
        combine_cross_entropy(full, kinds[:, 1:], spec)["loss"].item()
    )
