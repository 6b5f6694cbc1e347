"""Students that are certain of their outputs: tiny-llama overfit on a few records with a strategy.

Overfitting makes greedy decoding predictable (the model writes its training target), so the tests
can check exactly where decoding stops and what is scored, with the real tokenizer and strategies.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cotdistill.records import Record

RECORDS = [
    Record(id="q1", question="What is 2 + 3?", answer="5", answer_type="numeric",
           rationales=["Two plus three makes five, so the sum is 5."]),
    Record(id="q2", question="What is 4 + 4?", answer="8", answer_type="numeric",
           rationales=["Four and four more are eight in total, giving 8."]),
]


def overfit_student(base: Path, out: Path, strategy_name: str, records=RECORDS, steps: int = 50, **options) -> Path:
    """Copy tiny-llama to `out`, fit it to every target token of `records`, save with cotdistill.json."""
    import torch

    from cotdistill.models import load_causal_lm
    from cotdistill.strategies import PROMPT, get_strategy

    strategy = get_strategy(strategy_name, **options)
    model, tokenizer = load_causal_lm(base)
    if strategy.setup_tokenizer(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    examples = [e for r in records for e in strategy.encode(r, tokenizer)]
    width = max(len(e) for e in examples)
    pad = [width - len(e) for e in examples]  # right padding, masked out of attention and loss
    ids = torch.tensor([e.input_ids + [tokenizer.pad_token_id] * p for e, p in zip(examples, pad)])
    mask = torch.tensor([[1] * len(e) + [0] * p for e, p in zip(examples, pad)])
    labels = torch.tensor(
        [[t if k != PROMPT else -100 for t, k in zip(e.input_ids, e.kinds)] + [-100] * p for e, p in zip(examples, pad)]
    )
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "cotdistill.json").write_text(json.dumps({"strategy": strategy.metadata(), "base_model": str(base)}))
    return out
