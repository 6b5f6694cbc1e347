"""The runner's data side and the learning gate: seeded subsets, the dev slice, floors, import
teachers, claims on cells, and how the report says which students did not learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cotdistill.experiments import parse_config, run_experiment
from cotdistill.experiments.questions import floors, hold_out, seeded_subset
from cotdistill.experiments.runner import RUNNING_FILE, claim, release
from cotdistill.records import Record
from cotdistill.reports import render_report


def _record(i: int, answer: str) -> Record:
    return Record(id=f"q{i}", question=f"question {i}", answer=answer, answer_type="yes_no")


def test_seeded_subsets_keep_file_order_and_the_dev_slice_is_disjoint():
    pool = [_record(i, "yes") for i in range(50)]
    subset = seeded_subset(pool, 10, seed=3)
    assert subset == seeded_subset(pool, 10, seed=3) and subset != seeded_subset(pool, 10, seed=4)
    assert [r.id for r in subset] == sorted((r.id for r in subset), key=lambda i: int(i[1:]))
    rest, dev = hold_out(pool, 8, seed=3)
    assert len(dev) == 8 and len(rest) == 42 and not {r.id for r in dev} & {r.id for r in rest}
    assert hold_out(pool, None, seed=3) == (pool, [])


def test_a_published_dev_split_is_the_dev_slice_and_every_training_question_stays(tmp_path):
    from cotdistill.errors import ConfigError
    from cotdistill.experiments.pipeline import task_questions

    for split, n in (("train", 12), ("dev", 8), ("test", 5)):
        (tmp_path / f"{split}.jsonl").write_text("".join(
            json.dumps({"id": f"{split}{i}", "question": f"{split} question {i}?", "answer": "yes", "answer_type": "yes_no"}) + "\n"
            for i in range(n)))
    task = {"name": f"jsonl:{tmp_path}/{{split}}.jsonl", "dev_split": "dev"}
    config = parse_config({"name": "published-dev", "student": "tiny-llama", "tasks": [task], "strategies": ["answer-only"], "eval": {"split": "dev"}})
    questions = task_questions(config.tasks[0], config.data_seed)
    assert [len(questions.train), len(questions.dev), len(questions.test)] == [12, 8, 5]
    assert {r.id[:3] for r in questions.dev} == {"dev"}
    sized = parse_config({"name": "published-dev", "student": "tiny-llama", "tasks": [{**task, "dev_size": 3}], "strategies": ["answer-only"]})
    assert len(task_questions(sized.tasks[0], sized.data_seed).dev) == 3
    with pytest.raises(ConfigError, match=r"tasks.0.dev_split: 'train' is also the task's train or test split"):
        parse_config({"name": "leak", "student": "tiny-llama", "tasks": [{**task, "dev_split": "train"}], "strategies": ["answer-only"]})


def test_floors_by_hand():
    train = [_record(i, a) for i, a in enumerate(["yes", "yes", "no"])]  # commonest training answer: yes
    evaluated = [_record(i, a) for i, a in enumerate(["no", "no", "no", "yes"])]
    found = floors(train, evaluated)
    assert found["constant_answer"] == "yes" and found["constant_accuracy"] == 0.25
    assert found["best_constant_answer"] == "no" and found["best_constant_accuracy"] == 0.75
    low, high = found["best_constant_ci95"]
    assert low < 0.75 < high and found["n"] == 4


def _row(strategy: str, accuracy: float, ci: list[float], seed: int = 0) -> dict:
    best = {"n": 100, "constant_answer": "yes", "constant_accuracy": 0.5, "best_constant_answer": "yes",
            "best_constant_accuracy": 0.5, "best_constant_ci95": [0.40, 0.60]}
    return {"task": "coin-flip", "strategy": strategy, "seed": seed, "n": 100, "accuracy": accuracy, "ci95": ci,
            "mean_generated_tokens": 2.0, "mean_latency_s": 0.1, "floors": best}


def test_the_report_marks_students_that_did_not_learn_and_refuses_their_comparisons(tmp_path):
    rows = [_row("answer-only", 0.83, [0.75, 0.89]), _row("pre-thinking", 0.96, [0.91, 0.98]),
            {**_row("pst", 0.55, [0.45, 0.65]), "top_answer": "yes", "top_answer_share": 0.97},
            _row("post-thinking", 0.83, [0.75, 0.89])]
    # pst's interval overlaps the best constant's [0.40, 0.60]
    report = render_report(rows, tmp_path / "report").read_text()
    assert '| pst | 55.0 ± 10.0 (1 seed) did not learn, says "yes" 97% |' in report
    assert "| answer-only | 83.0 ± 7.0 (1 seed) |" in report
    assert '| *best constant answer* | 50.0 ("yes") |' in report
    assert "coin-flip: answer-only vs pst: not testable (pst did not learn)" in report
    assert "coin-flip: answer-only vs pre-thinking: -13.0 points (lower, intervals apart)" in report
    assert "coin-flip: answer-only vs post-thinking: +0.0 points (equal, intervals overlap)" in report
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert [s["learnt"] for s in summary["summaries"]] == [True, True, False, True]


def test_two_slices_of_one_strategy_are_compared_by_their_names_and_the_gate():
    from cotdistill.reports.aggregate import compare, summarise_rows

    def sliced(k: int, accuracy: float, ci: list[float]) -> dict:
        return {**_row("pre-thinking", accuracy, ci), "noise": 0.0, "samples_per_question": k, "status": "ok"}

    one, three, ten = summarise_rows([sliced(1, 0.55, [0.45, 0.65]), sliced(3, 0.70, [0.61, 0.78]),
                                      sliced(10, 0.90, [0.83, 0.94])])
    assert compare(ten, three, ("k = 10", "k = 3")) == "k = 10 vs k = 3: +20.0 points (higher, intervals apart)"
    assert compare(ten, one, ("k = 10", "k = 1")) == "k = 10 vs k = 1: not testable (k = 1 did not learn)"


def test_a_cell_claimed_by_a_live_process_is_left_to_it_and_a_dead_claim_is_taken_over(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / RUNNING_FILE).write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename}))
        assert claim(tmp_path) == sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()
    assert claim(tmp_path) is None  # its process is gone: the claim is stale
    assert json.loads((tmp_path / RUNNING_FILE).read_text())["pid"] == os.getpid()
    release(tmp_path)
    assert not (tmp_path / RUNNING_FILE).exists()


@pytest.mark.slow
def test_an_import_teacher_and_a_dev_slice_run_end_to_end(tmp_path):
    """Published rationales imported (format jsonl), the dev slice held out of training, evaluated on it."""
    lines = [{"id": f"c{i}", "question": f"A coin is heads up. {'Ann flips it. ' * (i % 2)}Is it still heads up?",
              "answer": "no" if i % 2 else "yes", "answer_type": "yes_no",
              "rationales": [f"{'One flip makes it tails. So the answer is no.' if i % 2 else 'No flips. The answer is yes.'}"]}
             for i in range(24)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "test.jsonl").write_text("".join(json.dumps({**r, "id": f"t{i}", "rationales": []}) + "\n"
                                                 for i, r in enumerate(lines[:6])))
    config = parse_config({
        "name": "imported", "student": "tiny-llama",
        "tasks": [{"name": f"jsonl:{tmp_path}/{{split}}.jsonl", "train_size": 12, "dev_size": 6,
                   "teacher": {"import": "jsonl", "path": str(tmp_path / "train.jsonl")}}],
        "strategies": ["answer-only"],
        "curation": {"filter": "correct", "label": "gold"},
        "training": {"max_steps": 1, "batch_size": 4, "report_to": []},
        "eval": {"split": "dev", "batch_size": 4, "max_new_tokens": 4, "similarity": False},
    })
    run_dir = tmp_path / "run"
    logs = []
    summary = run_experiment(config, run_dir, log=logs.append)
    assert summary.ok, summary.failed
    assert any(line.startswith("estimate: ~") for line in logs)
    (cell,) = (run_dir / "cells").iterdir()
    result = json.loads((cell / "eval.json").read_text())
    assert result["n"] == 6 and result["eval_split"] == "dev" and result["floors"]["n"] == 6
    trained_on = {json.loads(line)["id"] for line in next((run_dir / "curated").iterdir()).joinpath("train.jsonl").open()}
    evaluated = {json.loads(line)["id"] for line in (cell / "eval.predictions.jsonl").open()}
    assert len(trained_on) == 12 and len(evaluated) == 6 and not trained_on & evaluated
    assert not (cell / RUNNING_FILE).exists()
    assert "best constant answer" in (run_dir / "report" / "report.md").read_text()


def test_run_can_be_limited_to_some_cells_and_refuses_names_not_in_the_experiment(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from cotdistill.cli import app

    config = {"name": "grid", "student": "tiny-llama", "seeds": [0, 1], "noise": [0.0, 0.3], "samples_per_question": [1, 2],
              "tasks": [{"name": "synth-coin-flip", "dev_size": 4}, {"name": "synth-last-letters", "dev_size": 4}],
              "strategies": ["answer-only", {"name": "pst", "label": "pst-b0", "options": {"rationale_weight": 0}}]}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path), "--check", "--split", "dev", "--task", "synth-coin-flip",
                                      "--strategy", "pst-b0", "--seed", "1", "--noise", "0.3", "--samples", "2",
                                      "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert result.output.split()[1:] == ["1", "cells", "->", str(tmp_path / "run"), "synth-coin-flip__pst-b0__k2__noise0p3__seed1:",
                                          "train,", "then", "evaluate"]
    for wrong, name in ((["--task", "coin-flip"], "'coin-flip'"), (["--noise", "0.6"], "'0.6'"), (["--samples", "10"], "'10'")):
        result = CliRunner().invoke(app, ["run", str(path), "--check", *wrong])
        assert result.exit_code != 0 and f"{name} is not in the experiment" in str(result.exception or result.output)


def test_a_run_config_that_is_not_utf8_or_names_no_student_is_one_clear_error(tmp_path):
    from cotdistill.errors import ConfigError, DataError
    from cotdistill.experiments import load_config

    path = tmp_path / "grid.yaml"
    path.write_bytes(b"name: grid\n\xff\n")
    with pytest.raises(DataError, match=r"grid.yaml:2: not UTF-8"):
        load_config(path)
    with pytest.raises(ConfigError, match="student: empty"):
        parse_config({"name": "g", "student": "", "tasks": [{"name": "synth-coin-flip"}], "strategies": ["answer-only"]})


def test_check_reads_a_jsonl_task_file_before_any_compute(tmp_path):
    from cotdistill.errors import ConfigError

    (tmp_path / "train.jsonl").write_text('{"question": "2 + 2?", "answer": "4", "answer_type": "numeric"}\n')
    (tmp_path / "test.jsonl").write_text('{"question": "3 + 3?", "answer_type": "numeric"}\n')  # no answer
    config = {"name": "g", "student": "tiny-llama", "tasks": [{"name": f"jsonl:{tmp_path}/{{split}}.jsonl"}],
              "strategies": ["answer-only"]}
    with pytest.raises(ConfigError, match=r"tasks.0.name: .*test.jsonl:1.*field 'answer'"):
        parse_config(config)


def test_a_task_budget_or_test_set_change_never_resamples_the_teacher(tmp_path):
    from cotdistill.experiments.config import TaskSpec
    from cotdistill.experiments.pipeline import Pipeline

    base = {"name": "g", "student": "tiny-llama", "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}],
            "strategies": ["answer-only"]}
    changed = {**base, "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 6, "training": {"epochs": 8}}]}
    more = {**base, "tasks": [{"name": "synth-coin-flip", "train_size": 9, "test_size": 4}]}
    folder = [Pipeline(parse_config(c), tmp_path).teacher_folder(parse_config(c).tasks[0]) for c in (base, changed, more)]
    assert folder[0] == folder[1] != folder[2]
    assert TaskSpec(name="svamp-mcc", dev_split="dev").key_settings()["dev_split"] == "dev"  # set, it is in the keys
    # the name this config's teacher folder had before TaskSpec gained dev_split: an unset new field
    # must not move existing run folders' teacher samples (an API teacher would be paid for twice)
    assert folder[0].name == "synth-coin-flip-5b987bfbc18f"
