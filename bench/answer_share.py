"""Why answer-first students with a rationale after the answer learn the answer slower than answer-only.

Each strategy's training loss is split into its parts, on the same training examples at the same
starting point (SmolLM2-135M-Instruct with fresh LoRA adapters, seed 0): the answer tokens y, the
separator / EOS tokens that follow them, the rationale CE (times b) and PST's semantic loss (times l).
For each part we take its gradient over the trainable weights and measure how far the first AdamW
step moves the answer: Adam's first update is -lr * sign(g) per weight (m / sqrt(v) = g / |g|), so
the answer CE falls by about lr * sum_i g_answer_i * sign(g_total_i). For answer-only that is
lr * ||g_answer||_1; the ratio to it is the share of answer-only's progress a strategy's step keeps.

    cotdistill run bench/suite.yaml --split dev --task coin-flip --seed 0 --strategy answer-only   # makes the data
    .venv/bin/python bench/answer_share.py --data runs/suite-dev/curated/coin-flip-8b6d2ef5ce12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult  # noqa: E402

from cotdistill.strategies import ANSWER, RATIONALE, get_strategy  # noqa: E402
from cotdistill.strategies.base import answer_text  # noqa: E402
from cotdistill.training import load_config  # noqa: E402
from cotdistill.training.data import collate, read_curated  # noqa: E402
from cotdistill.training.losses import marker_states, semantic_loss, token_cross_entropy  # noqa: E402
from cotdistill.training.modeling import load_student, wrap_lora  # noqa: E402

SEP = {"separator": " [SEP]"}  # the old default: 4 SmolLM2 tokens
VARIANTS = [  # (label, strategy, options)
    ("answer-only", "answer-only", {}),
    ("post-thinking ' [SEP]' b=0", "post-thinking", {**SEP, "rationale_weight": 0.0}),
    ("post-thinking ' [SEP]' b=0.1", "post-thinking", {**SEP, "rationale_weight": 0.1}),
    ("post-thinking ' [SEP]' b=1", "post-thinking", SEP),
    ("pst ' [SEP]' b=1 l=1", "pst", SEP),
    ("pst ' [SEP]' b=0 l=1", "pst", {**SEP, "rationale_weight": 0.0}),
    ("post-thinking new [SEP] token b=1", "post-thinking", {"new_separator_token": True}),
    ("post-thinking ' |' b=1", "post-thinking", {"separator": " |"}),
    ("post-thinking newline b=0", "post-thinking", {"separator": "\n", "rationale_weight": 0.0}),
    ("post-thinking newline b=1", "post-thinking", {"separator": "\n"}),
    ("pst newline b=1 l=1", "pst", {"separator": "\n"}),
    ("post-thinking EOS (default) b=1", "post-thinking", {}),
    ("pst EOS (default) b=1 l=1", "pst", {}),
]


def part_masks(strategy, records, examples, tokenizer) -> dict[str, torch.Tensor]:
    """Per target token of each padded example: which loss part reads it (answer, after-answer, rationale)."""
    width = max(len(e) for e in examples)
    masks = {name: torch.zeros(len(examples), width - 1, dtype=torch.bool) for name in ("answer", "after", "rationale")}
    for row, (record, example) in enumerate(zip(records, examples)):
        answer_len = len(tokenizer(" " + answer_text(record), add_special_tokens=False)["input_ids"])
        answer_positions = [i for i, k in enumerate(example.kinds) if k == ANSWER]
        for count, i in enumerate(answer_positions):
            masks["answer" if count < answer_len else "after"][row, i - 1] = True
        for i, k in enumerate(example.kinds):
            if k == RATIONALE:
                masks["rationale"][row, i - 1] = True
    return masks


def loss_parts(model, strategy, records, examples, tokenizer, head=None, table=None) -> dict[str, torch.Tensor]:
    """The strategy's training loss split into parts that sum to it (token means as the loop takes them)."""
    batch = collate(examples, tokenizer.pad_token_id, [table.rows[i] for i in range(len(examples))] if table else None)
    outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=head is not None)
    ce = token_cross_entropy(outputs.logits, batch["input_ids"])
    masks = part_masks(strategy, records, examples, tokenizer)
    spec = strategy.loss_spec()
    answer_count = (masks["answer"] | masks["after"]).sum().clamp(min=1)
    parts = {"answer": ce[masks["answer"]].sum() / answer_count, "after": ce[masks["after"]].sum() / answer_count}
    if spec.rationale_weight and masks["rationale"].any():
        parts["rationale"] = spec.rationale_weight * ce[masks["rationale"]].mean()
    if head is not None:
        states, rows = marker_states(outputs.hidden_states[-1], batch["marker_index"])
        parts["semantic"] = spec.semantic_weight * semantic_loss(head(states), table.matrix[batch["target_row"][rows]])
    return parts


