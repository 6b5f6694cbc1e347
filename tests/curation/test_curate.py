"""Curation from a hand-built store: every count is known in advance."""

from __future__ import annotations

import hashlib
import json

import pytest

from cotdistill.curation import curate
from cotdistill.errors import CotdistillError
from cotdistill.records import Record
from cotdistill.store import RationaleStore, Sample, TeacherConfig

Q1 = Record(id="q1", question="Tom has 3 apples and buys 4. How many?", answer="7", answer_type="numeric")
Q2 = Record(id="q2", question="Ann has 10 pens and loses 2. How many?", answer="8", answer_type="numeric")


def _store(path, extra_q2: int = 0):
    config = TeacherConfig(task="toy", split="train", backend="openai", model="m", prompt="chat", params={"temperature": 1.0})
    rows = [  # (qid, index, rationale, answer, correct, parse_error)
        ("q1", 0, "3 + 4 = 7. The answer is 7.", "7", True, None),
        ("q1", 1, "3  +  4 = 7.  The answer is 7.", "7", True, None),  # a duplicate of 0 up to whitespace
        ("q1", 2, "3 + 5 = 8. The answer is 8.", "8", False, None),
        ("q1", 3, "I am not sure.", None, None, "no numeric answer found in the completion"),
        ("q2", 0, "10 - 2 = 8. The answer is 8.", "8", True, None),
        ("q2", 1, "Ten minus two is 8. The answer is 8.", "8", True, None),
        ("q2", 2, "10 + 2 = 12. The answer is 12.", "12", False, None),
    ]
    rows += [("q2", 3 + i, f"Way {i}: 10 - 2 = 8. The answer is 8.", "8", True, None) for i in range(extra_q2)]
    with RationaleStore(path) as db:
        db.register_config(config)
        db.add_questions("toy", "train", [Q1, Q2])
        db.add_samples(Sample(config_key=config.key, qid=q, sample_index=i, raw=r, rationale=r, answer=a, correct=c,
                              parse_error=e, backend="openai", model="m") for q, i, r, a, c, e in rows)
    return config.key


def _read(out):
    return [Record.from_json(line) for line in (out / "train.jsonl").read_text().splitlines()]


def test_correct_only_with_dedup(tmp_path):
    key = _store(tmp_path / "s.sqlite")
    manifest = curate(tmp_path / "s.sqlite", tmp_path / "out", filter="correct", dedup=True)
    counts = manifest["counts"]
    assert counts["sampled"] == 7 and counts["kept"] == 3 and counts["teacher_correct"] == 4
    assert counts["dropped"] == {"parse_error": 1, "incorrect": 2, "duplicate": 1, "downsampled": 0}
    examples = _read(tmp_path / "out")
    assert [e.id for e in examples] == [f"q1~{key[:8]}~0", f"q2~{key[:8]}~0", f"q2~{key[:8]}~1"]
    assert all(len(e.rationales) == 1 for e in examples)
    assert manifest["task"] == "toy" and manifest["answer_type"] == "numeric"
    body = (tmp_path / "out" / "train.jsonl").read_bytes()
    assert manifest["content_hash"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "train.jsonl"]  # no temp files


def test_keep_all_and_the_label_trained_on(tmp_path):
    _store(tmp_path / "s.sqlite")
    teacher = curate(tmp_path / "s.sqlite", tmp_path / "t", filter="all", label="teacher")
    assert teacher["counts"]["kept"] == 6 and teacher["counts"]["dropped"]["parse_error"] == 1
    wrong = [e for e in _read(tmp_path / "t") if not e.meta["teacher_correct"]]
    assert sorted(e.answer for e in wrong) == ["12", "8"]  # the teacher's (wrong) answers
    # with the gold label nothing of the teacher's answer is used, so the unparsed sample is kept too (vanilla)
    manifest = curate(tmp_path / "s.sqlite", tmp_path / "g", filter="all", label="gold")
    assert manifest["counts"]["kept"] == 7 and manifest["counts"]["dropped"]["parse_error"] == 0
    gold = {e.id: e for e in _read(tmp_path / "g")}
    assert all(e.answer == e.meta["gold_answer"] for e in gold.values())
    assert sorted(e.answer for e in gold.values() if e.meta["teacher_correct"] is False) == ["7", "8"]
    unparsed = [e for e in gold.values() if e.meta["teacher_answer"] is None]
    assert [(e.question, e.answer, e.rationales) for e in unparsed] == [(Q1.question, "7", ["I am not sure."])]
    correct = curate(tmp_path / "s.sqlite", tmp_path / "c", filter="correct", label="gold")
    assert correct["counts"]["dropped"]["parse_error"] == 1  # not known to be right


