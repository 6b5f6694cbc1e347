"""Issue 15's goals, measured across the suite's test-split result files (bench/suite.py's output).

The suite ran in parts (budgets chosen per task on the dev slice, later budgets and strategies in their own
files), so no one result file holds the goals. This reads the rendered files, never a run folder, and counts:
- per task, the best student past the learning gate in any file, its margin over the best constant answer, and
  Fine-tune-CoT's published GPT-2 124M and T5-base 220M students beside it;
- pst against pre-thinking, and SCoTD's 10 rationales per question against 1, compared only within one file
  (one budget), and counted only where both students learnt.

    .venv/bin/python bench/goals.py                    # the suite's test-split files (SUITE_RESULTS) -> bench/results/goals.*
    .venv/bin/python bench/goals.py A.json B.json+C.json --name other
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, BenchResult  # noqa: E402
from suite import PUBLISHED, pst_and_pre_thinking, volume_pairs  # noqa: E402

from cotdistill.reports.aggregate import Summary, compare, ordered  # noqa: E402

TASKS = ("coin-flip", "last-letters", "shuffled-objects", "multiarith", "svamp-zs", "strategyqa")
# Every test-split result of the suite's yaml files; "+" joins the parts of one grid (one budget) rendered apart.
SUITE_RESULTS = ["suite+suite-pst+suite-prefix-seed1+suite-coinflip-prefix-seed1", "suite-8epochs", "suite-20epochs", "suite-vanilla",
                 "suite-selfconsistency", "suite-prefix", "suite-ablation", "suite-robustness", "suite-robustness-seed1",
                 "suite-adaptive", "suite-adaptive-r0", "suite-scotd", "suite-scotd-gpu-2ep", "suite-scotd-4ep"]


def read_result(path: Path) -> list[Summary]:
    """A test-split result file's rows as summaries (the gate recomputed from their floors)."""
    markdown = path.with_suffix(".md").read_text()
    if "evaluated on the test questions" not in markdown:
        raise SystemExit(f"error: {path}: not a test-split suite result (its .md does not say 'evaluated on the test "
                         "questions'); the goals are measured on the test split")
    return [Summary(task=r["task"], strategy=r["strategy"], noise=r["noise"], samples_per_question=r["samples_per_question"],
                    seeds=r["seeds"], n=r["n"], accuracy=r["accuracy"], ci_low=r["ci95"][0], ci_high=r["ci95"][1],
                    accuracy_sd=None, mean_generated_tokens=r["mean_generated_tokens"],
                    mean_latency_s=r["mean_latency_s"], floors=r["floors"])
            for r in json.loads(path.read_text())["rows"]]


def points(fraction: float) -> str:
    return f"{100 * fraction:.1f}"


def task_goals(task: str, files: dict[str, list[Summary]]) -> dict:
    """One task's goals: the best learnt clean student of any file, and pst vs pre-thinking within each file."""
    clean = [(name, s) for name, summaries in files.items() for s in summaries if s.task == task and not s.noise]
    by_accuracy = lambda pair: (pair[1].accuracy, pair[1].seeds)  # noqa: E731 (a tie goes to more seeds)
    learnt = [pair for pair in clean if pair[1].learnt]
    best_name, best = max(learnt, key=by_accuracy) if learnt else (None, None)
    top_name, top = max(clean, key=by_accuracy) if clean else (None, None)
    duels = []
    for name, summaries in files.items():
        pair = pst_and_pre_thinking([s for s in summaries if s.task == task and not s.noise and s.samples_per_question == 1])
        if pair:
            duels.append((name, *pair))
    testable = [(name, pst, pre) for name, pst, pre in duels if pst.learnt and pre.learnt]
    holds = [name for name, pst, pre in testable if pst.accuracy >= pre.accuracy]
    gpt2, t5 = (PUBLISHED[who].get(task, (None, None))[1] for who in ("GPT-2 124M", "T5-base 220M"))
    margin = best.accuracy - best.floors["best_constant_accuracy"] if best else None
    return {"task": task, "best": best and {"file": best_name, "strategy": best.strategy, "seeds": best.seeds,
                                            "accuracy": best.accuracy, "ci95": [best.ci_low, best.ci_high]},
            "best_measured": top and {"file": top_name, "strategy": top.strategy, "accuracy": top.accuracy},
            "margin": margin, "plus_20": margin is not None and margin >= 0.20,
            "gpt2": gpt2, "t5_base": t5,
            "at_gpt2": best is not None and 100 * best.accuracy >= gpt2,
            "at_t5_base": best is not None and 100 * best.accuracy >= t5,
            "pst_vs_pre_thinking": [f"{name}: {compare(pst, pre)}" for name, pst, pre in duels],
            "pst_holds": holds, "pst_testable": [name for name, _, _ in testable]}


