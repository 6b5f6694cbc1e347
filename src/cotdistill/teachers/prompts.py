"""Teacher prompts: zero-shot CoT (two stages), few-shot CoT, chat with an "Answer:" line, rationalize.

Each style builds the first prompt for a question and, for zero-shot CoT only, a second prompt that
extracts the answer from the first completion (Kojima et al. 2022: "Let's think step by step." then
"Therefore, the answer is").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cotdistill.errors import DataError, unknown_name
from cotdistill.records import Record, format_question
from cotdistill.teachers.base import Prompt, SamplingParams

PROMPT_STYLES = ("zero-shot-cot", "few-shot-cot", "chat", "rationalize")

KOJIMA_TRIGGER = "Let's think step by step."
CHAT_SYSTEM = (
    "You are a careful teacher. Reason step by step, then give the final answer on its own last line "
    "in the form 'Answer: <answer>'."
)
RATIONALIZE_SYSTEM = "You are a careful teacher who explains why a given answer is correct, step by step."
# Few-shot completions run on into an invented next example; cut them there.
CONTINUATION_MARKERS = ("\nQ:", "\nQuestion:")


def answer_trigger(record: Record) -> str:
    """Kojima's stage-2 answer trigger, specialised by answer type as in the paper."""
    if record.answer_type == "multiple_choice" and record.choices:
        last = "ABCDEFGHIJ"[len(record.choices) - 1]
        return f"Therefore, among A through {last}, the answer is"
    if record.answer_type == "numeric":
        return "Therefore, the answer (arabic numerals) is"
    if record.answer_type == "yes_no":
        return "Therefore, the answer (Yes or No) is"
    return "Therefore, the answer is"


class PromptStyle:
    """How questions become prompts. `second` is None except for two-stage zero-shot CoT."""

    name = "base"
    stop: tuple[str, ...] = ()

    def first(self, record: Record) -> Prompt:
        raise NotImplementedError

    def second(self, record: Record, first_text: str) -> Prompt | None:
        return None

    def key_fields(self) -> dict:
        """What about this style changes its outputs (beyond its name): part of the config key."""
        return {}


class ZeroShotCoT(PromptStyle):
    name = "zero-shot-cot"
    stop = CONTINUATION_MARKERS
    #: the answer-extraction stage is greedy and short, as in Kojima et al.
    answer_params = SamplingParams(temperature=0.0, max_tokens=32, stop=("\n",))

    def first(self, record: Record) -> Prompt:
        return Prompt(f"Q: {format_question(record)}\nA: {KOJIMA_TRIGGER}")

    def second(self, record: Record, first_text: str) -> Prompt:
        reasoning = cut_continuation(first_text).strip()
        return Prompt(f"{self.first(record).text} {reasoning}\n{answer_trigger(record)}")


class FewShotCoT(PromptStyle):
    name = "few-shot-cot"
    stop = CONTINUATION_MARKERS

    def __init__(self, exemplars: str):
        self.exemplars = exemplars.strip()

    def first(self, record: Record) -> Prompt:
        return Prompt(f"{self.exemplars}\n\nQ: {format_question(record)}\nA:")

    def key_fields(self) -> dict:
        return {"exemplars_sha256": hashlib.sha256(self.exemplars.encode()).hexdigest()[:16]}


class Chat(PromptStyle):
    name = "chat"

    def first(self, record: Record) -> Prompt:
        return Prompt(format_question(record), system=CHAT_SYSTEM)


class Rationalize(PromptStyle):
    """Label-conditioned: the teacher is told the gold answer and asked to explain it (STaR-style)."""

    name = "rationalize"

    def first(self, record: Record) -> Prompt:
        from cotdistill.answers import target_answer

        answer = target_answer(record)
        return Prompt(
            f"{format_question(record)}\n\nThe correct answer is {answer}. Explain step by step why, "
            f'and end with "The answer is {answer}."',
            system=RATIONALIZE_SYSTEM,
        )


def get_prompt_style(name: str, *, exemplars: str | Path | None = None, task: str | None = None) -> PromptStyle:
    """A prompt style by name; few-shot CoT needs an exemplar file."""
    if name == "zero-shot-cot":
        return ZeroShotCoT()
    if name == "few-shot-cot":
        if exemplars is None:
            raise DataError("--exemplars", "few-shot-cot needs an exemplar file", hint="Pass --exemplars FILE")
        return FewShotCoT(load_exemplars(exemplars, task=task))
    if name == "chat":
        return Chat()
    if name == "rationalize":
        return Rationalize()
    raise unknown_name("prompt style", name, list(PROMPT_STYLES))


def load_exemplars(path: str | Path, *, task: str | None = None, key: str | None = None) -> str:
    """Few-shot exemplars as one prompt prefix. Two formats are read:

    - Fine-tune-CoT's `few_shot_cot_prompts.json`: `{"<task>": {"prompt": "Q: ...\\nA: ..."}}`; the
      entry is chosen by `key` (or the task name, with a few aliases such as cqa -> commonsense_qa).
    - The simple format: a JSON list (or JSONL) of `{"question", "rationale", "answer"}` objects,
      rendered as "Q: question\\nA: rationale The answer is answer."
    """
    from cotdistill.files import read_text

    path = Path(path)
    try:
        text = read_text(path)
    except OSError as error:
        raise DataError(path, f"cannot read the exemplar file ({error.strerror})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [_parse_jsonl_line(path, number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if isinstance(data, dict):
        return _prompt_from_named_entries(path, data, key or task)
    if isinstance(data, list):
        return "\n\n".join(_render_exemplar(path, i, item) for i, item in enumerate(data))
    raise DataError(path, "expected a JSON object of named prompts or a list of exemplars")


_TASK_ALIASES = {"cqa": "commonsense_qa", "strategyqa": "strategy_qa", "last_letters": "last_letter_concatenation"}


def _prompt_from_named_entries(path: Path, data: dict, key: str | None) -> str:
    if key is None:
        raise DataError(path, "holds prompts for several tasks", hint=f"Pick one of: {', '.join(data)}")
    for candidate in (key, _TASK_ALIASES.get(key, key), key.replace("-", "_")):
        entry = data.get(candidate)
        if entry is not None:
            if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
                raise DataError(path, "expected an object with a string 'prompt'", record=candidate, field="prompt")
            return entry["prompt"]
    raise DataError(path, f"has no exemplars for '{key}'", hint=f"Available: {', '.join(data)}")


def _parse_jsonl_line(path: Path, number: int, line: str) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})", line=number, hint="Use a JSON list or one JSON object per line") from error


def _render_exemplar(path: Path, index: int, item: object) -> str:
    if not isinstance(item, dict):
        raise DataError(path, "expected an object with question, rationale, answer", record=index)
    for name in ("question", "rationale", "answer"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise DataError(path, "missing or empty", record=index, field=name, hint="Each exemplar needs question, rationale and answer strings")
    return f"Q: {item['question'].strip()}\nA: {item['rationale'].strip()} The answer is {item['answer'].strip()}."


def cut_at_first(text: str, markers) -> str:
    """The text before the earliest occurrence of any marker (all of it when none occurs)."""
    positions = [p for p in (text.find(m) for m in markers) if p != -1]
    return text[: min(positions, default=len(text))]


def cut_continuation(text: str) -> str:
    """Drop everything from an invented follow-up question ("\\nQ: ...") onwards."""
    return cut_at_first(text, CONTINUATION_MARKERS)
