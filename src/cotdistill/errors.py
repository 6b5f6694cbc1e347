"""Errors a user can act on: each says what is wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path


class CotdistillError(Exception):
    """Base class: the CLI prints these as one clean line instead of a traceback."""


class DataError(CotdistillError):
    """A malformed input file: names the file, the line or record, the field and what was expected."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        record: int | str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ):
        where = str(path)
        if line is not None:
            where += f":{line}"
        if record is not None:
            where += f" (record {record})"
        if field is not None:
            where += f", field '{field}'"
        message = f"{where}: {problem}"
        if hint:
            message += f". {hint}"
        super().__init__(message)
        self.path, self.line, self.record, self.field = Path(path), line, record, field


class OptionError(CotdistillError):
    """Command-line option values outside what each option allows (cli/ranges.py), all at once, before any work.

    One line: the problems joined by "; ", each '--flag value: what is allowed'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(" ".join(p.split()) for p in problems))


class NoTeacherOutputs(CotdistillError):
    """A teacher-output source holds nothing for the questions asked (a task with rationales only in its
    training split, say): callers that only want a teacher's score can skip it, not a malformed file."""


class ConfigError(CotdistillError):
    """Invalid configuration; lists every problem at once, before any compute.

    The message is one line (problems joined by "; ") so that the CLI's one-line error contract
    holds; `problems` keeps them apart for code that wants them.
    """

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = problems
        count = f"{len(problems)} problems" if len(problems) != 1 else "a problem"
        super().__init__(f"{source} has {count}: " + "; ".join(" ".join(p.split()) for p in problems))


def plural(noun: str) -> str:
    """English plural of the registry kinds named in messages ("strategy" -> "strategies")."""
    if noun.endswith("y") and noun[-2:-1] not in set("aeiou"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def unknown_name(kind: str, name: str, valid: list[str]) -> CotdistillError:
    """An unknown registry name, with the valid ones listed."""
    return CotdistillError(f"unknown {kind} '{name}'. Valid {plural(kind)}: {', '.join(sorted(valid))}")
