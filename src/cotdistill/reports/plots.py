"""PNG plots of the summaries (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from pathlib import Path

from cotdistill.reports.aggregate import Summary, main_slice, ordered
from cotdistill.reports.tables import slice_label


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: never open a window, never need a display
    import matplotlib.pyplot as plt

    return plt


def _errors(summaries: list[Summary]) -> list[list[float]]:
    """Asymmetric error bars in percentage points, from each summary's mean 95% interval."""
    below = [100 * max(s.accuracy - s.ci_low, 0.0) for s in summaries]
    above = [100 * max(s.ci_high - s.accuracy, 0.0) for s in summaries]
    return [below, above]


def _save(figure, path: Path) -> Path:
    """Write the PNG to a temporary file beside `path`, then rename: never a half-written image."""
    handle, scratch = tempfile.mkstemp(suffix=".png", prefix=f".{path.stem}.", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(scratch, dpi=120, bbox_inches="tight")
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return path


def accuracy_by_strategy(summaries: list[Summary], path: Path, title: str) -> Path:
    """Grouped bars: tasks along x, one bar per strategy, 95% interval error bars (main slice)."""
    plt = _pyplot()
    noise, samples = main_slice(summaries)
    chosen = [s for s in summaries if s.slice == (noise, samples)]
    tasks, strategies = ordered(s.task for s in chosen), ordered(s.strategy for s in chosen)
    width = 0.8 / len(strategies)
    figure, axes = plt.subplots(figsize=(max(5.0, 1.2 + 1.1 * len(tasks) * max(1, len(strategies)) ** 0.5), 4.0))
    for i, strategy in enumerate(strategies):
        bars = [(tasks.index(s.task), s) for s in chosen if s.strategy == strategy]
        xs = [x - 0.4 + width * (i + 0.5) for x, _ in bars]
        members = [s for _, s in bars]
        bars = axes.bar(xs, [100 * s.accuracy for s in members], width, label=strategy,
                        yerr=_errors(members), capsize=3, error_kw={"elinewidth": 1})
        for bar, summary in zip(bars, members):
            if summary.learnt is False:  # the learning gate: faded and hatched
                bar.set_alpha(0.35)
                bar.set_hatch("//")
    _draw_floors(axes, chosen, tasks)
    axes.set_xticks(range(len(tasks)), tasks)
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"{title}\naccuracy by strategy ({slice_label(noise, samples)}; bars: 95% CI; "
                   "dashed: best constant answer; hatched: did not learn)", fontsize=9)
    axes.legend(fontsize=8, ncols=min(len(strategies), 4), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)
    plt.close(figure)
    return path


def _draw_floors(axes, summaries: list[Summary], tasks: list[str]) -> None:
    """A dashed line across each task's group at its best constant answer (the learning gate's floor)."""
    for x, task in enumerate(tasks):
        floor = next((s.floors for s in summaries if s.task == task and s.floors), None)
        if floor and "best_constant_accuracy" in floor:
            axes.hlines(100 * floor["best_constant_accuracy"], x - 0.45, x + 0.45, colors="black",
                        linestyles="dashed", linewidth=1)


