"""GSM8K with its human-written step-by-step solutions.

`gsm8k/<split>.jsonl` rows are `{question, answer}`; `answer` is the worked solution with calculator
annotations such as `<<48/2=24>>` and the final answer after `#### `. The rationale is the solution
with the annotations removed and the `#### 18` line written as "The answer is 18."; the record's
answer is the number after `#### `.
"""

from __future__ import annotations

import re
from pathlib import Path

from cotdistill.answers import extract_answer, format_number, parse_number
from cotdistill.errors import DataError
from cotdistill.records import AnswerType, Record
from cotdistill.tasks.files import field, read_jsonl
from cotdistill.tasks.registry import register

_CALCULATOR = re.compile(r"<<[^<>]*>>")


def split_solution(solution: str) -> tuple[str, str] | None:
    """(rationale without calculator annotations, final answer text), or None without `####`."""
    body, marker, final = solution.rpartition("####")
    if not marker:
        return None
    return _CALCULATOR.sub("", body).strip(), final.strip()


def gsm8k_records(path: Path, prefix: str, *, keep_rationale: bool = True) -> list[Record]:
    records = []
    for index, (line, row) in enumerate(read_jsonl(path)):
        question = field(row, "question", path, line=line)
        solution = field(row, "answer", path, line=line, what="a worked solution ending '#### <number>'")
        parts = split_solution(solution)
        value = parse_number(parts[1]) if parts else None
        if value is None:
            raise DataError(path, "expected the final answer as '#### <number>' at the end of the solution",
                            line=line, field="answer")
        # The "#### 18" line becomes the answer sentence every other rationale source ends with.
        rationales = [f"{parts[0]}\nThe answer is {parts[1]}."] if keep_rationale else []
        meta = {"source": f"{path.parent.name}/{path.name}"}
        if keep_rationale:
            meta |= {"teacher": "human", "teacher_answers": [extract_answer(r, AnswerType.numeric) for r in rationales]}
        records.append(Record(
            id=f"{prefix}-{index}", question=question.strip(), answer=format_number(value),
            answer_type=AnswerType.numeric, rationales=rationales, meta=meta,
        ))
    return records


@register("gsm8k", AnswerType.numeric, ("train", "test"), "gsm8k/<split>.jsonl (human rationales)",
          "GSM8K grade-school math with human step-by-step solutions (calculator annotations stripped)")
def load_gsm8k(split: str, data_dir: Path, *, limit: int | None = None) -> list[Record]:
    return gsm8k_records(data_dir / "gsm8k" / f"{split}.jsonl", f"gsm8k-{split}")