def measure(data: Path, label: str, name: str, options: dict, examples_used: int) -> dict:
    from cotdistill.training.loop import _semantic_setup

    torch.manual_seed(0)
    config = load_config(data=data, strategy=name, student="smollm2-135m-instruct", out=Path("/nonexistent-out"),
                         lora=True, report_to=[], **options)
    strategy = get_strategy(name, **config.strategy_options())
    records, _ = read_curated(data)
    records = records[:examples_used]
    model, tokenizer, added, source = load_student(config, strategy)
    examples = [strategy.encode(r, tokenizer, config.max_len)[0] for r in records]
    head = table = None
    if name == "pst":
        head, table = _semantic_setup(config, strategy, model, tokenizer, source, examples)
    model = wrap_lora(model, config, added)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    parts = loss_parts(model, strategy, records, examples, tokenizer, head, table)
    grads = {}
    for key, value in parts.items():
        grads[key] = torch.cat([g.flatten() for g in torch.autograd.grad(value, params, retain_graph=True)])
    total = sum(grads.values())
    answer = grads["answer"]
    row = {"variant": label, "examples": len(records),
           **{f"norm_{k}": round(float(g.norm()), 4) for k, g in grads.items()},
           "answer_share_of_norm": round(float(answer.norm() / total.norm()), 4),
           "cos_answer_total": round(float(torch.nn.functional.cosine_similarity(answer, total, dim=0)), 4),
           "answer_progress": float((answer * torch.sign(total)).sum()),
           "answer_progress_alone": float(answer.abs().sum())}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="A curated folder (train.jsonl + manifest.json).")
    parser.add_argument("--examples", type=int, default=32, help="Training examples in the one batch measured.")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="Measure only the variants whose label contains one of these.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = BenchResult("answer_share")
    chosen = [v for v in VARIANTS if v is VARIANTS[0] or args.only is None or any(o in v[0] for o in args.only)]
    for label, name, options in chosen:
        row = measure(args.data, label, name, options, args.examples)
        result.rows.append(row)
        print(row, flush=True)
    reference = result.rows[0]["answer_progress"]
    for row in result.rows:
        row["progress_vs_answer_only"] = round(row["answer_progress"] / reference, 3)
    lines = ["| variant | answer grad norm | after-answer | rationale | semantic | answer share of norm | "
             "cos(answer, total) | answer progress of Adam's first step vs answer-only |", "|---|" + "---:|" * 7]
    for r in result.rows:
        lines.append(f"| {r['variant']} | {r['norm_answer']:.3f} | {r.get('norm_after', 0):.3f} | {r.get('norm_rationale', 0):.3f} | "
                     f"{r.get('norm_semantic', 0):.3f} | {r['answer_share_of_norm']:.3f} | {r['cos_answer_total']:.3f} | "
                     f"{r['progress_vs_answer_only']:.3f} |")
    result.write("\n".join([f"Data: `{args.data}` (first {args.examples} examples, one batch), SmolLM2-135M-Instruct, "
                            "fresh LoRA r=16 (seed 0).", "", *lines]))


if __name__ == "__main__":
    main()
