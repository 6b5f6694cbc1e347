"""How likely the student finds the gold answer right after the prompt (answer-first students).

Greedy accuracy is coarse for a small student: one that has learnt something, but not enough to
beat the commonest leading digit, scores exactly like one that has learnt nothing. The negative
log-likelihood of the gold answer y given the prompt (teacher-forced, as lm-evaluation-harness
scores choices) moves before accuracy does, and it is comparable across the answer-first
strategies, which all write " y" right after their prompt.
"""

from __future__ import annotations

import torch

from cotdistill.answers import target_answer
from cotdistill.records import Record


def answer_nll(model, tokenizer, strategy, records: list[Record], batch_size: int = 8) -> list[float]:
    """-log p(" y" | prompt) in nats for each record, summed over the answer's tokens."""
    sequences = []
    for record in records:
        prompt = list(tokenizer(strategy.prompt(record), add_special_tokens=True)["input_ids"])
        answer = list(tokenizer(" " + target_answer(record), add_special_tokens=False)["input_ids"])
        sequences.append((prompt, answer))
    scores = []
    for start in range(0, len(sequences), batch_size):
        scores.extend(_batch_nll(model, sequences[start : start + batch_size], tokenizer.pad_token_id or 0))
    return scores


def _batch_nll(model, batch: list[tuple[list[int], list[int]]], pad_id: int) -> list[float]:
    # Right padding: every row's real tokens keep positions 0..n-1, as when scored alone.
    width = max(len(p) + len(a) for p, a in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, (prompt, answer) in enumerate(batch):
        tokens = prompt + answer
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    with torch.inference_mode():
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
    out = []
    for row, (prompt, answer) in enumerate(batch):
        # only the answer's positions are normalised (logits at i predict token i + 1), not the whole vocab x length
        scored = torch.log_softmax(logits[row, len(prompt) - 1 : len(prompt) + len(answer) - 1].float(), dim=-1)
        out.append(-scored[torch.arange(len(answer)), torch.tensor(answer, device=scored.device)].sum().item())
    return out
