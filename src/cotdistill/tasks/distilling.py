"""SVAMP and CommonsenseQA in the Distilling step-by-step format, with PaLM-540B rationales.

Rows are JSON Lines (`<task>_<split>.json`); the teacher outputs are JSON arrays of strings in
`llm/<split>_CoT_<k>.json`, concatenated in k order, string i belonging to row i. Each output runs on
into the next few-shot example, so it is cut at the first "\n\nQ:". The cleaned text (answer sentence
included) is the record's rationale; the answer it states is parsed with the answer scorer and kept
in `meta["teacher_answers"]` so the teacher's accuracy can be measured.
"""

from __future__ import annotations

import re
from pathlib import Path

from cotdistill.answers import extract_answer, format_number, parse_number
from cotdistill.errors import DataError
from cotdistill.records import CHOICE_LETTERS, AnswerType, Record
from cotdistill.tasks.files import field, json_list, read_jsonl, require_file
from cotdistill.tasks.registry import register

FOLDER = "distilling-step-by-step"
TEACHER = "palm-540b"


def clean_palm_output(text: str) -> str:
    """A raw few-shot completion cut before the next few-shot example ("\\n\\nQ:")."""
    return text.split("\n\nQ:", 1)[0].strip()


def teacher_outputs(folder: Path, split: str, rows: int) -> list[str]:
    """llm/<split>_CoT_0.json, _1, ... concatenated; one string per row of the split."""
    files = sorted(folder.glob(f"llm/{split}_CoT_*.json"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    if not files:
        raise DataError(folder / "llm", f"no teacher files {split}_CoT_<k>.json found",
                        hint="expected the Distilling step-by-step llm/ folder beside the rows")
    expected = [folder / "llm" / f"{split}_CoT_{k}.json" for k in range(len(files))]
    if files != expected:
        raise DataError(folder / "llm", f"teacher files are not numbered 0..{len(files) - 1} without gaps",
                        hint="expected " + ", ".join(p.name for p in expected))
    outputs: list[str] = []
    for path in files:
        for index, text in enumerate(json_list(path)):
            if not isinstance(text, str):
                raise DataError(path, f"expected a string (one teacher output), got {type(text).__name__}",
                                record=index)
            outputs.append(text)
    if len(outputs) != rows:
        raise DataError(folder / "llm", f"{len(files)} {split}_CoT_*.json files hold {len(outputs)} outputs but "
                        f"{split} has {rows} rows", hint="expected exactly one teacher output per row, in row order")
    return outputs


def _split_file(data_dir: Path, task: str, split: str) -> tuple[Path, Path]:
    folder = data_dir / FOLDER / task
    return folder, require_file(folder / f"{task}_{split}.json")


@register("svamp", AnswerType.numeric, ("train", "test"), "DSS svamp + PaLM-540B rationales",
          "SVAMP math word problems, one cleaned PaLM-540B few-shot-CoT rationale each")
def load_svamp(split: str, data_dir: Path, *, limit: int | None = None) -> list[Record]:
    folder, path = _split_file(data_dir, "svamp", split)
    rows = read_jsonl(path)
    outputs = teacher_outputs(folder, split, len(rows))
    records = []
    for index, ((line, row), output) in enumerate(zip(rows, outputs)):
        question = field(row, "input", path, line=line)
        label = field(row, "label", path, line=line, what="an arithmetic expression such as '( 84.0 / 2.0 )'")
        value = parse_number(label)
        if value is None:
            raise DataError(path, f"cannot evaluate {label!r}", line=line, field="label",
                            hint="expected an arithmetic expression such as '( 84.0 / 2.0 )'")
        rationale = clean_palm_output(output)
        records.append(Record(
            id=f"svamp-{split}-{index}", question=question.strip(), answer=format_number(value),
            answer_type=AnswerType.numeric, rationales=[rationale],
            meta={"source": f"{FOLDER}/svamp", "equation": label, "teacher": TEACHER,
                  "teacher_answers": [extract_answer(rationale, AnswerType.numeric)]},
        ))
    return records


@register("cqa", AnswerType.multiple_choice, ("train", "test"), "DSS cqa + PaLM-540B rationales",
          "CommonsenseQA (5 choices), one cleaned PaLM-540B few-shot-CoT rationale each")
def load_cqa(split: str, data_dir: Path, *, limit: int | None = None) -> list[Record]:
    folder, path = _split_file(data_dir, "cqa", split)
    rows = read_jsonl(path)
    outputs = teacher_outputs(folder, split, len(rows))
    records = []
    for (line, row), output in zip(rows, outputs):
        choices = field(row, "choices", path, line=line, expected=list, what="a list of choice texts")
        answer_text = field(row, "answer", path, line=line, what="the text of the correct choice")
        letter = next((CHOICE_LETTERS[i] for i, c in enumerate(choices) if c == answer_text), None)
        if letter is None:
            raise DataError(path, f"answer {answer_text!r} is not one of the choices {choices}", line=line,
                            field="answer", hint="expected the text of one of the choices")
        rationale = clean_palm_output(output)
        records.append(Record(
            id=str(row.get("id", line)), question=field(row, "question", path, line=line).strip(),
            choices=[str(c) for c in choices], answer=letter, answer_type=AnswerType.multiple_choice,
            rationales=[rationale],
            meta={"source": f"{FOLDER}/cqa", "teacher": TEACHER,
                  "teacher_answers": [extract_answer(rationale, AnswerType.multiple_choice, choices)],
                  "human_explanation": row.get("abstractive_explanation")},
        ))
    return records
