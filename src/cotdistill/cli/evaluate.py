"""`cotdistill eval`: decode a trained student on a task with its own strategy, score and time it."""

from __future__ import annotations

from pathlib import Path

import typer

from cotdistill.errors import CotdistillError


def parse_task_options(pairs: list[str]) -> dict:
    """KEY=VALUE pairs, values read as YAML scalars (so size=100 is the number 100)."""
    import yaml

    options = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise CotdistillError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = yaml.safe_load(value) if value else value
    return options


def eval_command(
    model: Path = typer.Option(..., "--model", "-m", help="Trained model folder (written by `cotdistill train`, with cotdistill.json), "
                               "or a routed pair's folder (router.json: a router cell's router/ or its hf export)."),
    task: str = typer.Option(..., "--task", "-t", help="Task name (`cotdistill tasks list`), jsonl:<path> or hf:<id>."),
    out: Path = typer.Option(..., "--out", "-o", help="Metrics JSON to write; predictions go beside it (<stem>.predictions.jsonl)."),
    split: str = typer.Option("test", "--split", help="Split to evaluate on."),
    limit: int = typer.Option(None, "--limit", help="Evaluate on the first K questions only."),
    self_consistency: int = typer.Option(1, "--self-consistency", help="Sample K answers per question and majority-vote (1 = greedy)."),
    explain: bool = typer.Option(False, "--explain", help="Answer-first models: keep generating the rationale after the answer."),
    batch_size: int = typer.Option(8, "--batch-size", help="Questions decoded together."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Most new tokens per question."),
    max_prompt_tokens: int = typer.Option(None, "--max-prompt-tokens", help="Refuse questions whose prompt is longer (default: the model's context less --max-new-tokens)."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature for --self-consistency."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed for --self-consistency."),
    threshold: float = typer.Option(None, "--threshold", help="A routed pair (router folder): think where the router's signal is below this "
                                    "(default: its router.json's; lower: fewer tokens)."),
    dtype: str = typer.Option("float32", "--dtype", help="Weights' dtype while decoding: float32 (the student's own) or bfloat16 "
                              "(on a CPU 1.8x the tokens/s at batch 8, bench/results/decode.md; a nearly tied greedy choice can differ)."),
    engine: str = typer.Option("transformers", "--engine", help="transformers (any device; self-consistency) or llama.cpp: "
                               "the student converted once to a cached f16 GGUF, --batch-size questions in flight, greedy, "
                               "faster on a CPU (bench/results/decode.md)."),
    no_similarity: bool = typer.Option(False, "--no-similarity", help="Skip scoring generated rationales against the reference ones."),
    data_dir: Path = typer.Option(None, "--data-dir", envvar="COTDISTILL_DATA", help="The shared data folder for real tasks (or set COTDISTILL_DATA)."),
    option: list[str] = typer.Option([], "--task-option", help="Task option KEY=VALUE, repeatable (e.g. --task-option size=100)."),
) -> None:
    """Evaluate a trained student: accuracy with a 95% CI, tokens and latency per question.

    The decoding follows the strategy saved in the model folder: answer-first models stop at the
    separator (no rationale tokens unless --explain), pre-thinking runs to EOS.
    """
    from rich.console import Console

    from cotdistill.evaluation import EvalOptions, evaluate, predictions_path

    options = EvalOptions(
        self_consistency=self_consistency, explain=explain, batch_size=batch_size, max_new_tokens=max_new_tokens,
        temperature=temperature, seed=seed, similarity=not no_similarity, max_prompt_tokens=max_prompt_tokens,
        threshold=threshold, dtype=dtype, engine=engine,
    )
    metrics = evaluate(model, task, split=split, limit=limit, data_dir=data_dir, task_options=parse_task_options(option),
                       options=options, out=out, progress=True)
    console = Console()
    low, high = metrics["ci95"]
    console.print(
        f"[bold]{metrics.get('strategy', 'router')}[/] on {task} ({split}, n={metrics['n']}): accuracy {metrics['accuracy']:.3f} "
        f"[{low:.3f}, {high:.3f}], {metrics['mean_generated_tokens']:.1f} tokens/question, "
        f"{metrics['mean_latency_s'] * 1000:.0f} ms/question, {metrics['tokens_per_s']:.1f} tokens/s"
        + (f", rationale similarity {metrics['rationale_similarity']:.3f}" if metrics["rationale_similarity"] is not None else "")
        + (f", gold answer NLL {metrics['mean_answer_nll']:.2f} nats" if "mean_answer_nll" in metrics else "")
        + (f", modes {metrics['modes']}" if "modes" in metrics else "")
    )
    console.print(f"wrote {out} and {predictions_path(out)}")


def register(app: typer.Typer) -> None:
    """Add `cotdistill eval` to the main app."""
    app.command("eval")(eval_command)
