"""Markdown tables in the papers' layout: strategies as rows, tasks as columns."""

from __future__ import annotations

from collections.abc import Callable

from cotdistill.reports.aggregate import Summary, compare, ordered

MISSING = "–"


def percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}"


def accuracy_cell(s: Summary) -> str:
    """`62.5 ± 4.3 (3 seeds, sd 1.2)`: mean accuracy %, half the mean 95% interval, the seeds."""
    text = f"{percent(s.accuracy)} ± {100 * (s.ci_high - s.ci_low) / 2:.1f}"
    seeds = f"{s.seeds} seed" + ("s" if s.seeds != 1 else "")
    if s.accuracy_sd is not None:
        seeds += f", sd {100 * s.accuracy_sd:.1f}"
    return f"{text} ({seeds})" + (f" did not learn{_guess(s)}" if s.learnt is False else "")


def _guess(s: Summary) -> str:
    """', says "yes" 99%': what a student that did not learn keeps answering."""
    if s.top_answer is None or s.top_answer_share is None:
        return ""
    return f', says "{s.top_answer}" {100 * s.top_answer_share:.0f}%'


def floor_rows(summaries: list[Summary]) -> list[str]:
    """Table rows under the strategies: the best constant answer (the gate's floor) and the training
    questions' commonest answer, per task."""
    tasks = ordered(s.task for s in summaries)
    floors = {t: next((s.floors for s in summaries if s.task == t and s.floors), None) for t in tasks}
    if not any(floors.values()):
        return []

    def cell(floor: dict | None, kind: str) -> str:
        if not floor:
            return MISSING
        return f'{percent(floor[f"{kind}_accuracy"])} ("{floor[f"{kind}_answer"]}")'

    return [f"| *{label}* | " + " | ".join(cell(floors[t], kind) for t in tasks) + " |"
            for kind, label in (("best_constant", "best constant answer"), ("constant", "commonest training answer"))]


def comparisons(summaries: list[Summary]) -> list[str]:
    """Every pair of strategies on each task, in config order: the difference, or why it is not testable."""
    lines = []
    for task in ordered(s.task for s in summaries):
        members = [s for s in summaries if s.task == task]
        lines += [f"- {task}: {compare(a, b)}" for i, a in enumerate(members) for b in members[i + 1:]]
    return lines


def cost_cell(s: Summary) -> str:
    """`12.3 tok, 0.045 s`: mean generated tokens and mean latency per question (`on <GPU>` off the CPU)."""
    tokens = MISSING if s.mean_generated_tokens is None else f"{s.mean_generated_tokens:.1f} tok"
    latency = MISSING if s.mean_latency_s is None else f"{s.mean_latency_s:.3f} s"
    if s.accelerator and s.mean_latency_s is not None:
        latency += f" on {s.accelerator}"
    return f"{tokens}, {latency}"


def decoding_note(rows: list[dict]) -> list[str]:
    """A line saying how answers were decoded where it was not greedy: a vote over sampled rationales reads
    as the same strategy in the tables, and its tokens and latency count every sample."""
    votes = sorted({(row["self_consistency"], row.get("temperature")) for row in rows
                    if row.get("status") == "ok" and (row.get("self_consistency") or 1) > 1}, key=str)
    if not votes:
        return []
    how = "; ".join(f"{k} samples per question" + (f" at temperature {t:g}" if t else "") for k, t in votes)
    return [f"Decoding: self-consistency ({how}), the majority answer scored; tokens and latency count every sample.", ""]


def slice_label(noise: float, samples: int | None) -> str:
    parts = [f"noise {noise:g}"]
    if samples is not None:
        parts.append(f"{samples} sample{'s' if samples != 1 else ''} per question")
    return ", ".join(parts)


def grid(summaries: list[Summary], cell: Callable[[Summary], str], extra: list[str] | None = None) -> str:
    """A Markdown table of `cell(summary)`: one row per strategy, one column per task (then `extra` rows)."""
    tasks = ordered(s.task for s in summaries)
    strategies = ordered(s.strategy for s in summaries)
    by_key = {(s.strategy, s.task): s for s in summaries}
    lines = ["| strategy | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for strategy in strategies:
        cells = [cell(by_key[strategy, t]) if (strategy, t) in by_key else MISSING for t in tasks]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines + (extra or []))


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


def interval(result: dict) -> str:
    """`59.0 [53.4, 64.4]`: accuracy % and its 95% interval."""
    low, high = result["ci95"]
    return f"{percent(result['accuracy'])} [{percent(low)}, {percent(high)}]"


