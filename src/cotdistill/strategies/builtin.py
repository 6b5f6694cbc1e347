"""The five strategies of DESIGN.md ("Methods, precisely"), each a small dataclass.

| strategy      | target after the prompt x          | loss                                 |
|---------------|------------------------------------|--------------------------------------|
| answer-only   | " y" EOS                           | CE(y)                                |
| pre-thinking  | " r\\nTherefore, the answer is y" EOS | CE(r + y), one token mean            |
| post-thinking | " y" SEP " r" EOS (SEP: EOS by default) | CE(y + SEP) + b * CE(r)         |
| prefix        | "[label] x" -> " y" EOS and "[rationale] x" -> " r" EOS | a * CE(y) + (1 - a) * CE(r) |
| pst           | as post-thinking, marker at SEP    | CE(y + SEP) + b * CE(r) + l * L_sem  |

EOS is the tokenizer's end-of-sequence token; it belongs to the last segment's loss term.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cotdistill.records import Record
from cotdistill.strategies.base import (
    ANSWER,
    EOS,
    EOS_SEPARATOR,
    NEW_SEPARATOR_TOKEN,
    RATIONALE,
    LossSpec,
    Segment,
    Strategy,
    answer_text,
    only_rationale,
)

ANSWER_PHRASE = "Therefore, the answer is"


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def think_first_target(record: Record, answer_phrase: str) -> list[Segment]:
    """Pre-thinking's target: " r", the answer phrase, " y", EOS, with the loss kinds of each part."""
    return [
        Segment(" " + only_rationale(record), RATIONALE),
        Segment(f"\n{answer_phrase}", RATIONALE),
        Segment(" " + answer_text(record), ANSWER),
        Segment(EOS, ANSWER),
    ]


def split_at_conclusion(text: str, answer_phrase: str) -> tuple[str, str | None]:
    """The answer part starts at the last answer phrase (so extract_answer reads it first); without
    one (an answer written at once, or a rationale cut off), the whole text."""
    at = text.rfind(answer_phrase)
    if at < 0:
        return text.strip(), None
    return _first_line(text[at:]), text[:at].strip() or None


def split_at_separator(text: str, separator: str) -> tuple[str, str | None]:
    """(what comes before the separator, what comes after it or None); without it, the whole text."""
    at = text.find(separator)
    if at < 0:
        return text.strip(), None
    rationale = text[at + len(separator) :].strip()
    return text[:at].strip(), rationale or None


@dataclass
class AnswerOnly(Strategy):
    """Fine-tune on the answer alone: x -> y. Inference stops at the end of the (one-line) answer."""

    name = "answer-only"
    answer_first = True

    def examples(self, record: Record):
        return [(self.prompt(record), [Segment(" " + answer_text(record), ANSWER), Segment(EOS, ANSWER)])]

    def loss_spec(self) -> LossSpec:
        return LossSpec(answer_weight=1.0)

    def stop_strings(self, explain: bool = False) -> list[str]:
        # The answer is one line; EOS ends generation anyway, "\n" only guards an under-trained model.
        return ["\n"]

    def split_output(self, text: str) -> tuple[str, str | None]:
        return _first_line(text), None


@dataclass
class PreThinking(Strategy):
    """Standard CoT fine-tuning (Fine-tune-CoT): x -> r, then "Therefore, the answer is y"."""

    name = "pre-thinking"
    answer_first = False
    answer_phrase: str = field(
        default=ANSWER_PHRASE, metadata={"help": "Phrase between the rationale and the answer."}
    )

    def examples(self, record: Record):
        return [(self.prompt(record), think_first_target(record, self.answer_phrase))]

    def loss_spec(self) -> LossSpec:
        return LossSpec(answer_weight=1.0, rationale_weight=1.0, joint=True)

    def stop_strings(self, explain: bool = False) -> list[str]:
        return []

    def split_output(self, text: str) -> tuple[str, str | None]:
        return split_at_conclusion(text, self.answer_phrase)


