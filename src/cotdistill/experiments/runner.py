"""Run an experiment grid cell by cell, resumably, under one run folder.

Layout of a run folder:
    config.json                      the validated config this run was started with
    teacher/<task>-<key>/            teacher samples (shared by every cell of that task)
    curated/<task>-<key>/            curated training sets (shared across strategies and seeds)
    cells/<cell_id>/cell.json        what the cell is and its cache key
    cells/<cell_id>/model/           the trained student (kept: eval can be re-run on it)
                                     (hard links to another run's student trained with the same settings,
                                     e.g. the dev run's when the test split is evaluated: see students_from)
    cells/<cell_id>/trained.json     written once training finished
    cells/<cell_id>/eval.json        the cell's result, written last and atomically: "done"
    cells/<cell_id>/error.json       why the cell failed, if it did (removed when it is retried)
    cells/<cell_id>/running.json     the process working on the cell (another process leaves it alone)
    report/                          the rendered report

Each cached artefact carries the hash of the settings that produced it, so a re-run skips only
work whose settings are unchanged, and a failed cell never stops the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cotdistill.errors import CotdistillError, DataError
from cotdistill.files import check_output_folder, write_json_atomic
from cotdistill.experiments.config import Cell, ExperimentConfig
from cotdistill.routing.pair import ROUTER
from cotdistill.strategies import STRATEGIES
from cotdistill.training.checkpoint import checkpoint_root
from cotdistill.training.preflight import IGNORED_ON_RESUME


def settings_key(*parts) -> str:
    """A stable short hash of JSON-able settings."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _dump(model) -> dict:
    return model.model_dump(mode="json")


# How a training is watched, saved and fitted in memory (`cotdistill train --resume` lets these differ
# too): switching one on in a run config neither retrains nor restarts its students. report_to stays
# in the key: it has been in every run folder's keys from the first, and leaving it out would mark
# every finished cell stale.
UNKEYED = tuple(name for name in IGNORED_ON_RESUME if name != "report_to")


def what_trains(training: dict) -> dict:
    """Training settings less the UNKEYED ones."""
    return {name: value for name, value in training.items() if name not in UNKEYED}


def train_key(config: ExperimentConfig, cell: Cell) -> str:
    """Everything that changes the trained student (a router cell's: its two students' and its options)."""
    if cell.strategy.name == ROUTER:
        from cotdistill.experiments.router_cell import student_cells

        return settings_key(ROUTER, _dump(cell.strategy), *(train_key(config, student) for student in student_cells(config, cell)))
    curation = config.curation
    if not cell.noise:  # which corruption is idle without noise: a noise-0 cell is the clean experiment's student
        curation = {name: value for name, value in curation.items() if name != "noise_kind"}
    revision = STRATEGIES[cell.strategy.name].revision
    task = {**cell.task.key_settings(), "training": what_trains(cell.task.training)}
    if cell.task.mix:  # a mixed task's questions are its sources'
        by_name = {t.name: t for t in config.tasks}
        task["mix"] = [by_name[name].key_settings(exclude={"training"}) for name in cell.task.mix]
    strategy = {**_dump(cell.strategy), "training": what_trains(cell.strategy.training)}
    return settings_key(
        config.student, task, config.teacher, curation, config.data_seed,
        max(config.samples_per_question), strategy, cell.seed, cell.noise, cell.samples_per_question,
        what_trains(config.training), *([revision] if revision else []),  # revision 0 keeps the keys made before revisions
    )


def eval_key(config: ExperimentConfig, cell: Cell) -> str:
    """Everything that changes the cell's result (a changed eval setting re-evaluates, not re-trains)."""
    evaluation = _dump(config.eval)
    for name, before in (("dtype", "float32"), ("engine", "transformers")):
        if evaluation[name] == before:  # how every result was decoded before it was a setting: their keys stay
            del evaluation[name]
    return settings_key(train_key(config, cell), evaluation)


RUNNING_FILE = "running.json"
DONE = "done"  # a cell's plan when its result is current


