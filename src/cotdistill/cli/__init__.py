"""The `cotdistill` command: a thin layer over the Python API, one module per stage.

Each stage module keeps its heavy imports (torch, transformers) inside its command functions so
that `cotdistill --help` and `cotdistill tasks list` start fast.

One error path for every command (see `main`):
- a `CotdistillError` is the user's to fix: one line on stderr naming the file, line or field and
  what to do; exit code 2. So is a command line typer cannot parse (an unknown option, a missing one,
  `--samples abc`), and an option value outside its range (`cli/ranges.py` holds every option's
  range or choices and checks them before a command's body runs);
- anything else is a bug: one line naming it and the file holding the full traceback; exit code 1;
- `--debug` (or COTDISTILL_DEBUG=1) prints the traceback instead, for either kind.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import typer

from cotdistill.cli import evaluate, models, ranges, report, run, ship, tasks, teach, train
from cotdistill.errors import CotdistillError

try:  # typer >= 0.2x carries its own click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

DEBUG_ENV = "COTDISTILL_DEBUG"

app = typer.Typer(
    name="cotdistill",
    help="Distil step-by-step reasoning from a teacher LLM into a small student.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(tasks.app, name="tasks")
app.add_typer(models.app, name="models")
for stage in (teach, train, evaluate, report, run, ship):
    stage.register(app)
ranges.install(app)  # every option's range or choices, checked before any command's body runs


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help=f"Show full tracebacks (or set {DEBUG_ENV}=1)."),
) -> None:
    """Distil step-by-step reasoning from a teacher LLM into a small student."""
    _flags["debug"] = debug  # for this invocation only (main resets it): no leak into the environment


_flags = {"debug": False}


def debugging() -> bool:
    return _flags["debug"] or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _save_traceback(error: BaseException) -> Path | None:
    """Write the full traceback of an unexpected error to a file; None if even that fails."""
    name = f"cotdistill-traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path = Path(tempfile.gettempdir()) / name
    try:
        path.write_text(f"cotdistill {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path


def _report_user_error(error: CotdistillError) -> int:
    if debugging():
        traceback.print_exception(error)
    typer.secho(f"error: {_one_line(error)}", err=True, fg=typer.colors.RED)
    return 2


def _report_bug(error: BaseException) -> int:
    if debugging():
        traceback.print_exception(error)
        return 1
    saved = _save_traceback(error)
    where = f"full traceback in {saved}" if saved else "rerun with --debug for the traceback"
    typer.secho(f"error: unexpected {type(error).__name__}: {_one_line(error)[:300]} (a cotdistill bug; {where}; "
                f"please report it)", err=True, fg=typer.colors.RED)
    return 1


def _report_usage_error(error: UsageError) -> int:
    """A command line typer could not parse: one line naming the option, not a usage box."""
    if debugging():
        traceback.print_exception(error)
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "cotdistill"
    typer.secho(f"error: {command}: {_one_line(error.format_message())} (see `{command} --help`)", err=True,
                fg=typer.colors.RED)
    return 2


def main(argv: list[str] | None = None) -> None:
    """Entry point: see the module docstring for the exit codes."""
    _flags["debug"] = False
    try:
        code = app(args=argv, prog_name="cotdistill", standalone_mode=False)
    except CotdistillError as error:
        sys.exit(_report_user_error(error))
    except NoArgsIsHelpError as error:  # the help is printed already
        sys.exit(error.exit_code)
    except UsageError as error:
        sys.exit(_report_usage_error(error))
    except ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, traceback to a file
        sys.exit(_report_bug(error))
    sys.exit(code if isinstance(code, int) else 0)
