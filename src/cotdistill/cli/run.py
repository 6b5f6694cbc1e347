"""`cotdistill run`: a whole experiment (tasks x strategies x seeds), from teacher data to report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def run_command(
    config: Path = typer.Argument(..., help="Experiment YAML (see examples/quickstart.yaml).", exists=False),
    run_dir: Path = typer.Option(None, "--run-dir", help="Run folder (default: runs/<experiment name>). Re-running resumes it."),
    check: bool = typer.Option(False, "--check", help="Only validate the config and list the cells with what a run would do with each; run nothing."),
    report: bool = typer.Option(True, "--report/--no-report", help="Render the report at the end."),
    split: Optional[str] = typer.Option(None, "--split", help="test or dev: overrides eval.split (dev: choose settings on the dev slice; default run folder runs/<name>-dev)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (1 is faster when another process is busy on a small machine)."),
    task: list[str] = typer.Option([], "--task", help="Run only this task's cells (repeatable); the report shows every finished cell."),
    strategy: list[str] = typer.Option([], "--strategy", help="Run only this strategy's cells: a label (or an unlabelled "
                                       "strategy's name) picks that one, another name all its labelled variants (repeatable)."),
    seed: list[int] = typer.Option([], "--seed", help="Run only this seed's cells (repeatable)."),
    noise: list[float] = typer.Option([], "--noise", help="Run only this noise level's cells (repeatable)."),
    samples: list[int] = typer.Option([], "--samples", help="Run only the cells that keep this many teacher rationales per "
                                      "question, a value of samples_per_question (repeatable)."),
    replace: bool = typer.Option(False, "--replace", help="Re-run finished cells whose settings changed (their results are replaced)."),
    students_from: list[Path] = typer.Option([], "--students-from", help="Run folder whose students, trained with a cell's exact settings, that cell evaluates instead of training its own (repeatable; a test-split run uses runs/<name>-dev by default)."),
    evaluate_only: bool = typer.Option(False, "--evaluate-only", help="Train nothing: fail before any compute if a cell has no "
                                       "student here or in --students-from (else it trains its own)."),
    max_requests: Optional[int] = typer.Option(None, "--max-requests", help="Refuse to start when the teacher stages would send "
                                               "more requests than this in all (their plans are printed)."),
) -> None:
    """Run an experiment: teacher data, curation, training and evaluation per cell, then the report.

    The config is validated in full before any compute. Finished cells are skipped on a re-run and
    cached teacher data and curated sets are shared between cells; a failed cell is recorded in
    cells/<id>/error.json and the others still run (exit code 1 if any failed).
    """
    from rich.console import Console

    from cotdistill.errors import ConfigError
    from cotdistill.files import check_output_folder
    from cotdistill.experiments import load_config, run_experiment

    console = Console()
    experiment = load_config(config)
    if split is not None:
        experiment = with_eval_split(experiment, split, str(config))
    suffix = "-dev" if experiment.eval.split == "dev" and split is not None else ""
    folder = check_output_folder(run_dir or Path("runs") / f"{experiment.name}{suffix}", "--run-dir")
    if threads:
        import torch

        torch.set_num_threads(threads)
    unknown = [t for t in task if t not in {t.name for t in experiment.tasks}]
    unknown += [s for s in strategy if s not in {x for spec in experiment.strategies for x in (spec.id, spec.name)}]
    unknown += [str(n) for n in noise if n not in experiment.noise]
    unknown += [str(k) for k in samples if k not in experiment.samples_per_question]
    if unknown:
        raise ConfigError([f"--task/--strategy/--noise/--samples {name!r} is not in the experiment" for name in unknown],
                          source=str(config))

    # `pst` beside `{name: pst, label: pst-b0}` means the plain pst: a name selects by name only where no label is it
    ids = {spec.id for spec in experiment.strategies}

    def only(cell) -> bool:
        return ((not task or cell.task.name in task) and (not seed or cell.seed in seed) and (not noise or cell.noise in noise)
                and (not samples or cell.samples_per_question in samples)
                and (not strategy or cell.strategy.id in strategy or cell.strategy.name in set(strategy) - ids))

    cells = [c for c in experiment.cells() if only(c)]
    console.print(f"[bold]{experiment.name}[/]: {len(cells)} cells -> {folder}")
    dev_run = Path("runs") / f"{experiment.name}-dev"
    if not students_from and experiment.eval.split == "test" and dev_run.is_dir() and dev_run.resolve() != folder.resolve():
        students_from = [dev_run]  # the students chosen on the dev slice: the test split evaluates them, untrained again
    missing = [str(path) for path in students_from if not (path / "cells").is_dir()]
    if missing:
        raise ConfigError([f"--students-from {path}: not a run folder (no cells/ in it)" for path in missing], source=str(config))
    if check:  # what the run would do, and its refusals, with nothing computed or written
        from cotdistill.experiments import Runner

        plan = Runner(experiment, folder, replace=replace, students_from=students_from, evaluate_only=evaluate_only).plan(cells)
        for cell in cells:
            console.print(f"  {cell.id}: {plan[cell.id]}", markup=False, highlight=False, soft_wrap=True)
    if check or max_requests is not None:
        check_teacher_plans(experiment, folder, cells, max_requests, console)
    if check:
        return
    _quiet_loading_bars()
    summary = run_experiment(experiment, folder, only=only, replace=replace, students_from=students_from, report=report,
                             evaluate_only=evaluate_only, log=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    if summary.report is not None:
        console.print()
        console.print(summary.report.read_text(encoding="utf-8"), markup=False, highlight=False, soft_wrap=True)
        console.print(f"report: {summary.report}")
    console.print(
        f"{len(summary.finished)} finished, {len(summary.skipped)} already done, {len(summary.failed)} failed"
        + (f", {len(summary.busy)} left to the process running them" if summary.busy else "")
        + f" in {summary.seconds:.0f} s"
    )
    for cell_id, why in summary.failed.items():
        console.print(f"[red]failed[/] {cell_id}: {why}", highlight=False, soft_wrap=True)
    if summary.failed:
        raise typer.Exit(1)


def check_teacher_plans(experiment, folder: Path, cells: list, max_requests: int | None, console) -> None:
    """Print what each teacher stage of these cells would request and spend (the stages of a teacher that
    spends nothing, the built-in reference one, only when refused); refuse (exit 2) a total above
    `max_requests` before anything is requested. Reads the stores, writes nothing."""
    from cotdistill.errors import CotdistillError
    from cotdistill.experiments.pipeline import Pipeline

    pipeline = Pipeline(experiment, folder, log=lambda line: None)
    tasks = {cell.task.name: cell.task for cell in cells}
    plans = [plan for task in tasks.values() if (plan := pipeline.teacher_plan(task)) is not None]
    total = sum(plan.requests for plan in plans)
    refused = max_requests is not None and total > max_requests
    for plan in plans:
        if plan.spends or refused:
            console.print(plan.text(), markup=False, highlight=False, soft_wrap=True)
    if refused:
        raise CotdistillError(f"the teacher stages need up to {total:,} requests, more than --max-requests {max_requests:,}; "
                              "nothing was requested: lower samples_per_question or train_size, or raise --max-requests")


def with_eval_split(experiment, split: str, source: str):
    """The experiment evaluated on `split`, validated again (a dev split needs each task's dev_size)."""
    from cotdistill.experiments import parse_config

    data = experiment.model_dump(mode="json")
    data["eval"]["split"] = split
    return parse_config(data, source=f"{source} with --split {split}")


def _quiet_loading_bars() -> None:
    """One line per stage instead of a weight-loading bar per model load."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def register(app: typer.Typer) -> None:
    """Add `cotdistill run` to the main app."""
    app.command("run")(run_command)
