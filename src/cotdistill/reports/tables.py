"""Markdown tables in the papers' layout: strategies as rows, tasks as columns."""

from __future__ import annotations

from collections.abc import Callable

from cotdistill.reports.aggregate import Summary, ordered

MISSING = "–"


def percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}"


def accuracy_cell(s: Summary) -> str:
    """`62.5 ± 4.3 (3 seeds, sd 1.2)`: mean accuracy %, half the mean 95% interval, the seeds."""
    text = f"{percent(s.accuracy)} ± {100 * (s.ci_high - s.ci_low) / 2:.1f}"
    seeds = f"{s.seeds} seed" + ("s" if s.seeds != 1 else "")
    if s.accuracy_sd is not None:
        seeds += f", sd {100 * s.accuracy_sd:.1f}"
    return f"{text} ({seeds})"


def cost_cell(s: Summary) -> str:
    """`12.3 tok, 0.045 s`: mean generated tokens and mean latency per question."""
    tokens = MISSING if s.mean_generated_tokens is None else f"{s.mean_generated_tokens:.1f} tok"
    latency = MISSING if s.mean_latency_s is None else f"{s.mean_latency_s:.3f} s"
    return f"{tokens}, {latency}"


def slice_label(noise: float, samples: int | None) -> str:
    parts = [f"noise {noise:g}"]
    if samples is not None:
        parts.append(f"{samples} sample{'s' if samples != 1 else ''} per question")
    return ", ".join(parts)


def grid(summaries: list[Summary], cell: Callable[[Summary], str]) -> str:
    """A Markdown table of `cell(summary)`: one row per strategy, one column per task."""
    tasks = ordered(s.task for s in summaries)
    strategies = ordered(s.strategy for s in summaries)
    by_key = {(s.strategy, s.task): s for s in summaries}
    lines = ["| strategy | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for strategy in strategies:
        cells = [cell(by_key[strategy, t]) if (strategy, t) in by_key else MISSING for t in tasks]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failed_list(rows: list[dict]) -> str:
    """One bullet per failed cell: its id, what it was, the stage and the error line."""
    lines = []
    for row in rows:
        if row.get("status") != "failed":
            continue
        what = " / ".join(str(row[k]) for k in ("task", "strategy") if row.get(k) is not None)
        if row.get("seed") is not None:
            what += f" / seed {row['seed']}"
        stage = f" during {row['stage']}" if row.get("stage") else ""
        name = row.get("cell_id") or what
        lines.append(f"- `{name}`" + (f" ({what})" if what and what != name else "") + f"{stage}: {row.get('error')}")
    return "\n".join(lines)


def markdown_report(title: str, summaries: list[Summary], rows: list[dict], plots: list[str]) -> str:
    """The whole report.md: per slice an accuracy table and a cost table, failures, then plots."""
    out = [f"# {title}", ""]
    if summaries:
        out += [
            "Accuracy in % on the test questions: mean over seeds ± half the width of the 95% Wilson",
            "interval (averaged over seeds); `sd` is the spread across seeds. Cost: mean generated tokens",
            "and mean wall-clock latency per question.",
            "",
        ]
    slices = sorted(ordered(s.slice for s in summaries), key=lambda k: (k[0], k[1] if k[1] is not None else -1))
    for noise, samples in slices:
        chosen = [s for s in summaries if s.slice == (noise, samples)]
        label = slice_label(noise, samples)
        out += [f"## Accuracy (%): {label}", "", grid(chosen, accuracy_cell), ""]
        out += [f"### Tokens and latency per question: {label}", "", grid(chosen, cost_cell), ""]
    if not summaries:
        out += ["No finished cells yet.", ""]
    failures = failed_list(rows)
    if failures:
        out += ["## Failed cells", "", failures, ""]
    if plots:
        out += ["## Plots", ""] + [f"![{name.removesuffix('.png').replace('_', ' ')}]({name})" for name in plots] + [""]
    return "\n".join(out)
