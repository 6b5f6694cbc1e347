"""Everything about an experiment config that pydantic's shape check cannot see, found before any compute.

Names are checked against their registries and the teacher, curation and training settings against
the stages' own config models (built exactly as the runner will build them), so a typo in the last
strategy's options fails at once instead of an hour into the run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cotdistill.errors import ConfigError, CotdistillError
from cotdistill.experiments.config import ExperimentConfig
from cotdistill.experiments.pipeline import (
    CURATE_SET_BY_GRID,
    IMPORT_SETTINGS,
    TEACH_SET_BY_GRID,
    import_source,
    teacher_settings,
    TRAIN_SET_BY_GRID,
    curate_config,
    teach_config,
    train_settings,
)

from cotdistill.routing.pair import ROUTER

PLACEHOLDER = Path("<run>")


def semantic_problems(config: ExperimentConfig) -> list[str]:
    """Every problem found, each naming its field; empty when the config can run."""
    problems = _duplicate_columns(config) + _task_problems(config) + _student_problems(config.student)
    problems += _strategy_problems(config)
    problems += _teacher_problems("teacher", config.teacher)
    problems += [p for i, t in enumerate(config.tasks) if t.teacher is not None for p in _teacher_problems(f"tasks.{i}.teacher", t.teacher)]
    problems += [p for i, t in enumerate(config.tasks) for p in _grid_owned(f"tasks.{i}.training", t.training, TRAIN_SET_BY_GRID, "set by the experiment")]
    problems += _grid_owned("curation", config.curation, CURATE_SET_BY_GRID, "set by the experiment (samples_per_question, noise, data_seed)")
    problems += _grid_owned("training", config.training, TRAIN_SET_BY_GRID, "set by the experiment (student, strategies, seeds)")
    problems += _stage_problems(config)
    return list(dict.fromkeys(problems))  # the same problem found for two tasks is listed once


def _duplicate_columns(config: ExperimentConfig) -> list[str]:
    problems = []
    for section, names, hint in (
        ("strategies", [s.id for s in config.strategies], "give each a distinct `label`"),
        ("tasks", [t.name for t in config.tasks], "list each task once"),
    ):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append(f"{section}: duplicate {'strategy labels' if section == 'strategies' else 'task names'} {duplicates}: {hint}")
    return problems


def _task_problems(config: ExperimentConfig) -> list[str]:
    from cotdistill.tasks import get_task_info, task_options

    problems = []
    names = {t.name: t for t in config.tasks}
    for i, task in enumerate(config.tasks):
        if task.mix:
            for name in task.mix:
                if name == task.name or name not in names or names[name].mix:
                    problems.append(f"tasks.{i}.mix: '{name}' is not another (unmixed) task of this grid ({', '.join(n for n in names if not names[n].mix)})")
            continue
        try:
            info = get_task_info(task.name)
        except CotdistillError as error:
            problems.append(f"tasks.{i}.name: {error}")
            continue
        for field in ("train_split", "test_split", "dev_split"):
            split = getattr(task, field)
            if split and info.splits and split not in info.splits:
                problems.append(f"tasks.{i}.{field}: task '{task.name}' has no split '{split}' (its splits: {', '.join(info.splits)})")
        if task.train_split == task.test_split:
            problems.append(f"tasks.{i}: train_split and test_split are both '{task.train_split}'; evaluate on held-out questions")
        if task.dev_split in (task.train_split, task.test_split):
            problems.append(f"tasks.{i}.dev_split: '{task.dev_split}' is also the task's train or test split; choose settings on held-out questions")
        if config.eval.split == "dev" and not (task.dev_size or task.dev_split):
            problems.append(f"tasks.{i}.dev_size: eval.split is dev, so each task needs a dev slice: set dev_size (or dev_split)")
        if task.name.startswith("jsonl:"):
            problems += _your_file_problems(i, task)
        accepted = task_options(info)
        for key in task.options:
            if key not in accepted or key in ("size", "seed"):
                hint = "use train_size/test_size and data_seed" if key in ("size", "seed") else f"its options: {', '.join(accepted) or 'none'}"
                problems.append(f"tasks.{i}.options.{key}: not an option of task '{task.name}' here ({hint})")
    return problems


def _your_file_problems(i: int, task) -> list[str]:
    """A `jsonl:` task is the user's own file: read it now (cheap), not an hour into the run."""
    from cotdistill.tasks import load_task

    problems = []
    for field in ("train_split", "test_split"):
        try:
            load_task(task.name, getattr(task, field), **task.options)
        except CotdistillError as error:
            problems.append(f"tasks.{i}.name: {error}")
    return problems


def _student_problems(student: str) -> list[str]:
    from cotdistill.models import list_models

    names = {info.name for info in list_models()}
    if not student.strip():
        return [f"student: empty; name a registered model ({', '.join(sorted(names))}), a folder or a hub id org/name"]
    path = Path(student).expanduser()
    if student in names or path.is_dir() or (student.count("/") == 1 and not student.startswith((".", "/", "~"))):
        return []
    return [f"student: '{student}' is neither a registered model ({', '.join(sorted(names))}), a folder, nor a hub id org/name"]