@dataclass
class PostThinking(Strategy):
    """Answer first, then the rationale: x -> y SEP r. Inference stops at SEP."""

    name = "post-thinking"
    answer_first = True
    separator: str = field(
        default=EOS_SEPARATOR,
        metadata={"help": f"Between answer and rationale: '{EOS_SEPARATOR}' (the tokenizer's end-of-sequence token) "
                          "or text; inference stops there."},
    )
    new_separator_token: bool = field(
        default=False,
        metadata={"help": f"Add '{NEW_SEPARATOR_TOKEN}' to the vocabulary as one new token used as SEP."},
    )
    rationale_weight: float = field(default=1.0, metadata={"help": "b: weight of the rationale CE."})

    def __post_init__(self):
        if self.new_separator_token:
            self.separator = NEW_SEPARATOR_TOKEN  # no leading space: it must stay one token

    @property
    def separator_text(self) -> str:
        """What inference stops at and splits on: the separator without its padding spaces (a
        separator that is only whitespace, such as a newline, is itself)."""
        return self.separator.strip() or self.separator

    def setup_tokenizer(self, tokenizer) -> list[int]:
        if self.separator == EOS_SEPARATOR:
            self.separator = tokenizer.eos_token  # the token's own text, so cotdistill.json names it
        if not self.new_separator_token:
            return []
        from tokenizers import AddedToken

        # Not "special": decoding keeps it, so the stop string and split_output see it.
        tokenizer.add_tokens([AddedToken(NEW_SEPARATOR_TOKEN, special=False, normalized=False)])
        return [tokenizer.convert_tokens_to_ids(NEW_SEPARATOR_TOKEN)]

    def examples(self, record: Record):
        target = [
            Segment(" " + answer_text(record), ANSWER),
            Segment(EOS if self.separator == EOS_SEPARATOR else self.separator, ANSWER, marker=True),
            Segment(" " + only_rationale(record), RATIONALE),
            Segment(EOS, RATIONALE),
        ]
        return [(self.prompt(record), target)]

    def loss_spec(self) -> LossSpec:
        return LossSpec(answer_weight=1.0, rationale_weight=self.rationale_weight)

    def stop_strings(self, explain: bool = False) -> list[str]:
        # An EOS separator not yet bound to a tokenizer (setup_tokenizer names it) needs no stop string.
        return [] if explain or self.separator == EOS_SEPARATOR else [self.separator_text]

    def eos_separated(self, eos_token: str) -> bool:
        return self.separator_text == eos_token

    def split_output(self, text: str) -> tuple[str, str | None]:
        return split_at_separator(text, self.separator_text)


@dataclass
class Prefix(Strategy):
    """Distilling step-by-step's prefix mechanism: "[label] x" -> y and "[rationale] x" -> r."""

    name = "prefix"
    answer_first = True
    revision = 1  # 1: both tasks of a question in the same optimizer step (before, each step had one)
    label_prefix: str = field(default="[label] ", metadata={"help": "Input prefix of the label task."})
    rationale_prefix: str = field(
        default="[rationale] ", metadata={"help": "Input prefix of the rationale task."}
    )
    alpha: float = field(default=0.5, metadata={"help": "a: loss = a * CE(y) + (1 - a) * CE(r)."})

    def prompt(self, record: Record) -> str:
        return self.label_prefix + super().prompt(record)

    def rationale_prompt(self, record: Record) -> str:
        return self.rationale_prefix + super().prompt(record)

    def examples(self, record: Record):
        label = [Segment(" " + answer_text(record), ANSWER), Segment(EOS, ANSWER)]
        rationale = [Segment(" " + only_rationale(record), RATIONALE), Segment(EOS, RATIONALE)]
        return [(self.prompt(record), label), (self.rationale_prompt(record), rationale)]

    def loss_spec(self) -> LossSpec:
        return LossSpec(answer_weight=self.alpha, rationale_weight=1.0 - self.alpha)

    def stop_strings(self, explain: bool = False) -> list[str]:
        return ["\n"]

    def split_output(self, text: str) -> tuple[str, str | None]:
        return _first_line(text), None


@dataclass
class PST(PostThinking):
    """Post-Semantic-Thinking: post-thinking plus L_sem = 1 - cos(g(h), e(r)) at the marker (SEP).

    The marker is the last token of SEP (one new token with `new_separator_token`), so h has seen x
    and y but not r. `sem_source="rationale-mean"` pools the hidden states over the teacher-forced
    rationale tokens instead.
    """

    name = "pst"
    answer_first = True
    semantic_weight: float = field(default=1.0, metadata={"help": "l: weight of the semantic loss."})
    sem_target: Literal["minilm", "self"] = field(
        default="minilm",
        metadata={"help": "e(r): all-MiniLM-L6-v2 ('minilm') or the frozen initial student, mean-pooled ('self')."},
    )
    sem_source: Literal["marker", "rationale-mean"] = field(
        default="marker",
        metadata={"help": "h: hidden state at the marker, or mean over the rationale tokens."},
    )
    sem_centroid: bool = field(
        default=False,
        metadata={"help": "Target the normalised centroid of all rationales of the question."},
    )
    sem_head: Literal["linear", "mlp"] = field(
        default="linear", metadata={"help": "g: linear projection or 2-layer MLP (training only)."}
    )

    def loss_spec(self) -> LossSpec:
        return LossSpec(
            answer_weight=1.0,
            rationale_weight=self.rationale_weight,
            semantic_weight=self.semantic_weight,
        )


STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (AnswerOnly, PreThinking, PostThinking, Prefix, PST)}
