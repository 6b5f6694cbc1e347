"""The suite benchmark's result file: a finished (or partly finished) `cotdistill run bench/suite.yaml`
rendered with the reference columns the run's own report does not have.

Per task: each strategy's accuracy with its 95% interval, whether it learnt (the gate), tokens and
latency per question; the floors; the teacher's accuracy on the same questions (its answer stage,
read from the imported file); Fine-tune-CoT's published students (../shared/ANCHORS.md: GPT-2 124M,
T5-base 220M, GPT-3 ada 0.3B, vanilla and Fine-tune-CoT; they chose their epoch on the test set).

    .venv/bin/python bench/suite.py                                # runs/suite -> bench/results/suite.*
    .venv/bin/python bench/suite.py --run-dir runs/suite-dev --name suite-dev

Several --run-dir render as one run: a grid split across processes (one per k, say, each with its own
config) whose configs agree on the student, tasks, teacher, curation, training and evaluation; each
cell is checked against its own run's config.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, BenchResult  # noqa: E402

from cotdistill.errors import CotdistillError, NoTeacherOutputs  # noqa: E402
from cotdistill.experiments import run_config  # noqa: E402
from cotdistill.experiments.pipeline import import_source, task_questions  # noqa: E402
from cotdistill.reports import collect_rows  # noqa: E402
from cotdistill.reports.aggregate import compare, ordered, summarise_rows  # noqa: E402
from cotdistill.reports.tables import accuracy_cell, cost_cell, decoding_note, percent  # noqa: E402

# Fine-tune-CoT's published test accuracy (%), ../shared/ANCHORS.md: (vanilla fine-tune, Fine-tune-CoT).
PUBLISHED = {
    "GPT-2 124M": {"multiarith": (12.22, 8.33), "svamp-zs": (10.33, 4.33), "shuffled-objects": (33.78, 38.67),
                   "last-letters": (1.33, 4.67), "coin-flip": (60.00, 77.33), "strategyqa": (54.44, 55.75)},
    "T5-base 220M": {"multiarith": (15.00, 10.56), "svamp-zs": (8.67, 7.00), "shuffled-objects": (37.78, 42.67),
                     "last-letters": (44.00, 47.33), "coin-flip": (100, 98.67), "strategyqa": (59.24, 55.90)},
    "GPT-3 ada 0.3B": {"multiarith": (8.89, 6.11), "svamp-zs": (7.67, 5.00), "shuffled-objects": (32.44, 49.33),
                       "last-letters": (28.67, 50.67), "coin-flip": (100, 99.33), "strategyqa": (60.41, 52.55)},
}


def teacher_accuracy(config, task) -> float | None:
    """The teacher's accuracy (first completion's answer stage) on the questions the run evaluated."""
    from cotdistill.store import RationaleStore
    from cotdistill.store.importers import import_outputs

    settings = task.teacher or config.teacher
    if "import" not in settings:
        return None
    evaluated = task_questions(task, config.data_seed).evaluated(config.eval.split)
    split = task.test_split if config.eval.split == "test" else (task.dev_split or task.train_split)
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "teacher.sqlite"
        try:
            import_outputs(store, settings["import"], task=task.name, split=split, path=import_source(settings, task),
                           data_dir=task.data_dir, questions={r.id for r in evaluated})
        except NoTeacherOutputs:  # the source explains only training questions (svamp-mcc): no teacher column
            return None
        with RationaleStore(store) as db:
            firsts = [s for s in db.samples() if s.sample_index == 0]
    return sum(bool(s.correct) for s in firsts) / len(evaluated) if evaluated else None


def current_rows(config, rows: list[dict]) -> tuple[list[dict], list[str]]:
    """The rows of cells run with the config's present settings, and the ids of finished cells that were not
    (a budget changed since): the budget printed above a table must be the one its students trained with."""
    from cotdistill.experiments.runner import eval_key

    keys = {cell.id: eval_key(config, cell) for cell in config.cells()}
    stale = [r["cell_id"] for r in rows if r.get("status") == "ok" and keys.get(r.get("cell_id")) != r.get("eval_key")]
    return [r for r in rows if r.get("cell_id") not in stale], stale


def task_section(config, task, summaries, teacher: float | None, split: str) -> list[str]:
    strategies = ordered(s.strategy for s in summaries)
    mine = sorted((s for s in summaries if s.task == task.name), key=lambda s: (strategies.index(s.strategy), s.slice))
    floors = next((s.floors for s in mine if s.floors), None) or {}
    budget = {**config.training, **task.training}
    own = [f"{s.id} ({', '.join(f'{k} {v}' for k, v in s.training.items())})" for s in config.strategies if s.training]
    lines = [f"## {task.name}", "", "Training budget: " + ", ".join(
        f"{k} {budget[k]}" for k in ("epochs", "max_steps", "lr", "batch_size", "lora_r") if k in budget)
        + (f"; strategies with their own: {'; '.join(own)}" if own else "") + ".", ""]
    if floors:
        lines.append(f"{floors['n']} {split} questions. Best constant answer: {percent(floors['best_constant_accuracy'])}% "
                     f"(\"{floors['best_constant_answer']}\"); commonest training answer: "
                     f"{percent(floors['constant_accuracy'])}% (\"{floors['constant_answer']}\"). "
                     + (f"Teacher (text-davinci-002, zero-shot-CoT): {100 * teacher:.1f}%." if teacher is not None else ""))
        lines.append("")
    lines += ["| strategy | accuracy % | learnt | tokens, latency per question |", "|---|---:|---|---:|"]
    several_k = len({s.samples_per_question for s in mine}) > 1
    for s in mine:
        verdict = {True: "yes", False: "**no**", None: "?"}[s.learnt]
        lines.append(f"| {slice_label(s, k=several_k)} | {accuracy_cell(s)} | {verdict} | {cost_cell(s)} |")
    references = [(f"{who} {kind}", values[task.name][i]) for who, values in PUBLISHED.items() if task.name in values
                  for i, kind in enumerate(("vanilla", "Fine-tune-CoT"))]
    if references:
        lines += ["", "Fine-tune-CoT's published students, on the test split (full fine-tuning, 20 epochs, the epoch "
                  "chosen on the test set): " + ", ".join(f"{who} {value:.1f}" for who, value in references) + "."]
    several = len({(x.noise, x.samples_per_question) for x in mine}) > 1
    pairs = [(f"{slice_label(a, strategy=False)}: " if several else "") + compare(a, b)
             for i, a in enumerate(mine) for b in mine[i + 1:]
             if (a.noise, a.samples_per_question) == (b.noise, b.samples_per_question)]
    if pairs or several:
        lines += ["", *[f"- {p}" for p in pairs + noise_drops(mine) + volume_gains(mine)]]
    return lines + [""]


def mode_lines(rows: list[dict], task: str) -> list[str]:
    """Where router cells sent their questions, per seed: answered by the answer-first student alone, or
    sent on to the think-first student."""
    lines = []
    for row in rows:
        if row.get("status") == "ok" and row["task"] == task and row.get("modes"):
            modes, n = row["modes"], sum(row["modes"].values())
            lines.append(f"- {row['strategy']}, seed {row['seed']}: answered first on {modes.get('answer-first', 0)} of {n} "
                         f"questions, sent on to think first on {modes.get('think-first', 0)} (the router's choice)")
    return lines + [""] if lines else []


def goal_lines(config, summaries) -> list[str]:
    """Issue 15's goals per task, on the clean single-rationale cells: the best student's margin over the best
    constant answer, the published Fine-tune-CoT students beside it, and pst against pre-thinking."""
    lines = ["## Goals per task", "",
             "| task | best student | over best constant | GPT-2 124M Fine-tune-CoT | T5-base 220M Fine-tune-CoT "
             "| pst vs pre-thinking |", "|---|---:|---:|---:|---:|---:|"]
    for task in config.tasks:
        mine = [s for s in summaries if s.task == task.name and not s.noise and s.samples_per_question == 1]
        if not mine:
            continue
        best = max(mine, key=lambda s: s.accuracy)
        floor = (best.floors or {}).get("best_constant_accuracy")
        margin = f"{100 * (best.accuracy - floor):+.1f}" if floor is not None else "?"
        gpt2, t5 = (PUBLISHED[who].get(task.name, (None, None))[1] for who in ("GPT-2 124M", "T5-base 220M"))
        pair = pst_and_pre_thinking(mine)
        duel = compare(*pair) if pair else "not run"
        lines.append(f"| {task.name} | {best.strategy} {100 * best.accuracy:.1f} | {margin} | "
                     f"{'' if gpt2 is None else f'{gpt2:.1f}'} | {'' if t5 is None else f'{t5:.1f}'} | {duel} |")
    return lines + ["", "Points; the published students on the test split whatever this file's split is.", ""]


def pst_and_pre_thinking(mine) -> tuple | None:
    """(pst, pre-thinking) among one task's clean summaries, None unless both ran."""
    versus = {s.strategy: s for s in mine if s.strategy in ("pst", "pre-thinking")}
    return (versus["pst"], versus["pre-thinking"]) if len(versus) == 2 else None


