"""Answer extraction and scoring, per answer type.

`extract_answer` finds the canonical answer in free model text: the span after the last answer
phrase (`Answer:`, `The answer is`, `So the answer is`, `Therefore, the answer is`, ...) wins; with
no phrase, the last candidate in the whole text is taken. `is_correct` compares a prediction with a
gold answer (numbers with a tolerance, choices by letter or text). `target_answer` is the answer
string a student is trained to write.

Numbers are parsed with `parse_number`: thousands separators, currency signs, percentages (`50%` is
50, as the datasets state percentages), fractions and arithmetic expressions such as `( 84.0 / 2.0 )`,
evaluated with `ast` on numbers and + - * / // % ** only (never `eval`).
"""

from __future__ import annotations

import ast
import math
import operator
import re
import string

from cotdistill.records import CHOICE_LETTERS, AnswerType, Record

__all__ = [
    "extract_answer",
    "is_correct",
    "target_answer",
    "parse_number",
    "format_number",
    "canonical_answer",
    "answer_span",
    "strip_answer_sentence",
    "normalize_text",
]

# "The answer is", "So the answer is", "Therefore, the final answer is:", "Answer:", "answer is".
# "Answer:" only opens a line or follows a sentence ("To arrive at this answer:" is not one).
_ANSWER_PHRASE = re.compile(
    r"(?:\b(?:the\s+)?(?:final\s+|correct\s+|right\s+)?answer\s+(?:is|would\s+be|will\s+be)\b\s*:?"
    r"|(?:^|(?<=[.!?] ))[\s*#>-]*(?:the\s+)?(?:final\s+)?answer\s*:)",
    re.IGNORECASE | re.MULTILINE,
)
# A sentence that states the answer, with its lead-in ("So", "Therefore,"), for stripping.
_ANSWER_SENTENCE = re.compile(
    r"(?:(?:so|therefore|thus|hence)\s*,?\s*)?" + _ANSWER_PHRASE.pattern, re.IGNORECASE | re.MULTILINE
)

# A number as written in text: optional sign and currency, digits with or without thousands
# separators, decimals, a tight fraction (3/4), a percent sign or a scale word after it.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-\u2212+])?\s?(?P<cur>[$\u20ac\u00a3\u00a5])?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+(?:\.\d+)?)(?![\d.]))?"
    r"(?P<pct>\s?%)?"
)
_CONCLUSION = re.compile(r"^\W*(?:conclusion\W*)?(?:therefore|thus|hence|so|in total|in conclusion|finally|overall)\b", re.IGNORECASE)
_CURRENCY = "$\u20ac\u00a3\u00a5"
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_YES = {"yes", "true", "correct", "right"}
_NO = {"no", "false", "incorrect", "wrong", "not"}


# ---------------------------------------------------------------------------------------- numbers


