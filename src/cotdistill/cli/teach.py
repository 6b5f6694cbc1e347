"""CLI commands for this stage (filled in by its stage)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
