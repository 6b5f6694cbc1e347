"""Reading the data files, with one clear DataError for anything malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotdistill.errors import DataError
from cotdistill.files import read_text

_HINT_DATA = "check that --data-dir (or COTDISTILL_DATA) points at the shared data folder"


def require_file(path: Path, hint: str = _HINT_DATA) -> Path:
    if not path.is_file():
        raise DataError(path, "file not found", hint=hint)
    return path


def read_json(path: Path) -> Any:
    """A whole-file JSON document."""
    text = read_text(require_file(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg}, column {error.colno})", line=error.lineno,
                        hint="expected one JSON document") from None


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSON Lines file."""
    rows = []
    for number, line in enumerate(read_text(require_file(path)).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(path, f"line is not valid JSON ({error.msg}, column {error.colno})", line=number,
                            hint="expected one JSON object per line (JSON Lines)") from None
        if not isinstance(row, dict):
            raise DataError(path, f"expected a JSON object, got {type(row).__name__}", line=number)
        rows.append((number, row))
    return rows


def field(row: dict, name: str, path: Path, *, expected: type | tuple[type, ...] = str,
          line: int | None = None, record: int | str | None = None, what: str | None = None) -> Any:
    """row[name], checked to exist and have the expected type."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    wanted = what or " or ".join(k.__name__ for k in kinds)
    if name not in row:
        raise DataError(path, f"missing field, expected {wanted}", line=line, record=record, field=name)
    value = row[name]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise DataError(path, f"expected {wanted}, got {type(value).__name__} {str(value)[:40]!r}",
                        line=line, record=record, field=name)
    return value


def json_list(path: Path, key: str | None = None) -> list:
    """A JSON file holding a list (or a dict whose `key` holds the list)."""
    data = read_json(path)
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise DataError(path, f"expected a JSON object with a '{key}' list", field=key)
        data = data[key]
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON array, got {type(data).__name__}", field=key)
    return data