def _evaluate(node: ast.AST) -> float:
    """Evaluate an arithmetic syntax tree of numbers and basic operators; anything else raises."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ValueError("exponent too large")  # keeps 9**9**9 from eating the machine
        return float(_BINARY[type(node.op)](left, right))
    raise ValueError(f"not arithmetic: {ast.dump(node)[:40]}")


def _clean_expression(text: str) -> str:
    """Drop currency, thousands separators, percent signs and a trailing full stop."""
    text = text.strip().rstrip(".").strip()
    text = text.replace("\u2212", "-").replace("\u00d7", "*").replace("\u00f7", "/")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(rf"[{_CURRENCY}%]", "", text)
    text = re.sub(r"(?<=\d)\s*[xX]\s*(?=[\d(])", "*", text)  # 3 x 4
    text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # 007 is not valid Python
    return text.strip()


def parse_number(text: str | float | int | None) -> float | None:
    """The value of a number or arithmetic expression as written, or None if it is not one.

    `"1,234"`, `"$5.50"`, `"50%"` (= 50), `"3/4"`, `"-2"`, `"( 84.0 / 2.0 )"`, `"twelve"`.
    """
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if math.isfinite(text) else None
    cleaned = _clean_expression(str(text))
    if not cleaned:
        return None
    if cleaned.lower() in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[cleaned.lower()])
    if len(cleaned) > 200 or not re.fullmatch(r"[\d\s.+\-*/()%eE]+", cleaned):
        return None
    try:
        value = _evaluate(ast.parse(cleaned, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def format_number(value: float) -> str:
    """Canonical numeric answer string: `42`, `2.5`, `-0.125` (at most 6 decimals)."""
    rounded = round(float(value), 6)
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return format(rounded, "f").rstrip("0").rstrip(".")


def _number_candidates(text: str) -> list[tuple[str, float]]:
    """Every number written in the text, in order, with its value."""
    found = []
    for match in _NUMBER.finditer(text):
        value = float(match["num"].replace(",", ""))
        if match["den"]:
            denominator = float(match["den"])
            if denominator == 0:
                continue
            value /= denominator
        if match["sign"] in ("-", "\u2212"):
            value = -value
        found.append((match.group(0), value))
    return found


def _decimals_written(text: str) -> int:
    """How many decimals a plain written number shows (`8.33` -> 2); 0 for anything else."""
    match = re.fullmatch(r"\s*[-+]?[$]?\s*[\d,]*\.(\d+)\s*%?\s*\.?\s*", text)
    return len(match.group(1)) if match else 0


# ----------------------------------------------------------------------------------------- choices


def normalize_text(text: str) -> str:
    """Lower case, no punctuation or articles, single spaces: for comparing free-text answers."""
    text = text.lower().strip()
    text = text.translate(str.maketrans({c: " " for c in string.punctuation + "\u201c\u201d\u2018\u2019"}))
    words = [w for w in text.split() if w not in {"a", "an", "the"}]
    return " ".join(words)


def _valid_letters(choices: list[str] | None) -> str:
    return CHOICE_LETTERS[: len(choices)] if choices else CHOICE_LETTERS[:5]


def _letter_for_text(text: str, choices: list[str] | None) -> str | None:
    """The letter of the choice whose text this is (first match when texts repeat)."""
    if not choices:
        return None
    wanted = normalize_text(text)
    for i, choice in enumerate(choices):
        if normalize_text(choice) == wanted and wanted:
            return CHOICE_LETTERS[i]
    return None


def _choice_from_span(span: str, choices: list[str] | None) -> str | None:
    """A choice letter from the text right after an answer phrase: `(c) x`, `C)`, `C`, or choice text."""
    letters = _valid_letters(choices)
    stripped = span.strip()
    match = re.match(rf"^[\s*\"'(\[]*\(([{letters}{letters.lower()}])\)", stripped)
    if match is None:
        match = re.match(rf"^[\s*\"'\[]*([{letters}])(?:[).:,\]*\"']|\s|$)", stripped)
    if match is None:
        match = re.match(rf"^[\s*\"'\[]*([{letters.lower()}])(?:\)|$)", stripped)
    if match is None:
        match = re.match(rf"^(?:option|choice)\s+\(?([{letters}{letters.lower()}])\b", stripped, re.IGNORECASE)
    if match:
        return match.group(1).upper()
    by_text = _letter_for_text(re.split(r"[.\n]", stripped, maxsplit=1)[0], choices)
    if by_text:
        return by_text
    return _choice_mention(stripped, choices, first=True)


def _choice_mention(text: str, choices: list[str] | None, first: bool = False) -> str | None:
    """The `(x)` letter or choice text mentioned last (or first) in a longer text."""
    letters = _valid_letters(choices)
    mentions: list[tuple[int, str]] = [
        (m.start(), m.group(1).upper()) for m in re.finditer(rf"\(([{letters}{letters.lower()}])\)", text)
    ]
    lowered = normalize_text(text)
    padded = f" {lowered} "
    for i, choice in enumerate(choices or []):
        needle = normalize_text(choice)
        if needle:
            position = padded.rfind(f" {needle} ") if not first else padded.find(f" {needle} ")
            if position >= 0:
                # rescale to the original text's length so both kinds of mention sort together
                mentions.append((int(position * len(text) / max(len(padded), 1)), CHOICE_LETTERS[i]))
    if not mentions:
        return None
    return (min if first else max)(mentions)[1]


# -------------------------------------------------------------------------------------- extraction


def answer_span(text: str) -> str | None:
    """The text after the last answer phrase, up to the end of its line, or None if no phrase."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    line = rest.strip().split("\n", 1)[0] if rest.strip() else ""
    return line.strip()