def test_max_per_question_random_is_seeded(tmp_path):
    _store(tmp_path / "s.sqlite", extra_q2=6)  # q2 has 8 correct samples
    first = curate(tmp_path / "s.sqlite", tmp_path / "a", max_per_question=3, seed=5)
    again = curate(tmp_path / "s.sqlite", tmp_path / "b", max_per_question=3, seed=5)
    assert first["content_hash"] == again["content_hash"]
    assert first["counts"]["kept"] == 2 + 3 and first["counts"]["dropped"]["downsampled"] == 5
    other = [curate(tmp_path / "s.sqlite", tmp_path / f"c{s}", max_per_question=3, seed=s)["content_hash"] for s in range(6)]
    assert len(set(other)) > 1


def test_noise_corrupts_the_requested_fraction_and_flags_it(tmp_path):
    _store(tmp_path / "s.sqlite", extra_q2=6)
    manifest = curate(tmp_path / "s.sqlite", tmp_path / "n", noise=0.5, noise_kind="numbers", seed=1)
    examples = _read(tmp_path / "n")
    noisy = [e for e in examples if e.meta["noisy"]]
    assert manifest["counts"]["kept"] == 10 and manifest["counts"]["noised"] == len(noisy) == 5
    for example in noisy:
        assert example.meta["noise_kind"] == "numbers" and example.rationales[0] != example.meta["original_rationale"]
        assert example.answer == example.meta["teacher_answer"]  # the label is untouched
    swapped = curate(tmp_path / "s.sqlite", tmp_path / "s", noise=0.2, noise_kind="swap", seed=1)
    assert swapped["counts"]["noised"] == 2
    originals = {}
    for example in examples:
        originals.setdefault(example.meta["question_id"], set()).add(example.meta.get("original_rationale", example.rationales[0]))
    for example in (e for e in _read(tmp_path / "s") if e.meta["noisy"]):
        other_question = "q1" if example.meta["question_id"] == "q2" else "q2"
        assert example.rationales[0] in originals[other_question]  # another question's rationale


def test_errors_name_what_to_fix(tmp_path):
    _store(tmp_path / "s.sqlite")
    with pytest.raises(CotdistillError, match="no teacher samples for task=other"):
        curate(tmp_path / "s.sqlite", tmp_path / "o", task="other")
    with pytest.raises(Exception, match="filter"):
        curate(tmp_path / "s.sqlite", tmp_path / "o", filter="best")


@pytest.mark.slow
def test_diverse_downsampling_with_minilm(tmp_path, minilm):
    config = TeacherConfig(task="toy", split="train", backend="openai", model="m", prompt="chat")
    groups = [
        ["Tom starts with 3 apples and buys 4 more, so 3 + 4 = 7. The answer is 7.",
         "Tom had 3 apples; buying 4 more gives 3 + 4 = 7 apples. The answer is 7.",
         "Starting from 3 apples and adding 4 bought ones, Tom has 7. The answer is 7."],
        ["Count on from three: four, five, six, seven. The answer is 7.",
         "Counting up from 3 by ones: 4, 5, 6, 7. The answer is 7."],
        ["Seven is the only number that is four more than three. The answer is 7."],
    ]
    texts = [t for g in groups for t in g]
    with RationaleStore(tmp_path / "s.sqlite") as db:
        db.register_config(config)
        db.add_questions("toy", "train", [Q1])
        db.add_samples(Sample(config_key=config.key, qid="q1", sample_index=i, raw=t, rationale=t, answer="7",
                              correct=True, backend="openai", model="m") for i, t in enumerate(texts))
    manifest = curate(tmp_path / "s.sqlite", tmp_path / "d", max_per_question=3, downsample="diverse", seed=0)
    kept = [e.rationales[0] for e in _read(tmp_path / "d")]
    assert manifest["counts"]["kept"] == 3 and manifest["counts"]["dropped"]["downsampled"] == 3
    group_of = {t: g for g, members in enumerate(groups) for t in members}
    assert {group_of[t] for t in kept} == {0, 1, 2}  # one from each way of solving it
