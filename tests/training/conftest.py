"""A small curated folder (numeric and multiple-choice questions, two rationales each) for training tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cotdistill.records import Record


def write_curated(folder: Path, questions: int = 24, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(questions):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        for k, wording in enumerate(("Adding {a} and {b} gives {s}.", "{a} plus {b} is {s}, so the sum is {s}.")):
            record = Record(id=f"add-{i}", question=f"What is {a} plus {b}?", answer=str(a + b),
                            answer_type="numeric", rationales=[wording.format(a=a, b=b, s=a + b)])  # fmt: skip
            lines.append(record.to_json())
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "manifest.json").write_text(json.dumps({"task": "toy-add", "answer_type": "numeric", "count": len(lines)}))
    return folder


@pytest.fixture(scope="session")
def curated(tmp_path_factory) -> Path:
    return write_curated(tmp_path_factory.mktemp("curated"))