def router_table(router: dict) -> list[str]:
    """A router cell: the router by each signal at its threshold, the oracle and each student alone."""
    def line(name: str, result: dict, thought: float, how: str = "") -> str:
        latency = result.get("mean_latency_s")
        return (f"| {name} | {interval(result)} | {result['mean_generated_tokens']:.1f} | "
                f"{MISSING if latency is None else f'{1000 * latency:.0f}'} | {100 * thought:.0f}% | {how} |")

    rows = ["| | accuracy % [95% CI] | tokens / question | ms / question | thought | threshold, how chosen |",
            "|---|---:|---:|---:|---:|---|"]
    for signal, chosen in router["signals"].items():
        served = " (served)" if signal == router["signal"] else ""
        rows.append(line(f"router, {signal}{served}", chosen, chosen["thought"], f"{chosen['threshold']:.4g}, {chosen['chosen_by']}"))
    rows.append(line("oracle (reference: the better mode per question, free to choose)", router["oracle"], router["oracle"]["thought"]))
    rows.append(line("answer first alone", router["alone"]["answer-first"], 0.0))
    rows.append(line("think first alone", router["alone"]["think-first"], 1.0))
    return rows


def source_table(by_source: dict) -> list[str]:
    """A mixed task's router cell, per source task: the served router, the oracle and each student alone."""
    rows = ["| source task | router (served) | oracle | answer first alone | think first alone | router tokens | think-first tokens | thought |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, parts in by_source.items():
        rows.append(f"| {name} | {interval(parts['router'])} | {interval(parts['oracle'])} | {interval(parts['answer-first'])} | "
                    f"{interval(parts['think-first'])} | {parts['router']['mean_generated_tokens']:.1f} | "
                    f"{parts['think-first']['mean_generated_tokens']:.1f} | {100 * parts['router']['thought']:.0f}% |")
    return rows


def router_sections(rows: list[dict]) -> list[str]:
    """Per router cell: what it routed and what that cost, beside each student alone and the oracle."""
    out = []
    for row in rows:
        router = row.get("router") if row.get("status") == "ok" else None
        if not isinstance(router, dict) or not router.get("signals"):
            continue
        students = router["students"]
        out += [f"## Router: {row['task']} (seed {row.get('seed')})", "",
                f"Between `{students['answer-first']}` (answers first) and `{students['think-first']}` (thinks first). A question thinks where the answer-first student's probability of its own answer (or the probe's score) "
                "is below the threshold; tokens and time count the answer-first student on every question and the "
                "think-first student on those that thought.", "", *router_table(router), ""]
        if row.get("by_source"):
            out += ["Per source task:", "", *source_table(row["by_source"]), ""]
    return out


def markdown_report(title: str, summaries: list[Summary], rows: list[dict], plots: list[str]) -> str:
    """The whole report.md: per slice an accuracy table and a cost table, failures, then plots."""
    out = [f"# {title}", ""]
    if summaries:
        dev = rows and all(row.get("eval_split") == "dev" for row in rows if row.get("status") != "failed")
        questions = "the dev slice (held out of training)" if dev else "the test questions"
        out += [
            f"Accuracy in % on {questions}: mean over seeds ± half the width of the 95% Wilson",
            "interval (averaged over seeds); `sd` is the spread across seeds. Cost: mean generated tokens",
            "and mean wall-clock latency per question. The learning gate: a strategy \"did not learn\" where",
            "its interval is not wholly above the best constant answer's (the best any single answer scores",
            "on the same questions); comparisons involving it are not testable.",
            "",
        ] + decoding_note(rows)
    slices = sorted(ordered(s.slice for s in summaries), key=lambda k: (k[0], k[1] if k[1] is not None else -1))
    for noise, samples in slices:
        chosen = [s for s in summaries if s.slice == (noise, samples)]
        label = slice_label(noise, samples)
        out += [f"## Accuracy (%): {label}", "", grid(chosen, accuracy_cell, floor_rows(chosen)), ""]
        pairs = comparisons(chosen)
        if pairs:
            out += [f"### Comparisons: {label}", ""] + pairs + [""]
        out += [f"### Tokens and latency per question: {label}", "", grid(chosen, cost_cell), ""]
    if not summaries:
        out += ["No finished cells yet.", ""]
    out += router_sections(rows)
    failures = failed_list(rows)
    if failures:
        out += ["## Failed cells", "", failures, ""]
    if plots:
        out += ["## Plots", ""] + [f"![{name.removesuffix('.png').replace('_', ' ')}]({name})" for name in plots] + [""]
    return "\n".join(out)
