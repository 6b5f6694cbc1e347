"""The 12 classic reasoning test sets of Zero-shot-CoT, with the Fine-tune-CoT train/test splits.

Each task reads its upstream file under `zero-shot-cot/dataset/` (questions and gold answers only,
no rationales: a teacher writes them). Fine-tune-CoT's `fine-tune-cot/split/<key>__<scheme>.json`
lists `train` and `test` *sample indices* into Fine-tune-CoT's own copy of each dataset, which is the
upstream file in file order, with multi-file datasets concatenated train first:
  - single-file tasks: index i = row i of the file (the file also serves as split `all`);
  - commonsenseqa: 0..9740 = train_rand_split.jsonl rows, 9741..10961 = dev_rand_split.jsonl rows
    (the usual test set; the official test file has no answers);
  - gsm8k-zs: 0..7472 = gsm8k/train.jsonl rows, 7473..8791 = grade-school-math/test.jsonl rows;
  - aqua: 0..97466 = AQuA train (not in the shared data, so no `train` split), 97467..97720 =
    AQuA/test.json rows.
Record ids are `<task>-<index>` with that Fine-tune-CoT index, so they are the same in every split.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

from cotdistill.answers import format_number, parse_number
from cotdistill.errors import DataError
from cotdistill.records import CHOICE_LETTERS, AnswerType, Record
from cotdistill.tasks.files import field, json_list, read_json, read_jsonl
from cotdistill.tasks.registry import register

ZS = "zero-shot-cot/dataset"
SPLITS_DIR = "fine-tune-cot/split"

Row = dict  # the Record fields a reader found: question, answer, optional choices and meta
Reader = Callable[[Path], list[Row]]


# ------------------------------------------------------------------------------ one reader per format


def _number(value, path: Path, index: int, name: str) -> str:
    number = parse_number(value)
    if number is None:
        raise DataError(path, f"expected a number, got {value!r}", record=index, field=name)
    return format_number(number)


def _first_solution(path: Path) -> list[Row]:
    """AddSub, SingleEq, MultiArith: `{sQuestion, lSolutions: [answer]}`."""
    rows = []
    for index, row in enumerate(json_list(path)):
        solutions = field(row, "lSolutions", path, record=index, expected=list, what="a list with the answer")
        if not solutions:
            raise DataError(path, "expected a list with the answer, got []", record=index, field="lSolutions")
        rows.append({"question": field(row, "sQuestion", path, record=index).strip(),
                     "answer": _number(solutions[0], path, index, "lSolutions")})
    return rows


def _svamp(path: Path) -> list[Row]:
    """SVAMP.json: `{Body, Question, Answer, Equation}`; the body may lack its full stop."""
    rows = []
    for index, row in enumerate(json_list(path)):
        body = field(row, "Body", path, record=index).strip()
        question = field(row, "Question", path, record=index).strip()
        joined = f"{body} {question}" if body.endswith((".", "!", "?")) else f"{body}, {question[:1].lower()}{question[1:]}"
        answer = _number(field(row, "Answer", path, record=index, expected=(int, float, str)), path, index, "Answer")
        rows.append({"question": joined, "answer": answer, "meta": {"equation": row.get("Equation")}})
    return rows


def _aqua(path: Path) -> list[Row]:
    """AQuA jsonl: `{question, options: ["A)...", ...], rationale, correct}`."""
    rows = []
    for line, row in read_jsonl(path):
        options = field(row, "options", path, line=line, expected=list, what="a list like ['A)5', 'B)6']")
        choices = [re.sub(r"^\s*[A-J]\s*\)\s*", "", str(o)).strip() for o in options]
        correct = field(row, "correct", path, line=line, what="a choice letter").strip().upper()
        if correct not in CHOICE_LETTERS[: len(choices)]:
            raise DataError(path, f"expected a letter A-{CHOICE_LETTERS[len(choices) - 1]}, got {correct!r}",
                            line=line, field="correct")
        rows.append({"question": field(row, "question", path, line=line).strip(), "choices": choices,
                     "answer": correct, "meta": {"human_rationale": row.get("rationale")}})
    return rows


def _bigbench_choices(path: Path, shuffle: bool) -> list[Row]:
    """BIG-bench `{examples: [{input, target_scores: {choice: 0/1}}]}`; date choices are shuffled
    (seeded by index) because upstream always lists the right one first."""
    rows = []
    for index, example in enumerate(json_list(path, "examples")):
        scores = field(example, "target_scores", path, record=index, expected=dict, what="{choice: score}")
        choices = list(scores)
        if shuffle:
            random.Random(f"date-{index}").shuffle(choices)
        right = [c for c in choices if scores[c] == 1]
        if len(right) != 1:
            raise DataError(path, f"expected exactly one choice with score 1, found {len(right)}", record=index,
                            field="target_scores")
        rows.append({"question": field(example, "input", path, record=index).strip(),
                     "choices": [c.strip().rstrip(".") for c in choices],
                     "answer": CHOICE_LETTERS[choices.index(right[0])]})
    return rows


def _strategyqa(path: Path) -> list[Row]:
    rows = []
    for index, example in enumerate(json_list(path, "examples")):
        scores = field(example, "target_scores", path, record=index, expected=dict, what="{'Yes': 0/1, 'No': 0/1}")
        if sorted(scores) != ["No", "Yes"]:
            raise DataError(path, f"expected keys 'Yes' and 'No', got {sorted(scores)}", record=index,
                            field="target_scores")
        rows.append({"question": field(example, "input", path, record=index).strip(),
                     "answer": "yes" if scores["Yes"] == 1 else "no",
                     "meta": {"human_explanation": example.get("target")}})
    return rows


def _question_answer(kind: AnswerType) -> Reader:
    """coin_flip / last_letters: `{examples: [{question, answer}]}`."""

    def read(path: Path) -> list[Row]:
        rows = []
        for index, example in enumerate(json_list(path, "examples")):
            answer = field(example, "answer", path, record=index).strip()
            if kind is AnswerType.yes_no and answer.lower() not in ("yes", "no"):
                raise DataError(path, f"expected 'yes' or 'no', got {answer!r}", record=index, field="answer")
            rows.append({"question": field(example, "question", path, record=index).strip(),
                         "answer": answer.lower() if kind is AnswerType.yes_no else answer})
        return rows

    return read


def _commonsenseqa_file(path: Path) -> list[Row]:
    rows = []
    for line, row in read_jsonl(path):
        inner = field(row, "question", path, line=line, expected=dict, what="{stem, choices}")
        choices = field(inner, "choices", path, line=line, expected=list, what="[{label, text}]")
        labels = [str(c.get("label")) for c in choices]
        key = field(row, "answerKey", path, line=line, what="a choice label")
        if key not in labels:
            raise DataError(path, f"answerKey {key!r} is not one of the labels {labels}", line=line, field="answerKey")
        rows.append({"question": field(inner, "stem", path, line=line).strip(),
                     "choices": [str(c.get("text", "")) for c in choices],
                     "answer": CHOICE_LETTERS[labels.index(key)], "meta": {"upstream_id": row.get("id")}})
    return rows


def _gsm8k_file(path: Path) -> list[Row]:
    rows = []
    for line, row in read_jsonl(path):
        solution = field(row, "answer", path, line=line, what="a solution ending '#### <number>'")
        final = solution.rpartition("####")[2] if "####" in solution else None
        value = parse_number(final) if final else None
        if value is None:
            raise DataError(path, "expected the final answer as '#### <number>'", line=line, field="answer")
        rows.append({"question": field(row, "question", path, line=line).strip(), "answer": format_number(value)})
    return rows


# ------------------------------------------------------------------------------- split and register


def _in_order(data_dir: Path, parts: list[tuple[str, Reader]]) -> tuple[list[Row], list[str]]:
    """Rows of several files concatenated (Fine-tune-CoT index order), and the file of each row."""
    rows, sources = [], []
    for relative, reader in parts:
        found = reader(data_dir / relative)
        rows += found
        sources += [relative] * len(found)
    return rows, sources


def _select(data_dir: Path, name: str, key: str, split: str, scheme: str, offset: int,
            rows: list[Row], sources: list[str], kind: AnswerType) -> list[Record]:
    """The records of one split: `all` = every row; otherwise the Fine-tune-CoT index list."""
    if split == "all":
        indices = list(range(offset, offset + len(rows)))
    else:
        path = data_dir / SPLITS_DIR / f"{key}__{scheme}.json"
        splits = read_json(path)
        if not isinstance(splits, dict) or not isinstance(splits.get(split), list):
            raise DataError(path, f"expected an object with a '{split}' list of sample indices", field=split)
        indices = splits[split]
    records = []
    for position, index in enumerate(indices):
        if not isinstance(index, int) or not offset <= index < offset + len(rows):
            raise DataError(data_dir / SPLITS_DIR / f"{key}__{scheme}.json",
                            f"sample index {index!r} is outside {offset}..{offset + len(rows) - 1}, the rows "
                            "this task's files hold", record=position, field=split)
        row = rows[index - offset]
        records.append(Record(
            id=f"{name}-{index}", question=row["question"], choices=row.get("choices"), answer=row["answer"],
            answer_type=kind, meta={"source": sources[index - offset], "index": index, **row.get("meta", {})},
        ))
    return records


def _zero_shot_task(name: str, kind: AnswerType, key: str, parts: list[tuple[str, Reader]], *,
                    offset: int = 0, splits: tuple[str, ...] = ("train", "test", "all"), description: str) -> None:
    """Register one zero-shot-CoT task reading `parts` (files concatenated in index order)."""
    folders = sorted({Path(p).parts[2] if p.startswith(ZS) else Path(p).parts[0] for p, _ in parts})
    source = f"zero-shot-cot {' + '.join(folders)}; Fine-tune-CoT split '{key}'"

    def load(split: str, data_dir: Path, *, limit: int | None = None, scheme: str = "default") -> list[Record]:
        rows, sources = _in_order(data_dir, parts)
        return _select(data_dir, name, key, split, scheme, offset, rows, sources, kind)

    load.__name__ = f"load_{name.replace('-', '_')}"
    register(name, kind, splits, source, description)(load)


_zero_shot_task("addsub", AnswerType.numeric, "addsub", [(f"{ZS}/AddSub/AddSub.json", _first_solution)],
                description="AddSub addition/subtraction word problems")
_zero_shot_task("multiarith", AnswerType.numeric, "multiarith",
                [(f"{ZS}/MultiArith/MultiArith.json", _first_solution)],
                description="MultiArith multi-step arithmetic word problems")
_zero_shot_task("singleeq", AnswerType.numeric, "single_eq", [(f"{ZS}/SingleEq/questions.json", _first_solution)],
                description="SingleEq single-equation word problems")
_zero_shot_task("svamp-zs", AnswerType.numeric, "svamp", [(f"{ZS}/SVAMP/SVAMP.json", _svamp)],
                description="SVAMP, all 1,000 problems (Zero-shot-CoT file; no rationales)")
_zero_shot_task("gsm8k-zs", AnswerType.numeric, "gsm8k",
                [("gsm8k/train.jsonl", _gsm8k_file), (f"{ZS}/grade-school-math/test.jsonl", _gsm8k_file)],
                splits=("train", "test"), description="GSM8K questions and answers only (no rationales)")
_zero_shot_task("aqua", AnswerType.multiple_choice, "aqua", [(f"{ZS}/AQuA/test.json", _aqua)], offset=97467,
                splits=("test",), description="AQuA-RAT algebra multiple choice (test split only: train is absent)")
_zero_shot_task("date", AnswerType.multiple_choice, "date_understanding",
                [(f"{ZS}/Bigbench_Date/task.json", lambda p: _bigbench_choices(p, shuffle=True))],
                description="BIG-bench date understanding, choices shuffled per question (seeded)")
_zero_shot_task("shuffled-objects", AnswerType.multiple_choice, "tracking_shuffled_objects",
                [(f"{ZS}/Bigbench_object_tracking/task.json", lambda p: _bigbench_choices(p, shuffle=False))],
                description="BIG-bench tracking shuffled objects (three objects)")
_zero_shot_task("commonsenseqa", AnswerType.multiple_choice, "commonsense_qa",
                [(f"{ZS}/CommonsenseQA/train_rand_split.jsonl", _commonsenseqa_file),
                 (f"{ZS}/CommonsenseQA/dev_rand_split.jsonl", _commonsenseqa_file)],
                splits=("train", "test"), description="CommonsenseQA, official files (test = dev set)")
_zero_shot_task("strategyqa", AnswerType.yes_no, "strategy_qa", [(f"{ZS}/StrategyQA/task.json", _strategyqa)],
                description="StrategyQA yes/no questions with implicit reasoning")
_zero_shot_task("coin-flip", AnswerType.yes_no, "coin_flip",
                [(f"{ZS}/coin_flip/coin_flip.json", _question_answer(AnswerType.yes_no))],
                description="Coin flip state tracking (4 people)")
_zero_shot_task("last-letters", AnswerType.text, "last_letter_concatenation",
                [(f"{ZS}/last_letters/last_letters.json", _question_answer(AnswerType.text))],
                description="Last-letter concatenation of 4 names")
