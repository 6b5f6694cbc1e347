"""What every strategy shares: prompt text, segment tokenisation with per-token loss kinds, output splitting.

A strategy says how a Record (x, y, r) becomes one or more token sequences, and which tokens each loss
term reads. Tokenisation is per segment: the prompt is tokenised exactly as at inference
(`tokenizer(prompt)`, with the tokenizer's own special tokens) and every target segment separately
without special tokens, then the ids are concatenated. So the mask boundaries are exact, and the
prompt tokens the model sees in training are the ones it sees when evaluation tokenises the prompt.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cotdistill.records import Record, format_question

# Per-token loss kinds. PROMPT tokens (and padding) are never a target of any loss.
PROMPT, ANSWER, RATIONALE = 0, 1, 2

DEFAULT_PROMPT_TEMPLATE = "Question: {question}\nAnswer:"
# "eos": the tokenizer's end-of-sequence token ends the answer, as it ends answer-only's; the rationale
# follows it. A separator the student finds unlikely (" [SEP]" is 4 SmolLM2 tokens at ~7 nats each; a
# new vocabulary token starts near 20) dominates the early gradients, and under Adam, whose step sizes
# remember them, answer-first students learnt the answer far slower (bench/results/answer_share.md).
# A newline fixed that but not generalisation: on coin flip's dev slice, post-thinking with b = 0 (the
# answer-only loss) memorised its training answers with a newline after the answer (54%) and learnt the
# rule with EOS there (100%), as answer-only does (docs/strategies.md, "The separator").
EOS_SEPARATOR = "eos"
NEW_SEPARATOR_TOKEN = "[SEP]"
EOS = object()  # sentinel segment text: the tokenizer's end-of-sequence token


@dataclass(frozen=True)
class Segment:
    """A piece of a training sequence: its text (or EOS), its loss kind, and whether it ends at the marker."""

    text: Any
    kind: int
    marker: bool = False  # the last token of this segment is the semantic marker position


@dataclass
class EncodedExample:
    """One tokenised training sequence.

    kinds[i] says which loss reads token i as a target (PROMPT = none); the causal shift (logits at
    i-1 predict token i) is done by the loss. marker_index is the position whose hidden state is h
    for PST's semantic loss (it has seen x, y and the separator, not r).
    """

    input_ids: list[int]
    kinds: list[int]
    record_id: str
    rationale: str | None = None
    marker_index: int | None = None
    truncated: bool = False
    record_index: int = 0  # which line of the training file it came from (set by encode_records)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class LossSpec:
    """How the per-kind cross-entropies combine into the training loss.

    joint=True (pre-thinking): one token-mean CE over every target token, CE(r + y).
    Otherwise: answer_weight * CE(answer tokens) + rationale_weight * CE(rationale tokens)
    (+ semantic_weight * L_sem). Each CE is a token mean over its own tokens in the batch.
    """

    answer_weight: float = 1.0
    rationale_weight: float = 0.0
    semantic_weight: float = 0.0
    joint: bool = False


@dataclass
class Strategy:
    """Base class: one small object per strategy, its settings as dataclass fields.

    Subclasses set `name`, `answer_first` and implement `examples` (the segments of each training
    sequence), `stop_strings`, `split_output` and `loss_spec`.
    """

    name: ClassVar[str] = ""
    answer_first: ClassVar[bool] = False
    # Raised when the same settings come to train a different student (a fixed defect, a changed
    # default): experiment runs then train their finished cells of this strategy again, not reuse them.
    revision: ClassVar[int] = 0

    prompt_template: str = field(
        default=DEFAULT_PROMPT_TEMPLATE,
        metadata={"help": "Inference prompt; '{question}' is replaced by the formatted question x."},
    )

    # --- inference side -------------------------------------------------------------------------
    def prompt(self, record: Record) -> str:
        """The inference prompt for a record."""
        return self.prompt_template.format(question=format_question(record))

    def stop_strings(self, explain: bool = False) -> list[str]:
        raise NotImplementedError

    def split_output(self, text: str) -> tuple[str, str | None]:
        """(answer part, rationale part or None) of a generated continuation of the prompt."""
        raise NotImplementedError

    def eos_separated(self, eos_token: str) -> bool:
        """Whether the answer ends at an EOS that the rationale follows: asked for the rationale,
        decoding then runs to the second EOS."""
        return False

    # --- training side --------------------------------------------------------------------------
    def examples(self, record: Record) -> list[tuple[str, list[Segment]]]:
        """The (prompt, target segments) of each training sequence made from one record."""
        raise NotImplementedError

    def loss_spec(self) -> LossSpec:
        raise NotImplementedError

    def setup_tokenizer(self, tokenizer) -> list[int]:
        """Add any tokens this strategy needs; returns the ids of added tokens (trained under LoRA)."""
        return []

    def encode(self, record: Record, tokenizer, max_len: int | None = None) -> list[EncodedExample]:
        """Tokenise a record into training sequences with per-token loss kinds.

        Sequences longer than max_len are cut on the right (the rationale tail goes first); a sequence
        whose prompt alone fills max_len is dropped. The marker is kept only if it survives the cut.
        """
        rationale = record.rationales[0] if record.rationales else None
        encoded = []
        for prompt, segments in self.examples(record):
            ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
            kinds = [PROMPT] * len(ids)
            marker_index = None
            for segment in segments:
                piece = self._segment_ids(segment, tokenizer)
                ids += piece
                kinds += [segment.kind] * len(piece)
                if segment.marker:
                    marker_index = len(ids) - 1
            prompt_len = next(i for i, kind in enumerate(kinds) if kind != PROMPT)
            truncated = max_len is not None and len(ids) > max_len
            if truncated:
                if prompt_len >= max_len:
                    continue
                ids, kinds = ids[:max_len], kinds[:max_len]
                if marker_index is not None and marker_index >= max_len:
                    marker_index = None
            encoded.append(EncodedExample(ids, kinds, record.id, rationale, marker_index, truncated))
        return encoded

    @staticmethod
    def _segment_ids(segment: Segment, tokenizer) -> list[int]:
        if segment.text is EOS:
            return [tokenizer.eos_token_id]
        return list(tokenizer(segment.text, add_special_tokens=False)["input_ids"])

    # --- persistence ----------------------------------------------------------------------------
    def metadata(self) -> dict:
        """Everything needed to re-create this strategy (saved in the model folder's cotdistill.json)."""
        return {"name": self.name, "answer_first": self.answer_first, **dataclasses.asdict(self)}

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


def answer_text(record: Record) -> str:
    """The answer string y (cotdistill.answers.target_answer), imported late: answers is a sibling stage."""
    from cotdistill.answers import target_answer

    return target_answer(record)


def only_rationale(record: Record) -> str:
    """The record's single rationale r; curated training records carry exactly one."""
    from cotdistill.errors import DataError

    if len(record.rationales) != 1:
        raise DataError(
            "train.jsonl",
            f"expected exactly one rationale, found {len(record.rationales)}",
            record=record.id,
            field="rationales",
            hint="curated training files carry one rationale per line; re-run `cotdistill curate`",
        )
    return record.rationales[0].strip()
