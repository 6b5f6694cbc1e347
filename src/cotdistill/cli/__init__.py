"""The `cotdistill` command: a thin layer over the Python API, one module per stage.

Each stage module keeps its heavy imports (torch, transformers) inside its command functions so
that `cotdistill --help` and `cotdistill tasks list` start fast.
"""

from __future__ import annotations

import sys

import typer

from cotdistill.cli import evaluate, models, report, run, tasks, teach, train
from cotdistill.errors import CotdistillError

app = typer.Typer(
    name="cotdistill",
    help="Distil step-by-step reasoning from a teacher LLM into a small student.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(tasks.app, name="tasks")
app.add_typer(models.app, name="models")
for stage in (teach, train, evaluate, report, run):
    stage.register(app)


def main() -> None:
    """Entry point: user errors become one clear line on stderr and exit code 2."""
    try:
        app()
    except CotdistillError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        sys.exit(2)