def accuracy_vs(summaries: list[Summary], axis: str, path: Path, title: str) -> Path:
    """One panel per task: accuracy against `noise` or `samples_per_question`, a line per strategy.

    The other axis is held at the main slice (noise plots at the most samples, samples plots at
    the lowest noise).
    """
    plt = _pyplot()
    noise, samples = main_slice(summaries)
    if axis == "noise":
        chosen = [s for s in summaries if s.samples_per_question == samples]
        xlabel = "rationale noise (fraction of corrupted training rationales)"
        held = "all sample counts" if samples is None else f"{samples} samples per question"
    else:
        chosen = [s for s in summaries if s.noise == noise and s.samples_per_question is not None]
        xlabel, held = "rationales per question (samples)", f"noise {noise:g}"
    tasks = ordered(s.task for s in chosen)
    figure, panels = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    values = [getattr(s, axis) for s in chosen]
    span = (max(values) - min(values)) or 1.0
    for axes, task in zip(panels[0], tasks):
        strategies = ordered(s.strategy for s in chosen if s.task == task)
        for i, strategy in enumerate(strategies):
            line = sorted((s for s in chosen if s.task == task and s.strategy == strategy), key=lambda s: getattr(s, axis))
            dodge = 0.012 * span * (i - (len(strategies) - 1) / 2)  # keep overlapping error bars apart
            drawn = axes.errorbar([getattr(s, axis) + dodge for s in line], [100 * s.accuracy for s in line],
                                  yerr=_errors(line), marker="o", capsize=3, label=strategy)
            unlearnt = [s for s in line if s.learnt is False]  # hollow markers: did not learn
            axes.scatter([getattr(s, axis) + dodge for s in unlearnt], [100 * s.accuracy for s in unlearnt],
                         facecolors="white", edgecolors=drawn[0].get_color(), zorder=3)
        floor = next((s.floors for s in chosen if s.task == task and s.floors), None)
        if floor and "best_constant_accuracy" in floor:
            axes.axhline(100 * floor["best_constant_accuracy"], color="black", linestyle="dashed", linewidth=1)
        axes.set_title(task, fontsize=10)
        axes.set_xlabel(xlabel, fontsize=8)
        axes.set_ylabel("accuracy (%)")
        axes.set_ylim(0, 105)
        axes.grid(alpha=0.3)
        if axis == "samples_per_question":
            axes.set_xticks(sorted({s.samples_per_question for s in chosen}))
    panels[0][-1].legend(fontsize=8)
    what = "rationale noise" if axis == "noise" else "samples per question"
    figure.suptitle(f"{title}: accuracy vs {what} ({held}; bars: 95% CI; dashed: best constant answer; "
                    "hollow: did not learn)", fontsize=10)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
    return path


MARKERS = "osD^vP*Xph"
KNOWN = ("answer-only", "pre-thinking", "post-thinking", "prefix", "pst", "adaptive", "router")
"""Strategies with a fixed colour and marker, so that one strategy looks the same in every report."""
PAD = 2.2
"""The x axis reaches this factor beyond the cheapest and the dearest point."""
NUDGE = 0.05
"""Points of one panel whose costs are this close (a fraction of the panel's log width) are spread sideways."""


def accuracy_vs_tokens(summaries: list[Summary], path: Path, title: str) -> Path | None:
    """The trade-off the tool is for: accuracy against generated tokens per question, one panel per task.

    Main slice; one point per strategy with its 95% interval; x on a log scale; the best constant answer
    as a dashed line (its interval shaded); students that did not learn drawn hollow; points of near-equal
    cost spread sideways a little (the title says so). Strategies without a (positive) token count are left
    out; returns None (and writes nothing) when no strategy has one.
    """
    plt = _pyplot()
    figure = accuracy_vs_tokens_figure(summaries, title)
    if figure is None:
        return None
    _save(figure, path)
    plt.close(figure)
    return path