def scotd_lines(files: dict[str, list[Summary]]) -> tuple[list[str], bool]:
    """k = 10 against k = 1 for each strategy of each file that has both."""
    lines, met = [], False
    for name, summaries in files.items():
        for task in ordered(s.task for s in summaries):
            for strategy, ten, one in volume_pairs([s for s in summaries if s.task == task]):
                if (ten.samples_per_question, one.samples_per_question) == (10, 1):
                    lines.append(f"- {name}, {task}, {strategy}: {compare(ten, one, names=('k = 10', 'k = 1'))}")
                    met |= bool(ten.learnt and one.learnt and ten.ci_low > one.ci_high)
    return lines, met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", help="Test-split result files of bench/suite.py (.json); A.json+B.json "
                        "for parts of one grid (one budget) rendered apart, compared as one file.")
    parser.add_argument("--name", default="goals", help="Result file name under bench/results/.")
    args = parser.parse_args()
    arguments = args.results or ["+".join(f"{RESULTS}/{name}.json" for name in grid.split("+")) for grid in SUITE_RESULTS]
    parts = [[Path(part) for part in argument.split("+")] for argument in arguments]
    files = {"+".join(p.stem for p in grid): [s for p in grid for s in read_result(p)] for grid in parts}
    goals = [task_goals(task, files) for task in TASKS]
    scotd, scotd_met = scotd_lines(files)
    result = BenchResult(args.name)
    body = [f"Read: {', '.join('+'.join(f'[{p.stem}]({p.stem}.md)' for p in grid) for grid in parts)}. Each figure is a mean over its seeds on the test split; "
            "a student counts only past the learning gate (its 95% interval wholly above the best constant answer's). "
            "The published students chose their epoch on the test set.", "",
            "| task | best student past the gate (file) | accuracy % | over best constant | GPT-2 124M Fine-tune-CoT "
            "| T5-base 220M Fine-tune-CoT | pst >= pre-thinking, both learnt |", "|---|---|---:|---:|---:|---:|---|"]
    for g in goals:
        best, top = g["best"], g["best_measured"]
        student = (f"{best['strategy']}, {best['seeds']} seed{'s' * (best['seeds'] > 1)} ({best['file']})" if best else
                   f"none (highest: {top['strategy']} {points(top['accuracy'])}, {top['file']})" if top else "not run")
        accuracy = points(best["accuracy"]) if best else "-"
        margin = f"{100 * g['margin']:+.1f}" if best else "-"
        holds = (f"holds ({', '.join(g['pst_holds'])})" if g["pst_holds"] else "does not hold" if g["pst_testable"]
                 else "not testable" if g["pst_vs_pre_thinking"] else "not run")
        body.append(f"| {g['task']} | {student} | {accuracy} | {margin} | {g['gpt2']:.1f} | {g['t5_base']:.1f} | {holds} |")
    count = lambda key: sum(bool(g[key]) for g in goals)  # noqa: E731
    body += ["", "## The goals", "",
             f"- Some strategy >= 20 points above the best constant answer: **{count('plus_20')} of 6** tasks (goal: 4).",
             f"- At or above GPT-2 124M's Fine-tune-CoT number with a student past the gate: **{count('at_gpt2')} of 6** "
             "(goal: 6); at or above T5-base 220M's: "
             f"**{count('at_t5_base')} of 6** (goal: 3).",
             f"- pst >= pre-thinking with both past the gate: **{count('pst_holds')} of 6** (goal: 4).",
             f"- 10 rationales per question > 1, intervals apart, both past the gate: **{'met' if scotd_met else 'not met'}**.",
             "", "## pst against pre-thinking, per file (one budget each)", ""]
    body += [f"- {g['task']}, {line}" for g in goals for line in g["pst_vs_pre_thinking"]] or ["- none"]
    body += ["", "## 10 rationales per question against 1, per file", "", *(scotd or ["- none"])]
    result.rows = goals + [{"scotd": scotd, "scotd_met": scotd_met}]
    result.write("\n".join(body))


if __name__ == "__main__":
    main()