def claim(folder: Path) -> int | None:
    """Take the cell for this process; None if taken, else the pid of the live process that holds it.

    Two runs of one experiment (two terminals, a re-run while the first is busy) then share the grid
    instead of training the same cell twice. A claim whose process is gone (killed) is taken over.
    """
    import socket

    folder.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    path = folder / RUNNING_FILE
    for _ in range(2):
        try:
            with open(path, "x", encoding="utf-8") as handle:  # atomic: exactly one process creates it
                json.dump({**me, "started": time.time()}, handle)
            return None
        except FileExistsError:
            holder = read_json(path) or {}
            if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                return None
            if holder.get("host") == me["host"] and not _alive(holder.get("pid")):
                path.unlink(missing_ok=True)  # left by a killed run: take it over
                continue
            return holder.get("pid", -1)
    return -1


def holder(folder: Path) -> int | None:
    """The pid of the live process that holds the cell, read without claiming it (None: nobody does)."""
    import socket

    held = read_json(folder / RUNNING_FILE)
    if held is None or (held.get("host") == socket.gethostname() and not _alive(held.get("pid"))):
        return None
    return held.get("pid", -1)


def release(folder: Path) -> None:
    (folder / RUNNING_FILE).unlink(missing_ok=True)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _RunFile(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class EvalFile(_RunFile):
    """cells/<id>/eval.json, as read back: its key says whether the cell is done."""

    eval_key: str | None = None


class TrainedFile(_RunFile):
    """cells/<id>/trained.json, as read back (is the student current? what did it cost?)."""

    train_key: str | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    train_tokens: int | None = None
    examples: int | None = None
    reused_from: str | None = None


class RunningFile(_RunFile):
    """cells/<id>/running.json: the process that holds the cell."""

    pid: int | None = None
    host: str | None = None
    started: float | None = None


_RUN_FILES = {"eval.json": EvalFile, "trained.json": TrainedFile, RUNNING_FILE: RunningFile}


def read_json(path: Path) -> dict | None:
    """A cell's eval.json, trained.json or running.json, validated as it is read; None if absent.

    A hand-edited or foreign file is a DataError naming the file and the field. running.json alone may
    be caught half-written (it is created, then written), which reads as absent."""
    from cotdistill.files import read_json as read_validated

    if not path.exists():
        return None
    hint = (f"delete {path} to run the cell again" if path.name != RUNNING_FILE
            else f"delete {path} if no process runs the cell")
    try:
        return read_validated(path, _RUN_FILES.get(path.name), hint=hint)
    except DataError as error:
        if not path.exists() or (path.name == RUNNING_FILE and "not valid JSON" in str(error)):
            return None  # released meanwhile, or being written
        raise


@dataclass
class RunSummary:
    """What happened to each cell in this invocation."""

    run_dir: Path
    finished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)  # cells another live process was running
    report: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