def accuracy_vs_tokens_figure(summaries: list[Summary], title: str):
    """The figure `accuracy_vs_tokens` saves (None when no strategy has a token count)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    noise, samples = main_slice(summaries)
    chosen = [s for s in summaries if s.slice == (noise, samples) and s.mean_generated_tokens]
    if not chosen:
        return None
    tasks, strategies = ordered(s.task for s in chosen), ordered(s.strategy for s in chosen)
    style = _styles(strategies, plt.rcParams["axes.prop_cycle"].by_key()["color"])
    columns = min(len(tasks), 3)
    rows = -(-len(tasks) // columns)
    figure, panels = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.7 * rows), squeeze=False)
    for axes in panels.flat[len(tasks):]:
        axes.set_visible(False)
    spread = False
    for axes, task in zip(panels.flat, tasks):
        members = [s for s in chosen if s.task == task]
        _draw_floor_band(axes, next((s.floors for s in members if s.floors), None))
        low, high = min(s.mean_generated_tokens for s in members), max(s.mean_generated_tokens for s in members)
        step = (high * PAD / (low / PAD)) ** NUDGE  # one marker's width or so, whatever the panel's range
        xs = _nudged([s.mean_generated_tokens for s in members], step)
        spread = spread or xs != [s.mean_generated_tokens for s in members]
        for x, summary in zip(xs, members):
            colour, marker = style[summary.strategy]
            drawn = axes.errorbar([x], [100 * summary.accuracy], yerr=_errors([summary]), fmt=marker, color=colour,
                                  markersize=7, markeredgecolor=colour, markeredgewidth=1.5, capsize=3, elinewidth=1,
                                  markerfacecolor="white" if summary.learnt is False else colour, zorder=3)
            drawn[0].set_gid(f"point:{summary.strategy}")
        _token_axis(axes)
        axes.set_xlim(min(xs) / PAD, max(xs) * PAD)
        axes.set_ylim(0, 105)
        n = ordered(round(s.n) for s in members)
        axes.set_title(task + (f" ({n[0]} questions)" if len(n) == 1 else ""), fontsize=10)
        axes.set_xlabel("generated tokens per question (log scale)", fontsize=8)
        axes.set_ylabel("accuracy (%)", fontsize=9)
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3, which="major")
    handles = [Line2D([], [], color=style[name][0], marker=style[name][1], linestyle="none", markersize=7, label=name)
               for name in strategies]
    handles += [Line2D([], [], color="black", marker="o", markerfacecolor="white", linestyle="none", markersize=7,
                       label="hollow: did not learn"),
                Line2D([], [], color="black", linestyle="dashed", linewidth=1,
                       label="best constant answer (band: its 95% CI)")]
    legend_columns = min(len(handles), 2 if columns == 1 else 4)
    figure.legend(handles=handles, loc="lower center", ncols=legend_columns, fontsize=8, frameon=False,
                  bbox_to_anchor=(0.5, 0.0))
    note = ";\npoints of near-equal cost are spread sideways a little" if spread else ""
    figure.suptitle(f"{title}: accuracy vs cost ({slice_label(noise, samples)}; bars: 95% CI{note})", fontsize=10)
    legend_rows = -(-len(handles) // legend_columns)
    figure.tight_layout(rect=(0, (0.07 + 0.035 * legend_rows) / rows, 1, 1))
    return figure


def _styles(strategies: list[str], colours: list[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) per strategy: the known ones fixed by KNOWN, the others (labelled variants) after them."""
    others = [name for name in strategies if name not in KNOWN]
    index = {name: (KNOWN.index(name) if name in KNOWN else len(KNOWN) + others.index(name)) for name in strategies}
    return {name: (colours[i % len(colours)], MARKERS[i % len(MARKERS)]) for name, i in index.items()}


def _token_axis(axes) -> None:
    """Generated tokens on a log scale, ticked at 1, 2, 5, 10, ... in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())


def _draw_floor_band(axes, floor: dict | None) -> None:
    """The learning gate's floor: the best constant answer, dashed, over its 95% interval, shaded."""
    if not floor or "best_constant_accuracy" not in floor:
        return
    if "best_constant_ci95" in floor:
        low, high = floor["best_constant_ci95"]
        axes.axhspan(100 * low, 100 * high, color="black", alpha=0.07, linewidth=0, zorder=1)
    axes.axhline(100 * floor["best_constant_accuracy"], color="black", linestyle="dashed", linewidth=1, zorder=2,
                 gid="floor", label="best constant answer")


