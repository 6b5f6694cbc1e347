"""The real stages of a cell, each cached on disk under the run folder and shared where possible.

Teacher samples depend only on the task and teacher settings, so every cell of a task shares one
store (sampled once, for the largest samples-per-question of the grid); curated sets depend on the
store, the curation settings, k and the noise level, so strategies and seeds share them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotdistill.files import write_json_atomic
from cotdistill.experiments.config import Cell, ExperimentConfig, TaskSpec

# Settings the grid decides for each stage; setting them by hand in the config is an error.
TEACH_SET_BY_GRID = {"task", "split", "store", "samples", "task_options", "limit", "shard", "seed"}
CURATE_SET_BY_GRID = {"task", "split", "max_per_question", "noise", "seed", "teachers"}
TRAIN_SET_BY_GRID = {"data", "strategy", "student", "out", "seed", "resume"}


def _key(*parts) -> str:
    from cotdistill.experiments.runner import settings_key

    return settings_key(*parts)


def task_load_options(task: TaskSpec, split: str, data_seed: int) -> dict[str, Any]:
    """load_task keyword arguments for one split: synthetic tasks take size+seed, real ones a limit."""
    from cotdistill.tasks import get_task_info, task_options

    size = task.train_size if split == task.train_split else task.test_size
    accepted = task_options(get_task_info(task.name))
    options = dict(task.options)
    if "size" in accepted:
        options.setdefault("seed", data_seed)
        if size is not None:
            options["size"] = size
        return {"task_options": options, "limit": None}
    return {"task_options": options, "limit": size}


def teach_config(config: ExperimentConfig, task: TaskSpec, store: Path):
    from cotdistill.teachers import TeachConfig

    load = task_load_options(task, task.train_split, config.data_seed)
    return TeachConfig.model_validate({
        **config.teacher,
        "task": task.name,
        "split": task.train_split,
        "store": store,
        "samples": max(config.samples_per_question),
        "task_options": load["task_options"],
        "limit": load["limit"],
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
    """The TrainConfig fields of one cell: shared training settings, the strategy's, then the grid's."""
    return {
        **config.training,
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
        self._test_records: dict[str, list] = {}

    # --- shared data stages ---------------------------------------------------------------------
    def teacher_store(self, task: TaskSpec) -> Path:
        """The task's teacher samples (sampled once; the store itself resumes an interrupted run)."""
        from cotdistill.teachers import teach

        key = _key(task.model_dump(mode="json"), self.config.teacher, self.config.data_seed, max(self.config.samples_per_question))
        folder = self.run_dir / "teacher" / f"{task.name}-{key}"
        store = folder / "store.sqlite"
        if (folder / "done.json").is_file():
            return store
        folder.mkdir(parents=True, exist_ok=True)
        teach_settings = teach_config(self.config, task, store)
        self.log(f"  teacher: sampling {teach_settings.samples} per question for {task.name} ({teach_settings.teacher})")
        summary = teach(teach_settings, data_dir=task.data_dir, progress=False)
        if summary.failed_samples:
            raise RuntimeError(f"teacher: {summary.failed_samples} samples failed for {task.name}; re-run to retry them")
        write_json_atomic(folder / "done.json", summary.as_dict())
        return store

    def training_data(self, cell: Cell) -> Path:
        """The curated training set of a cell (shared by every strategy and seed)."""
        from cotdistill.curation import curate

        store = self.teacher_store(cell.task)
        settings = curate_config(self.config, cell.task, cell.samples_per_question, cell.noise)
        key = _key(str(store), settings.model_dump(mode="json"))
        folder = self.run_dir / "curated" / f"{cell.task.name}-{key}"
        if not (folder / "manifest.json").is_file():
            manifest = curate(store, folder, settings)
            counts = manifest["counts"]
            self.log(f"  curated: {counts['kept']} examples from {counts['sampled']} samples (noised {counts['noised']})")
            if counts["kept"] == 0:
                raise RuntimeError(f"curation kept no examples from {store} (dropped: {counts['dropped']})")
        return folder

    # --- per-cell stages ------------------------------------------------------------------------
    def train(self, cell: Cell, data: Path, out: Path) -> dict:
        """Train the cell's student; an interrupted training with the same settings resumes."""
        import shutil

        from cotdistill.training import TrainConfig, train

        settings = train_settings(self.config, cell, data, out)
        started = out.parent / "train_started.json"
        previous = _read(started)
        resume = out.exists() and previous is not None and previous.get("settings") == _jsonable(settings)
        if out.exists() and not resume:
            shutil.rmtree(out)  # a different (or unknown) training run: start clean
        write_json_atomic(started, {"settings": _jsonable(settings)})
        settings.setdefault("progress", False)
        train(TrainConfig.model_validate({**settings, "resume": resume}))
        meta = _read(out / "cotdistill.json") or {}
        return {"examples": meta.get("data", {}).get("examples"), "steps": meta.get("steps"), "train_tokens": meta.get("tokens")}

    def evaluate(self, cell: Cell, model_dir: Path, predictions: Path) -> dict:
        from cotdistill.evaluation import EvalOptions, evaluate

        spec = self.config.eval
        options = EvalOptions(
            self_consistency=spec.self_consistency, explain=spec.explain, batch_size=spec.batch_size,
            max_new_tokens=spec.max_new_tokens, temperature=spec.temperature, seed=cell.seed, similarity=spec.similarity,
        )
        return evaluate(model_dir, cell.task.name, records=self.test_records(cell.task), split=cell.task.test_split,
                        options=options, predictions_out=predictions)

    def test_records(self, task: TaskSpec) -> list:
        if task.name not in self._test_records:
            from cotdistill.tasks import load_task

            load = task_load_options(task, task.test_split, self.config.data_seed)
            self._test_records[task.name] = load_task(
                task.name, task.test_split, data_dir=task.data_dir, limit=load["limit"], **load["task_options"]
            )
        return self._test_records[task.name]

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
