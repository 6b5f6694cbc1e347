"""Generic sources: your own JSONL file (`jsonl:<path>`) and Hugging Face datasets (`hf:<id>`).

The JSONL format is documented in docs/data-formats.md: one Record per line (`id` optional,
`answer_type` optional when given as an option, `rationale` accepted for a single rationale).
"""

from __future__ import annotations

import re
from pathlib import Path

from cotdistill.errors import CotdistillError, DataError
from cotdistill.records import AnswerType, Record
from cotdistill.tasks.files import read_jsonl
from cotdistill.tasks.registry import register
from cotdistill.validation import ANSWER_FORMS as _ANSWER_FORMS
from cotdistill.validation import ANSWER_TYPES as _TYPES
from cotdistill.validation import UniqueIds, answer_type, gold_answer

RECORD_FIELDS = {"id", "question", "choices", "answer", "answer_type", "rationales", "rationale", "meta"}


def _answer_type(value, path: Path, line: int | None, record: int | str | None = None) -> AnswerType:
    return answer_type(value, path, line=line, record=record, hint="set it on each line or pass the option answer_type=")


def jsonl_path(target: str, split: str) -> Path:
    """`data/{split}.jsonl` -> that file for the split; a folder -> `<folder>/<split>.jsonl`; a file as is."""
    if "{split}" in target:
        return Path(target.replace("{split}", split)).expanduser()
    path = Path(target).expanduser()
    return path / f"{split}.jsonl" if path.is_dir() else path


@register("jsonl:", None, (), "your file: jsonl:<path> (see docs/data-formats.md)",
          "One Record per line; <path> may be a file, a folder of <split>.jsonl, or contain {split}",
          needs_data_dir=False, prefix=True)
def load_jsonl(split: str, data_dir: Path | None, *, target: str, limit: int | None = None,
               answer_type: str | None = None) -> list[Record]:
    path = jsonl_path(target, split)
    default_type = _answer_type(answer_type, path, None) if answer_type else None
    records, ids = [], UniqueIds(path, split)
    for line, row in read_jsonl(path):
        unknown = sorted(set(row) - RECORD_FIELDS)
        if unknown:
            raise DataError(path, f"unknown field(s) {', '.join(unknown)}; expected fields: "
                            f"{', '.join(sorted(RECORD_FIELDS))}", line=line, field=unknown[0],
                            hint="put anything else under 'meta'")
        record = _record_from_row(row, path, line, default_type, f"{path.stem}-{line}")
        ids.add(record.id, line=line)
        records.append(record)
        if limit is not None and len(records) >= limit:
            break
    return records


def _record_from_row(row: dict, path: Path, line: int | None, default_type: AnswerType | None, default_id: str,
                     record: int | str | None = None) -> Record:
    where = {"line": line, "record": record}
    if "answer_type" in row:
        kind = _answer_type(row["answer_type"], path, line, record)
    elif default_type is not None:
        kind = default_type
    else:
        raise DataError(path, f"missing field, expected one of {_TYPES}", field="answer_type", **where,
                        hint="set it on each line or pass the option answer_type=")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(path, "expected a non-empty question string", field="question", **where)
    choices = row.get("choices")
    if choices is not None and not (isinstance(choices, list) and all(isinstance(c, str) for c in choices)):
        raise DataError(path, "expected a list of choice strings", field="choices", **where)
    if kind is AnswerType.multiple_choice and not choices:
        raise DataError(path, "a multiple_choice record needs its choices", field="choices", **where)
    if "answer" not in row or row["answer"] is None or isinstance(row["answer"], (list, dict, bool)):
        raise DataError(path, f"expected the gold answer ({_ANSWER_FORMS[kind]})", field="answer", **where)
    answer = gold_answer(row["answer"], kind, choices)
    if answer is None:
        raise DataError(path, f"cannot read {row['answer']!r} as a {kind.value} answer; expected {_ANSWER_FORMS[kind]}",
                        field="answer", **where)
    rationales = row.get("rationales", [row["rationale"]] if "rationale" in row else [])
    if not (isinstance(rationales, list) and all(isinstance(r, str) for r in rationales)):
        raise DataError(path, "expected a list of rationale strings", field="rationales", **where)
    meta = row.get("meta", {})
    if not isinstance(meta, dict):
        raise DataError(path, "expected an object", field="meta", **where)
    if "id" in row and (not isinstance(row["id"], (str, int)) or isinstance(row["id"], bool) or not str(row["id"]).strip()):
        raise DataError(path, f"expected a non-empty string id, got {row['id']!r}", field="id", **where)
    return Record(id=str(row.get("id", default_id)), question=question.strip(), choices=choices, answer=answer,
                  answer_type=kind, rationales=rationales, meta=meta)