def slice_label(s, strategy: bool = True, k: bool = False) -> str:
    """The strategy, with the noise level and rationales per question where they are not the defaults
    (`k`: name the rationales per question even at 1, where the task has several)."""
    parts = [s.strategy] if strategy else []
    if s.noise or not strategy:  # a slice named without its strategy names its noise level, even 0
        parts.append(f"noise {s.noise:g}")
    if s.samples_per_question != 1 or k:
        parts.append(f"k = {s.samples_per_question}")
    return ", ".join(parts)


def noise_drops(mine) -> list[str]:
    """Per strategy with several noise levels: its accuracy from the cleanest to the noisiest training data."""
    lines = []
    for strategy, k in ordered((s.strategy, s.samples_per_question) for s in mine):
        levels = sorted((s for s in mine if (s.strategy, s.samples_per_question) == (strategy, k)), key=lambda s: s.noise)
        if len(levels) > 1:
            clean, noisy = levels[0], levels[-1]
            lines.append(f"{strategy}: {100 * clean.accuracy:.1f}% at noise {clean.noise:g}, {100 * noisy.accuracy:.1f}% at "
                         f"noise {noisy.noise:g} ({100 * (noisy.accuracy - clean.accuracy):+.1f} points)")
    return lines


def volume_pairs(mine) -> list[tuple]:
    """Per strategy with several rationales per question (SCoTD), on clean data: (strategy, the most, the fewest)."""
    pairs = []
    for strategy in ordered(s.strategy for s in mine):
        ks = sorted((s for s in mine if s.strategy == strategy and not s.noise), key=lambda s: s.samples_per_question)
        if len(ks) > 1:
            pairs.append((strategy, ks[-1], ks[0]))
    return pairs


