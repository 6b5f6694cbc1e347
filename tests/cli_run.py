"""Run `cotdistill ARGV` in this process, as a user would from a shell: (exit code, stdout, stderr)."""

from __future__ import annotations

from cotdistill.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