class Runner:
    """Drives the cells of one experiment through a pipeline of cached stages."""

    def __init__(self, config: ExperimentConfig, run_dir: str | Path, pipeline=None, log=print, replace: bool = False,
                 students_from=(), evaluate_only: bool = False):
        from cotdistill.experiments.pipeline import Pipeline

        self.replace, self.evaluate_only = replace, evaluate_only
        self.students_from = [Path(folder) for folder in students_from]
        self.config = config
        self.run_dir = Path(run_dir)
        self.pipeline = pipeline or Pipeline(config, self.run_dir, log=log)
        self.log = log

    def cell_dir(self, cell: Cell) -> Path:
        return self.run_dir / "cells" / cell.id

    def is_done(self, cell: Cell) -> bool:
        result = read_json(self.cell_dir(cell) / "eval.json")
        return result is not None and result.get("eval_key") == eval_key(self.config, cell)

    def run(self, report: bool = True, only=None) -> RunSummary:
        """Run every cell (or those `only(cell)` accepts), then render the report of all finished cells."""
        started = time.perf_counter()
        check_output_folder(self.run_dir, "run folder")  # before any cell's compute, not at its first write
        summary = RunSummary(self.run_dir)
        cells = [c for c in self.config.cells() if only is None or only(c)]
        plan = self.plan(cells)
        pending = [c for c in cells if plan[c.id] != DONE]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.run_dir / "config.json", _dump(self.config))  # after the refusals: a refused config is not the run's
        self.log_estimate(pending)
        for number, cell in enumerate(cells, 1):
            prefix = f"[{number}/{len(cells)}] {cell.id}"
            if self.is_done(cell):
                summary.skipped.append(cell.id)
                self.log(f"{prefix}: done already, skipped")
                continue
            owner = claim(self.cell_dir(cell))
            if owner is not None:
                summary.busy.append(cell.id)
                self.log(f"{prefix}: process {owner} is running it, left to it")
                continue
            cell_started = time.perf_counter()
            try:
                result = self.run_cell(cell, prefix)
            except Exception as error:  # a failed cell is recorded; the others still run
                summary.failed[cell.id] = f"{type(error).__name__}: {error}"
                self.record_failure(cell, error)
                self.log(f"{prefix}: FAILED ({type(error).__name__}: {error}); see {self.cell_dir(cell) / 'error.json'}")
                continue
            finally:
                release(self.cell_dir(cell))
            summary.finished.append(cell.id)
            low, high = result["ci95"]
            self.log(
                f"{prefix}: accuracy {result['accuracy']:.3f} [{low:.3f}, {high:.3f}] (n={result['n']}), "
                f"{result['mean_generated_tokens']:.1f} tokens/question, {time.perf_counter() - cell_started:.0f} s"
            )
        if report:
            summary.report = self.pipeline.report()
        summary.seconds = time.perf_counter() - started
        return summary

    def plan(self, cells: list[Cell]) -> dict[str, str]:
        """What a run would do with each cell, read from the run folders alone (no compute); raises the
        refusals a run would (a silent replacement, training under `evaluate_only`) before anything is written."""
        self.refuse_silent_replacement(cells)
        if self.evaluate_only:
            self.refuse_training([c for c in cells if not self.is_done(c)])
        return {c.id: self.cell_plan(c) for c in cells}

    def cell_plan(self, cell: Cell) -> str:
        if self.is_done(cell):
            return DONE
        if (pid := holder(self.cell_dir(cell))) is not None:
            return f"left to process {pid}, which is running it"
        if cell.strategy.name == ROUTER:
            return "route between its students' answers (trains nothing)"
        if self.is_trained(cell):
            return "evaluate its student, trained here"
        if (source := self.trained_elsewhere(cell)) is not None:
            return f"evaluate the student trained in {source}"
        return "train, then evaluate"

    def refuse_silent_replacement(self, cells: list[Cell]) -> None:
        """A finished cell whose settings changed would be re-run and its result replaced: only when asked."""
        stale = [c.id for c in cells if (self.cell_dir(c) / "eval.json").is_file() and not self.is_done(c)]
        if stale and not self.replace:
            raise CotdistillError(
                f"{len(stale)} finished cells in {self.run_dir} were run with other settings and would be replaced "
                f"({_some(stale)}): pass --replace to re-run them with this config, or choose another --run-dir"
            )

    def refuse_training(self, pending: list[Cell]) -> None:
        """Evaluating students trained elsewhere: a cell without one fails the run before any compute,
        where it would otherwise quietly train its own (hours, when the dev run's cell was interrupted)."""
        untrained = [c.id for c in pending if c.strategy.name != ROUTER and not self.is_trained(c) and self.trained_elsewhere(c) is None]
        if untrained:
            where = f"here or in {', '.join(map(str, self.students_from))}" if self.students_from else "here (no --students-from)"
            raise CotdistillError(
                f"--evaluate-only: {len(untrained)} cells have no student trained with their settings {where} "
                f"({_some(untrained)}): finish their training in the run that owns them, or leave out --evaluate-only to train them here"
            )

    def is_trained(self, cell: Cell) -> bool:
        trained = read_json(self.cell_dir(cell) / "trained.json")
        return trained is not None and trained.get("train_key") == train_key(self.config, cell)

    def log_estimate(self, pending: list[Cell]) -> None:
        """Say how long the pending cells will take, from data that is ready or cheap to make (imports)."""
        from cotdistill.experiments.estimate import CPU_TRAIN_TOKENS_PER_S, cell_seconds, measured_rate

        if not pending:
            return
        for path in (self.run_dir / "cells").glob("*/trained.json"):
            read_json(path)  # validated: the rate reads every finished cell's
        rate = measured_rate(self.run_dir)
        source = f"{rate:.0f} training tokens/s measured on this run's cells" if rate else (
            f"{CPU_TRAIN_TOKENS_PER_S:.0f} training tokens/s, a 2-core CPU's rate for a 135M student")
        seconds, counted = 0.0, 0
        for cell in pending:
            if cell.strategy.name == ROUTER or not self.pipeline.data_is_cheap(cell.task):
                continue
            try:
                data, questions = self.pipeline.training_data(cell), len(self.pipeline.eval_records(cell.task))
            except Exception:  # noqa: BLE001 - the cell reports its own failure when its turn comes
                continue
            seconds += cell_seconds(self.config, cell, data, questions, rate or CPU_TRAIN_TOKENS_PER_S,
                                    train=self.trained_elsewhere(cell) is None, model_dir=self.cell_dir(cell) / "model")
            counted += 1
        if not counted:
            self.log(f"estimate: after the teacher has sampled ({len(pending)} pending cells; re-running prints one)")
            return
        rest = f"; {len(pending) - counted} cells wait for teacher sampling and are not counted" if counted < len(pending) else ""
        self.log(f"estimate: ~{seconds / 60:.0f} min for {counted} pending cells (at {source}){rest}")

    def trained_elsewhere(self, cell: Cell) -> Path | None:
        """This cell's folder in another run whose student was trained with exactly this cell's settings.

        The train key leaves out the evaluated split, so the students chosen on the dev slice are the
        ones the test split evaluates: training them again would only repeat hours of the same compute.
        """
        key = train_key(self.config, cell)
        for run_dir in self.students_from:
            source = run_dir / "cells" / cell.id
            trained = read_json(source / "trained.json")
            if trained is not None and trained.get("train_key") == key and (source / "model").is_dir():
                return source
        return None

    def reuse_student(self, source: Path, folder: Path) -> dict:
        """Link (or, across file systems, copy) another run's trained student into this cell.

        Its training checkpoints stay behind, and this cell's own interrupted training is forgotten, so
        a later training in this cell starts from an empty folder and never writes through a link.
        """
        from cotdistill.experiments.pipeline import TRAIN_STARTED

        (folder / TRAIN_STARTED).unlink(missing_ok=True)
        shutil.rmtree(folder / "model", ignore_errors=True)
        shutil.copytree(source / "model", folder / "model", copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns("checkpoints"))
        return {**read_json(source / "trained.json"), "reused_from": str(source)}

    def run_cell(self, cell: Cell, prefix: str) -> dict:
        folder = self.cell_dir(cell)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.json").unlink(missing_ok=True)
        (folder / "eval.json").unlink(missing_ok=True)  # a result of other settings: stale
        write_json_atomic(folder / "cell.json", {"id": cell.id, **_dump(cell), "train_key": train_key(self.config, cell)})
        if cell.strategy.name == ROUTER:
            return self.run_router_cell(cell, prefix)
        self.stage = "train"
        if self.is_trained(cell):
            trained = read_json(folder / "trained.json")
            self.log(f"{prefix}: trained already, evaluating")
        elif (source := self.trained_elsewhere(cell)) is not None:
            trained = self.reuse_student(source, folder)
            write_json_atomic(folder / "trained.json", trained)
            self.log(f"{prefix}: reusing the student trained with the same settings in {source}")
        else:
            (folder / "trained.json").unlink(missing_ok=True)
            self.stage = "data"
            train_file = self.pipeline.training_data(cell)
            self.stage = "train"
            self.log(f"{prefix}: training {cell.strategy.name} on {train_file}")
            t0 = time.perf_counter()
            info = self.pipeline.train(cell, train_file, folder / "model") or {}
            # A resumed cell's cost includes the training an earlier process did before it was interrupted.
            seconds = time.perf_counter() - t0 + (info.get("resumed_seconds") or 0.0)
            trained = {"train_key": train_key(self.config, cell), "seconds": seconds, **info}
            write_json_atomic(folder / "trained.json", trained)
            # Checkpoints only resume an interrupted training; from here on the cell never resumes, and
            # they are twice the student's size (the optimizer state): a grid would fill the disk.
            shutil.rmtree(checkpoint_root(folder / "model"), ignore_errors=True)
        self.stage = "eval"
        self.log(f"{prefix}: evaluating")
        metrics = self.pipeline.evaluate(cell, folder / "model", folder / "eval.predictions.jsonl")
        result = {
            **metrics,
            "cell_id": cell.id,
            "task": cell.task.name,
            "strategy": cell.strategy.id,
            "strategy_name": cell.strategy.name,
            "seed": cell.seed,
            "noise": cell.noise,
            "samples_per_question": cell.samples_per_question,
            "train_seconds": trained.get("seconds"),
            "train_examples": trained.get("examples"),
            "trained_in": trained.get("reused_from"),
            "eval_key": eval_key(self.config, cell),
        }
        write_json_atomic(folder / "eval.json", result)  # last: its presence marks the cell done
        return result

    def run_router_cell(self, cell: Cell, prefix: str) -> dict:
        from cotdistill.experiments.router_cell import run_router_cell
        from cotdistill.files import write_jsonl_atomic

        self.stage = "route"
        self.log(f"{prefix}: routing between its students' answers")
        metrics, rows = run_router_cell(self, cell, self.log)
        write_jsonl_atomic(self.cell_dir(cell) / "eval.predictions.jsonl", rows)
        result = {**metrics, "task": cell.task.name, "split": self.pipeline.split_name(cell), "eval_split": self.config.eval.split,
                  "floors": self.pipeline.floors(cell.task), "cell_id": cell.id, "strategy": cell.strategy.id,
                  "strategy_name": cell.strategy.name, "answer_first": False, "seed": cell.seed, "noise": cell.noise,
                  "samples_per_question": cell.samples_per_question, "train_seconds": None,
                  "predictions": str(self.cell_dir(cell) / "eval.predictions.jsonl"), "eval_key": eval_key(self.config, cell)}  # fmt: skip
        write_json_atomic(self.cell_dir(cell) / "eval.json", result)  # last: its presence marks the cell done
        return result

    def record_failure(self, cell: Cell, error: Exception) -> None:
        write_json_atomic(
            self.cell_dir(cell) / "error.json",
            {
                "cell_id": cell.id,
                "stage": getattr(self, "stage", None),
                "error": type(error).__name__,
                "message": str(error),
                "traceback": traceback.format_exc(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )


def _some(cell_ids: list[str]) -> str:
    """The first three of a list of cells for an error message, and how many more."""
    return ", ".join(cell_ids[:3]) + (f" and {len(cell_ids) - 3} more" if len(cell_ids) > 3 else "")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def run_experiment(config: ExperimentConfig, run_dir: str | Path, *, pipeline=None, log=print, report: bool = True,
                   only=None, replace: bool = False, students_from=(), evaluate_only: bool = False) -> RunSummary:
    """Run (or resume) every cell of `config` (or those `only(cell)` accepts) under `run_dir`, then render the
    report. Finished cells whose settings changed are re-run only with `replace` (else CotdistillError).
    A cell whose student was trained with the same settings in one of the `students_from` run folders
    evaluates that student instead of training its own; with `evaluate_only` a pending cell with no
    student anywhere fails the run before any compute (CotdistillError) instead of training one."""
    return Runner(config, run_dir, pipeline=pipeline, log=log, replace=replace, students_from=students_from,
                  evaluate_only=evaluate_only).run(report=report, only=only)
