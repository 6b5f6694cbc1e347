"""Bring existing teacher outputs into the store, as if they had been sampled here.

Formats
- `dss`: Distilling step-by-step (`distilling-step-by-step/{svamp,cqa}`), one PaLM-540B completion per
  question; the questions come from the task loader, the raw completions from `llm/<split>_CoT_<k>.json`.
- `multi-rationale`: a JSON array of `{instruction|question, output: [rationales] | rationale,
  label|answer}` (MCC-KD's SVAMP files); question i gets the id `<task>-<split>-<i>`.
- `jsonl`: the project's Record format, one JSON object per line; each of a record's `rationales`
  becomes one sample. Lines are read as `jsonl:` tasks read them (`rationale` or `rationales`).
- `ftcot`: Fine-tune-CoT's `completion_data` JSON (`{metadata, data: {sample_index: [completion, ...]}}`),
  two-stage zero-shot-CoT: `reasoning_completion` is the rationale and the answer stage's `completion`
  gives the teacher's answer. Sample indices are the Fine-tune-CoT indices the zero-shot-CoT tasks use
  as record ids, so the rationales join the task's questions; every completion is one sample.
- `task`: the rationales a task's own records carry (`cotdistill tasks show`: SVAMP and CQA's PaLM
  rationales, MCC-KD's 10 per question, GSM8K's human solutions), one sample each.

Each rationale is parsed exactly like a sampled completion (answer extracted, correctness checked,
unparseable ones stored with their error). Importing twice adds nothing: the rows already exist.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cotdistill.errors import CotdistillError, DataError, NoTeacherOutputs, unknown_name
from cotdistill.records import CHOICE_LETTERS, AnswerType, Record
from cotdistill.store.sqlite import RationaleStore, Sample, TeacherConfig

IMPORT_FORMATS = ("dss", "multi-rationale", "jsonl", "ftcot", "task")
# Fine-tune-CoT dataset keys -> the zero-shot-CoT task that holds their questions and splits.
FTCOT_TASKS = {
    "addsub": "addsub", "aqua": "aqua", "coin_flip": "coin-flip", "commonsense_qa": "commonsenseqa",
    "date_understanding": "date", "gsm8k": "gsm8k-zs", "last_letter_concatenation": "last-letters",
    "multiarith": "multiarith", "single_eq": "singleeq", "strategy_qa": "strategyqa", "svamp": "svamp-zs",
    "tracking_shuffled_objects": "shuffled-objects",
}  # fmt: skip
_DSS_TASKS = ("svamp", "cqa")


@dataclass
class ImportSummary:
    config_key: str
    questions: int
    samples: int  # rationales found in the source
    added: int  # rows new to the store
    parse_errors: int
    correct: int


class Output(NamedTuple):
    """One imported sample: the teacher's text and, for two-stage prompts, the answer stage's output
    (None: the answer is read from the text) and the trigger that opened it (None: ours)."""

    text: str
    answer_stage: str | None = None
    trigger: str | None = None


def import_outputs(
    store: str | Path,
    fmt: str,
    *,
    task: str | None = None,
    split: str = "train",
    path: str | Path | None = None,
    data_dir: str | Path | None = None,
    model: str | None = None,
    answer_type: str = "numeric",
    questions: set[str] | None = None,
) -> ImportSummary:
    """Import one source into `store`; see the module docstring for the formats.

    `task` may be left out for `ftcot` (the file names its dataset); the others need it. `questions`
    keeps only those question ids (an experiment's training subset).
    """
    if task is None and fmt != "ftcot":
        raise CotdistillError(f"--format {fmt} needs --task NAME (the task the questions belong to)")
    if fmt == "dss":
        records, outputs, source_files = _read_dss(task, split, data_dir)
        model = model or "palm-540b"
    elif fmt == "multi-rationale":
        source = _required_path(path, fmt)
        records, outputs = _read_multi_rationale(source, task, split, answer_type)
        source_files = [source]
    elif fmt == "jsonl":
        source = _required_path(path, fmt)
        records, outputs = _read_record_jsonl(source, answer_type)
        source_files = [source]
    elif fmt == "task":
        records, outputs = _read_task_rationales(task, split, data_dir)
        source_files = []
    elif fmt == "ftcot":
        source = _required_path(path, fmt)
        task, records, outputs, model = _read_ftcot(source, task, split, data_dir, model)
        source_files = [source]
    else:
        raise unknown_name("import format", fmt, list(IMPORT_FORMATS))
    if questions is not None:
        kept = [(r, o) for r, o in zip(records, outputs) if r.id in questions]
        records, outputs = [r for r, _ in kept], [o for _, o in kept]
    config = TeacherConfig(
        task=task, split=split, backend=f"import:{fmt}", model=model or "unknown", prompt="imported",
        # The source's content: its files, or (format task) the records and rationales themselves.
        extra={"source_sha256": _hash_files(source_files) if source_files else _hash_outputs(records, outputs)},
    )
    return _store_outputs(store, config, records, outputs)


def _required_path(path: str | Path | None, fmt: str) -> Path:
    if path is None:
        raise CotdistillError(f"--format {fmt} reads one file: pass --path FILE")
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file", hint="Check --path")
    return path


def _read_dss(task: str, split: str, data_dir: str | Path | None) -> tuple[list[Record], list[list[Output]], list[Path]]:
    from cotdistill.tasks import load_task, resolve_data_dir
    from cotdistill.tasks.distilling import FOLDER, teacher_outputs

    if task not in _DSS_TASKS:
        raise CotdistillError(f"--format dss holds the tasks {', '.join(_DSS_TASKS)}, not '{task}': pass --task svamp or --task cqa")
    records = load_task(task, split, data_dir=data_dir)
    folder = resolve_data_dir(data_dir) / FOLDER / task
    raw = teacher_outputs(folder, split, len(records))  # the uncut completions, one per row
    files = sorted(folder.glob(f"llm/{split}_CoT_*.json")) + [folder / f"{task}_{split}.json"]
    return records, [[Output(text)] for text in raw], files


def _read_task_rationales(task: str, split: str, data_dir) -> tuple[list[Record], list[list[Output]]]:
    from cotdistill.tasks import get_task_info, load_task

    records = load_task(task, split, data_dir=data_dir)
    if not any(r.rationales for r in records):
        raise NoTeacherOutputs(f"task '{task}' ({get_task_info(task).source}) carries no rationales in split '{split}': "
                              "import its teacher outputs with another --format, or sample them with `cotdistill teach`")
    outputs = [[Output(text) for text in r.rationales] for r in records]
    return [r.model_copy(update={"rationales": []}) for r in records], outputs


def _read_multi_rationale(path: Path, task: str, split: str, answer_type: str) -> tuple[list[Record], list[list[Output]]]:
    from cotdistill.files import read_text
    from cotdistill.validation import answer_type as checked_answer_type
    from cotdistill.validation import gold_answer

    kind = checked_answer_type(answer_type, "--answer-type", field=None)
    try:
        rows = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno) from None
    if not isinstance(rows, list):
        raise DataError(path, "expected a JSON array of {instruction, output, label} objects")
    records, outputs = [], []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(path, "expected an object", record=index)
        question = row.get("instruction", row.get("question"))
        label = row.get("label", row.get("answer"))
        if not isinstance(question, str) or not question.strip():
            raise DataError(path, "missing question text", record=index, field="instruction", hint="Each row needs 'instruction' (or 'question')")
        answer = gold_answer(label, kind)  # the whole label: [4] or "four-ish" is refused, not read as 4
        if answer is None:
            raise DataError(path, f"cannot read a {kind.value} answer from {label!r}", record=index, field="label",
                            hint=f"the label must be one {kind.value} answer (or pass the right --answer-type)")
        output = row.get("output", row.get("rationales", []))
        texts = [output] if isinstance(output, str) else output
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise DataError(path, "expected a rationale string or a list of strings", record=index, field="output")
        records.append(Record(id=f"{task}-{split}-{index}", question=question.strip(), answer=answer, answer_type=kind))
        outputs.append([Output(t) for t in texts if t.strip()])  # an empty string means "no rationale" (MCC-KD dev/test)
    return records, outputs


def _read_record_jsonl(path: Path, answer_type: str) -> tuple[list[Record], list[list[Output]]]:
    """The generic JSONL that `jsonl:` tasks read (one reader for both): a rationale string or list per line."""
    from cotdistill.tasks.generic import load_jsonl

    from cotdistill.validation import answer_type as checked_answer_type

    checked_answer_type(answer_type, "--answer-type", field=None)
    records = load_jsonl("train", None, target=str(path), answer_type=answer_type)  # ids checked unique there
    return [r.model_copy(update={"rationales": []}) for r in records], [[Output(t) for t in r.rationales] for r in records]


def _read_ftcot(path: Path, task: str | None, split: str, data_dir, model: str | None):
    """(task, records of the split, their (reasoning, answer stage) outputs, teacher model) of a Fine-tune-CoT file."""
    from cotdistill.tasks import load_task

    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=error.lineno) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise DataError(path, "expected Fine-tune-CoT completion data: an object with 'metadata' and 'data'",
                        field="data", hint="pass a completion_data/B_<teacher>__C_<prompt>/D_<task>.json file")
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    task = _ftcot_task(path, task, metadata.get("dataset_key"))
    records = load_task(task, split, data_dir=data_dir)
    outputs = []
    for record in records:
        completions = payload["data"].get(str(record.meta["index"]), [])
        if not isinstance(completions, list):
            raise DataError(path, "expected a list of completions", record=record.meta["index"], field="data")
        outputs.append([_ftcot_output(path, record, c) for c in completions])
    return task, records, outputs, model or metadata.get("base_model") or "unknown"


def _ftcot_task(path: Path, task: str | None, dataset_key) -> str:
    """The zero-shot-CoT task of a Fine-tune-CoT file: --task (our name or the upstream key), checked against the file."""
    named = FTCOT_TASKS.get(dataset_key) if isinstance(dataset_key, str) else None
    if task is None:
        if named is None:
            raise DataError(path, f"metadata.dataset_key {dataset_key!r} is not one of {', '.join(FTCOT_TASKS)}",
                            field="metadata.dataset_key", hint="pass --task NAME")
        return named
    chosen = FTCOT_TASKS.get(task, task)
    if chosen not in FTCOT_TASKS.values():
        raise CotdistillError(f"--format ftcot imports into the zero-shot-CoT tasks ({', '.join(sorted(FTCOT_TASKS.values()))}), "
                              f"not '{task}'")
    if named is not None and named != chosen:
        raise DataError(path, f"this file holds '{dataset_key}' (task {named}), not {chosen}", field="metadata.dataset_key",
                        hint=f"pass --task {named}, or the file of {chosen}")
    return chosen


def _ftcot_output(path: Path, record: Record, completion) -> Output:
    """(reasoning, answer stage) of one completion, its choice letter re-mapped to the record's choice order."""
    from cotdistill.answers import extract_answer

    where = {"record": record.meta["index"]}
    if not isinstance(completion, dict):
        raise DataError(path, "expected a completion object", **where)
    reasoning, answer, prompt = (completion.get(k) for k in ("reasoning_completion", "completion", "prompt"))
    for name, value in (("reasoning_completion", reasoning), ("completion", answer)):
        if not isinstance(value, str):
            raise DataError(path, f"expected a string, got {type(value).__name__}", field=name, **where)
    if record.choices:  # Fine-tune-CoT lists the choices in its own order (date understanding differs from ours)
        theirs = _listed_choices(completion.get("question", ""))
        letter = extract_answer(f"The answer is {answer}", record.answer_type, theirs) if theirs else None
        if letter is not None and theirs[CHOICE_LETTERS.index(letter)] in record.choices:
            answer = f" ({CHOICE_LETTERS[record.choices.index(theirs[CHOICE_LETTERS.index(letter)])]})."
    # The trigger the teacher saw: what its answer-stage prompt adds after the reasoning.
    trigger = prompt.rpartition(reasoning)[2].strip() if isinstance(prompt, str) and reasoning in prompt else None
    return Output(reasoning, answer, trigger or None)


def _listed_choices(question: str) -> list[str] | None:
    """The choice texts of Fine-tune-CoT's "Answer choices: (A) x, (B) y." suffix, in its letter order."""
    _, found, listed = question.rpartition("Answer choices:")
    if not found:
        return None
    parts = re.split(r"\s*\(([A-J])\)\s*", listed)[1:]
    texts = [text.strip().rstrip(",.").strip() for text in parts[1::2]]
    return texts or None


def _hash_outputs(records: list[Record], outputs: list[list[Output]]) -> str:
    digest = hashlib.sha256()
    for record, texts in zip(records, outputs):
        digest.update(record.to_json().encode())
        digest.update(json.dumps(texts).encode())
    return digest.hexdigest()[:16]


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _store_outputs(store: str | Path, config: TeacherConfig, records: list[Record], outputs: list[list[Output]]) -> ImportSummary:
    from cotdistill.teachers.parsing import parse_completion
    from cotdistill.teachers.prompts import answer_trigger
    from cotdistill.validation import UniqueIds, check_record

    # Every format, checked the same way before anything is written: one question per id, each in
    # canonical form (the store keeps the first question of an id and would drop the others).
    source = f"import into {config.task}/{config.split}"
    if not records:
        raise NoTeacherOutputs(f"{source}: the source holds no questions; nothing imported. Check --path, --task and --split")
    ids = UniqueIds(source, config.split)
    for index, record in enumerate(records):
        ids.add(record.id, record=index)
        check_record(record, source)
    samples = []
    for record, texts in zip(records, outputs):
        for index, (text, answer_stage, trigger) in enumerate(texts):
            parsed = parse_completion(record, text, answer_stage)
            raw = text if answer_stage is None else f"{text.rstrip()}\n{trigger or answer_trigger(record)} {answer_stage.strip()}"
            samples.append(Sample(
                config_key=config.key, qid=record.id, sample_index=index, raw=raw, rationale=parsed.rationale,
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
