"""Careless and hostile input through every command (issue 17).

The table runs malformed inputs through the real entry point (`cotdistill.cli.main`, in process) and
asserts the CLI's contract for a user's mistake: exit code 2, exactly one line on stderr, no
traceback, and nothing written or half-written (the folder holding the inputs is unchanged, byte for
byte). Grow it as new kinds of bad input turn up. The tests after it cover what a table row cannot:
resume mismatches, prompt caps, secrets, temp files, the unexpected-error path.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import run_cli as _run
from cotdistill.cli import main
from cotdistill.records import Record

GOOD = {"id": "q1", "question": "What is 2 plus 2?", "answer": "4", "answer_type": "numeric",
        "rationale": "2 plus 2 is 4. The answer is 4."}


def _jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _curated(folder: Path, records: list[Record] | None = None, manifest: object = None) -> Path:
    """A curated folder as `curate` writes it: train.jsonl and a manifest whose content_hash matches."""
    folder.mkdir(parents=True, exist_ok=True)
    records = records or [Record(id=f"add-{i}", question=f"What is {i} plus {i}?", answer=str(2 * i), answer_type="numeric",
                                 rationales=[f"{i} plus {i} is {2 * i}."]) for i in range(16)]
    body = "".join(r.to_json() + "\n" for r in records).encode()
    (folder / "train.jsonl").write_bytes(body)
    if manifest is None:
        manifest = {"task": "toy", "answer_type": "numeric", "content_hash": "sha256:" + hashlib.sha256(body).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


# -- table: (name, setup(tmp) -> argv, words the one line must hold) -------------------------------

def _non_utf8(tmp: Path) -> Path:
    path = tmp / "latin1.jsonl"
    path.write_bytes(json.dumps({**GOOD, "question": "caf\u00e9?"}, ensure_ascii=False).encode("latin-1") + b"\n")
    return path


def _dup_ids(tmp: Path) -> Path:
    return _jsonl(tmp / "dup.jsonl", GOOD, {**GOOD, "question": "What is 3 plus 3?", "answer": "6"})


def _four_ish(tmp: Path) -> Path:
    return _jsonl(tmp / "fourish.jsonl", {**GOOD, "answer": "four-ish"})


def _choice_not_listed(tmp: Path) -> Path:
    return _jsonl(tmp / "mc.jsonl", {"id": "m", "question": "Pick one", "choices": ["red", "blue"], "answer": "E",
                                     "answer_type": "multiple_choice", "rationale": "The answer is (E)."})


def _multi_rationale(tmp: Path, label) -> Path:
    path = tmp / "mr.json"
    path.write_text(json.dumps([{"instruction": "What is 2 plus 2?", "output": ["It is 4."], "label": label}]))
    return path


def _train_args(tmp: Path, data: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--strategy", "answer-only", "--student", "tiny-llama", "--out",
            str(tmp / "model"), "--no-progress", *extra]


def _stale_manifest(tmp: Path) -> Path:
    folder = _curated(tmp / "cur")
    lines = (folder / "train.jsonl").read_text().splitlines(keepends=True)
    (folder / "train.jsonl").write_text("".join(lines[:-1]))  # curate killed between its two writes
    return folder


def _curated_with(tmp: Path, text: str) -> Path:
    folder = _curated(tmp / "cur", manifest={"task": "toy"})
    (folder / "train.jsonl").write_text(text)
    return folder


def _curated_with_bytes(tmp: Path, data: bytes) -> Path:
    folder = _curated(tmp / "cur", manifest={"task": "toy"})
    (folder / "train.jsonl").write_bytes(data)
    return folder


def _mc_record_outside_choices(tmp: Path) -> Path:
    record = Record(id="m", question="Pick", choices=["red", "blue"], answer="D", answer_type="multiple_choice",
                    rationales=["It is D."])
    return _curated(tmp / "cur", [record])


QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"

CASES = [
    ("tasks: non-UTF-8", lambda t: ["tasks", "show", f"jsonl:{_non_utf8(t)}"], ["latin1.jsonl:1", "not UTF-8"]),
    ("tasks: duplicate ids", lambda t: ["tasks", "show", f"jsonl:{_dup_ids(t)}"], ["dup.jsonl:2", "'q1' is used twice"]),
    ("tasks: numeric answer four-ish", lambda t: ["tasks", "show", f"jsonl:{_four_ish(t)}"], ["field 'answer'", "four-ish"]),
    ("tasks: answer not among the choices", lambda t: ["tasks", "show", f"jsonl:{_choice_not_listed(t)}"], ["field 'answer'"]),
    ("import: non-UTF-8", lambda t: ["import", "--format", "jsonl", "--task", "t", "--store", str(t / "s.sqlite"),
                                     "--path", str(_non_utf8(t))], ["not UTF-8"]),
    ("import: duplicate ids", lambda t: ["import", "--format", "jsonl", "--task", "t", "--store", str(t / "s.sqlite"),
                                         "--path", str(_dup_ids(t))], ["used twice"]),
    ("import: four-ish", lambda t: ["import", "--format", "jsonl", "--task", "t", "--store", str(t / "s.sqlite"),
                                    "--path", str(_four_ish(t))], ["four-ish"]),
    ("import: multi-rationale label [4]", lambda t: ["import", "--format", "multi-rationale", "--task", "t", "--store",
                                                     str(t / "s.sqlite"), "--path", str(_multi_rationale(t, [4]))],
     ["field 'label'", "[4]"]),
    ("import: --answer-type float", lambda t: ["import", "--format", "multi-rationale", "--task", "t", "--store",
                                               str(t / "s.sqlite"), "--path", str(_multi_rationale(t, 4)),
                                               "--answer-type", "float"], ["--answer-type", "numeric"]),
    ("import: ftcot file not UTF-8", lambda t: ["import", "--format", "ftcot", "--store", str(t / "s.sqlite"), "--path",
                                                str(_non_utf8(t))], ["not UTF-8"]),
    ("import: empty file", lambda t: ["import", "--format", "jsonl", "--task", "t", "--store", str(t / "s.sqlite"),
                                      "--path", str(_jsonl(t / "empty.jsonl"))], ["no questions"]),
    ("import: store under a file", lambda t: ["import", "--format", "jsonl", "--task", "t", "--store",
                                              str(_jsonl(t / "ok.jsonl", GOOD) / "s.sqlite"), "--path", str(t / "ok.jsonl")],
     ["is a file, not a folder"]),
    ("curate: missing store", lambda t: ["curate", "--store", str(t / "missing.sqlite"), "--out", str(t / "cur")],
     ["no such rationale store"]),
    ("curate: empty file as store", lambda t: ["curate", "--store", str(_jsonl(t / "zero.sqlite")), "--out", str(t / "cur")],
     ["empty file"]),
    ("train: stale manifest", lambda t: _train_args(t, _stale_manifest(t)), ["content_hash", "re-run `cotdistill curate`"]),
    ("train: manifest not an object", lambda t: _train_args(t, _curated(t / "cur", manifest=[1, 2])),
     ["manifest.json", "expected a JSON object"]),
    ("train: invalid record", lambda t: _train_args(t, _curated_with(t, '{"id": 3, "question": "x"}\n')),
     ["train.jsonl:1", "not a valid record", "field 'id'"]),
    ("train: non-UTF-8 data", lambda t: _train_args(t, _curated_with_bytes(t, _non_utf8(t).read_bytes())),
     ["train.jsonl:1", "not UTF-8"]),
    ("train: empty data", lambda t: _train_args(t, _curated_with(t, "\n")), ["no training records"]),
    ("train: choice answer outside choices", lambda t: _train_args(t, _mc_record_outside_choices(t)),
     ["field 'answer'", "choice letters A, B"]),
    ("train: {oops} in the prompt template", lambda t: _train_args(t, _curated(t / "cur"), "--prompt-template",
                                                                     "{question} {oops}"), ["{oops}"]),
    ("train: unknown hub id while offline", lambda t: ["train", "--data", str(_curated(t / "cur")), "--strategy", "pst",
                                                       "--student", "nobody/no-such-model", "--out", str(t / "m")],
     ["offline", "tiny-llama"]),
    ("train: config file not UTF-8", lambda t: ["train", "--config", str(_non_utf8(t))], ["not UTF-8"]),
    ("train: --out under a file", lambda t: _train_args(t, _curated(t / "cur")) [:-3] + ["--out", str(_jsonl(t / "f.txt", GOOD) / "m")],
     ["is a file, not a folder"]),
    ("eval: --out is a folder", lambda t: ["eval", "--model", str(t), "--task", "synth-arithmetic", "--out", str(t)],
     ["is a folder"]),
    ("eval: not a model folder", lambda t: ["eval", "--model", str(t / "nothing"), "--task", "synth-arithmetic", "--out",
                                            str(t / "e.json")], ["cotdistill.json"]),
    ("teach: store under a file", lambda t: ["teach", "--task", "synth-arithmetic", "--teacher", "reference", "--store",
                                             str(_jsonl(t / "f.txt", GOOD) / "s.sqlite")], ["is a file, not a folder"]),
    ("teach: exemplars not UTF-8", lambda t: ["teach", "--task", "synth-arithmetic", "--teacher", "openai", "--base-url",
                                              "http://127.0.0.1:9/v1", "--model", "m", "--prompt", "few-shot-cot", "--exemplars",
                                              str(_non_utf8(t)), "--store", str(t / "s.sqlite")], ["not UTF-8"]),
    ("run: --run-dir under a file", lambda t: ["run", str(QUICKSTART), "--run-dir", str(_jsonl(t / "f.txt", GOOD) / "r")],
     ["--run-dir", "is a file, not a folder"]),
    ("train: strategy misspelt", lambda t: ["train", "--data", str(_curated(t / "cur")), "--strategy", "pts", "--student",
                                            "tiny-llama", "--out", str(t / "m")], ["strategy", "'pst'"]),
]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("name, setup, words", CASES, ids=[case[0] for case in CASES])
def test_a_user_mistake_is_one_line_exit_2_and_writes_nothing(name, setup, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = setup(tmp_path)
    before = _snapshot(tmp_path)
    code, out, err = _run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    for word in words:
        assert word in lines[0], lines[0]
    assert _snapshot(tmp_path) == before, "a failed command left files behind"


# -- the other classes ----------------------------------------------------------------------------

def test_an_unexpected_error_is_one_line_naming_the_traceback_file(tmp_path, capsys, monkeypatch):
    import cotdistill.tasks as tasks

    monkeypatch.delenv("COTDISTILL_DEBUG", raising=False)
    monkeypatch.setattr(tasks, "get_task_info", lambda name: (_ for _ in ()).throw(RuntimeError("boom")))
    code, _, err = _run(["tasks", "show", "synth-arithmetic"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "unexpected RuntimeError: boom" in err and "Traceback" not in err
    saved = Path(err.split("full traceback in ")[1].split(";")[0])
    assert "Traceback" in saved.read_text() and "RuntimeError: boom" in saved.read_text()
    saved.unlink()
    code, _, err = _run(["--debug", "tasks", "show", "synth-arithmetic"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err


def test_an_id_already_stored_for_another_question_is_refused(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    first = _jsonl(tmp_path / "a.jsonl", GOOD)
    assert _run(["import", "--format", "jsonl", "--task", "t", "--store", str(store), "--path", str(first)], capsys)[0] == 0
    other = _jsonl(tmp_path / "b.jsonl", {**GOOD, "question": "What is 5 plus 5?", "answer": "10"})
    code, _, err = _run(["import", "--format", "jsonl", "--task", "t", "--store", str(store), "--path", str(other)], capsys)
    assert code == 2 and "'q1'" in err and "already stored for another question" in err
    from cotdistill.store import RationaleStore

    with RationaleStore(store) as db:
        assert [r.question for r in db.questions("t", "train").values()] == ["What is 2 plus 2?"]
        assert db.count() == 1


def test_secret_in_base_url_never_printed():
    import asyncio

    from cotdistill.records import Record as R
    from cotdistill.teachers.base import Request, SamplingParams, TeacherError
    from cotdistill.teachers.openai_compat import OpenAICompatBackend, redact_url
    from cotdistill.teachers.prompts import Prompt

    assert redact_url("http://me:S3CRET@host:8/v1") == "http://me:***@host:8/v1"
    assert redact_url("http://TOKEN@host/v1") == "http://***@host/v1"
    backend = OpenAICompatBackend("m", base_url="http://me:S3CRET%21@127.0.0.1:9/v1", max_retries=0, timeout_s=2)
    request = Request(R(id="x", question="q", answer="1", answer_type="numeric"), Prompt(text="q"), 1, SamplingParams(), 0)

    async def call():
        try:
            return await backend.agenerate(request)
        finally:
            await backend.aclose()

    with pytest.raises(TeacherError) as error:
        asyncio.run(call())
    assert "S3CRET" not in str(error.value) and "me:***@127.0.0.1:9" in str(error.value)


def test_atomic_writes_get_ordinary_modes_and_clear_dead_writers_temps(tmp_path):
    from cotdistill.files import write_text_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.json.{int(dead.stdout)}.abc123.tmp"
    stale.write_text("half")
    live = tmp_path / f".out.json.{os.getppid()}.def456.tmp"  # a live writer's: left alone
    live.write_text("in progress")
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "out.json", "{}")
    finally:
        os.umask(old)
    assert not stale.exists() and live.exists()
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644


# -- with a tiny model: resume mismatch, huge prompt, answer-type mismatch ------------------------

@pytest.fixture(scope="module")
def trained(tiny_llama, tmp_path_factory):
    """A 2-step answer-only tiny-llama student with its checkpoints (a run --resume can continue)."""
    root = tmp_path_factory.mktemp("trained")
    data = _curated(root / "cur")
    argv = ["train", "--data", str(data), "--strategy", "answer-only", "--student", "tiny-llama", "--out",
            str(root / "model"), "--max-steps", "2", "--save-every", "1", "--batch-size", "4", "--max-len", "64",
            "--report-to", "none", "--no-progress"]
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code in (0, None)
    return root, argv


@pytest.mark.parametrize("change, named", [
    (["--lr", "0.001"], "lr 0.001"),
    (["--seed", "7"], "seed 7"),
    (["--strategy", "pre-thinking"], 'strategy "pre-thinking"'),
    (["--data", "OTHER"], "data: train.jsonl"),
])
def test_resume_with_other_data_or_settings_is_refused(trained, change, named, tmp_path, capsys):
    root, argv = trained
    if change[0] == "--data":
        change = ["--data", str(_curated(tmp_path / "other", [Record(id="x", question="What is 1 plus 1?", answer="2",
                                                                      answer_type="numeric", rationales=["It is 2."])]))]
    argv = list(argv) + ["--resume"]
    if change[0] in argv:
        argv[argv.index(change[0]) + 1] = change[1]
    else:
        argv += change
    before = _snapshot(root / "model")
    code, _, err = _run(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert named in err and "used" in err
    assert _snapshot(root / "model") == before


def test_resume_with_the_same_settings_continues(trained, capsys):
    root, argv = trained
    code, out, err = _run(list(argv) + ["--resume"], capsys)
    assert code in (0, None), err
    meta = json.loads((root / "model" / "cotdistill.json").read_text())
    assert meta["steps"] == 2


def test_a_huge_prompt_is_refused_before_generation(trained, tmp_path, capsys):
    root, _ = trained
    huge = _jsonl(tmp_path / "huge.jsonl", {**GOOD, "question": "why " * 20_000}, {**GOOD, "id": "q2"})
    code, _, err = _run(["eval", "--model", str(root / "model"), "--task", f"jsonl:{huge}", "--split", "train",
                         "--out", str(tmp_path / "e.json"), "--no-similarity"], capsys)
    assert code == 2 and "record q1" in err and "over the cap" in err and "--max-prompt-tokens" in err
    assert not (tmp_path / "e.json").exists()
    code, _, err = _run(["eval", "--model", str(root / "model"), "--task", f"jsonl:{_jsonl(tmp_path / 's.jsonl', GOOD)}",
                         "--split", "train", "--out", str(tmp_path / "e.json"), "--max-prompt-tokens", "3"], capsys)
    assert code == 2 and "over the cap of 3" in err


def test_eval_on_another_answer_type_warns(trained, tmp_path, caplog):
    from cotdistill.evaluation import EvalOptions, evaluate

    root, _ = trained
    metrics = evaluate(root / "model", "synth-coin-flip", split="test", limit=2,
                       options=EvalOptions(max_new_tokens=4, similarity=False, answer_likelihood=False))
    assert "trained on numeric answers" in metrics["warnings"][0] and "yes_no" in metrics["warnings"][0]
    assert any("trained on numeric" in r.message for r in caplog.records)
