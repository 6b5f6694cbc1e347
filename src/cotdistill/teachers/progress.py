"""A rich progress bar for sampling (rate, ETA, correct/wrong/unparsed) and the end summary."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


class SamplingProgress:
    """Counts stored samples by outcome; renders only when enabled (a no-op otherwise)."""

    def __init__(self, total: int, *, enabled: bool = True, label: str = "sampling"):
        self.correct = self.wrong = self.unparsed = self.failures = 0
        self._progress = None
        if enabled and total:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[outcomes]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total, rate="", outcomes="")

    def __enter__(self) -> "SamplingProgress":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stored(self, *, correct: bool | None, parse_error: bool) -> None:
        if parse_error:
            self.unparsed += 1
        elif correct:
            self.correct += 1
        else:
            self.wrong += 1
        self._advance()

    def failed(self, count: int) -> None:
        self.failures += count
        self._advance(count)

    def _advance(self, count: int = 1) -> None:
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        speed = task.speed
        self._progress.update(
            self._task,
            advance=count,
            rate=f"{speed:.2f}/s" if speed else "",
            outcomes=f"correct {self.correct} · wrong {self.wrong} · unparsed {self.unparsed}"
            + (f" · failed {self.failures}" if self.failures else ""),
        )


def print_summary(summary, console: Console | None = None) -> None:
    """The end-of-run table: samples, teacher accuracy, tokens, requests, time."""
    console = console or Console(stderr=True)
    table = Table(title=f"teacher run {summary.config_key}" + (" (synthetic reference)" if summary.synthetic else ""), show_header=False)
    accuracy = summary.teacher_accuracy
    rate = summary.new_samples / summary.wall_s if summary.wall_s else 0.0
    rows = [
        ("questions", f"{summary.questions}"),
        ("samples wanted", f"{summary.samples_target}"),
        ("already stored", f"{summary.already_stored}" + (f" ({summary.reused} copied from --reuse)" if summary.reused else "")),
        ("new samples", f"{summary.new_samples} ({summary.parse_errors} unparsed)"),
        ("failed (re-run to retry)", f"{summary.failed_samples}"),
        ("teacher accuracy", "n/a" if accuracy is None else f"{accuracy:.1%} of {summary.stored_total} stored"),
        ("tokens (prompt / completion)", f"{summary.prompt_tokens} / {summary.completion_tokens}"),
        ("requests (retries)", f"{summary.requests} ({summary.retries})"),
        ("time", f"{summary.wall_s:.1f} s ({rate:.2f} samples/s)"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