def strip_answer_sentence(text: str) -> str:
    """The explanation without its closing answer sentence (`... The answer is 42.` -> `...`)."""
    matches = list(_ANSWER_SENTENCE.finditer(text))
    if not matches:
        return text.strip()
    return text[: matches[-1].start()].rstrip()


def _numeric_from_span(span: str) -> str | None:
    # "84 / 2 = 42." -> the value after the last "="; "(84 / 2)." -> the expression's value.
    tail = span.split("=")[-1]
    sentence = re.split(r"(?<=[^\d])\.(?:\s|$)|\.\s|\n|;", tail + " ")[0]
    value = parse_number(sentence)
    if value is None:
        word = re.match(r"\s*([a-z]+)\b", sentence.lower())
        if word and word.group(1) in _NUMBER_WORDS:
            value = float(_NUMBER_WORDS[word.group(1)])
    if value is None:
        candidates = _number_candidates(tail)
        if not candidates:
            return None
        value = candidates[0][1]
    return format_number(value)


def _conclusion_number(text: str) -> str | None:
    """The number a closing "Therefore, ..." / "So ..." sentence states, if the text has one.

    Free-form rationales often restate other numbers after the result ("Therefore, Mary needs 1
    more cup than the 4 cups of salt"), so the conclusion's first number (or the value after its
    last "=") is a better guess than the text's last number.
    """
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if s.strip()]
    last = sentences[-1] if sentences else ""
    if _CONCLUSION.match(last) and _number_candidates(last):  # only the closing sentence concludes
        return _numeric_from_span(last)
    return None


def _yes_no_from(text: str, last: bool) -> str | None:
    words = re.findall(r"[a-z]+", text.lower())
    hits = [w for w in words if w in ("yes", "no", "true", "false")]
    if not hits:
        return None
    word = hits[-1] if last else hits[0]
    return "yes" if word in _YES else "no"


def _text_from_span(span: str) -> str | None:
    value = re.sub(r"[.!]+$", "", span.strip()).strip()
    value = value.strip("*_`\"'\u201c\u201d ").strip()
    return value or None


def extract_answer(
    text: str | None, answer_type: AnswerType | str, choices: list[str] | None = None, first: bool = False
) -> str | None:
    """The canonical answer stated in free model text, or None when there is none.

    The span after the last answer phrase wins; otherwise the last candidate in the text (the
    last number, the last `(x)`/choice text, the last yes/no, the last non-empty line). With
    `first`, the first candidate: an answer-first student states its answer before anything else,
    so when it runs on without its separator ("12 | 12 | 14 ...") what it said first is its answer.
    """
    if not text:
        return None
    kind = AnswerType(answer_type)
    span = answer_span(text)
    if kind is AnswerType.numeric:
        if span:
            found = _numeric_from_span(span)
            if found is not None:
                return found
        concluded = None if first else _conclusion_number(text)
        if concluded is not None:
            return concluded
        # Working shown in brackets after the result ("8 emails (3 + 5)") is not the result.
        candidates = _number_candidates(re.sub(r"\([^()]*\)(?=[\s.!?]*$)", "", text.strip())) or _number_candidates(text)
        return format_number(candidates[0 if first else -1][1]) if candidates else None
    if kind is AnswerType.multiple_choice:
        if span:
            found = _choice_from_span(span, choices)
            if found is not None:
                return found
        return _choice_mention(text, choices, first=first)
    if kind is AnswerType.yes_no:
        if span:
            found = _yes_no_from(span, last=False)
            if found is not None:
                return found
        return _yes_no_from(text, last=not first)
    if span:
        return _text_from_span(span)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _text_from_span(lines[0 if first else -1]) if lines else None


