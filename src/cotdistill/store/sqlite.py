"""The rationale store: one SQLite file (WAL mode), one row per teacher sample.

A row is identified by (teacher-config key, question id, sample index) and a UNIQUE constraint on
that triple makes every write idempotent: a re-run, a second shard or a retry after `kill -9` can
never create a duplicate. Each sample is committed on its own as it arrives, so a crash loses at
most the requests that were still in flight.

Tables
- `configs`: one row per teacher configuration (backend, model, prompt, sampling parameters).
- `questions`: the task Records the samples answer (so curation needs nothing but the store).
- `samples`: raw text, cleaned rationale, extracted answer, correctness, parse error, token counts,
  latency, and (denormalised, so one row tells the whole story) backend, model, sampling params.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotdistill.errors import CotdistillError
from cotdistill.records import Record

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configs (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    split TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    synthetic INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
    task TEXT NOT NULL,
    split TEXT NOT NULL,
    qid TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (task, split, qid)
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    config_key TEXT NOT NULL REFERENCES configs(key),
    qid TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    raw TEXT NOT NULL,
    rationale TEXT,
    answer TEXT,
    correct INTEGER,
    parse_error TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    params TEXT NOT NULL,
    synthetic INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    UNIQUE (config_key, qid, sample_index)
);
CREATE INDEX IF NOT EXISTS samples_by_question ON samples (config_key, qid);
"""


def config_key(description: dict[str, Any]) -> str:
    """A stable hash of a teacher configuration (key order and whitespace do not matter)."""
    canonical = json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TeacherConfig:
    """What produced a set of samples; its hash is the `config_key` of every row it produced."""

    task: str
    split: str
    backend: str
    model: str
    prompt: str
    params: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. exemplar hash, import source

    def description(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "backend": self.backend,
            "model": self.model,
            "prompt": self.prompt,
            "params": self.params,
            "synthetic": self.synthetic,
            "extra": self.extra,
        }

    @property
    def key(self) -> str:
        return config_key(self.description())


@dataclass
class Sample:
    """One teacher completion for one question, as stored."""

    config_key: str
    qid: str
    sample_index: int
    raw: str
    rationale: str | None = None
    answer: str | None = None
    correct: bool | None = None
    parse_error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    backend: str = ""
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False


_SAMPLE_COLUMNS = (
    "config_key, qid, sample_index, raw, rationale, answer, correct, parse_error, prompt_tokens, "
    "completion_tokens, latency_s, backend, model, params, synthetic"
)


