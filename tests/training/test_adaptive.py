"""Adaptive thinking end to end on tiny-llama: both modes trained, held-out folds labelled, the
perception module fitted and used by evaluation, its threshold trading thinking for tokens."""

from __future__ import annotations

import json

import pytest

from cotdistill.errors import ConfigError
from cotdistill.evaluation import EvalOptions, evaluate, predictions_path
from cotdistill.routing import PERCEPTION_FILE
from cotdistill.training import load_config, train
from cotdistill.training.data import read_curated

FAST = dict(batch_size=8, max_len=96, report_to=[], progress=False, seed=0, max_steps=3, lr=3e-3)


def test_adaptive_student_routes_each_question(curated, tiny_llama, tmp_path):
    out = train(load_config(data=curated, strategy="adaptive", student="tiny-llama", out=tmp_path / "out", **FAST))
    meta = json.loads((out / "cotdistill.json").read_text())
    summary = meta["perception"]
    assert (out / PERCEPTION_FILE).is_file() and summary["folds"] == 2 and summary["questions"] == 24
    for fold in (0, 1):  # each fold labelled its held-out half in both modes, then its student was deleted
        folder = out / "perception" / f"fold-{fold}"
        labels = json.loads((folder / "labels.json").read_text())
        assert len(labels) == 12 and all(set(l) == {"answer-first", "think-first"} for l in labels.values())
        assert not (folder / "model").exists()
        trained_on = {json.loads(line)["id"] for line in (folder / "data" / "train.jsonl").read_text().splitlines()}
        assert not trained_on & set(labels)  # the students that label a question never saw it

    records = read_curated(curated)[0][::2]
    options = dict(max_new_tokens=12, similarity=False, batch_size=8)
    auto = evaluate(out, records=records, options=EvalOptions(**options), out=tmp_path / "auto.json")
    rows = [json.loads(line) for line in predictions_path(tmp_path / "auto.json").read_text().splitlines()]
    assert sum(auto["modes"].values()) == len(records) and all(0 <= r["perception_score"] <= 1 for r in rows)
    everyone_first = evaluate(out, records=records, options=EvalOptions(threshold=0.0, **options))
    assert everyone_first["modes"] == {"answer-first": len(records)}
    thinking = evaluate(out, records=records, options=EvalOptions(mode="think-first", **options))
    assert thinking["modes"] == {"think-first": len(records)}

    labelled_at = (out / "perception" / "fold-0" / "labels.json").stat().st_mtime_ns
    again = train(load_config(data=curated, strategy="adaptive", student="tiny-llama", out=out, resume=True, **FAST))
    assert json.loads((again / "cotdistill.json").read_text())["perception"] == summary
    assert (out / "perception" / "fold-0" / "labels.json").stat().st_mtime_ns == labelled_at  # finished folds reused


def test_mode_options_need_an_adaptive_student(curated, tiny_llama, tmp_path):
    out = train(load_config(data=curated, strategy="answer-only", student="tiny-llama", out=tmp_path / "o", **FAST))
    with pytest.raises(ConfigError, match="only adaptive students have modes"):
        evaluate(out, records=read_curated(curated)[0][:2], options=EvalOptions(mode="think-first"))


def test_a_bad_mode_option_is_reported_before_decoding(curated, tiny_llama, tmp_path):
    out = train(load_config(data=curated, strategy="adaptive", student="tiny-llama", out=tmp_path / "o", **FAST))
    with pytest.raises(ConfigError, match="mode must be one of auto, answer-first, think-first, got 'sometimes'"):
        evaluate(out, records=read_curated(curated)[0][:2], options=EvalOptions(mode="sometimes"))
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\], got 2"):
        evaluate(out, records=read_curated(curated)[0][:2], options=EvalOptions(threshold=2))
