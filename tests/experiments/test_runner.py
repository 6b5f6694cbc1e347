"""`run` end to end on tiny-llama: shared caches, resumption after an interruption, failed cells."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.errors import CotdistillError
from cotdistill.experiments import parse_config, run_experiment
from cotdistill.experiments.pipeline import Pipeline

pytestmark = pytest.mark.slow

CONFIG = {
    "name": "tiny-grid",
    "student": "tiny-llama",
    "tasks": [{"name": "synth-coin-flip", "train_size": 8, "test_size": 4}],
    "strategies": ["answer-only", "pre-thinking"],
    "samples_per_question": [2],
    "teacher": {"teacher": "reference", "error_rate": 0.25},
    "curation": {"filter": "all", "label": "gold"},
    "training": {"max_steps": 1, "batch_size": 4, "report_to": []},
    "eval": {"batch_size": 4, "max_new_tokens": 4, "similarity": False},
}
IDS = ["synth-coin-flip__answer-only__k2__noise0__seed0", "synth-coin-flip__pre-thinking__k2__noise0__seed0"]


class CountingPipeline(Pipeline):
    """The real pipeline, counting stage calls; optionally failing or interrupting one cell's stage."""

    def __init__(self, *args, fail=None, interrupt=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"train": [], "evaluate": []}
        self.fail, self.interrupt = fail or {}, interrupt or {}

    def _maybe_stop(self, stage, cell):
        if self.fail.get(stage) == cell.strategy.name:
            raise RuntimeError(f"injected {stage} failure")
        if self.interrupt.get(stage) == cell.strategy.name:
            raise KeyboardInterrupt

    def train(self, cell, data, out):
        self.calls["train"].append(cell.id)
        self._maybe_stop("train", cell)
        return super().train(cell, data, out)

    def evaluate(self, cell, model_dir, predictions):
        self.calls["evaluate"].append(cell.id)
        self._maybe_stop("evaluate", cell)
        return super().evaluate(cell, model_dir, predictions)


def run(run_dir, config=CONFIG, replace=False, **pipeline_options):
    experiment = parse_config(config)
    pipeline = CountingPipeline(experiment, run_dir, log=lambda line: None, **pipeline_options)
    return run_experiment(experiment, run_dir, pipeline=pipeline, log=lambda line: None, replace=replace), pipeline


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One complete run of the grid, copied by the tests that modify it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    summary, _ = run(run_dir)
    assert summary.ok, summary.failed
    return run_dir