# ------------------------------------------------------------------------------------------ scoring


def canonical_answer(value: str | float | int, answer_type: AnswerType | str, choices: list[str] | None = None) -> str | None:
    """A gold or predicted answer in canonical form for its type, or None if it cannot be read.

    numeric -> `"42"`; multiple choice -> the letter (from `C`, `(c)`, `C) text` or the choice
    text); yes/no -> `"yes"`/`"no"`; text -> stripped as given.
    """
    kind = AnswerType(answer_type)
    text = str(value).strip()
    if kind is AnswerType.numeric:
        number = parse_number(text)
        if number is None:
            return _numeric_from_span(text)
        return format_number(number)
    if kind is AnswerType.multiple_choice:
        letter = _letter_for_text(text, choices)
        return letter or _choice_from_span(text, choices)
    if kind is AnswerType.yes_no:
        return _yes_no_from(text, last=False)
    return text or None


def is_correct(
    predicted: str | None,
    gold: str,
    answer_type: AnswerType | str,
    choices: list[str] | None = None,
    *,
    rel_tol: float = 1e-4,
    abs_tol: float = 1e-6,
) -> bool:
    """Whether a prediction matches the gold answer.

    numeric: equal within `rel_tol`/`abs_tol`, or equal after rounding gold to the decimals the
    prediction shows when it shows two or more (`8.33` matches 8.3333); multiple choice: same letter or same choice text;
    yes/no: same word; text: equal after `normalize_text`.
    """
    if predicted is None:
        return False
    kind = AnswerType(answer_type)
    if kind is AnswerType.numeric:
        guess, truth = parse_number(predicted), parse_number(gold)
        if guess is None:
            canonical = canonical_answer(predicted, kind)
            guess = parse_number(canonical) if canonical is not None else None
        if guess is None or truth is None:
            return False
        if math.isclose(guess, truth, rel_tol=rel_tol, abs_tol=abs_tol):
            return True
        decimals = _decimals_written(str(predicted))
        return decimals >= 2 and abs(guess - truth) <= 0.5 * 10**-decimals + abs_tol
    if kind is AnswerType.multiple_choice:
        guess, truth = canonical_answer(predicted, kind, choices), canonical_answer(gold, kind, choices)
        if guess is None or truth is None:
            return False
        if guess == truth:
            return True
        if choices:  # repeated choice texts ("bridge", "bridge") are the same answer
            index = {letter: i for i, letter in enumerate(CHOICE_LETTERS)}
            g, t = index.get(guess, 99), index.get(truth, 99)
            return g < len(choices) and t < len(choices) and normalize_text(choices[g]) == normalize_text(choices[t])
        return False
    if kind is AnswerType.yes_no:
        guess = canonical_answer(predicted, kind)
        return guess is not None and guess == canonical_answer(gold, kind)
    return normalize_text(str(predicted)) == normalize_text(gold)


def target_answer(record: Record) -> str:
    """The answer string y a student is trained to write for this record.

    numeric `"42"`, multiple choice `"(C) garden center"`, yes/no `"yes"`, text as is.
    """
    kind = AnswerType(record.answer_type)
    if kind is AnswerType.multiple_choice and record.choices:
        index = CHOICE_LETTERS.index(record.answer)
        return f"({record.answer}) {record.choices[index]}"
    if kind is AnswerType.numeric:
        value = parse_number(record.answer)
        return format_number(value) if value is not None else record.answer
    return record.answer
