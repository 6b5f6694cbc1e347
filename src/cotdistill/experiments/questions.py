"""Which questions a task contributes to an experiment: training, dev slice and test, and the floors.

The dev slice is held out of the training split (seeded by the experiment's data_seed) and never
trained on: settings are chosen by evaluating on it (`eval.split: dev`), never on the test split.
Subsets of real tasks are seeded random samples kept in file order (files are often sorted by
something: the first N would be a biased slice).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from cotdistill.records import Record


@dataclass(frozen=True)
class TaskQuestions:
    train: list[Record]
    dev: list[Record]
    test: list[Record]

    def evaluated(self, split: str) -> list[Record]:
        return self.dev if split == "dev" else self.test


def seeded_subset(records: list[Record], size: int | None, seed: int) -> list[Record]:
    """`size` records drawn with `seed`, in their original order (all of them if size is None or larger)."""
    if size is None or size >= len(records):
        return list(records)
    chosen = sorted(random.Random(seed).sample(range(len(records)), size))
    return [records[i] for i in chosen]


def hold_out(pool: list[Record], dev_size: int | None, seed: int) -> tuple[list[Record], list[Record]]:
    """(the rest, the dev slice): `dev_size` questions of the training pool set aside, seeded."""
    if not dev_size:
        return list(pool), []
    dev = seeded_subset(pool, dev_size, seed + 1_000_003)  # a stream of its own: independent of train_size's draw
    ids = {r.id for r in dev}
    return [r for r in pool if r.id not in ids], dev


def floors(train: list[Record], evaluated: list[Record]) -> dict:
    """What answering without reading the question scores on `evaluated`.

    `constant`: always the commonest gold answer of the training questions (what a student that
    learnt only the answer prior says). `best_constant`: the best any single answer could score,
    read off the evaluated questions' own gold answers: the learning gate's floor (a student has
    learnt only if its interval lies above this one's), never used to choose anything.
    """
    from cotdistill.answers import is_correct
    from cotdistill.evaluation.metrics import wilson_interval

    def hits(answer: str) -> int:
        return sum(bool(is_correct(answer, r.answer, r.answer_type, r.choices)) for r in evaluated)

    n = len(evaluated)
    if not n or not train:
        return {}
    common = Counter(r.answer for r in train).most_common(1)[0][0]
    best = max(dict.fromkeys(r.answer for r in evaluated), key=hits)
    return {
        "n": n,
        "constant_answer": common, "constant_accuracy": hits(common) / n,
        "best_constant_answer": best, "best_constant_accuracy": hits(best) / n,
        "best_constant_ci95": list(wilson_interval(hits(best), n)),
    }  # fmt: skip
