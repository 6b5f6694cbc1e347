"""Controlled rationale noise for the robustness experiments (PST's claim: answer-first is robust).

Each corruption returns a changed rationale, or None when it cannot change this one (no numbers to
perturb, a single sentence to shuffle): the caller then picks another example, so exactly the
requested fraction is corrupted whenever enough examples can be.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

NOISE_KINDS = ("numbers", "shuffle", "swap", "truncate")

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_BREAK.split(text.strip()) if s.strip()]


def perturb_numbers(text: str, rng: random.Random) -> str | None:
    """Every number becomes a different one of similar size (42 -> 39, 2.5 -> 3.5)."""
    if not _NUMBER.search(text):
        return None

    def replace(match: re.Match) -> str:
        written = match.group()
        value = float(written)
        spread = max(1, int(abs(value) * 0.5))
        delta = rng.choice([d for d in range(-spread, spread + 1) if d != 0])
        changed = value + delta
        if changed < 0:  # keep quantities plausible: 1 - 3 would read as a minus sign bug
            changed = value + abs(delta)
        return str(int(changed)) if "." not in written else f"{changed:.{len(written.split('.')[1])}f}"

    return _NUMBER.sub(replace, text)


def shuffle_sentences(text: str, rng: random.Random) -> str | None:
    """The same sentences in another order."""
    sentences = split_sentences(text)
    if len(set(sentences)) < 2:
        return None
    order = list(sentences)
    while order == sentences:
        rng.shuffle(order)
    return " ".join(order)


def truncate(text: str, rng: random.Random) -> str | None:
    """The first half of the sentences (or of the words, for one sentence): the conclusion is lost."""
    sentences = split_sentences(text)
    if len(sentences) >= 2:
        return " ".join(sentences[: len(sentences) // 2])
    words = text.split()
    if len(words) < 2:
        return None
    return " ".join(words[: len(words) // 2])


def swap_with_other(text: str, rng: random.Random, *, own_question: str, pool: Sequence[tuple[str, str]]) -> str | None:
    """Another question's rationale (a fluent but irrelevant explanation)."""
    others = [rationale for qid, rationale in pool if qid != own_question and rationale != text]
    return rng.choice(others) if others else None


def corruption(kind: str) -> Callable[..., str | None]:
    from cotdistill.errors import unknown_name

    table = {"numbers": perturb_numbers, "shuffle": shuffle_sentences, "truncate": truncate, "swap": swap_with_other}
    if kind not in table:
        raise unknown_name("noise kind", kind, list(NOISE_KINDS))
    return table[kind]
