"""From a raw teacher completion to (cleaned rationale, extracted answer, correctness, parse error).

A completion that cannot be parsed is not an exception: it comes back with `error` set, and the
runner stores it like any other sample (it was paid for; curation decides what to drop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cotdistill.records import Record
from cotdistill.teachers.prompts import cut_continuation

# The first statement of the final answer; the rationale ends with the sentence that holds it.
_ANSWER_STATEMENT = re.compile(r"(?i)(the (final )?answer is\b|^\s*\**answer\**\s*:)", re.MULTILINE)
_SENTENCE_END = re.compile(r"\.(\s|$)")


@dataclass
class Parsed:
    rationale: str | None
    answer: str | None
    correct: bool | None
    error: str | None


def clean_rationale(text: str) -> str:
    """The teacher's reasoning: no invented follow-up question, nothing after the answer statement."""
    text = cut_continuation(text).strip()
    match = _ANSWER_STATEMENT.search(text)
    if match is None:
        return text
    line_end = text.find("\n", match.end())
    line_end = len(text) if line_end == -1 else line_end
    sentence_end = _SENTENCE_END.search(text, match.end(), line_end)
    end = sentence_end.start() + 1 if sentence_end else line_end
    return text[:end].strip()


def parse_completion(record: Record, text: str, answer_text: str | None = None) -> Parsed:
    """Parse a completion. `answer_text` is the answer stage's output (two-stage prompts), whose
    answer wins over anything the reasoning stated."""
    from cotdistill.answers import extract_answer, is_correct

    rationale = clean_rationale(text)
    if not rationale:
        return Parsed(None, None, None, "empty completion")
    source = f"The answer is {answer_text.strip()}" if answer_text is not None else rationale
    answer = extract_answer(source, record.answer_type, record.choices)
    if answer is None:
        where = "the answer stage" if answer_text is not None else "the completion"
        return Parsed(rationale, None, None, f"no {record.answer_type} answer found in {where}")
    return Parsed(rationale, answer, bool(is_correct(answer, record.answer, record.answer_type, record.choices)), None)
