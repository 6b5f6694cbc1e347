"""`cotdistill report RUN_DIR`: the results table on screen, report.md and plots on disk."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `cotdistill run` (holds cells/)."),
    out: Path | None = typer.Option(None, "--out", help="Where to write report.md and the plots (default: RUN_DIR/report)."),
    title: str | None = typer.Option(None, "--title", help="Report title (default: the experiment name from config.json)."),
) -> None:
    """Tabulate a run (strategies x tasks: accuracy ± 95% CI, tokens, latency) and plot it."""
    from rich.console import Console
    from rich.markdown import Markdown

    from cotdistill.files import check_output_folder
    from cotdistill.reports import report_run

    check_output_folder(out or run_dir / "report")
    path = report_run(run_dir, out, title=title)
    console = Console()
    console.print(Markdown(_without_images(path.read_text(encoding="utf-8"))))
    console.print(f"\nwrote {path} and its plots in {path.parent}")


def _without_images(markdown: str) -> str:
    """The terminal cannot show the PNGs; list their file names instead of image links."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith("![") and line.endswith(")"):
            line = "- " + line[line.index("(") + 1 : -1]
        lines.append(line)
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `cotdistill report` to the main app."""
    app.command("report")(report)
