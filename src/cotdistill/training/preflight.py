"""Checks that run before any training compute, so a run never fails (or mixes) halfway.

- The data: every line of train.jsonl is a valid Record in canonical form (the validator shared with
  `tasks` and `import`, one line per problem), one id names one question, and manifest.json is an
  object whose `content_hash` (when it has one) matches train.jsonl: a mismatch means `curate` was
  interrupted between its two writes, or the file was edited after curation.
- The output folder can be written.
- `--resume` continues only the run it started from: the settings and the data's hash are recorded
  in OUT/checkpoints/run-settings.json when a run starts; a resume whose data or any setting that
  shapes the weights differs is refused, naming each difference. Only bookkeeping may change
  (`IGNORED_ON_RESUME`). Checkpoints written before this file existed are resumed unchecked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cotdistill.errors import ConfigError, DataError
from cotdistill.files import check_output_folder, decode_utf8, read_json, write_json_atomic
from cotdistill.records import Record
from cotdistill.training.config import TrainConfig
from cotdistill.validation import SameQuestionIds, check_record

SETTINGS_FILE = "run-settings.json"
# How the run is watched, saved and fitted in memory, not what it computes: these may differ on --resume
# (activation checkpointing computes the same losses: a run that ran out of memory resumes with it on).
IGNORED_ON_RESUME = ("resume", "progress", "report_to", "save_every", "keep_checkpoints", "log_every",
                     "sem_cache_dir", "out", "data",  # data: compared by content hash, so a moved folder resumes
                     "activation_checkpointing")


class ManifestCounts(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    kept: int | None = None
    sampled: int | None = None


class Manifest(BaseModel):
    """The fields of a curated folder's manifest.json that are read back (training, the run grid)."""

    model_config = ConfigDict(extra="allow", strict=True)

    task: str | None = None
    task_name: str | None = None  # older manifests
    split: str | None = None
    answer_type: str | list[str] | None = None
    content_hash: str | None = None
    train_file: str | None = None
    counts: ManifestCounts | None = None


class RunSettings(BaseModel):
    """OUT/checkpoints/run-settings.json: the settings a training started with (compared on --resume)."""

    model_config = ConfigDict(extra="allow", strict=True)

    data_sha256: str | None = None


def preflight(config: TrainConfig) -> None:
    """Every check above; raises a DataError / ConfigError / CotdistillError before any work."""
    data_hash = check_curated(config.data)
    check_output_folder(config.out)
    settings = _settings(config, data_hash)
    settings_path = Path(config.out) / "checkpoints" / SETTINGS_FILE
    if config.resume and _has_checkpoints(Path(config.out)):
        _refuse_mismatch(settings_path, settings)
    else:
        write_json_atomic(settings_path, settings)


def check_curated(folder: str | Path) -> str:
    """Validate a curated folder; returns the sha256 of its train.jsonl."""
    folder = Path(folder)
    manifest_path, train_path = folder / "manifest.json", folder / "train.jsonl"
    manifest = read_manifest(manifest_path)
    body = train_path.read_bytes() if train_path.is_file() else None
    if body is None:
        raise DataError(train_path, "file not found", hint="run `cotdistill curate` first")
    count = _check_lines(train_path, decode_utf8(train_path, body))
    if count == 0:
        raise DataError(train_path, "no training records", hint="check the curation settings")
    digest = hashlib.sha256(body).hexdigest()
    recorded = manifest.get("content_hash")
    if recorded is not None and recorded != f"sha256:{digest}":
        raise DataError(manifest_path, f"content_hash {str(recorded)[:24]}... does not match train.jsonl "
                        f"(sha256:{digest[:16]}...): curation was interrupted between its two writes, or "
                        "train.jsonl was edited after it", field="content_hash",
                        hint="re-run `cotdistill curate` into this folder")
    return digest


def read_manifest(path: str | Path) -> dict[str, Any]:
    """A curated folder's manifest.json, validated: a hand-edited or foreign one names the file and field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found", hint="run `cotdistill curate` first")
    return read_json(path, Manifest, hint="re-run `cotdistill curate`")


def _check_lines(path: Path, text: str) -> int:
    ids, count = SameQuestionIds(path), 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = Record.from_json(line)
        except ValidationError as error:
            raise DataError(path, f"not a valid record: {_first_problem(error)}", line=number,
                            hint="each line must be one Record (docs/data-formats.md); re-run `cotdistill curate`") from None
        if len(record.rationales) != 1:
            raise DataError(path, f"expected exactly one rationale, found {len(record.rationales)}", line=number,
                            record=record.id, field="rationales", hint="curated training files carry one rationale per line")
        check_record(record, path, line=number)
        ids.add(record, number)
        count += 1
    return count


def _first_problem(error: ValidationError) -> str:
    """pydantic's first complaint as one short clause (its full dump spans lines and links its docs)."""
    items = error.errors(include_url=False)
    first = items[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return (f"field '{where}': " if where else "") + first["msg"] + more


def _settings(config: TrainConfig, data_hash: str) -> dict:
    values = config.model_dump(mode="json", exclude=set(IGNORED_ON_RESUME))
    return {"data_sha256": data_hash, **values}


def _has_checkpoints(out: Path) -> bool:
    from cotdistill.training.checkpoint import list_checkpoints

    return bool(list_checkpoints(out))


def _refuse_mismatch(path: Path, settings: dict) -> None:
    if not path.is_file():
        return  # checkpoints from before run-settings.json existed: nothing to compare with
    saved = read_json(path, RunSettings, hint=f"train into another --out, or remove {path} to resume unchecked")
    differences = [
        f"{_label(key)} {_shown(key, settings.get(key))} (the run in {path.parent.parent} used {_shown(key, saved.get(key))})"
        for key in sorted(set(saved) | set(settings))
        if saved.get(key) != settings.get(key)
    ]
    if differences:
        raise ConfigError(differences + ["resume with the original data and settings, or train into another --out"],
                          source="--resume")


def _label(key: str) -> str:
    return "data: train.jsonl" if key == "data_sha256" else key


def _shown(key: str, value) -> str:
    if key == "data_sha256" and isinstance(value, str):
        return f"has sha256 {value[:12]}"
    return json.dumps(value)
