"""`teach` shows what it is about to spend before its first request (issue 49): questions, samples, requests,
prompt tokens (characters / 4 of the actual prompts) and completion tokens (at most requests x max_tokens);
`--max-requests` refuses a larger plan and `--check` prints it without requesting or writing anything."""

from __future__ import annotations

import json
import math

import pytest

from cli_run import run_cli as _run
from cotdistill.store import RationaleStore
from cotdistill.teachers import PlanTooLarge, TeachConfig, plan_teach, teach
from cotdistill.teachers.prompts import ZeroShotCoT, get_prompt_style
from cotdistill.teachers.runner import select_shard


def _teach(store, *extra):
    return ["teach", "--task", "synth-coin-flip", "--task-option", "size=30", "--teacher", "reference", "--limit", "10",
            "--samples", "4", "--store", str(store), "--quiet", *extra]


def test_the_plan_is_printed_before_the_first_request(tmp_path, capsys):
    code, out, err = _run(_teach(tmp_path / "s.sqlite"), capsys)
    assert code == 0, err
    plan, summary = err.split("teacher run ", 1)  # the plan comes first, the end-of-run table after it
    assert "teacher plan for synth-coin-flip/train with reference:reference" in plan
    assert "questions:            10" in plan and "4 (40 wanted: 0 stored, 40 to request)" in plan
    assert "requests:             10 (one per question)" in plan and "no model is called" in plan
    assert "new samples" in summary


