"""The real stages of a cell, each cached on disk under the run folder and shared where possible.

Teacher samples depend only on the task and teacher settings, so every cell of a task shares one
store (sampled once, for the largest samples-per-question of the grid); curated sets depend on the
store, the curation settings, k and the noise level, so strategies and seeds share them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotdistill.errors import CotdistillError
from cotdistill.experiments.config import Cell, ExperimentConfig, TaskSpec
from cotdistill.experiments.questions import TaskQuestions, floors, hold_out, seeded_subset
from cotdistill.files import write_bytes_atomic, write_json_atomic

# Settings the grid decides for each stage; setting them by hand in the config is an error.
TEACH_SET_BY_GRID = {"task", "split", "store", "samples", "task_options", "limit", "shard", "seed"}
IMPORT_SETTINGS = {"import", "path", "model", "answer_type"}
# Bumped when the questions a task spec selects change meaning (v2: seeded subsets, dev slice), so
# caches made under the old meaning are not reused.
QUESTIONS_VERSION = 2
CURATE_SET_BY_GRID = {"task", "split", "max_per_question", "noise", "seed", "teachers"}
TRAIN_SET_BY_GRID = {"data", "strategy", "student", "out", "seed", "resume"}
TRAIN_STARTED = "train_started.json"  # beside a cell's model: the settings and train key its training started with (resume)


def _key(*parts) -> str:
    from cotdistill.experiments.runner import settings_key

    return settings_key(*parts)


def task_load_options(task: TaskSpec, split: str, data_seed: int) -> dict[str, Any]:
    """load_task options for one split: synthetic tasks are generated at their size with data_seed;
    real tasks are loaded whole (subsets are drawn by `task_questions`)."""
    from cotdistill.tasks import get_task_info, task_options

    options = dict(task.options)
    if "size" not in task_options(get_task_info(task.name)):
        return options
    options.setdefault("seed", data_seed)
    if split == task.train_split and task.train_size is not None:
        options["size"] = task.train_size + (task.dev_size or 0)  # the dev slice comes out of the generated pool
    elif split == task.test_split and task.test_size is not None:
        options["size"] = task.test_size
    return options


def task_questions(task: TaskSpec, data_seed: int) -> TaskQuestions:
    """The task's training questions (dev slice held out), dev slice and test questions."""
    from cotdistill.tasks import load_task

    def load(split: str) -> list:
        return load_task(task.name, split, data_dir=task.data_dir, **task_load_options(task, split, data_seed))

    if task.dev_split:  # a published dev split: the whole training split stays for training
        rest, dev = load(task.train_split), seeded_subset(load(task.dev_split), task.dev_size, data_seed)
    else:
        rest, dev = hold_out(load(task.train_split), task.dev_size, data_seed)
    return TaskQuestions(
        train=seeded_subset(rest, task.train_size, data_seed),
        dev=dev,
        test=seeded_subset(load(task.test_split), task.test_size, data_seed),
    )


def teacher_settings(config: ExperimentConfig, task: TaskSpec) -> dict[str, Any]:
    """The task's own teacher if it names one, else the experiment's."""
    return task.teacher if task.teacher is not None else config.teacher


def import_source(settings: dict[str, Any], task: TaskSpec) -> Path:
    """An import teacher's file: as given, else relative to the task's data folder (where published outputs live)."""
    path = Path(str(settings.get("path", ""))).expanduser()
    if path.is_file() or path.is_absolute():
        return path
    from cotdistill.tasks import resolve_data_dir

    try:
        return resolve_data_dir(task.data_dir) / path
    except CotdistillError:
        return path


def teach_config(config: ExperimentConfig, task: TaskSpec, store: Path, reuse: list[Path] = ()):
    from cotdistill.teachers import TeachConfig

    return TeachConfig.model_validate({
        "reuse": list(reuse),
        **teacher_settings(config, task),
        "task": task.name,
        "split": task.train_split,
        "store": store,
        "samples": max(config.samples_per_question),
        "task_options": task_load_options(task, task.train_split, config.data_seed),
        "seed": config.data_seed,
    })


