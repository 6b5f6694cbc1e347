"""The training losses as pure functions over tensors (shapes: B batch, T tokens, V vocab, H/D dims).

Token kinds come from `cotdistill.strategies` (PROMPT = 0, ANSWER = 1, RATIONALE = 2); padding
is PROMPT too, so nothing outside a target span ever enters a loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cotdistill.strategies import ANSWER, PROMPT, RATIONALE, LossSpec


def token_cross_entropy(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Per-token CE of predicting input_ids[:, t] from logits[:, t - 1]: (B, T, V), (B, T) -> (B, T - 1)."""
    predicted = logits[:, :-1].float()
    targets = input_ids[:, 1:]
    flat = F.cross_entropy(predicted.reshape(-1, predicted.size(-1)), targets.reshape(-1), reduction="none")
    return flat.view(targets.shape)


def predicts_target(kinds: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: position t's logits predict token t + 1, which some loss reads (never a prompt or pad token).

    Passed to the model as `logits_to_keep`, so the vocabulary projection (the costliest matmul of a
    small student) runs only where a loss needs it.
    """
    keep = torch.zeros_like(kinds, dtype=torch.bool)
    keep[:, :-1] = kinds[:, 1:] != PROMPT
    return keep


def kept_cross_entropy(logits: torch.Tensor, input_ids: torch.Tensor, kinds: torch.Tensor, keep: torch.Tensor):
    """CE and kinds of the kept positions: logits (N, V) for keep's N true positions -> (N,), (N,)."""
    targets = input_ids[:, 1:][keep[:, :-1]]
    target_kinds = kinds[:, 1:][keep[:, :-1]]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets, reduction="none")
    return ce, target_kinds


def masked_mean(values: torch.Tensor, mask: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """Mean of values where mask is true; 0 (still attached to the graph) when the mask is empty.

    With count (how many such values the whole optimizer step has), the sum over count instead: the
    parts of a step cut into micro-batches then add up to the step's mean.
    """
    mask = mask.to(values.dtype)
    denominator = mask.sum() if count is None else torch.tensor(float(count), device=values.device)
    return (values * mask).sum() / denominator.clamp(min=1.0)


def step_counts(kinds: list[torch.Tensor], semantic_rows: int = 0) -> dict[str, int]:
    """Targets of each loss over all micro-batches of one optimizer step, from their (B, T) kinds.

    Each loss is a mean over its own tokens (or semantic rows) in the step; combine_cross_entropy and
    semantic_loss divide each micro-batch's sum by these counts.
    """
    predicted = [k[:, 1:] for k in kinds]  # token 0 is never predicted
    return {
        "answer": sum(int((k == ANSWER).sum()) for k in predicted),
        "rationale": sum(int((k == RATIONALE).sum()) for k in predicted),
        "target": sum(int((k != PROMPT).sum()) for k in predicted),
        "semantic": semantic_rows,
    }


def combine_cross_entropy(
    token_ce: torch.Tensor, target_kinds: torch.Tensor, spec: LossSpec, counts: dict[str, int] | None = None
) -> dict:
    """The strategy's CE loss from per-token CE and the kinds of the predicted tokens (same shape, any).

    Each CE is a token mean over its own tokens in the batch, or in the step with counts (step_counts).
    joint: one mean over all target tokens (pre-thinking's CE(r + y)); else answer_weight * CE(answer) +
    rationale_weight * CE(rationale). Returns {"loss", "answer_ce", "rationale_ce"} (the CE parts for
    logging; detached).
    """
    counts = counts or {}
    answer_ce = masked_mean(token_ce, target_kinds == ANSWER, counts.get("answer"))
    rationale_ce = masked_mean(token_ce, target_kinds == RATIONALE, counts.get("rationale"))
    parts = {"answer_ce": answer_ce.detach(), "rationale_ce": rationale_ce.detach()}
    if spec.joint:
        loss = masked_mean(token_ce, target_kinds != PROMPT, counts.get("target"))
    else:
        loss = spec.answer_weight * answer_ce + spec.rationale_weight * rationale_ce
    return {"loss": loss, **parts}


def semantic_loss(predicted: torch.Tensor, target: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """L_sem = mean over the batch (or sum over the step's count) of 1 - cos(g(h), e(r)): (N, D), (N, D) -> scalar."""
    distance = 1.0 - F.cosine_similarity(predicted.float(), target.float(), dim=-1)
    return distance.mean() if count is None else distance.sum() / max(count, 1)


def marker_rows(marker_index: torch.Tensor) -> torch.Tensor:
    """The rows of a batch that have a marker: (B,) with -1 = none -> (N,)."""
    return (marker_index >= 0).nonzero(as_tuple=True)[0]


def rationale_rows(kinds: torch.Tensor) -> torch.Tensor:
    """The rows of a batch that have rationale tokens: (B, T) -> (N,)."""
    return (kinds == RATIONALE).any(dim=1).nonzero(as_tuple=True)[0]


def marker_states(hidden: torch.Tensor, marker_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states at each sequence's marker: (B, T, H), (B,) with -1 = none -> (N, H) and the rows kept."""
    rows = marker_rows(marker_index)
    return hidden[rows, marker_index[rows]], rows


def rationale_mean_states(hidden: torch.Tensor, kinds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean hidden state over each sequence's rationale tokens: (B, T, H), (B, T) -> (N, H), rows kept."""
    mask = (kinds == RATIONALE).to(hidden.dtype)
    rows = rationale_rows(kinds)
    pooled = (hidden * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0).unsqueeze(-1)
    return pooled[rows], rows


def semantic_row_count(kinds: torch.Tensor, marker_index: torch.Tensor, source: str) -> int:
    """How many rows of a batch the semantic loss reads (the step's count its mean divides by)."""
    return len(marker_rows(marker_index) if source == "marker" else rationale_rows(kinds))


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden states over real (non-padding) tokens: (B, T, H), (B, T) -> (B, H)."""
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def centroids(embeddings: torch.Tensor, groups: list[str]) -> dict[str, torch.Tensor]:
    """Normalised mean of the L2-normalised embeddings (N, D) of each group (question id)."""
    unit = F.normalize(embeddings.float(), dim=-1)
    rows_of: dict[str, list[int]] = {}
    for row, group in enumerate(groups):
        rows_of.setdefault(group, []).append(row)
    return {group: F.normalize(unit[rows].mean(dim=0), dim=-1) for group, rows in rows_of.items()}