def test_a_run_writes_every_cell_shares_its_data_and_renders_the_report(finished_run):
    for cell_id in IDS:
        result = json.loads((finished_run / "cells" / cell_id / "eval.json").read_text())
        assert {"n", "accuracy", "ci95", "mean_generated_tokens", "mean_latency_s", "strategy"} <= set(result)
        assert result["task"] == "synth-coin-flip" and result["seed"] == 0
        assert result["noise"] == 0.0 and result["samples_per_question"] == 2 and result["n"] == 4
        assert (finished_run / "cells" / cell_id / "eval.predictions.jsonl").is_file()
        # a finished student keeps its weights, not the checkpoints that only resume a training
        assert (finished_run / "cells" / cell_id / "model" / "model.safetensors").is_file()
        assert not (finished_run / "cells" / cell_id / "model" / "checkpoints").exists()
    # both strategies trained on the one teacher store and the one curated set
    assert len(list((finished_run / "teacher").iterdir())) == 1
    assert len(list((finished_run / "curated").iterdir())) == 1
    manifest = json.loads(next((finished_run / "curated").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["counts"]["kept"] == 16  # 8 questions x 2 samples, filter: all
    report = (finished_run / "report" / "report.md").read_text()
    assert "answer-only" in report and "pre-thinking" in report


def test_rerun_skips_finished_cells(finished_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    summary, pipeline = run(run_dir)
    assert summary.skipped == IDS and not summary.finished
    assert pipeline.calls == {"train": [], "evaluate": []}


def test_interrupted_run_resumes_without_redoing_finished_work(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(run_dir, interrupt={"evaluate": "pre-thinking"})  # Ctrl-C while the 2nd cell evaluates
    first, second = (run_dir / "cells" / i for i in IDS)
    assert (first / "eval.json").is_file() and not (second / "eval.json").exists()
    assert (second / "trained.json").is_file()
    first_result = (first / "eval.json").read_text()

    summary, pipeline = run(run_dir)
    assert summary.skipped == IDS[:1] and summary.finished == IDS[1:]
    assert pipeline.calls["train"] == []  # the 2nd cell's training had finished: not redone
    assert pipeline.calls["evaluate"] == IDS[1:]
    assert (first / "eval.json").read_text() == first_result


def test_a_cell_shows_its_training_progress(tmp_path, capfd):
    """An hour-long cell must not be silent between its 'training' or 'evaluating' line and its result."""
    config = {**CONFIG, "strategies": ["answer-only"], "training": {**CONFIG["training"], "max_steps": 2}}
    summary, _ = run(tmp_path / "run", config=config)
    assert summary.ok, summary.failed
    bar = capfd.readouterr().err
    assert "train answer-only: 100%" in bar and "2/2" in bar
    assert "eval: 100%" in bar  # and its evaluation's (a self-consistency test split runs for half an hour)


def test_a_failed_cell_is_recorded_and_the_others_finish(tmp_path):
    run_dir = tmp_path / "run"
    summary, _ = run(run_dir, fail={"train": "answer-only"})
    assert list(summary.failed) == IDS[:1] and summary.finished == IDS[1:]
    error = json.loads((run_dir / "cells" / IDS[0] / "error.json").read_text())
    assert error["stage"] == "train" and error["error"] == "RuntimeError" and "injected" in error["message"]
    assert "injected train failure" in (run_dir / "report" / "report.md").read_text()

    summary, pipeline = run(run_dir)  # the retry runs only the failed cell
    assert summary.finished == IDS[:1] and summary.skipped == IDS[1:]
    assert not (run_dir / "cells" / IDS[0] / "error.json").exists()


def test_changed_eval_settings_re_evaluate_without_retraining(finished_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    changed = {**CONFIG, "eval": {**CONFIG["eval"], "max_new_tokens": 3}}
    with pytest.raises(CotdistillError, match=r"2 finished cells .* would be replaced .*--replace"):
        run(run_dir, config=changed)  # never silently: the finished results are still there
    assert json.loads((run_dir / "cells" / IDS[1] / "eval.json").read_text())["max_new_tokens"] == 4
    summary, pipeline = run(run_dir, config=changed, replace=True)
    assert summary.finished == IDS and pipeline.calls["train"] == []
    assert json.loads((run_dir / "cells" / IDS[1] / "eval.json").read_text())["max_new_tokens"] == 3


def test_a_memory_or_watching_setting_neither_retrains_nor_restarts_a_student(tmp_path, monkeypatch):
    """activation_checkpointing, save_every, log_every: how a training runs, not what it learns. Turned on
    in the run config, a finished cell stays done and an interrupted training resumes from its checkpoint."""
    import cotdistill.training as training

    config = {**CONFIG, "strategies": ["answer-only"], "training": {**CONFIG["training"], "max_steps": 4, "save_every": 2}}
    real_train = training.train

    def crash_after_step_2(settings):  # the training runs, then loses what a crash after step 2 would have lost
        out = real_train(settings)
        shutil.rmtree(out / "checkpoints" / "step-4")
        (out / "cotdistill.json").unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", crash_after_step_2)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(run_dir, config=config)
    monkeypatch.setattr(training, "train", real_train)
    changed = {**config, "training": {**config["training"], "activation_checkpointing": True, "save_every": 3, "log_every": 2}}
    summary, pipeline = run(run_dir, config=changed)
    assert summary.finished == IDS[:1] and pipeline.calls["train"] == IDS[:1]
    meta = json.loads((run_dir / "cells" / IDS[0] / "model" / "cotdistill.json").read_text())
    assert meta["resumed_from"]["step"] == 2 and meta["steps"] == 4  # continued, not started again

    summary, pipeline = run(run_dir, config={**changed, "training": {**changed["training"], "activation_checkpointing": False}})
    assert summary.skipped == IDS[:1] and pipeline.calls == {"train": [], "evaluate": []}  # done: not stale


def test_a_strategy_revision_retrains_its_finished_students_from_scratch(tmp_path, monkeypatch):
    """A fixed training defect raises the strategy's revision: its finished cells train again, from an
    empty folder (a finished student's last checkpoint must not be resumed as if it were the new one)."""
    from cotdistill.strategies import STRATEGIES

    run_dir = tmp_path / "run"  # not a copy of finished_run: the cells' recorded paths must match
    run(run_dir)
    stale = run_dir / "cells" / IDS[1] / "model" / "from-the-old-revision"
    stale.touch()
    monkeypatch.setattr(STRATEGIES["pre-thinking"], "revision", STRATEGIES["pre-thinking"].revision + 1)
    with pytest.raises(CotdistillError, match=r"1 finished cells .* would be replaced"):
        run(run_dir)
    summary, pipeline = run(run_dir, replace=True)
    assert summary.finished == IDS[1:] and summary.skipped == IDS[:1] and pipeline.calls["train"] == IDS[1:]
    assert not stale.exists()
    log = (run_dir / "cells" / IDS[1] / "model" / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log] == [1]


def test_run_cli_checks_the_config_and_lists_cells(tmp_path):
    import yaml

    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    result = CliRunner().invoke(app, ["run", str(path), "--check", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert all(f"{cell_id}: train, then evaluate" in result.output for cell_id in IDS)
    assert not (tmp_path / "run").exists()  # --check computes nothing

    import os
    import socket

    held = tmp_path / "run" / "cells" / IDS[0]  # a cell another live process is running (this one stands in for it)
    held.mkdir(parents=True)
    (held / "running.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    result = CliRunner().invoke(app, ["run", str(path), "--check", "--run-dir", str(tmp_path / "run")])
    assert f"{IDS[0]}: left to process {os.getpid()}, which is running it" in result.output, result.output
    assert f"{IDS[1]}: train, then evaluate" in result.output


def test_strategy_picks_a_label_before_the_variants_that_share_its_name(tmp_path):
    import yaml

    variants = [{"name": "pst", "label": "pst-b0", "options": {"rationale_weight": 0.0}},
                {"name": "pst", "label": "pst-b0.1", "options": {"rationale_weight": 0.1}}]
    listed = {}
    for name, strategies in {"with-plain": ["pst", *variants], "variants-only": variants}.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**CONFIG, "strategies": strategies}))
        result = CliRunner().invoke(app, ["run", str(path), "--check", "--strategy", "pst", "--run-dir", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        listed[name] = [line.split("__")[1] for line in result.output.splitlines() if line.startswith("  ")]
    assert listed == {"with-plain": ["pst"], "variants-only": ["pst-b0", "pst-b0.1"]}


def test_the_test_split_evaluates_the_students_trained_on_the_dev_run(tmp_path, monkeypatch):
    """Settings chosen on the dev slice, then `run` on the test split: the same students, not trained again."""
    import yaml

    monkeypatch.chdir(tmp_path)
    config = {**CONFIG, "strategies": ["answer-only"], "tasks": [{**CONFIG["tasks"][0], "dev_size": 2}]}
    Path("grid.yaml").write_text(yaml.safe_dump(config))
    cell = "cells/" + IDS[0]
    dev = CliRunner().invoke(app, ["run", "grid.yaml", "--split", "dev", "--no-report"])
    assert dev.exit_code == 0, dev.output
    check = CliRunner().invoke(app, ["run", "grid.yaml", "--check", "--evaluate-only"])
    assert f"{IDS[0]}: evaluate the student trained in runs/tiny-grid-dev/{cell}" in check.output, check.output
    test = CliRunner().invoke(app, ["run", "grid.yaml", "--no-report"])
    assert test.exit_code == 0, test.output
    assert f"reusing the student trained with the same settings in runs/tiny-grid-dev/{cell}" in test.output
    assert not Path("runs/tiny-grid/report").exists() and "report:" not in test.output  # --no-report
    dev_model, test_model = Path("runs/tiny-grid-dev", cell, "model"), Path("runs/tiny-grid", cell, "model")
    weights = sorted(p.name for p in dev_model.glob("*.safetensors"))
    assert weights and all((dev_model / p).stat().st_ino == (test_model / p).stat().st_ino for p in weights)
    assert not (dev_model / "checkpoints").exists() and not (test_model / "checkpoints").exists()
    dev_result, test_result = (json.loads(Path(run, cell, "eval.json").read_text()) for run in ("runs/tiny-grid-dev", "runs/tiny-grid"))
    assert (dev_result["eval_split"], test_result["eval_split"]) == ("dev", "test")
    assert test_result["trained_in"] == f"runs/tiny-grid-dev/{cell}" and dev_result["trained_in"] is None
    assert test_result["train_seconds"] == dev_result["train_seconds"]

    changed = {**config, "training": {**config["training"], "lr": 1e-3}}  # another student: trained, not reused
    Path("grid.yaml").write_text(yaml.safe_dump(changed))
    for flags in ([], ["--check"]):  # --check refuses as the run itself would
        refused = CliRunner().invoke(app, ["run", "grid.yaml", "--no-report", "--replace", "--evaluate-only", *flags])
        assert refused.exit_code != 0 and "training" not in refused.output
        assert f"1 cells have no student trained with their settings here or in runs/tiny-grid-dev ({IDS[0]})" in str(refused.exception)
    assert json.loads(Path("runs/tiny-grid", cell, "eval.json").read_text())["eval_split"] == "test"  # nothing replaced
    assert "lr" not in json.loads(Path("runs/tiny-grid/config.json").read_text())["training"]  # nor the run's config
    retrained = CliRunner().invoke(app, ["run", "grid.yaml", "--no-report", "--replace"])
    assert retrained.exit_code == 0, retrained.output
    assert "reusing" not in retrained.output and "training answer-only" in retrained.output
    assert json.loads(Path("runs/tiny-grid", cell, "eval.json").read_text())["trained_in"] is None
    assert (dev_model / weights[0]).stat().st_ino != (test_model / weights[0]).stat().st_ino
