"""Run a benchmark experiment (bench/experiments/*.yaml) and write bench/results/<name>.{md,json}.

Every benchmark grid is a plain `cotdistill run` experiment. This script runs it the same way, in
the same run folder (runs/<name>, or runs/<name>-dev with --split dev; resumable, and shared with
`cotdistill run`), and adds only what a benchmark needs besides:

- each cell's weights and last checkpoint are deleted once the cell is evaluated (about 1 GB per
  cell; its cotdistill.json, training log and predictions stay); --keep-models keeps them;
- the result files: the run's report (accuracy with the floors and the learning gate, tokens and
  latency, plots) and one row per cell, with the exact command, machine, package versions and wall
  time (bench/common.py).

    .venv/bin/python bench/run.py bench/experiments/accuracy-quick.yaml            # -> bench/results/accuracy-quick.*
    .venv/bin/python bench/run.py bench/experiments/accuracy-quick.yaml --split dev  # -> accuracy-quick-dev.*
    .venv/bin/python bench/run.py bench/experiments/accuracy.yaml --results-only     # rewrite them from the finished cells
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, BenchResult  # noqa: E402

from cotdistill.errors import CotdistillError  # noqa: E402
from cotdistill.experiments import ExperimentConfig, load_config, run_experiment  # noqa: E402
from cotdistill.experiments.pipeline import Pipeline  # noqa: E402


class BenchPipeline(Pipeline):
    """The runner's pipeline, plus: evaluate again at other batch sizes (latency), then drop the weights."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, *, keep_models: bool = False,
                 extra_batch_sizes: tuple[int, ...] = (), log=print):
        super().__init__(config, run_dir, log=log)
        self.keep_models = keep_models
        # the same evaluation at another batch size: a pipeline whose only difference is eval.batch_size
        self.at_batch_size = {
            size: Pipeline(config.model_copy(update={"eval": config.eval.model_copy(update={"batch_size": size})}),
                           run_dir, log=log)
            for size in extra_batch_sizes}

    def evaluate(self, cell, model_dir: Path, predictions: Path) -> dict:
        metrics = super().evaluate(cell, model_dir, predictions)
        for size, pipeline in self.at_batch_size.items():
            again = pipeline.evaluate(cell, model_dir, predictions.with_name(f"eval_b{size}.predictions.jsonl"))
            metrics.update({f"{field}_b{size}": again[field] for field in
                            ("accuracy", "mean_generated_tokens", "mean_latency_s", "tokens_per_s") if field in again})
        if not self.keep_models:
            drop_weights(model_dir)
        return metrics


def drop_weights(model_dir: Path) -> None:
    """Delete a trained cell's weights and checkpoints (0.5 GB each); metadata, logs and predictions stay.

    trained.json loses its train key, so a cell that must be evaluated again (other eval settings)
    is retrained instead of evaluated on weights that are gone; its timings stay for the estimate.
    """
    for weights in model_dir.glob("*.safetensors"):
        weights.unlink()
    shutil.rmtree(model_dir / "checkpoints", ignore_errors=True)
    trained = model_dir.parent / "trained.json"
    if trained.is_file():
        record = json.loads(trained.read_text(encoding="utf-8"))
        trained.write_text(json.dumps({**record, "train_key": None, "weights_deleted": True}, indent=1), encoding="utf-8")


