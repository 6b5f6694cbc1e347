"""The OpenAI-compatible backend against a real llama.cpp server (SmolLM2-135M on 127.0.0.1).

Kept small (few questions, short completions): these run in CI. All traffic goes through the real
proxy of conftest.py so that the tests count the HTTP requests that actually reached the server.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotdistill.store import RationaleStore
from cotdistill.tasks import load_task
from cotdistill.teachers import SamplingParams, TeachConfig, teach
from cotdistill.teachers.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.slow
SHORT = SamplingParams(temperature=1.0, max_tokens=16)


def _questions(count: int):
    return load_task("synth-arithmetic", "train", size=20)[:count]


def _config(store: Path, base_url: str, **changes) -> TeachConfig:
    fields = dict(task="synth-arithmetic", teacher="openai", model="smollm2", base_url=base_url, store=store,
                  samples=3, params=SHORT, prompt="chat", concurrency=2, timeout_s=60)
    return TeachConfig(**{**fields, **changes})


def _rows(store: Path) -> list[tuple[str, int]]:
    with RationaleStore(store) as db:
        return [(s.qid, s.sample_index) for s in db.samples()]


def test_samples_into_the_store_then_rerun_makes_no_requests(tmp_path, llama_server, fault_proxy):
    store, questions = tmp_path / "s.sqlite", _questions(2)
    with fault_proxy(llama_server) as proxy:
        config = _config(store, proxy.base_url)
        summary = teach(config, records=questions, progress=False)
        assert (summary.new_samples, summary.failed_samples) == (6, 0)
        # llama.cpp ignores n: the first n=3 request per question returns one choice, the rest are
        # fetched one by one with distinct seeds, so exactly one HTTP request per sample
        assert summary.n_supported is False and proxy.requests == 6
        with RationaleStore(store) as db:
            samples = list(db.samples())
        assert sorted(_rows(store)) == sorted((q.id, i) for q in questions for i in range(3))
        assert all(s.backend == "openai" and s.model == "smollm2" and s.params["temperature"] == 1.0 for s in samples)
        assert all(s.completion_tokens and s.prompt_tokens and s.latency_s > 0 for s in samples)
        for question in questions:  # distinct seeds give distinct samples
            assert len({s.raw for s in samples if s.qid == question.id}) > 1
        again = teach(config, records=questions, progress=False)
        assert (again.requests, again.new_samples, again.already_stored, proxy.requests) == (0, 0, 6, 6)


def test_two_stage_zero_shot_cot_on_the_completions_endpoint(tmp_path, llama_server):
    store, questions = tmp_path / "s.sqlite", _questions(2)
    config = _config(store, llama_server, prompt="zero-shot-cot", endpoint="completions", samples=2)
    summary = teach(config, records=questions, progress=False)
    assert summary.new_samples == 4 and summary.requests == 8  # reasoning + answer extraction per sample
    with RationaleStore(store) as db:
        for sample in db.samples():
            assert "\nTherefore, the answer (arabic numerals) is" in sample.raw
            assert (sample.answer is None) == (sample.parse_error is not None)


def test_every_fault_is_retried_and_each_sample_stored_once(tmp_path, llama_server, fault_proxy):
    store, questions = tmp_path / "s.sqlite", _questions(2)
    schedule = ["ok", "429", "ok", "500", "timeout", "ok", "drop", "ok", "malformed", "500"]  # half the requests fail
    with fault_proxy(llama_server, schedule, retry_after_s=1) as proxy:
        backend = OpenAICompatBackend("smollm2", base_url=proxy.base_url, timeout_s=6, max_retries=12, backoff_base_s=0.05)
        config = _config(store, proxy.base_url, samples=3, concurrency=2, params=SHORT.with_(max_tokens=16))
        summary = teach(config, records=questions, backend=backend, progress=False)
        assert (summary.new_samples, summary.failed_samples) == (6, 0)
        assert all(proxy.counts[fault] >= 1 for fault in ("429", "500", "timeout", "drop", "malformed"))
        # a forwarded request can still time out on a busy server, so "ok" may exceed 6; but exactly
        # 6 attempts succeeded (one per sample) and every other attempt was counted as a retry
        assert proxy.counts["ok"] >= 6 and summary.retries == proxy.requests - 6
        assert set(backend.stats.failures) == {"http_429", "http_500", "timeout", "connection", "malformed"}
        rows = _rows(store)
        assert len(rows) == len(set(rows)) == 6
        before = proxy.requests
        again = teach(config, records=questions, progress=False)
        assert again.requests == 0 and proxy.requests == before


def test_api_key_is_sent_but_never_stored_or_shown(tmp_path, llama_server, monkeypatch):
    secret = "sk-test-SECRET-value-1234"
    monkeypatch.setenv("COTDISTILL_TEST_KEY", secret)
    store = tmp_path / "s.sqlite"
    config = _config(store, llama_server, api_key_env="COTDISTILL_TEST_KEY", samples=1, params=SHORT.with_(max_tokens=8))
    teach(config, records=_questions(1), progress=False)
    assert secret.encode() not in store.read_bytes()
    for wal in tmp_path.glob("s.sqlite*"):
        assert secret.encode() not in wal.read_bytes()
    # a 404 (wrong URL) stops the run with an error that does not contain the key
    bad = _config(tmp_path / "b.sqlite", llama_server.replace("/v1", "/nope"), api_key_env="COTDISTILL_TEST_KEY", samples=1)
    with pytest.raises(Exception) as caught:
        teach(bad, records=_questions(1), progress=False)
    assert "HTTP 404" in str(caught.value) and secret not in str(caught.value)


def test_kill_9_mid_run_then_rerun_completes_the_exact_set(tmp_path, llama_server, fault_proxy):
    store = tmp_path / "s.sqlite"
    command = [str(Path(sys.executable).parent / "cotdistill"), "teach", "--task", "synth-arithmetic", "--task-option", "size=20",
               "--teacher", "openai", "--model", "smollm2", "--store", str(store), "--samples", "2", "--limit", "4",
               "--max-tokens", "12", "--prompt", "chat", "--concurrency", "1", "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([*command, "--base-url", llama_server], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count(store) < 2:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no samples stored in 120 s"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with RationaleStore(store) as db:
        before = {(s.qid, s.sample_index): s.raw for s in db.samples()}
    assert 2 <= len(before) < 8, "the run must be killed part-way"
    with fault_proxy(llama_server) as proxy:
        rerun = subprocess.run([*command, "--base-url", proxy.base_url], env=env, capture_output=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        assert proxy.requests == 8 - len(before)  # only the missing samples were requested
    with RationaleStore(store) as db:
        after = {(s.qid, s.sample_index): s.raw for s in db.samples()}
        rows = [(s.qid, s.sample_index) for s in db.samples()]
    questions = [q.id for q in load_task("synth-arithmetic", "train", size=20)[:4]]
    assert sorted(rows) == sorted((q, i) for q in questions for i in range(2))  # the exact set, no duplicates
    assert all(after[key] == raw for key, raw in before.items())  # what survived the kill was kept as is


def _count(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
