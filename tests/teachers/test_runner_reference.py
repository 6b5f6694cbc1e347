"""The resumable runner with the offline `reference` teacher on a built-in synthetic task."""

from __future__ import annotations

import pytest

from cotdistill.errors import CotdistillError
from cotdistill.store import RationaleStore
from cotdistill.teachers import TeachConfig, teach
from cotdistill.teachers.runner import select_shard


def _config(store, **changes) -> TeachConfig:
    fields = dict(task="synth-arithmetic", teacher="reference", store=store, samples=3, limit=12,
                  task_options={"size": 40})
    return TeachConfig(**{**fields, **changes})


def test_fills_the_store_then_requests_nothing(tmp_path):
    store = tmp_path / "s.sqlite"
    first = teach(_config(store), progress=False)
    assert (first.questions, first.samples_target, first.new_samples, first.already_stored) == (12, 36, 36, 0)
    assert first.requests == 12  # one n=3 request per question
    assert first.teacher_accuracy == 1.0  # error_rate 0: the worked solutions are right
    again = teach(_config(store), progress=False)
    assert (again.requests, again.new_samples, again.already_stored) == (0, 0, 36)
    more = teach(_config(store, samples=5), progress=False)  # only indices 3 and 4 are new
    assert (more.requests, more.new_samples, more.already_stored) == (12, 24, 36)
    with RationaleStore(store) as db:
        rows = [(s.qid, s.sample_index) for s in db.samples()]
        assert all(s.synthetic and s.backend == "reference" for s in db.samples())
    assert len(rows) == len(set(rows)) == 60


def test_error_rate_makes_wrong_samples_and_a_new_config(tmp_path):
    store = tmp_path / "s.sqlite"
    clean = teach(_config(store, samples=4, limit=20), progress=False)
    noisy = teach(_config(store, samples=4, limit=20, error_rate=0.5), progress=False)
    assert clean.config_key != noisy.config_key and noisy.new_samples == 80
    assert 0.25 < noisy.teacher_accuracy < 0.75
    with RationaleStore(store) as db:
        wrong = [s for s in db.samples([noisy.config_key]) if not s.correct]
    assert wrong and all(s.answer is not None and s.parse_error is None for s in wrong)


def test_shards_partition_the_questions(tmp_path):
    store = tmp_path / "s.sqlite"
    for shard in ("0/3", "1/3", "2/3"):
        teach(_config(store, shard=shard, samples=2), progress=False)
    whole = teach(_config(store, samples=2), progress=False)
    assert (whole.requests, whole.already_stored) == (0, 24)
    items = list(range(10))
    parts = [select_shard(items, f"{i}/3") for i in range(3)]
    assert sum(parts, []) == items and [len(p) for p in parts] == [3, 3, 4]
    with pytest.raises(CotdistillError, match="0 <= i < n"):
        select_shard(items, "3/3")
    with pytest.raises(CotdistillError, match="i/n"):
        select_shard(items, "half")


def test_reference_teacher_refuses_tasks_it_cannot_solve(tmp_path):
    from cotdistill.records import Record

    record = Record(id="x", question="Why is the sky blue?", answer="scattering", answer_type="text")
    with pytest.raises(CotdistillError, match="reference teacher works only"):
        teach(_config(tmp_path / "s.sqlite", task="custom"), records=[record], progress=False)


def _texts(store) -> dict:
    with RationaleStore(store) as db:
        return {(s.qid, s.sample_index): s.raw for s in db.samples()}


def test_resumed_run_draws_exactly_what_an_uninterrupted_one_does(tmp_path):
    """The stated guarantee for the reference teacher: sample i of a question is the same text
    whether it came in one n=5 request or in a later request for the missing indices only."""
    whole, resumed = tmp_path / "whole.sqlite", tmp_path / "resumed.sqlite"
    teach(_config(whole, samples=5, error_rate=0.4), progress=False)
    teach(_config(resumed, samples=2, error_rate=0.4), progress=False)  # "killed" after two samples a question
    teach(_config(resumed, samples=5, error_rate=0.4), progress=False)  # indices 2..4 requested as one n=3 group
    expected, got = _texts(whole), _texts(resumed)
    assert len(expected) == 60 and got == expected


def test_reuse_copies_this_teachers_samples_from_another_store(tmp_path):
    small = tmp_path / "small.sqlite"
    teach(_config(small, samples=2, limit=8), progress=False)
    grown = teach(_config(tmp_path / "grown.sqlite", samples=3, limit=12, reuse=[small]), progress=False)
    assert (grown.reused, grown.already_stored, grown.new_samples) == (16, 16, 36 - 16)
    assert grown.requests == 12  # the 8 old questions asked for index 2 only, the 4 new ones for all three
    with RationaleStore(small) as a, RationaleStore(tmp_path / "grown.sqlite") as b:
        old = {(s.qid, s.sample_index): s.raw for s in a.samples()}
        copied = {(s.qid, s.sample_index): s.raw for s in b.samples() if (s.qid, s.sample_index) in old}
    assert copied == old
    other_teacher = teach(_config(tmp_path / "noisy.sqlite", samples=2, limit=8, error_rate=0.5, reuse=[small]), progress=False)
    assert (other_teacher.reused, other_teacher.new_samples) == (0, 16)


def test_reuse_skips_an_id_that_names_another_question(tmp_path):
    import sqlite3

    small = tmp_path / "small.sqlite"
    teach(_config(small, samples=1, limit=4), progress=False)
    with sqlite3.connect(small) as db:  # as a generated task at another size might: same id, other question
        qid, record = db.execute("SELECT qid, record FROM questions ORDER BY qid LIMIT 1").fetchone()
        db.execute("UPDATE questions SET record = ? WHERE qid = ?", (record.replace('"question":"', '"question":"Not '), qid))
    again = teach(_config(tmp_path / "again.sqlite", samples=1, limit=4, reuse=[small]), progress=False)
    assert (again.reused, again.new_samples) == (3, 1)
    with pytest.raises(ValueError, match="--reuse .*missing.sqlite: no such store"):
        _config(tmp_path / "x.sqlite", reuse=[tmp_path / "missing.sqlite"])