def _sample_from_row(row: sqlite3.Row) -> Sample:
    return Sample(
        config_key=row["config_key"],
        qid=row["qid"],
        sample_index=row["sample_index"],
        raw=row["raw"],
        rationale=row["rationale"],
        answer=row["answer"],
        correct=None if row["correct"] is None else bool(row["correct"]),
        parse_error=row["parse_error"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        latency_s=row["latency_s"],
        backend=row["backend"],
        model=row["model"],
        params=json.loads(row["params"]),
        synthetic=bool(row["synthetic"]),
    )


def same_question(a: Record, b: Record) -> bool:
    """One question under one id: text, choices and gold answer (its samples are filed by the id)."""
    return (a.question, a.choices, a.answer, a.answer_type) == (b.question, b.choices, b.answer, b.answer_type)


def _require_existing_store(path: Path) -> None:
    from cotdistill.errors import DataError

    hint = "check the path, or create the store with `cotdistill teach` or `cotdistill import`"
    if not path.is_file():
        raise DataError(path, "no such rationale store" if not path.exists() else "is not a file", hint=hint)
    if path.stat().st_size == 0:
        raise DataError(path, "empty file, not a rationale store", hint=hint)


class RationaleStore:
    """A SQLite rationale store; safe to open from several processes at once (WAL, busy timeout)."""

    def __init__(self, path: str | Path, *, create: bool = True):
        """Open (and with `create`, create) the store; readers pass create=False so a mistyped path
        is an error instead of a new empty store."""
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            _require_existing_store(self.path)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against process crashes (kill -9) in WAL mode; only an OS crash
            # could lose the last transactions, and those are simply re-sampled.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except sqlite3.DatabaseError as error:
            raise CotdistillError(f"{self.path}: not a usable rationale store ({error}). Pass a new path or a store written by cotdistill") from error

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RationaleStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def register_config(self, config: TeacherConfig) -> str:
        """Record a teacher configuration (idempotent) and return its key."""
        self._db.execute(
            "INSERT OR IGNORE INTO configs (key, task, split, backend, model, prompt, params, synthetic,"
            " description, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                config.key,
                config.task,
                config.split,
                config.backend,
                config.model,
                config.prompt,
                json.dumps(config.params, sort_keys=True),
                int(config.synthetic),
                json.dumps(config.description(), sort_keys=True, default=str),
                time.time(),
            ),
        )
        return config.key

    def add_questions(self, task: str, split: str, records: Iterable[Record]) -> None:
        """Keep the questions (gold answers included) beside their samples; existing ones are kept.

        An id already stored for another question (other text, choices or gold answer) is refused:
        the samples would otherwise be filed under the stored question and silently mixed."""
        # only the question and its gold answer: rationales live in `samples`
        records = list(records)
        rows = [(task, split, r.id, r.model_copy(update={"rationales": []}).to_json()) for r in records]
        with self._transaction():
            self._refuse_conflicts(task, split, records)
            self._db.executemany("INSERT OR IGNORE INTO questions (task, split, qid, record) VALUES (?, ?, ?, ?)", rows)

    def _refuse_conflicts(self, task: str, split: str, records: list[Record]) -> None:
        stored = self.questions(task, split)
        for record in records:
            old = stored.get(record.id)
            if old is None:
                continue
            if not same_question(old, record):
                raise CotdistillError(
                    f"{self.path}: question id {record.id!r} of {task}/{split} is already stored for another question "
                    f"({old.question[:60]!r}, answer {old.answer!r}; now {record.question[:60]!r}, answer {record.answer!r}). "
                    "Ids must name one question per split: give the new questions other ids, or use another --store"
                )

    def add_sample(self, sample: Sample) -> bool:
        """Commit one sample now. Returns False if that (config, question, index) was already stored."""
        return self.add_samples([sample]) == 1

    def add_samples(self, samples: Iterable[Sample]) -> int:
        """Commit samples in one transaction; rows already present are left untouched. Returns rows added."""
        now = time.time()
        rows = [
            (
                s.config_key,
                s.qid,
                s.sample_index,
                s.raw,
                s.rationale,
                s.answer,
                None if s.correct is None else int(s.correct),
                s.parse_error,
                s.prompt_tokens,
                s.completion_tokens,
                s.latency_s,
                s.backend,
                s.model,
                json.dumps(s.params, sort_keys=True),
                int(s.synthetic),
                now,
            )
            for s in samples
        ]
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                f"INSERT OR IGNORE INTO samples ({_SAMPLE_COLUMNS}, created) VALUES ({', '.join('?' * 16)})", rows
            )
            return self._db.total_changes - before

    def _transaction(self):
        return _Transaction(self._db)

    # -- reads ---------------------------------------------------------------------------------
    def stored_indices(self, key: str) -> dict[str, set[int]]:
        """Sample indices already stored for each question under one config."""
        stored: dict[str, set[int]] = {}
        for qid, index in self._db.execute("SELECT qid, sample_index FROM samples WHERE config_key = ?", (key,)):
            stored.setdefault(qid, set()).add(index)
        return stored

    def configs(self, task: str | None = None, split: str | None = None) -> list[dict[str, Any]]:
        """The registered teacher configurations, optionally for one task/split."""
        query, args = "SELECT * FROM configs WHERE 1=1", []
        if task is not None:
            query, args = query + " AND task = ?", [*args, task]
        if split is not None:
            query, args = query + " AND split = ?", [*args, split]
        rows = self._db.execute(query + " ORDER BY created, key", args).fetchall()
        return [{**dict(row), "params": json.loads(row["params"]), "synthetic": bool(row["synthetic"])} for row in rows]

    def questions(self, task: str, split: str) -> dict[str, Record]:
        rows = self._db.execute("SELECT qid, record FROM questions WHERE task = ? AND split = ? ORDER BY rowid", (task, split))
        return {qid: Record.from_json(record) for qid, record in rows}

    def samples(self, keys: Iterable[str] | None = None) -> Iterator[Sample]:
        """Samples in a stable order (config, question, index); all configs when `keys` is None."""
        if keys is None:
            rows = self._db.execute(f"SELECT {_SAMPLE_COLUMNS} FROM samples ORDER BY config_key, qid, sample_index")
        else:
            keys = list(keys)
            marks = ", ".join("?" * len(keys))
            rows = self._db.execute(
                f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE config_key IN ({marks}) ORDER BY config_key, qid, sample_index",
                keys,
            )
        for row in rows:
            yield _sample_from_row(row)

    def count(self, key: str | None = None) -> int:
        if key is None:
            return self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM samples WHERE config_key = ?", (key,)).fetchone()[0]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK): takes the write lock up front, waiting on other writers."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *exc: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
