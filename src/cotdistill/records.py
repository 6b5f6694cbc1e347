"""The one record type that flows through every stage.

A task loader yields Records; the teacher adds rationales; curation writes one Record per training
example (exactly one rationale, and the label it is trained on as `answer`); training and evaluation
read them back. Records serialise to one JSON object per line.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHOICE_LETTERS = "ABCDEFGHIJ"


class AnswerType(str, Enum):
    numeric = "numeric"
    multiple_choice = "multiple_choice"  # `answer` is the choice letter, "A".."J"
    yes_no = "yes_no"  # `answer` is "yes" or "no"
    text = "text"  # free text, compared after normalisation


class Record(BaseModel):
    """A question, its gold answer and any rationales explaining it."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    id: str = Field(description="Stable id, unique within a task and split.")
    question: str = Field(description="The question text, without its choices.")
    choices: list[str] | None = Field(default=None, description="Choice texts, in letter order.")
    answer: str = Field(description="Gold answer in canonical form for its answer type.")
    answer_type: AnswerType
    rationales: list[str] = Field(default_factory=list, description="Step-by-step explanations.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Provenance, noise flags, etc.")

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=False)

    @classmethod
    def from_json(cls, line: str) -> "Record":
        return cls.model_validate_json(line)


def format_question(record: Record) -> str:
    """The task-formatted question x: the question, then its lettered choices if any."""
    if not record.choices:
        return record.question.strip()
    options = "\n".join(f"({CHOICE_LETTERS[i]}) {c}" for i, c in enumerate(record.choices))
    return f"{record.question.strip()}\nAnswer Choices:\n{options}"
