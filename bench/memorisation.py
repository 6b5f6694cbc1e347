"""Does an answer-first coin-flip student compute its answer, or memorise it? (not a test)

For each cell of a `cotdistill run` folder it measures, with the cell's own trained student:
- accuracy on the questions it was trained on (the first --train of its curated train.jsonl);
- accuracy on the dev slice it was evaluated on (the questions of the cell's eval.predictions.jsonl);
- for students that write a rationale after their answer (`--explain`), or on a prompt of its own
  (prefix's "[rationale]" task): how often that rationale ends in the right state (its last
  "heads up" / "tails up"; heads up = "yes"), and how often it agrees with the student's answer.
A student that is right on its training questions and at chance on the dev slice memorised them; one
whose rationale is right where its answer is not knows the rule only step by step.

    python bench/memorisation.py --run-dir runs/suite-budget-dev \\
        --cell coin-flip__answer-only-8ep__k1__noise0__seed0 --cell coin-flip__pst-8ep__k1__noise0__seed0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult  # noqa: E402

from cotdistill.evaluation import EvalOptions, evaluate  # noqa: E402
from cotdistill.strategies import PostThinking, Prefix, read_model_metadata, strategy_from_metadata  # noqa: E402
from cotdistill.tasks import load_task  # noqa: E402
from cotdistill.tasks.files import read_jsonl  # noqa: E402
from cotdistill.training.data import read_curated  # noqa: E402

COIN_STATE = re.compile(r"\b(heads|tails) up\b")


def rationale_verdict(rationale: str | None) -> str | None:
    """The answer a coin-flip rationale reaches: its last stated state ("heads up" -> "yes")."""
    states = COIN_STATE.findall(rationale or "")
    return None if not states else ("yes" if states[-1] == "heads" else "no")


def measure(cell: Path, train_questions: int, batch_size: int) -> dict:
    task = json.loads((cell / "cell.json").read_text())["task"]
    model = cell / "model"
    meta = read_model_metadata(model)
    trained, _ = read_curated(meta["data"]["folder"])
    by_id = {r.id: r for r in load_task(task["name"], task["train_split"], data_dir=task["data_dir"])}
    dev = [by_id[row["id"]] for _, row in read_jsonl(cell / "eval.predictions.jsonl")]
    quiet = EvalOptions(batch_size=batch_size, similarity=False, max_new_tokens=192)
    row = {"cell": cell.name, "strategy": meta["strategy"]["name"],
           "train_accuracy": evaluate(model, records=trained[:train_questions], options=quiet)["accuracy"],
           "train_questions": min(train_questions, len(trained))}
    # post-thinking and pst write a rationale after the answer; --explain lets them
    strategy = strategy_from_metadata(meta)
    writes_rationale_after = isinstance(strategy, PostThinking)
    with tempfile.TemporaryDirectory() as scratch:
        predictions = Path(scratch) / "dev.predictions.jsonl"
        metrics = evaluate(model, records=dev, options=dataclasses.replace(quiet, explain=writes_rationale_after),
                           predictions_out=predictions)
        answered = [r for _, r in read_jsonl(predictions)]
    row.update(dev_accuracy=metrics["accuracy"], dev_questions=len(dev))
    if writes_rationale_after or isinstance(strategy, Prefix):
        rationales = ([r["rationale"] for r in answered] if writes_rationale_after
                      else prefix_rationales(model, strategy, dev, batch_size))
        verdicts = [rationale_verdict(r) for r in rationales]
        row["rationale_right"] = sum(v == r["gold"] for v, r in zip(verdicts, answered)) / len(answered)
        row["rationale_agrees_with_answer"] = sum(v == r["predicted"] for v, r in zip(verdicts, answered)) / len(answered)
    print(row, flush=True)
    return row


def prefix_rationales(model_dir: Path, strategy: Prefix, records: list, batch_size: int) -> list[str]:
    """What a prefix student writes for its rationale task ("[rationale] x"), greedy, in batches."""
    from cotdistill.evaluation.generation import DecodeSettings, generate_batch, prepare_tokenizer
    from cotdistill.models import load_causal_lm

    model, tokenizer = load_causal_lm(model_dir)
    prepare_tokenizer(tokenizer)
    settings = DecodeSettings(max_new_tokens=192)
    prompts = [strategy.rationale_prompt(r) for r in records]
    texts = []
    for start in range(0, len(prompts), batch_size):
        rows, _ = generate_batch(model.eval(), tokenizer, prompts[start : start + batch_size], settings)
        texts += [samples[0].text for samples in rows]
    return texts


def markdown(rows: list[dict]) -> str:
    def pct(value):
        return "–" if value is None else f"{100 * value:.0f}%"

    lines = ["| cell | on its training questions | on the dev slice | its rationale right | rationale agrees with its answer |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {pct(r['train_accuracy'])} (n={r['train_questions']}) | {pct(r['dev_accuracy'])} "
                     f"(n={r['dev_questions']}) | {pct(r.get('rationale_right'))} | {pct(r.get('rationale_agrees_with_answer'))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--cell", action="append", required=True, help="cell id under RUN_DIR/cells, repeatable")
    p.add_argument("--train", type=int, default=80, help="training questions to re-ask")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--name", default="memorisation")
    args = p.parse_args()
    result = BenchResult(args.name)
    for cell in args.cell:
        result.rows.append(measure(args.run_dir / "cells" / cell, args.train, args.batch_size))
    result.write(markdown(result.rows))


if __name__ == "__main__":
    main()
