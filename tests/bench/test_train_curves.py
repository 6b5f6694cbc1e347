"""bench/train_curves.py reads a student's train_log.jsonl, and says what is wrong with a --curve it cannot read."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from cotdistill.errors import CotdistillError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from train_curves import read_curve  # noqa: E402


def _log(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_a_curve_is_the_column_at_each_logged_step(tmp_path):
    model = _log(tmp_path / "model", [{"step": 1, "answer_ce": 0.7}, {"step": 2, "answer_ce": 0.5}])
    assert read_curve(f"pst={model}:answer_ce") == ("pst", [0.7, 0.5])


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no-equals-sign", "expected LABEL=MODEL_DIR:FIELD"),
        ("pst={missing}:loss", "train_log.jsonl not found"),
        ("pst={model}:semantic", "line 2: no field 'semantic' (it has: step, loss)"),
    ],
)
def test_an_unreadable_curve_names_what_is_wrong(tmp_path, spec, says):
    model = _log(tmp_path / "model", [{"step": 1, "loss": 0.7, "semantic": 0.1}, {"step": 2, "loss": 0.5}])
    with pytest.raises(CotdistillError, match=re.escape(says)):
        read_curve(spec.format(model=model, missing=tmp_path / "missing"))