# -------------------------------------------------------------------------------------- Hugging Face


@register("hf:", None, (), "Hugging Face hub: hf:<id> (needs a reachable hub)",
          "A datasets hub id with field-mapping options (question_field, answer_field, ...)",
          needs_data_dir=False, prefix=True)
def load_hf(split: str, data_dir: Path | None, *, target: str, limit: int | None = None,
            answer_type: str = "text", config: str | None = None, question_field: str = "question",
            answer_field: str = "answer", choices_field: str | None = None, rationale_field: str | None = None,
            id_field: str | None = None, answer_after: str | None = None, data_files: str | None = None) -> list[Record]:
    """`answer_after="####"` takes the answer from after the last marker (GSM8K style);
    `choices_field` may hold a list of texts or `{label: [...], text: [...]}`; `hf:json` with
    `data_files=` reads local files through `datasets` without the hub."""
    kind = AnswerType(answer_type) if answer_type in {t.value for t in AnswerType} else None
    if kind is None:
        raise CotdistillError(f"option answer_type must be one of {_TYPES}, got {answer_type!r}")
    rows = _hub_rows(target, config, split, data_files, limit)
    source = Path(f"hf:{target}" + (f"/{config}" if config else "") + f"[{split}]")
    records, ids = [], UniqueIds(source, split)
    for index, row in enumerate(rows):
        for name in (question_field, answer_field):
            if name not in row:
                raise DataError(source, f"missing field; the rows have {', '.join(row)}", record=index, field=name,
                                hint="map it with question_field= / answer_field=")
        answer = row[answer_field]
        if answer_after is not None:
            answer = str(answer).rpartition(answer_after)[2].strip()
        if isinstance(answer, int) and kind is AnswerType.multiple_choice:
            answer = "ABCDEFGHIJ"[answer]  # a class index
        mapped = {"question": row[question_field], "answer": answer, "answer_type": kind.value,
                  "id": str(row[id_field]) if id_field else f"{target}-{split}-{index}",
                  "meta": {"source": f"hf:{target}"}}
        if choices_field:
            mapped["choices"] = _choice_texts(row.get(choices_field))
        if rationale_field and row.get(rationale_field):
            rationale = str(row[rationale_field])
            mapped["rationales"] = [re.sub(r"<<[^<>]*>>", "", rationale.split(answer_after)[0]).strip()
                                    if answer_after else rationale]
        records.append(_record_from_row(mapped, source, None, kind, mapped["id"], record=index))
        ids.add(records[-1].id, record=index)
    return records


def _choice_texts(value) -> list[str] | None:
    if isinstance(value, dict) and "text" in value:
        return [str(t) for t in value["text"]]
    if isinstance(value, list):
        return [str(t) for t in value]
    return None


def _hub_rows(target: str, config: str | None, split: str, data_files: str | None, limit: int | None) -> list[dict]:
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - datasets is a dependency
        raise CotdistillError(f"hf:{target} needs the 'datasets' package: {error}") from None
    wanted = split if limit is None else f"{split}[:{limit}]"
    try:
        dataset = datasets.load_dataset(target, config, split=wanted, data_files=data_files)
    except Exception as error:  # noqa: BLE001 - every failure here is the user's to fix; say which
        first_line = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        raise CotdistillError(
            f"could not load Hugging Face dataset '{target}' (config {config}, split {split}): "
            f"{type(error).__name__}: {first_line}. If the hub is unreachable here (HF_HUB_OFFLINE=1 or no "
            f"network), download the data elsewhere and use jsonl:<path>, or hf:json with data_files="
        ) from None
    return [dict(row) for row in dataset]
