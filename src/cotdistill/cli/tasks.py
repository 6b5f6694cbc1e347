"""CLI commands for this stage (filled in by its stage)."""

import typer

app = typer.Typer(no_args_is_help=True)