def curate_config(config: ExperimentConfig, task: TaskSpec, k: int, noise: float):
    from cotdistill.curation import CurateConfig

    return CurateConfig.model_validate({
        **config.curation,
        "task": task.name,
        "split": task.train_split,
        "max_per_question": k,
        "noise": noise,
        "seed": config.data_seed,
    })


def train_settings(config: ExperimentConfig, cell: Cell, data: Path, out: Path) -> dict[str, Any]:
    """The TrainConfig fields of one cell: shared training settings, the task's, the strategy's, then the grid's."""
    return {
        **config.training,
        **cell.task.training,
        **cell.strategy.training,
        **cell.strategy.options,
        "data": data,
        "strategy": cell.strategy.name,
        "student": config.student,
        "out": out,
        "seed": cell.seed,
    }


class Pipeline:
    """Teacher -> curation -> training -> evaluation for the cells of one experiment."""

    def __init__(self, config: ExperimentConfig, run_dir: Path, log=print):
        self.config = config
        self.run_dir = Path(run_dir)
        self.log = log
        self._questions: dict[str, TaskQuestions] = {}

    # --- shared data stages ---------------------------------------------------------------------
    def questions(self, task: TaskSpec) -> TaskQuestions:
        if task.name not in self._questions:
            if task.mix:  # the sources' own questions, pooled (ids carry the task name, so they stay unique)
                parts = [self.questions(source) for source in self.sources(task)]
                self._questions[task.name] = TaskQuestions(*([r for part in parts for r in getattr(part, split)]
                                                              for split in ("train", "dev", "test")))
            else:
                self._questions[task.name] = task_questions(task, self.config.data_seed)
        return self._questions[task.name]

    def sources(self, task: TaskSpec) -> list[TaskSpec]:
        """The tasks a mixed task pools, as the grid specifies them."""
        by_name = {t.name: t for t in self.config.tasks}
        return [by_name[name] for name in task.mix or ()]

    def teacher_folder(self, task: TaskSpec) -> Path:
        """Keyed by what decides the training questions and their samples only: a changed budget or
        test set never re-samples a (paid) teacher."""
        settings = teacher_settings(self.config, task)
        questions = task.key_settings(exclude={"training", "test_size", "test_split"})
        key = _key(questions, settings, self.config.data_seed, max(self.config.samples_per_question), QUESTIONS_VERSION)
        return self.run_dir / "teacher" / f"{task.slug}-{key}"

    def data_is_cheap(self, task: TaskSpec) -> bool:
        """True when the task's teacher data is imported or already sampled (no teacher calls to make)."""
        if task.mix:
            return all(self.data_is_cheap(source) for source in self.sources(task))
        return "import" in teacher_settings(self.config, task) or (self.teacher_folder(task) / "done.json").is_file()

    def teacher_store(self, task: TaskSpec) -> Path:
        """The teacher samples of the task's training questions: sampled once, or imported from published
        outputs (the store itself resumes an interrupted sampling run)."""
        settings = teacher_settings(self.config, task)
        folder = self.teacher_folder(task)
        store = folder / "store.sqlite"
        if (folder / "done.json").is_file():
            return store
        folder.mkdir(parents=True, exist_ok=True)
        train = self.questions(task).train
        if "import" in settings:
            summary = self._import(settings, task, store, {r.id for r in train})
        else:
            summary = self._sample(task, store, train)
        write_json_atomic(folder / "done.json", summary)
        return store

    def _import(self, settings: dict, task: TaskSpec, store: Path, questions: set[str]) -> dict:
        import dataclasses

        from cotdistill.store.importers import import_outputs

        source = import_source(settings, task)
        summary = import_outputs(store, settings["import"], task=task.name, split=task.train_split, path=source,
                                 data_dir=task.data_dir, model=settings.get("model"),
                                 answer_type=settings.get("answer_type", "numeric"), questions=questions)  # fmt: skip
        self.log(f"  teacher: imported {summary.samples} {settings['import']} rationales of {summary.questions} {task.name} "
                 f"questions from {source} ({summary.correct} right, {summary.parse_errors} unparsed)")
        return dataclasses.asdict(summary)

    def _sample(self, task: TaskSpec, store: Path, train: list) -> dict:
        from cotdistill.teachers import teach

        # The folder is keyed by the grid's largest k and its questions, so a grown grid starts a new store: the
        # samples of this teacher already paid for in the run's other stores of the task are copied in first.
        teach_settings = teach_config(self.config, task, store, reuse=self.earlier_stores(task, store))
        self.log(f"  teacher: sampling {teach_settings.samples} per question for {task.name} ({teach_settings.teacher})")
        summary = teach(teach_settings, records=train, data_dir=task.data_dir, progress=False,
                        show_plan=lambda plan: self.log("  " + plan.text().replace("\n", "\n  ")))
        if summary.reused:
            self.log(f"  teacher: {summary.reused} samples copied from this run's earlier stores, {summary.new_samples} new")
        if summary.failed_samples:
            raise RuntimeError(f"teacher: {summary.failed_samples} samples failed for {task.name}; re-run to retry them")
        return summary.as_dict()

    def earlier_stores(self, task: TaskSpec, store: Path) -> list[Path]:
        return sorted(path for path in (self.run_dir / "teacher").glob(f"{task.slug}-*/store.sqlite") if path != store)

    def teacher_plan(self, task: TaskSpec):
        """What sampling this task's teacher would request and spend (a TeachPlan), computed without requesting
        or writing anything; None where nothing is sampled (published outputs, a mixed task, sampled already)."""
        if task.mix or "import" in teacher_settings(self.config, task) or (self.teacher_folder(task) / "done.json").is_file():
            return None
        from cotdistill.teachers import plan_teach

        store = self.teacher_folder(task) / "store.sqlite"
        settings = teach_config(self.config, task, store, reuse=self.earlier_stores(task, store))
        return plan_teach(settings, records=self.questions(task).train, data_dir=task.data_dir)

    def training_data(self, cell: Cell) -> Path:
        """The curated training set of a cell (shared by every strategy and seed)."""
        from cotdistill.curation import curate

        if cell.task.mix:
            return self.pooled_training_data(cell)
        store = self.teacher_store(cell.task)
        settings = curate_config(self.config, cell.task, cell.samples_per_question, cell.noise)
        key = _key(str(store), settings.model_dump(mode="json"))
        folder = self.run_dir / "curated" / f"{cell.task.slug}-{key}"
        if not (folder / "manifest.json").is_file():
            manifest = curate(store, folder, settings)
            counts = manifest["counts"]
            self.log(f"  curated: {counts['kept']} examples from {counts['sampled']} samples (noised {counts['noised']})")
            if counts["kept"] == 0:
                raise RuntimeError(f"curation kept no examples from {store} (dropped: {counts['dropped']})")
        return folder

    def pooled_training_data(self, cell: Cell) -> Path:
        """A mixed task's training set: its sources' curated sets, one after the other, with a manifest that
        names them (curated once per combination of source sets)."""
        import hashlib

        from cotdistill.training.preflight import read_manifest

        parts = [self.training_data(cell.model_copy(update={"task": source})) for source in self.sources(cell.task)]
        folder = self.run_dir / "curated" / f"{cell.task.slug}-{_key([p.name for p in parts])}"
        if (folder / "manifest.json").is_file():
            return folder
        body = b"".join((part / "train.jsonl").read_bytes() for part in parts)
        manifests = [read_manifest(part / "manifest.json") for part in parts]
        write_bytes_atomic(folder / "train.jsonl", body)  # the manifest, written last, marks the folder whole
        write_json_atomic(folder / "manifest.json", {
            "task": cell.task.name, "split": "train", "synthetic": False, "train_file": "train.jsonl",
            "answer_type": sorted({m.get("answer_type") for m in manifests}),
            "mix": [{"task": m.get("task"), "folder": str(part), "kept": m["counts"]["kept"]} for m, part in zip(manifests, parts)],
            "counts": {"kept": sum(m["counts"]["kept"] for m in manifests)},
            "content_hash": "sha256:" + hashlib.sha256(body).hexdigest(),
        })
        self.log(f"  curated: {cell.task.name} pools " + ", ".join(f"{m['counts']['kept']} {m.get('task')}" for m in manifests) + " examples")
        return folder

    # --- per-cell stages ------------------------------------------------------------------------
    def train(self, cell: Cell, data: Path, out: Path) -> dict:
        """Train the cell's student; an interrupted training with the same settings and train key resumes.

        The train key covers what the settings do not (a strategy's revision), so a finished student
        of an older revision is trained again, not resumed from its last checkpoint.
        """
        import shutil

        from cotdistill.experiments.runner import train_key, what_trains
        from cotdistill.training import TrainConfig, train

        settings = train_settings(self.config, cell, data, out)
        started = out.parent / TRAIN_STARTED
        marker = {"settings": _jsonable(what_trains(settings)), "train_key": train_key(self.config, cell)}
        resume = out.exists() and _read(started) == marker
        if out.exists() and not resume:
            shutil.rmtree(out)  # a different (or unknown) training run: start clean
        write_json_atomic(started, marker)
        train(TrainConfig.model_validate({**settings, "resume": resume}))
        meta = _read(out / "cotdistill.json") or {}
        return {"examples": meta.get("data", {}).get("examples"), "steps": meta.get("steps"), "train_tokens": meta.get("tokens"),
                "train_seconds": meta.get("wall_s"),  # the student's training alone
                "resumed_seconds": (meta.get("resumed_from") or {}).get("wall_s", 0.0)}  # trained before an interruption

    def evaluate(self, cell: Cell, model_dir: Path, predictions: Path) -> dict:
        """The cell's metrics on the evaluated questions (test, or the dev slice), with the task's floors."""
        from cotdistill.evaluation import evaluate

        metrics = evaluate(model_dir, cell.task.name, records=self.eval_records(cell.task), split=self.split_name(cell),
                           options=self.eval_options(cell), predictions_out=predictions, progress=True)  # fmt: skip
        return {**metrics, "eval_split": self.config.eval.split, "floors": self.floors(cell.task)}

    def eval_options(self, cell: Cell):
        from cotdistill.evaluation import EvalOptions

        spec = self.config.eval
        return EvalOptions(
            self_consistency=spec.self_consistency, explain=spec.explain, batch_size=spec.batch_size,
            max_new_tokens=spec.max_new_tokens, temperature=spec.temperature, seed=cell.seed, similarity=spec.similarity,
            dtype=spec.dtype, engine=spec.engine,
        )

    def split_name(self, cell: Cell) -> str:
        return cell.task.test_split if self.config.eval.split == "test" else f"{cell.task.train_split} (dev slice)"

    def eval_records(self, task: TaskSpec) -> list:
        records = self.questions(task).evaluated(self.config.eval.split)
        if not records:
            raise CotdistillError(f"task {task.name}: no {self.config.eval.split} questions to evaluate on"
                                  + (" (set dev_size or dev_split on the task)" if self.config.eval.split == "dev" else ""))
        return records

    def floors(self, task: TaskSpec) -> dict:
        questions = self.questions(task)
        return floors(questions.train, self.eval_records(task))

    # --- the end --------------------------------------------------------------------------------
    def report(self) -> Path:
        from cotdistill.reports import collect_rows, render_report

        return render_report(collect_rows(self.run_dir), self.run_dir / "report", title=self.config.name)


def _jsonable(settings: dict) -> dict:
    return json.loads(json.dumps(settings, default=str))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
