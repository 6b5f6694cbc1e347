"""`cotdistill models`: list the offline models and prepare (build and cache) them."""

from __future__ import annotations

import time

import typer

app = typer.Typer(no_args_is_help=True, help="Offline model sources: list them, prepare them once.")


@app.command("list")
def list_command() -> None:
    """List the registered models: name, what it is, source package, prepared or not, and folder."""
    from rich.console import Console
    from rich.table import Table

    from cotdistill.models import is_prepared, list_models, prepared_path

    table = Table(title="cotdistill models (any local folder or hub id org/name works as well)")
    for column in ("name", "what", "source package", "prepared", "path"):
        table.add_column(column, overflow="fold")
    for info in list_models():
        table.add_row(
            info.name,
            info.description,
            info.package or "-",
            "yes" if is_prepared(info.name) else "no",
            str(prepared_path(info.name)),
        )
    Console().print(table)


@app.command("prepare")
def prepare_command(
    name: str = typer.Argument(..., help="A registered model name (see `cotdistill models list`)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if it is already prepared."),
) -> None:
    """Build and cache a registered model once, then print its folder (usable by plain transformers)."""
    from cotdistill.models import prepare

    started = time.perf_counter()
    folder = prepare(name, force=force)
    typer.echo(f"prepared {name} in {time.perf_counter() - started:.1f}s", err=True)
    typer.echo(str(folder))
