"""One record validator for every way records come in: `jsonl:` task files, `import`, `train --data`.

Two levels:
- `gold_answer`: reading a gold answer as written in a user's file. Stricter than `canonical_answer`
  (which also reads model output): the whole value must be the answer, so `four-ish` or `[4]` is
  refused rather than read as 4, and a choice answer must name one of the record's choices.
- `check_record`: a Record already built (a curated training file, the store) must be in canonical
  form: a non-empty question, choices for a multiple-choice record, an answer of its type (a choice
  letter among its choices, a number, yes/no).

`UniqueIds` enforces "ids are unique within a split" for task files and imports: two records with
one id would silently collapse into one question in the store. `SameQuestionIds` is the weaker rule
for curated training files, where one question carries several rationales: one id, one question.
"""

from __future__ import annotations

from pathlib import Path

from cotdistill.answers import canonical_answer, format_number, parse_number
from cotdistill.errors import DataError
from cotdistill.records import CHOICE_LETTERS, AnswerType, Record

ANSWER_FORMS = {
    AnswerType.numeric: "a number such as 42, 2.5 or '1,234'",
    AnswerType.multiple_choice: "a choice letter such as 'C' or the text of a choice",
    AnswerType.yes_no: "'yes' or 'no'",
    AnswerType.text: "a string",
}
_YES_NO = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
ANSWER_TYPES = ", ".join(t.value for t in AnswerType)


def answer_type(value, path: str | Path, *, line: int | None = None, record: int | str | None = None,
                field: str | None = "answer_type", hint: str | None = None) -> AnswerType:
    """An answer type named by the user, or a DataError listing the valid ones."""
    try:
        return AnswerType(value)
    except ValueError:
        raise DataError(path, f"expected one of {ANSWER_TYPES}, got {value!r}", line=line, record=record,
                        field=field, hint=hint) from None


def gold_answer(value, kind: AnswerType | str, choices: list[str] | None = None) -> str | None:
    """A gold answer as written in a file, in canonical form; None unless the whole value is one answer."""
    kind = AnswerType(kind)
    if value is None or isinstance(value, (bool, list, dict)):
        return None
    text = str(value).strip()
    if kind is AnswerType.numeric:
        number = parse_number(text)
        return None if number is None else format_number(number)
    if kind is AnswerType.multiple_choice:
        letter = canonical_answer(text, kind, choices) if choices else None
        return letter if letter is not None and CHOICE_LETTERS.index(letter) < len(choices) else None
    if kind is AnswerType.yes_no:
        return _YES_NO.get(text.lower().rstrip(".!"))
    return text or None


def check_record(record: Record, path: str | Path, *, line: int | None = None) -> Record:
    """A built Record in canonical form, or a DataError naming the field and what it should be."""
    where = {"line": line, "record": record.id}
    kind = AnswerType(record.answer_type)
    if not record.question.strip():
        raise DataError(path, "the question is empty", field="question", **where)
    if not record.id.strip():
        raise DataError(path, "the id is empty", field="id", **where)
    if kind is AnswerType.multiple_choice:
        if not record.choices:
            raise DataError(path, "a multiple_choice record needs its choices", field="choices", **where)
        if len(record.choices) > len(CHOICE_LETTERS):
            raise DataError(path, f"{len(record.choices)} choices; at most {len(CHOICE_LETTERS)} are supported",
                            field="choices", **where)
        letters = CHOICE_LETTERS[: len(record.choices)]
        if record.answer not in letters:
            raise DataError(path, f"answer {record.answer!r} is not one of the choice letters {', '.join(letters)}",
                            field="answer", **where)
    elif gold_answer(record.answer, kind) is None:
        raise DataError(path, f"cannot read {record.answer!r} as a {kind.value} answer; expected {ANSWER_FORMS[kind]}",
                        field="answer", **where)
    return record


class UniqueIds:
    """Ids seen so far in one split of one file; a repeat is a DataError naming both places."""

    def __init__(self, path: str | Path, split: str | None = None):
        self.path, self.split, self.seen = path, split, {}

    def add(self, record_id: str, *, line: int | None = None, record: int | None = None) -> None:
        if record_id in self.seen:
            first = self.seen[record_id]
            split = f" in split '{self.split}'" if self.split else ""
            raise DataError(self.path, f"id {record_id!r} is used twice{split} (first at {first}); every record needs "
                            "its own id", line=line, record=record, field="id",
                            hint="give each question a distinct id, or drop the repeated line")
        self.seen[record_id] = f"line {line}" if line is not None else f"record {record}"


class SameQuestionIds:
    """Curated training data: an id may repeat (one question, several rationales) but must name one question."""

    def __init__(self, path: str | Path):
        self.path, self.seen = path, {}

    def add(self, record: Record, line: int) -> None:
        question = (record.question, tuple(record.choices or ()), record.answer_type)
        first = self.seen.setdefault(record.id, (question, line))
        if first[0] != question:
            raise DataError(self.path, f"id {record.id!r} names another question than at line {first[1]}", line=line,
                            field="id", hint="one id must always name the same question; re-run `cotdistill curate`")
