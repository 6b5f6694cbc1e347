"""`cotdistill tasks`: list the registered tasks and show their records."""

from __future__ import annotations

from pathlib import Path

import typer

from cotdistill.errors import CotdistillError

app = typer.Typer(no_args_is_help=True, help="List tasks and show their records (questions, answers, rationales).")


@app.command("list")
def list_command() -> None:
    """List every task: name, answer type, splits and where its records come from."""
    from rich.console import Console
    from rich.table import Table

    from cotdistill.tasks import list_tasks, task_options

    table = Table(title="cotdistill tasks")
    for column in ("name", "answer type", "splits", "source", "options"):
        table.add_column(column, overflow="fold")
    for info in list_tasks():
        options = ", ".join(f"{k}={v}" if v is not None else k for k, v in task_options(info).items())
        table.add_row(info.name + ("<...>" if info.prefix else ""), info.answer_type or "per record",
                      ", ".join(info.splits) or "any", info.source, options)
    Console().print(table)


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise CotdistillError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


@app.command("show")
def show_command(
    task: str = typer.Argument(..., help="Task name (see `cotdistill tasks list`), jsonl:<path> or hf:<id>."),
    split: str = typer.Option(None, "--split", "-s", help="Split to show; default: the task's first split."),
    limit: int = typer.Option(3, "--limit", "-n", help="How many records to show."),
    data_dir: Path = typer.Option(None, "--data-dir", envvar="COTDISTILL_DATA",
                                  help="The shared data folder (or set COTDISTILL_DATA)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON record a line instead of a readable view."),
    option: list[str] = typer.Option([], "--option", "-o",
                                     help="Task option KEY=VALUE, repeatable (e.g. -o size=100 -o seed=1)."),
) -> None:
    """Show the first records of one split of a task."""
    from cotdistill.tasks import get_task_info, load_task

    info = get_task_info(task)
    chosen = split or (info.splits[0] if info.splits else "train")
    records = load_task(task, chosen, data_dir=data_dir, limit=limit, **_parse_options(option))
    if as_json:
        for record in records:
            typer.echo(record.to_json())
        return
    _print_readable(records, task, chosen)


def _print_readable(records, task: str, split: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel

    from cotdistill.answers import target_answer
    from cotdistill.records import format_question

    console = Console()
    for record in records:
        lines = [escape(format_question(record)), "", f"[bold]answer:[/bold] {escape(target_answer(record))}"]
        for i, rationale in enumerate(record.rationales):
            lines += ["", f"[bold]rationale {i + 1}/{len(record.rationales)}:[/bold] {escape(rationale)}"]
        teacher = record.meta.get("teacher_answers")
        if teacher:
            lines += ["", f"[dim]teacher answers: {escape(str(teacher))}[/dim]"]
        console.print(Panel("\n".join(lines), title=f"{escape(record.id)} ({record.answer_type})", title_align="left"))
    console.print(f"[dim]{len(records)} record(s) of {escape(task)} / {escape(split)}[/dim]")