def _nudged(tokens: list[float], step: float) -> list[float]:
    """Token counts with near-equal ones (within a factor `step` of their neighbour) spread sideways around
    their centre by `step` each, so that points of equal cost stay visible side by side."""
    order = sorted(range(len(tokens)), key=lambda i: tokens[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and tokens[i] <= tokens[groups[-1][-1]] * step:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = list(tokens)
    for group in groups:
        if len(group) > 1:
            centre = math.exp(statistics.fmean(math.log(tokens[i]) for i in group))
            for rank, i in enumerate(group):
                out[i] = centre * step ** (rank - (len(group) - 1) / 2)
    return out


SIGNAL_STYLES = {"product": ("tab:blue", "-"), "first": ("tab:cyan", "--"), "min": ("tab:purple", ":"), "perception": ("tab:olive", "-.")}


def router_sweeps(rows: list[dict], path: Path, title: str) -> Path | None:
    """The figure `router_sweeps_figure` draws, saved (None when no row is a router cell's)."""
    figure = router_sweeps_figure(rows, title)
    if figure is None:
        return None
    try:
        return _save(figure, path)
    finally:
        _pyplot().close(figure)


def router_sweeps_figure(rows: list[dict], title: str):
    """One panel per router cell: accuracy against generated tokens per question as each signal's threshold
    sweeps from never thinking to always (lines; the threshold in use circled), each student alone and the
    oracle as points, the best constant answer dashed."""
    routers = [r for r in rows if r.get("status") == "ok" and isinstance(r.get("router"), dict) and r["router"].get("signals")]
    if not routers:
        return None
    plt = _pyplot()
    columns = min(len(routers), 3)
    lines = math.ceil(len(routers) / columns)
    figure, grid = plt.subplots(lines, columns, figsize=(5.2 * columns, 4.2 * lines), squeeze=False)
    for axes, row in zip(grid.flat, routers):
        router = row["router"]
        for signal, result in router["signals"].items():
            colour, dashes = SIGNAL_STYLES.get(signal, ("grey", "-"))
            sweep = sorted(result["sweep"], key=lambda p: p["tokens"])
            axes.plot([p["tokens"] for p in sweep], [100 * p["accuracy"] for p in sweep], color=colour, linestyle=dashes,
                      linewidth=1.3, label=f"router, {signal}" + (" (served)" if signal == router["signal"] else ""))
            axes.plot(result["mean_generated_tokens"], 100 * result["accuracy"], "o", markersize=9, markerfacecolor="none",
                      markeredgecolor=colour, markeredgewidth=1.6)  # fmt: skip
        for name, result, marker, colour in (("answer first alone", router["alone"]["answer-first"], "s", "tab:green"),
                                             ("think first alone", router["alone"]["think-first"], "s", "tab:orange"),
                                             ("oracle (reference)", router["oracle"], "*", "black")):  # fmt: skip
            low, high = result["ci95"]
            axes.errorbar([result["mean_generated_tokens"]], [100 * result["accuracy"]], capsize=3, fmt=marker, color=colour,
                          markersize=10 if marker == "*" else 7, label=name, zorder=4,
                          yerr=[[100 * max(result["accuracy"] - low, 0.0)], [100 * max(high - result["accuracy"], 0.0)]])  # fmt: skip
        _draw_floor_band(axes, row.get("floors"))
        _token_axis(axes)
        axes.set_ylim(0, 105)
        axes.set_title(f"{row['task']}, {row['strategy']} ({row['n']} questions)")
        axes.set_xlabel("generated tokens per question (log scale)")
        axes.set_ylabel("accuracy (%)")
        axes.grid(True, which="both", alpha=0.3)
    for axes in list(grid.flat)[len(routers):]:
        axes.set_visible(False)
    handles, labels = grid.flat[0].get_legend_handles_labels()
    chosen = {r["router"]["signals"][r["router"]["signal"]].get("chosen_by", "") for r in routers}
    how = "set by the user" if chosen == {"set by the user"} else "chosen on the dev slice"
    figure.suptitle(f"{title}: the router as its threshold sweeps\n(circled: each signal's threshold, {how})")
    figure.tight_layout()
    figure.legend(handles, labels, loc="upper center", ncol=4, frameon=False, bbox_to_anchor=(0.5, 0.0))  # below the panels
    return figure
