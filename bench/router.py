"""The adaptive router's result file (issue 47): per task, the router by each confidence reading and by the
probe, the oracle and each student alone, side by side; a mixed task per source task too; the threshold
sweep plot; and the goals checked.

    python bench/router.py --run-dir runs/suite-router-dev --name suite-router-dev
    python bench/router.py --run-dir runs/suite-router --name suite-router

Reads the run folder's router cells (eval.json, written by `cotdistill run`); copies their records
(eval.json, cell.json, router.json) to bench/results/<name>/run so the file can be re-rendered.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from common import RESULTS, BenchResult

from cotdistill.reports.tables import interval, router_table, source_table

def goals(result: dict, mixed: bool) -> list[str]:
    """Issue 47's goals, checked on this cell (intervals: Wilson 95%)."""
    router, first, think, oracle = result, result["router"]["alone"]["answer-first"], result["router"]["alone"]["think-first"], result["router"]["oracle"]
    better, worse = (first, think) if first["accuracy"] >= think["accuracy"] else (think, first)
    not_below = router["ci95"][1] >= better["ci95"][0]
    lines = [f"- not below the better single mode outside the intervals: **{'yes' if not_below else 'no'}** "
             f"(router {interval(router)}, better mode {interval(better)})"]
    if mixed:
        above = router["ci95"][0] > worse["ci95"][1]
        half = router["mean_generated_tokens"] <= think["mean_generated_tokens"] / 2
        near = router["accuracy"] >= oracle["accuracy"] - 0.05
        lines += [f"- above the worse mode outside the intervals: **{'yes' if above else 'no'}** (worse mode {interval(worse)})",
                  f"- at most half of think-first's tokens: **{'yes' if half else 'no'}** "
                  f"({router['mean_generated_tokens']:.1f} against {think['mean_generated_tokens']:.1f})",
                  f"- within 5 points of the oracle: **{'yes' if near else 'no'}** ({100 * router['accuracy']:.1f} against {100 * oracle['accuracy']:.1f})"]
    elif better is first:  # the token goal is for tasks where answering first suffices
        cheap = router["mean_generated_tokens"] <= 1.3 * first["mean_generated_tokens"]
        lines.append(f"- at most 1.3x answer-first's tokens (answering first suffices here): **{'yes' if cheap else 'no'}** "
                     f"({router['mean_generated_tokens']:.1f} against {first['mean_generated_tokens']:.1f})")
    else:
        lines.append(f"- the token goal does not apply: answering first does not suffice here (answer first {interval(first)}); "
                     f"the router writes {router['mean_generated_tokens']:.1f} tokens per question against think-first's "
                     f"{think['mean_generated_tokens']:.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    cells = sorted((args.run_dir / "cells").glob("*__router*"))
    results = [(c, json.loads((c / "eval.json").read_text())) for c in cells if (c / "eval.json").is_file()]
    if not results:
        sys.exit(f"no finished router cells in {args.run_dir}")
    bench = BenchResult(args.name)
    body = [f"Run folder `{args.run_dir}` ({results[0][1]['split']}). Each router cell routes between its two students' own "
            "answers: a question thinks where the answer-first student's probability of its own greedy answer (first token, "
            "product over its tokens, or least likely token), or the perception probe's score, is below the threshold. "
            "Tokens and seconds count the answer-first student on every question and the think-first student on those that "
            "thought. Thresholds are chosen on the dev slice (highest accuracy, fewer tokens breaking ties); the probe is "
            "fitted there on both students' answers (5-fold out-of-fold scores choose its threshold).", ""]
    into = RESULTS / args.name / "run"
    for folder, result in results:
        router = result["router"]
        body += [f"## {result['task']}", "", *router_table(router), ""]
        if "by_source" in result:
            body += ["Per source task (the served router):", "", *source_table(result["by_source"]), ""]
        body += ["Goals (issue 47):", "", *goals(result, "by_source" in result), ""]
        bench.rows.append({"cell": folder.name, **{k: v for k, v in result.items() if k not in ("floors",)}})
        (into / "cells" / folder.name / "router").mkdir(parents=True, exist_ok=True)
        for name in ("eval.json", "cell.json"):
            shutil.copy2(folder / name, into / "cells" / folder.name / name)
        shutil.copy2(folder / "router" / "router.json", into / "cells" / folder.name / "router" / "router.json")
    shutil.copy2(args.run_dir / "config.json", into / "config.json")
    from cotdistill.reports.plots import router_sweeps
    from cotdistill.reports.rows import normalise_row

    rows = [normalise_row(r, c / "eval.json", cell_id=c.name) for c, r in results]
    plot = router_sweeps(rows, RESULTS / f"{args.name}.png", f"SmolLM2-135M, {results[0][1]['split']}")
    body += [f"![the router as its threshold sweeps]({plot.name})", ""]
    print(bench.write("\n".join(body)))


if __name__ == "__main__":
    main()