def cells_table(rows: list[dict]) -> str:
    """One line per cell: accuracy, the answer spread (a student stuck on one guess shows a large top
    share and few distinct answers), the gold answer's NLL, cost and training size."""
    def number(value, spec: str) -> str:
        return "" if value is None else format(value, spec)

    lines = ["| task | strategy | seed | noise | k | n | accuracy % | ci95 | distinct | top answer | top first char "
             "| answer NLL | tokens/q | latency/q (s) | train ex | train s |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        head = f"| {r.get('task')} | {r.get('strategy')} | {r.get('seed')} | {r.get('noise') or 0:g} | {r.get('samples_per_question')} |"
        if r["status"] != "ok":
            lines.append(f"{head} failed: {str(r.get('error', ''))[:120]} |" + " |" * 10)
            continue
        top = f"\"{r['top_answer']}\" {100 * r['top_answer_share']:.0f}%" if r.get("top_answer") is not None else ""
        first = (f"\"{r['top_first_char']}\" {100 * r['top_first_char_share']:.0f}%"
                 if r.get("top_first_char") is not None else "")
        lines.append(f"{head} {r['n']:g} | {100 * r['accuracy']:.1f} | [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}] | "
                     f"{number(r.get('distinct_answers'), 'd')} | {top} | {first} | {number(r.get('mean_answer_nll'), '.2f')} | "
                     f"{number(r.get('mean_generated_tokens'), '.1f')} | {number(r.get('mean_latency_s'), '.3f')} | "
                     f"{number(r.get('train_examples'), 'd')} | {number(r.get('train_seconds'), '.0f')} |")
    return "\n".join(lines)


def write_results(config: ExperimentConfig, experiment: Path, run_dir: Path, name: str, *, results_dir: Path = RESULTS,
                  started: float | None = None, rerender: bool = False, extra_markdown=None) -> Path:
    """bench/results/<name>.{md,json} from the run folder's cells (finished or failed), and the
    report's plots in bench/results/<name>/; `extra_markdown(rows)` adds a benchmark's own section."""
    from cotdistill.reports import collect_rows, render_report

    rows = collect_rows(run_dir)
    result = BenchResult(name, rows=rows, rerender=rerender)
    if started is not None:
        result.started = started
    report = render_report(rows, results_dir / name, title=name)
    tables = report.read_text(encoding="utf-8").split("\n", 1)[1].replace("](", f"]({name}/")
    expected, finished = len(config.cells()), sum(r["status"] == "ok" for r in rows)
    train_seconds = sum(r.get("train_seconds") or 0 for r in rows)
    result.extra = {
        "experiment": str(experiment), "run_dir": str(run_dir), "eval_split": config.eval.split,
        "cells": expected, "finished": finished, "train_seconds_total": round(train_seconds, 1),
        # a re-render keeps the load of the run that timed the cells
        "load_average_1_5_15min": result.earlier_run(results_dir).get("load_average_1_5_15min")
        or [round(x, 2) for x in os.getloadavg()],
        "config": config.model_dump(mode="json"),
    }
    partial = (f"**Partial: {finished} of {expected} cells finished** (the others failed or have not run yet).\n\n"
               if finished < expected else "")
    body = (partial + f"Experiment `{experiment}` (its settings are in the JSON's `config`), student {config.student}, evaluated on the "
            f"**{config.eval.split}** split; run folder `{run_dir}`. Training time of the cells, summed: "
            f"{train_seconds / 60:.1f} min; machine load average when the results were written "
            f"{result.extra['load_average_1_5_15min']} on {os.cpu_count()} cores (a shared machine is slower "
            "than an idle one).\n\n" + tables + "\n## Cells\n\n" + cells_table(rows) + "\n"
            + (extra_markdown(rows) if extra_markdown else ""))
    return result.write(body, results_dir=results_dir)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", type=Path, help="An experiment YAML, e.g. bench/experiments/accuracy.yaml.")
    p.add_argument("--split", choices=("test", "dev"), default=None,
                   help="Override eval.split (dev: the dev slice of train, for any tuning; never tune on test).")
    p.add_argument("--run-dir", type=Path, default=None, help="Run folder (default: runs/<name>, runs/<name>-dev).")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is several times faster on a crowded 2-core machine).")
    p.add_argument("--replace", action="store_true",
                   help="Re-run finished cells whose settings changed (as `cotdistill run --replace`).")
    p.add_argument("--keep-models", action="store_true", help="Keep each cell's weights (about 1 GB per cell).")
    p.add_argument("--results-only", action="store_true",
                   help="Rewrite the result files from the cells finished so far; run nothing.")
    p.add_argument("--results", type=Path, default=RESULTS, help="Where <name>.{md,json} go (default bench/results).")
    return p


def main(argv: list[str] | None = None, *, description: str = __doc__, extra_batch_sizes: tuple[int, ...] = (),
         extra_markdown=None) -> int:
    """Run (or resume) the experiment and write its result files; the exit code is 1 if a cell failed.

    `extra_markdown(rows)` appends a benchmark's own comparison to the result file (bench/speed.py)."""
    from cotdistill.cli.run import with_eval_split

    args = parser(description).parse_args(argv)
    started = time.perf_counter()
    config = load_config(args.experiment)
    dev = args.split == "dev"
    if args.split is not None:
        config = with_eval_split(config, args.split, str(args.experiment))
    name = config.name + ("-dev" if dev else "")
    run_dir = args.run_dir or Path("runs") / name  # where `cotdistill run` puts it too
    failed = False
    if not args.results_only:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        pipeline = BenchPipeline(config, run_dir, keep_models=args.keep_models, extra_batch_sizes=extra_batch_sizes)
        try:
            summary = run_experiment(config, run_dir, pipeline=pipeline, replace=args.replace)
        except CotdistillError as error:  # e.g. finished cells with other settings and no --replace
            print(f"error: {error}", file=sys.stderr)
            return 2
        failed = not summary.ok
    path = write_results(config, args.experiment, run_dir, name, results_dir=args.results, started=started,
                         rerender=args.results_only, extra_markdown=extra_markdown)
    print(f"results: {path} and {path.with_suffix('.json')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
