"""The README's headline plot: accuracy against generated tokens per question for the suite's students on the
test split, one panel per task, each task at the budget the README's table shows. Reads the committed result
files (no run folder, no model) and writes docs/img/headline-accuracy-vs-tokens.png.

    .venv/bin/python bench/headline.py

Coin flip, last letters, MultiArith, SVAMP and StrategyQA: bench/results/suite.json (coin flip's prefix
averaged with its second seed, suite-coinflip-prefix-seed1.json); shuffled objects at 20 epochs:
suite-20epochs.json (prefix there is a = 0.9).
"""

from __future__ import annotations

import json
from pathlib import Path

from cotdistill.reports import normalise_row, summarise_rows
from cotdistill.reports.plots import accuracy_vs_tokens

RESULTS = Path(__file__).resolve().parent / "results"
OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "headline-accuracy-vs-tokens.png"
ORDER = ("coin-flip", "last-letters", "shuffled-objects", "multiarith", "svamp-zs", "strategyqa")


def rows(name: str) -> list[dict]:
    return json.loads((RESULTS / f"{name}.json").read_text())["rows"]


def headline_rows() -> list[dict]:
    """One row per (task, strategy) shown; rows of one key are averaged as seeds by summarise_rows."""
    chosen = [r for r in rows("suite") if r["task"] != "shuffled-objects"]
    chosen += rows("suite-coinflip-prefix-seed1")
    chosen += [{**r, "strategy": "prefix" if r["strategy"] == "prefix-a0.9" else r["strategy"]}
               for r in rows("suite-20epochs") if r["task"] == "shuffled-objects"]
    return sorted(chosen, key=lambda r: ORDER.index(r["task"]))


def main() -> None:
    summaries = summarise_rows([normalise_row(r, f"row {i}") for i, r in enumerate(headline_rows())])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    accuracy_vs_tokens(summaries, OUT, "SmolLM2-135M students, test split")
    print(OUT)


if __name__ == "__main__":
    main()
