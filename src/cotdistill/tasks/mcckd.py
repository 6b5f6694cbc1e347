"""SVAMP from MCC-KD: 700 train questions with 10 teacher rationales each; dev and test with none.

`mcc-kd/SVAMP/<split>.json` is a JSON array of `{instruction, output, label}`; in train `output` is a
list of 10 rationales (an OpenAI chat model, not stated upstream), in dev/test an empty string.
The rationales state no fixed answer phrase, so the parsed teacher answers (the last number, by the
answer scorer's rule) are kept in `meta["teacher_answers"]`, one per rationale.
"""

from __future__ import annotations

from pathlib import Path

from cotdistill.answers import extract_answer, format_number, parse_number
from cotdistill.errors import DataError
from cotdistill.records import AnswerType, Record
from cotdistill.tasks.files import field, json_list
from cotdistill.tasks.registry import register

FOLDER = "mcc-kd/SVAMP"


@register("svamp-mcc", AnswerType.numeric, ("train", "dev", "test"), "mcc-kd/SVAMP, 10 rationales/question",
          "SVAMP with 10 sampled teacher rationales per train question (SCoTD-style multi-sample data)")
def load_svamp_mcc(split: str, data_dir: Path, *, limit: int | None = None) -> list[Record]:
    path = data_dir / FOLDER / f"{split}.json"
    records = []
    for index, row in enumerate(json_list(path)):
        if not isinstance(row, dict):
            raise DataError(path, f"expected an object {{instruction, output, label}}, got {type(row).__name__}",
                            record=index)
        question = field(row, "instruction", path, record=index)
        label = field(row, "label", path, record=index, expected=(str, int, float), what="a number")
        value = parse_number(label)
        if value is None:
            raise DataError(path, f"expected a number, got {label!r}", record=index, field="label")
        output = row.get("output", "")
        if isinstance(output, str):
            rationales = [output.strip()] if output.strip() else []
        elif isinstance(output, list) and all(isinstance(o, str) for o in output):
            rationales = [o.strip() for o in output]
        else:
            raise DataError(path, "expected a rationale string or a list of rationale strings", record=index,
                            field="output")
        records.append(Record(
            id=f"svamp-mcc-{split}-{index}", question=question.strip(), answer=format_number(value),
            answer_type=AnswerType.numeric, rationales=rationales,
            meta={"source": FOLDER, "teacher": "openai-chat (unstated upstream)",
                  "teacher_answers": [extract_answer(r, AnswerType.numeric) for r in rationales]},
        ))
    return records
