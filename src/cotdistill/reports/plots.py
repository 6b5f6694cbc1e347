"""PNG plots of the summaries (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import os
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
