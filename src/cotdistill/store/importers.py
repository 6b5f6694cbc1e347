"""Bring existing teacher outputs into the store, as if they had been sampled here.

Formats
- `dss`: Distilling step-by-step (`distilling-step-by-step/{svamp,cqa}`), one PaLM-540B completion per
  question; the questions come from the task loader, the raw completions from `llm/<split>_CoT_<k>.json`.
- `multi-rationale`: a JSON array of `{instruction|question, output: [rationales] | rationale,
  label|answer}` (MCC-KD's SVAMP files); question i gets the id `<task>-<split>-<i>`.
- `jsonl`: the project's Record format, one JSON object per line; each of a record's `rationales`
  becomes one sample.

Each rationale is parsed exactly like a sampled completion (answer extracted, correctness checked,
unparseable ones stored with their error). Importing twice adds nothing: the rows already exist.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cotdistill.errors import CotdistillError, DataError, unknown_name
from cotdistill.records import AnswerType, Record
from cotdistill.store.sqlite import RationaleStore, Sample, TeacherConfig

IMPORT_FORMATS = ("dss", "multi-rationale", "jsonl")
_DSS_TASKS = ("svamp", "cqa")


@dataclass
class ImportSummary:
    config_key: str
    questions: int
    samples: int  # rationales found in the source
    added: int  # rows new to the store
    parse_errors: int
    correct: int


def import_outputs(
    store: str | Path,
    fmt: str,
    *,
    task: str,
    split: str = "train",
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    model: str | None = None,
    answer_type: str = "numeric",
) -> ImportSummary:
    """Import one source into `store`; see the module docstring for the formats."""
    if fmt == "dss":
        records, outputs, source_files = _read_dss(task, split, data_dir)
        model = model or "palm-540b"
    elif fmt == "multi-rationale":
        source = _required_path(path, fmt)
        records, outputs = _read_multi_rationale(source, task, split, answer_type)
        source_files = [source]
    elif fmt == "jsonl":
        source = _required_path(path, fmt)
        records, outputs = _read_record_jsonl(source)
        source_files = [source]
    else:
        raise unknown_name("import format", fmt, list(IMPORT_FORMATS))
    config = TeacherConfig(
        task=task, split=split, backend=f"import:{fmt}", model=model or "unknown", prompt="imported",
        extra={"source_sha256": _hash_files(source_files)},
    )
    return _store_outputs(store, config, records, outputs)


def _required_path(path: str | Path | None, fmt: str) -> Path:
    if path is None:
        raise CotdistillError(f"--format {fmt} reads one file: pass --path FILE")
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file", hint="Check --path")
    return path


def _read_dss(task: str, split: str, data_dir: str | Path | None) -> tuple[list[Record], list[list[str]], list[Path]]:
    from cotdistill.tasks import load_task, resolve_data_dir
    from cotdistill.tasks.distilling import FOLDER, teacher_outputs

    if task not in _DSS_TASKS:
        raise CotdistillError(f"--format dss holds the tasks {', '.join(_DSS_TASKS)}, not '{task}': pass --task svamp or --task cqa")
    records = load_task(task, split, data_dir=data_dir)
    folder = resolve_data_dir(data_dir) / FOLDER / task
    raw = teacher_outputs(folder, split, len(records))  # the uncut completions, one per row
    files = sorted(folder.glob(f"llm/{split}_CoT_*.json")) + [folder / f"{task}_{split}.json"]
    return records, [[text] for text in raw], files


def _read_multi_rationale(path: Path, task: str, split: str, answer_type: str) -> tuple[list[Record], list[list[str]]]:
    from cotdistill.answers import canonical_answer

    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno) from error
    if not isinstance(rows, list):
        raise DataError(path, "expected a JSON array of {instruction, output, label} objects")
    kind = AnswerType(answer_type)
    records, outputs = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(path, "expected an object", record=index)
        question = row.get("instruction", row.get("question"))
        label = row.get("label", row.get("answer"))
        if not isinstance(question, str) or not question.strip():
            raise DataError(path, "missing question text", record=index, field="instruction", hint="Each row needs 'instruction' (or 'question')")
        answer = canonical_answer(label, kind) if label is not None else None
        if answer is None:
            raise DataError(path, f"cannot read a {kind.value} answer from {label!r}", record=index, field="label")
        output = row.get("output", row.get("rationales", []))
        texts = [output] if isinstance(output, str) else output
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise DataError(path, "expected a rationale string or a list of strings", record=index, field="output")
        records.append(Record(id=f"{task}-{split}-{index}", question=question.strip(), answer=answer, answer_type=kind))
        outputs.append([t for t in texts if t.strip()])  # an empty string means "no rationale" (MCC-KD dev/test)
    return records, outputs


def _read_record_jsonl(path: Path) -> tuple[list[Record], list[list[str]]]:
    from pydantic import ValidationError

    records, outputs = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = Record.from_json(line)
        except ValidationError as error:
            problem = error.errors()[0]
            raise DataError(path, problem["msg"], line=number, field=".".join(map(str, problem["loc"])) or None,
                            hint="Each line must be a Record: {id, question, answer, answer_type, rationales, ...}") from error
        records.append(record.model_copy(update={"rationales": []}))
        outputs.append(list(record.rationales))
    return records, outputs


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _store_outputs(store: str | Path, config: TeacherConfig, records: list[Record], outputs: list[list[str]]) -> ImportSummary:
    from cotdistill.teachers.parsing import parse_completion

    samples = []
    for record, texts in zip(records, outputs):
        for index, text in enumerate(texts):
            parsed = parse_completion(record, text)
            samples.append(Sample(
                config_key=config.key, qid=record.id, sample_index=index, raw=text, rationale=parsed.rationale,
                answer=parsed.answer, correct=parsed.correct, parse_error=parsed.error,
                backend=config.backend, model=config.model, params={},
            ))
    with RationaleStore(store) as db:
        db.register_config(config)
        db.add_questions(config.task, config.split, records)
        added = db.add_samples(samples)
    return ImportSummary(
        config_key=config.key, questions=len(records), samples=len(samples), added=added,
        parse_errors=sum(s.parse_error is not None for s in samples), correct=sum(bool(s.correct) for s in samples),
    )
