"""Render a run's results: report.md (tables), summary.json and the PNG plots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cotdistill.files import write_text_atomic
from cotdistill.reports.aggregate import ordered, summarise_rows
from cotdistill.reports.plots import accuracy_by_strategy, accuracy_vs, accuracy_vs_tokens, router_sweeps
from cotdistill.reports.rows import collect_rows, normalise_row
from cotdistill.reports.tables import markdown_report

REPORT_FILE = "report.md"


def render_report(rows: list[dict], out_dir: str | Path, title: str = "cotdistill results") -> Path:
    """Write `report.md`, `summary.json` and the plots into `out_dir`; return the report.md path.

    `rows` are eval results (as from `collect_rows`, or built by a benchmark script); failed rows
    (`status: "failed"` or an `error` without `accuracy`) are listed, not plotted. Plots:
    accuracy by strategy always (when anything finished); accuracy vs generated tokens per question
    (one panel per task) when any strategy has a token count; a router cell's threshold sweeps, each
    student alone and the oracle (one panel per router cell); accuracy vs rationale noise when more
    than one noise level exists; accuracy vs samples per question when more than one value exists.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [normalise_row(row, f"row {i}", cell_id=row.get("cell_id")) for i, row in enumerate(rows)]
    summaries = summarise_rows(rows)
    plots = []
    if summaries:
        plots.append(accuracy_by_strategy(summaries, out_dir / "accuracy_by_strategy.png", title).name)
        cost = accuracy_vs_tokens(summaries, out_dir / "accuracy_vs_tokens.png", title)
        if cost is not None:
            plots.append(cost.name)
        sweeps = router_sweeps(rows, out_dir / "router_sweeps.png", title)
        if sweeps is not None:
            plots.append(sweeps.name)
        if len(ordered(s.noise for s in summaries)) > 1:
            plots.append(accuracy_vs(summaries, "noise", out_dir / "accuracy_vs_noise.png", title).name)
        if len(ordered(s.samples_per_question for s in summaries if s.samples_per_question is not None)) > 1:
            plots.append(accuracy_vs(summaries, "samples_per_question", out_dir / "accuracy_vs_samples.png", title).name)
    summary = {
        "title": title,
        "summaries": [{**dataclasses.asdict(s), "learnt": s.learnt} for s in summaries],
        "failed": [row for row in rows if row["status"] == "failed"],
    }
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return write_text_atomic(out_dir / REPORT_FILE, markdown_report(title, summaries, rows, plots))


def report_run(run_dir: str | Path, out_dir: str | Path | None = None, title: str | None = None) -> Path:
    """Collect a run folder's cells and render its report (default into `run_dir/report`).

    The title defaults to the experiment name from the run's config.json.
    """
    run_dir = Path(run_dir)
    rows = collect_rows(run_dir)
    if title is None:
        title = _experiment_name(run_dir) or run_dir.name
    return render_report(rows, Path(out_dir) if out_dir is not None else run_dir / "report", title=title)


def _experiment_name(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None

