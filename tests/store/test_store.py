"""The SQLite rationale store: keys, idempotent writes, WAL, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from cotdistill.errors import CotdistillError
from cotdistill.records import Record
from cotdistill.store import RationaleStore, Sample, TeacherConfig, config_key


def _config(**changes) -> TeacherConfig:
    fields = dict(task="t", split="train", backend="openai", model="m", prompt="chat", params={"temperature": 1.0, "max_tokens": 64})
    return TeacherConfig(**{**fields, **changes})


def _sample(key: str, qid: str, index: int, **fields) -> Sample:
    return Sample(config_key=key, qid=qid, sample_index=index, raw=f"raw {qid} {index}", backend="openai", model="m", **fields)


def test_config_key_ignores_key_order_and_tracks_every_setting():
    assert config_key({"a": 1, "b": {"c": 2, "d": 3}}) == config_key({"b": {"d": 3, "c": 2}, "a": 1})
    base = _config().key
    assert _config().key == base
    for changed in (_config(model="other"), _config(prompt="zero-shot-cot"), _config(params={"temperature": 0.7, "max_tokens": 64}),
                    _config(split="test"), _config(extra={"seed": 1})):
        assert changed.key != base


def test_sample_round_trips_every_field(tmp_path):
    with RationaleStore(tmp_path / "s.sqlite") as store:
        key = store.register_config(_config())
        sample = _sample(key, "q1", 0, rationale="r", answer="42", correct=True, parse_error=None, prompt_tokens=10,
                         completion_tokens=20, latency_s=0.5, params={"temperature": 1.0}, synthetic=True)
        assert store.add_sample(sample)
        [back] = list(store.samples([key]))
    assert back == sample


def test_writes_are_idempotent_and_unique(tmp_path):
    with RationaleStore(tmp_path / "s.sqlite") as store:
        key = store.register_config(_config())
        assert store.add_samples([_sample(key, "q1", 0), _sample(key, "q1", 1)]) == 2
        # the same (config, question, index) again, even with other content, adds nothing
        assert not store.add_sample(_sample(key, "q1", 0, rationale="different"))
        assert store.add_samples([_sample(key, "q1", 1), _sample(key, "q2", 0)]) == 1
        assert store.count(key) == 3
        assert store.stored_indices(key) == {"q1": {0, 1}, "q2": {0}}
        assert list(store.samples([key]))[0].rationale is None  # the first write won
    raw = sqlite3.connect(tmp_path / "s.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO samples (config_key, qid, sample_index, raw, backend, model, params, created)"
                    " VALUES (?, 'q1', 0, 'x', 'b', 'm', '{}', 0)", (key,))


def test_store_uses_wal_and_keeps_questions_without_rationales(tmp_path):
    record = Record(id="q1", question="1+1?", answer="2", answer_type="numeric", rationales=["because"])
    with RationaleStore(tmp_path / "s.sqlite") as store:
        store.add_questions("t", "train", [record])
        store.add_questions("t", "train", [record])  # idempotent
        assert store.questions("t", "train") == {"q1": record.model_copy(update={"rationales": []})}
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_not_a_store_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(CotdistillError, match="not a usable rationale store"):
        RationaleStore(bad)


def _writer(path: str, key: str, start: int) -> None:
    with RationaleStore(path) as store:
        for index in range(start, start + 60):  # overlaps with the other writer on 30..59
            store.add_sample(_sample(key, f"q{index % 7}", index))


def test_two_processes_writing_at_once_leave_no_duplicates(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with RationaleStore(path) as store:
        key = store.register_config(_config())
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, key, start)) for start in (0, 30)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with RationaleStore(path) as store:
        rows = [(s.qid, s.sample_index) for s in store.samples([key])]
    assert len(rows) == len(set(rows)) == 90
    assert {index for _, index in rows} == set(range(90))