def test_stored_samples_are_not_requests(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    assert _run(_teach(store), capsys)[0] == 0
    code, out, err = _run(_teach(store, "--samples", "6", "--check"), capsys)
    assert code == 0 and "6 (60 wanted: 40 stored, 20 to request)" in out and "requests:             10" in out
    code, out, err = _run(_teach(store, "--check"), capsys)
    assert code == 0 and "(40 wanted: 40 stored, 0 to request)" in out and "none (every sample is stored already)" in out


def test_max_requests_refuses_a_larger_plan_with_the_plan_printed(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    code, out, err = _run(_teach(store, "--max-requests", "9"), capsys)
    assert code == 2
    assert "teacher plan for synth-coin-flip" in err and "40 to request" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: the teacher plan needs up to 10 requests") and "--max-requests 9" in last
    assert not store.exists()  # refused before the store was even created
    assert _run(_teach(store, "--max-requests", "10"), capsys)[0] == 0  # a plan of exactly N starts


def test_check_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    code, out, err = _run(_teach(store, "--check"), capsys)
    assert code == 0 and "teacher plan" in out and not store.exists()
    assert _run(_teach(store, "--samples", "2"), capsys)[0] == 0
    with RationaleStore(store) as db:
        before = db.count()
    code, out, _ = _run(_teach(store, "--check", "--json", "--samples", "5"), capsys)
    plan = json.loads(out)
    assert code == 0 and (plan["stored"], plan["missing"], plan["requests"]) == (20, 30, 10)
    with RationaleStore(store) as db:
        assert db.count() == before == 20  # --check requested and stored nothing
    code, out, err = _run(_teach(store, "--check", "--max-requests", "3"), capsys)
    assert code == 2 and "teacher plan" in out and "more than --max-requests 3" in err  # a check refuses as the run would


def test_a_large_plan_is_priced_not_started(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["teach", "--task", "synth-arithmetic", "--teacher", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
            "--samples", "10000", "--limit", "50", "--store", str(store), "--max-requests", "1000"]
    code, _, err = _run(argv, capsys)
    assert code == 2 and not store.exists()
    assert "at most 500,000 (50 if the server honours n" in err and "completion tokens:    at most 128,000,000" in err
    code, _, err = _run([*argv[:-2], "--samples", "100000000"], capsys)  # beyond any recipe: refused as a range
    assert code == 2 and "--samples 100000000: out of range; allowed: 1 <= x <= 10000" in err


@pytest.mark.parametrize("prompt", ["chat", "zero-shot-cot"])
def test_the_token_estimate_is_characters_over_4_of_the_actual_prompts(tmp_path, prompt):
    from cotdistill.tasks import load_task

    config = TeachConfig(task="synth-arithmetic", teacher="openai", model="m", base_url="http://127.0.0.1:9/v1",
                         store=tmp_path / "s.sqlite", samples=3, limit=7, prompt=prompt, task_options={"size": 20},
                         params={"max_tokens": 100})
    plan = plan_teach(config)
    records = select_shard(load_task("synth-arithmetic", "train", limit=7, size=20), None)
    style = get_prompt_style(prompt)
    first = [math.ceil((len(p.text) + len(p.system or "")) / 4) for p in map(style.first, records)]
    assert (plan.questions, plan.missing, plan.requests_with_n) == (7, 21, 7 + (21 if prompt == "zero-shot-cot" else 0))
    if prompt == "chat":  # n unknown until the server answers: at most one request per sample
        assert plan.requests == 21 and plan.prompt_tokens == 3 * sum(first)
        assert plan.completion_tokens == 21 * 100 and not plan.answer_stage
    else:  # each sample also asks for its answer, with the reasoning (<= max_tokens) in the prompt
        second = [math.ceil((len(style.second(r, "").text)) / 4) + 100 for r in records]
        assert plan.requests == 42 and plan.prompt_tokens == 3 * sum(first) + 3 * sum(second)
        assert plan.completion_tokens == 21 * 100 + 21 * ZeroShotCoT.answer_params.max_tokens and plan.answer_stage
    assert "characters / 4" in plan.text() and not (tmp_path / "s.sqlite").exists()


def test_samples_to_copy_from_reuse_stores_are_not_requests(tmp_path):
    fields = dict(task="synth-coin-flip", teacher="reference", samples=3, limit=6, task_options={"size": 30})
    teach(TeachConfig(store=tmp_path / "a.sqlite", **fields), progress=False, show_plan=None)
    plan = plan_teach(TeachConfig(store=tmp_path / "b.sqlite", reuse=[tmp_path / "a.sqlite"], **{**fields, "samples": 4}))
    assert (plan.stored, plan.reusable, plan.missing, plan.requests) == (0, 18, 6, 6)
    assert "18 to copy from --reuse" in plan.text()


def test_the_python_api_shows_the_plan_and_enforces_the_limit(tmp_path, capsys):
    config = TeachConfig(task="synth-coin-flip", teacher="reference", store=tmp_path / "s.sqlite", samples=2, limit=5,
                         task_options={"size": 30})
    with pytest.raises(PlanTooLarge) as refused:
        teach(config, progress=False, max_requests=4)
    assert refused.value.plan.requests == 5 and not (tmp_path / "s.sqlite").exists()
    shown = []
    summary = teach(config, progress=False, show_plan=shown.append)
    assert summary.requests == shown[0].requests == 5 and shown[0].missing == summary.new_samples == 10
    teach(config, progress=False)  # the default: printed on stderr (how `run` shows its teacher stages' plans)
    assert "teacher plan for synth-coin-flip/train" in capsys.readouterr().err


def test_run_logs_its_teacher_stages_plan_and_check_or_max_requests_show_it_before_any_request(tmp_path, capsys, monkeypatch):
    import yaml

    from cotdistill.experiments import parse_config
    from cotdistill.experiments.pipeline import Pipeline

    grid = {"name": "grid", "student": "tiny-llama", "strategies": ["answer-only"],
            "tasks": [{"name": "synth-coin-flip", "train_size": 6, "test_size": 2}],
            "samples_per_question": [2], "teacher": {"teacher": "reference"}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    code, out, _ = _run(["run", str(tmp_path / "grid.yaml"), "--run-dir", str(tmp_path / "checked"), "--check"], capsys)
    assert code == 0 and "teacher plan" not in out  # the reference teacher spends nothing: nothing to show
    # an API teacher's plan (no server is reached: a plan sends nothing)
    monkeypatch.setenv("PLAN_TEST_KEY", "sk-test")
    paid = {**grid, "teacher": {"teacher": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "PLAN_TEST_KEY"}}
    (tmp_path / "paid.yaml").write_text(yaml.safe_dump(paid))
    code, out, _ = _run(["run", str(tmp_path / "paid.yaml"), "--run-dir", str(tmp_path / "checked"), "--check"], capsys)
    assert code == 0 and "2 (12 wanted: 0 stored, 12 to request)" in out and "completion tokens" in out
    assert not (tmp_path / "checked").exists() and "sk-test" not in out
    code, out, err = _run(["run", str(tmp_path / "grid.yaml"), "--run-dir", str(tmp_path / "refused"), "--max-requests", "5"], capsys)
    assert code == 2 and "teacher plan for synth-coin-flip/train" in out and "more than --max-requests 5" in err
    assert not (tmp_path / "refused").exists()  # refused before anything was written or requested
    lines = []
    Pipeline(parse_config(grid), tmp_path / "run", log=lines.append).teacher_store(parse_config(grid).tasks[0])
    assert any("teacher plan for synth-coin-flip/train" in line and "12 to request" in line for line in lines)  # in the run's log