def volume_gains(mine) -> list[str]:
    return [f"{strategy}: {compare(most, fewest, (f'k = {most.samples_per_question}', f'k = {fewest.samples_per_question}'))}"
            for strategy, most, fewest in volume_pairs(mine)]


def keep_records(run_dirs: list[Path], records: Path) -> int:
    """Copy each run's config and its finished cells' cell.json and eval.json into `records` (one run) or
    `records/<run folder name>` (several), replaced whole so a cell no longer in a run is not kept; the count
    of cells kept. Nothing when the runs are the records themselves (a re-render from a checkout)."""
    if all(records.resolve() in (d.resolve(), d.resolve().parent) for d in run_dirs):
        return 0
    scratch = records.with_name(records.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    kept = 0
    for run_dir in run_dirs:
        into = scratch if len(run_dirs) == 1 else scratch / run_dir.name
        (into / "cells").mkdir(parents=True)
        shutil.copy2(run_dir / "config.json", into / "config.json")
        for folder in sorted((run_dir / "cells").iterdir()):
            if (folder / "eval.json").is_file():
                (into / "cells" / folder.name).mkdir()
                for name in ("cell.json", "eval.json"):
                    if (folder / name).is_file():
                        shutil.copy2(folder / name, into / "cells" / folder.name / name)
                kept += 1
    shutil.rmtree(records, ignore_errors=True)
    scratch.rename(records)  # whole or not at all: a half-copied folder would render as a smaller run
    return kept


SHARED_SETTINGS = ("student", "tasks", "teacher", "curation", "training", "eval", "data_seed")


def read_runs(run_dirs: list[Path]):
    """The first run's config (tasks, budget and split for the headings) and the rows of every run's cells that
    are current to their own run's config, with the ids of those that are not."""
    if len({d.name for d in run_dirs}) < len(run_dirs):  # their records are kept by folder name
        raise CotdistillError(f"--run-dir {' '.join(map(str, run_dirs))}: give each part a folder of its own name")
    configs = [run_config(d) for d in run_dirs]
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        differ = [name for name in SHARED_SETTINGS if getattr(config, name) != getattr(configs[0], name)]
        if differ:
            raise CotdistillError(f"{run_dir}/config.json differs from {run_dirs[0]}/config.json in {', '.join(differ)}; "
                                  "only runs of one grid (differing in strategies, seeds, k or noise) render together")
    rows, stale = [], []
    for run_dir, config in zip(run_dirs, configs):
        current, old = current_rows(config, collect_rows(run_dir))
        rows, stale = rows + current, stale + old
    return configs[0], rows, stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, action="append", help="A run folder (default runs/suite); repeat "
                        "for a grid run in parts (see above).")
    parser.add_argument("--name", default="suite", help="Result file name under bench/results/.")
    args = parser.parse_args()
    run_dirs = args.run_dir or [Path("runs/suite")]
    try:
        config, rows, stale = read_runs(run_dirs)
    except CotdistillError as error:
        parser.exit(2, f"error: {error}\n")
    summaries = summarise_rows(rows)
    result = BenchResult(args.name)
    split = "test" if config.eval.split == "test" else "dev-slice"
    folders = ", ".join(f"`{d}`" for d in run_dirs)
    body = [f"Run folder{'s' if len(run_dirs) > 1 else ''} {folders} ({len([r for r in rows if r.get('status') == 'ok'])} finished cells, "
            f"{len([r for r in rows if r.get('status') == 'failed'])} failed), evaluated on the {split} questions; "
            f"student `{config.student}`. A strategy learnt where its 95% interval lies wholly above the best constant answer's.", "",
            *decoding_note(rows)]
    accelerators = sorted({s.accelerator for s in summaries if s.accelerator})
    if accelerators:  # the header's machine is where this file was rendered, not where the students ran
        body += [f"Students evaluated on {', '.join(accelerators)}; the machine above rendered this file.", ""]
    if stale:
        body += [f"Left out: {len(stale)} finished cells that ran with other settings than the run's config.json "
                 f"({', '.join(stale)}); `cotdistill run ... --replace` re-runs them.", ""]
    if len({s.slice for s in summaries}) == 1:  # the suite itself; a robustness or SCoTD run compares its slices instead
        body += goal_lines(config, summaries)
    for task in config.tasks:
        if task.name not in ordered(s.task for s in summaries):
            continue
        teacher = teacher_accuracy(config, task)
        body += task_section(config, task, summaries, teacher, split) + mode_lines(rows, task.name)
        for s in summaries:
            if s.task == task.name:
                result.rows.append({"task": s.task, "strategy": s.strategy, "noise": s.noise,
                                    "samples_per_question": s.samples_per_question, "seeds": s.seeds, "n": s.n,
                                    "accuracy": s.accuracy, "ci95": [s.ci_low, s.ci_high], "learnt": s.learnt,
                                    "mean_generated_tokens": s.mean_generated_tokens, "mean_latency_s": s.mean_latency_s,
                                    "floors": s.floors, "teacher_accuracy": teacher})
    result.write("\n".join(body))
    keep_records(run_dirs, RESULTS / args.name / "run")


if __name__ == "__main__":
    main()