def _strategy_problems(config: ExperimentConfig) -> list[str]:
    from cotdistill.strategies import get_strategy

    problems = []
    for i, spec in enumerate(config.strategies):
        if spec.name == ROUTER:
            problems += _router_problems(config, i, spec)
            continue
        try:
            get_strategy(spec.name, **spec.options)
        except ConfigError as error:
            problems += [f"strategies.{i}.options: {p}" for p in error.problems]
        except CotdistillError as error:
            problems.append(f"strategies.{i}.name: {error}")
        problems += _grid_owned(f"strategies.{i}.training", spec.training, TRAIN_SET_BY_GRID, "set by the experiment")
    return problems


def _teacher_problems(section: str, settings: dict) -> list[str]:
    """A sampling teacher's settings the grid owns; an import teacher's format and settings."""
    if "import" not in settings:
        return _grid_owned(section, settings, TEACH_SET_BY_GRID, "set by the experiment (tasks, samples_per_question, data_seed)")
    from cotdistill.store.importers import IMPORT_FORMATS

    problems = [f"{section}.{key}: not a setting of an import teacher (it takes {', '.join(sorted(IMPORT_SETTINGS))})"
                for key in sorted(set(settings) - IMPORT_SETTINGS)]
    if settings["import"] not in IMPORT_FORMATS:
        problems.append(f"{section}.import: unknown format {settings['import']!r}; valid: {', '.join(IMPORT_FORMATS)}")
    if settings["import"] not in ("dss", "task") and not settings.get("path"):  # those two read the task's own files
        problems.append(f"{section}.path: an import teacher of format {settings['import']!r} reads a file: set path")
    return problems


def _grid_owned(section: str, settings: dict, owned: set[str], why: str) -> list[str]:
    return [f"{section}.{key}: {why}; remove it here" for key in sorted(owned & set(settings))]


def _router_problems(config: ExperimentConfig, i: int, spec) -> list[str]:
    """A router cell routes between two other strategies of the grid: an answer-first one and any other."""
    from cotdistill.routing.pair import RouterOptions
    from cotdistill.strategies import STRATEGIES

    problems = _validate(f"strategies.{i}.options", lambda: RouterOptions.model_validate(spec.options))
    if problems:
        return problems
    options = RouterOptions.model_validate(spec.options)
    students = {s.id: s for s in config.strategies if s.name != ROUTER}
    for role in ("answer_first", "think_first"):
        name = getattr(options, role)
        if name not in students:
            problems.append(f"strategies.{i}.options.{role}: '{name}' is not a strategy of this grid ({', '.join(students)})")
    first = students.get(options.answer_first)
    if first is not None and first.name in STRATEGIES and not STRATEGIES[first.name].answer_first:
        problems.append(f"strategies.{i}.options.answer_first: '{first.id}' ({first.name}) does not answer first; "
                        "name post-thinking, pst, prefix or answer-only")
    if spec.training:
        problems.append(f"strategies.{i}.training: a router trains nothing (its students are the grid's other cells)")
    return problems


def _stage_problems(config: ExperimentConfig) -> list[str]:
    from cotdistill.training import TrainConfig
    from cotdistill.training.config import STRATEGY_OPTIONS

    from cotdistill.strategies import STRATEGIES
    from cotdistill.tasks import get_task_info

    problems = []
    for task in config.tasks:
        if task.mix:
            continue  # its sources' teachers and curation are checked as theirs
        try:
            get_task_info(task.name)
        except CotdistillError:
            continue  # reported by _task_problems
        teacher = teacher_settings(config, task)
        if "import" in teacher:
            source = import_source(teacher, task)
            if teacher.get("path") and not source.is_file():
                problems.append(f"teacher: {task.name}'s import file {source} does not exist")
        else:
            problems += _validate("teacher", lambda: teach_config(config, task, PLACEHOLDER / "store.sqlite"))
        for k in config.samples_per_question:
            for noise in config.noise:
                problems += _validate("curation", lambda: curate_config(config, task, k, noise))
    for key in sorted(set(config.training) & set(STRATEGY_OPTIONS)):
        problems.append(f"training.{key}: a strategy option; set it under strategies[].options")
    cell_of = {(cell.task.name, cell.strategy.id): cell for cell in config.cells()}
    for t, task in enumerate(config.tasks):
        for i, spec in enumerate(config.strategies):
            if spec.name not in STRATEGIES:
                continue  # reported by _strategy_problems
            settings = train_settings(config, cell_of[task.name, spec.id], PLACEHOLDER, PLACEHOLDER)
            where = {k: f"tasks.{t}.training" for k in task.training}
            where.update({k: f"strategies.{i}.options" for k in spec.options})
            where.update({k: f"strategies.{i}.training" for k in spec.training})
            problems += _validate("training", lambda: TrainConfig.model_validate(settings), where)
    return problems


def _validate(section: str, build, where: dict[str, str] | None = None) -> list[str]:
    """Build a stage config; its validation errors, each named by the field of the experiment config."""
    try:
        build()
    except CotdistillError as error:
        return [f"{section}: {error}"]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"])
            head = str(item["loc"][0]) if item["loc"] else ""
            prefix = (where or {}).get(head, section)
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = f"not a {section} setting (check the spelling)"
            problems.append(f"{prefix}.{field}: {message}" if field else f"{prefix}: {message}")
        return problems
    return []
