"""Files, shared by every stage: atomic writes, UTF-8 reads that name the file, and output checks.

- Atomic writes: a file appears complete or not at all (temp file, fsync, rename). The temp file is
  named `.<name>.<pid>.<random>.tmp`, so a later write of the same file can tell a temp left by a
  killed process (its pid is gone) from one a live writer still owns, and removes only the former.
  The result gets the ordinary mode a plain `open()` would give (0666 less the umask), not
  mkstemp's 0600.
- `read_text`: the whole file as UTF-8, or a DataError naming the file, line and byte.
- `check_output_file` / `check_output_folder`: refuse an output that cannot be written *before*
  any work is done, so a long job never fails only at its last write.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cotdistill.errors import CotdistillError, DataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete `.<name>.<pid>.*.tmp` beside `path` whose writing process no longer exists."""
    path = Path(path)
    removed = []
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        pid_text = temp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            temp.unlink(missing_ok=True)
            removed.append(temp)
    return removed


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


# ------------------------------------------------------------------------------------------ reads


def decode_utf8(path: str | Path, data: bytes) -> str:
    """`data` (the bytes of `path`) as text, or a DataError naming the line and byte that are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(path, f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})", line=line,
                        hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") from None


def read_text(path: str | Path) -> str:
    """A whole text file, decoded as UTF-8 with a clear error; a missing or unreadable file is a DataError too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, expected a file") from None
    except PermissionError:
        raise DataError(path, "not readable (permission denied)") from None
    return decode_utf8(path, data)


def json_type(value) -> str:
    """How a JSON value's type reads in a message: 'an object', 'a list', 'a string', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def read_json(path: str | Path, model=None, *, hint: str | None = None):
    """A JSON file cotdistill wrote and now reads back, validated as it is read.

    Missing, not UTF-8 or not JSON: a DataError naming the file (and line). With `model` (a pydantic
    model of the fields that are read), the top level must be an object and every field the model
    states must have its type; the first problem is a DataError naming the file and the field. Returns
    the parsed JSON (not the model: callers keep reading the dict they always read)."""
    path = Path(path)
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno, hint=hint) from None
    if model is not None:
        check_json(path, data, model, hint=hint)
    return data


def check_json(path: str | Path, data, model, *, hint: str | None = None, at: str | None = None):
    """`data` (read from `path`) validated against the pydantic `model`; returns the model instance.
    `at`: where `data` sits in the file (a nested object's field path), prefixed to the field named."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise DataError(path, f"expected a JSON object, got {json_type(data)}", hint=hint)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        items = error.errors(include_url=False)
        first = items[0]
        where = _field_path(first["loc"])
        # a field that may take several types fails once per type: say them together
        messages = list(dict.fromkeys(_message(item) for item in items if _field_path(item["loc"]) == where))
        message = messages[0] + "".join(" or " + m.removeprefix("Input should be ") for m in messages[1:])
        got = first.get("input")
        shown = f"; got {json_type(got)}" + (f" {json.dumps(got)[:40]}" if isinstance(got, (str, int, float)) else "")
        field = ".".join((at, *where) if at else where) or None
        raise DataError(path, message + ("" if first["type"] == "missing" else shown), field=field, hint=hint) from None


def _field_path(loc) -> tuple[str, ...]:
    """pydantic's error location less the union members it tries ('str', 'list[str]', a model's name)."""
    return tuple(str(part) for part in loc
                 if isinstance(part, int) or not (part[:1].isupper() or "[" in part or part in ("str", "int", "float", "bool", "none")))


def _message(item: dict) -> str:
    if item["type"] in ("model_type", "dict_type", "model_attributes_type", "dataclass_type"):
        return "Input should be a JSON object"
    return item["msg"]


# ---------------------------------------------------------------------------------- output checks


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _writable_folder(folder: Path, what: str, flag: str) -> None:
    """`folder` exists or can be created, and files can be created in it."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise CotdistillError(f"{flag} {what}: {existing} is a file, not a folder; choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CotdistillError(f"{flag} {what}: cannot write in {existing} (permission denied); choose another {flag}")


def check_output_file(path: str | Path, flag: str = "--out") -> Path:
    """Refuse, before any work, an output file that could not be written (a folder, a read-only place)."""
    path = Path(path)
    if path.is_dir():
        raise CotdistillError(f"{flag} {path}: is a folder, expected a file path; choose a file name such as {path / 'out.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise CotdistillError(f"{flag} {path}: the file is read-only; choose another {flag} or make it writable")
    _writable_folder(path.parent, str(path), flag)
    return path


def check_output_folder(path: str | Path, flag: str = "--out") -> Path:
    """Refuse, before any work, an output folder that could not be written (a file, a read-only place)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CotdistillError(f"{flag} {path}: is a file, expected a folder; choose another {flag}")
    _writable_folder(path, str(path), flag)
    return path
