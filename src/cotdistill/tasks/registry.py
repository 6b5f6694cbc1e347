"""The task registry: one `register` call per task, loaders as small functions.

A loader is `fn(split, data_dir, *, limit=None, <options>) -> list[Record]` with keyword-only
options (checked by name before the call). `data_dir` is the resolved data folder
for tasks that read `../shared/data` (None for synthetic tasks). Names with a prefix (`jsonl:<path>`,
`hf:<id>`) are resolved by prefix: the part after the colon is passed as the option `target`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cotdistill.errors import CotdistillError, unknown_name
from cotdistill.records import AnswerType, Record

Loader = Callable[..., list[Record]]
DATA_ENV = "COTDISTILL_DATA"


@dataclass(frozen=True)
class TaskInfo:
    """What a registered task is and where its records come from."""

    name: str  # registry name, e.g. "svamp" or the prefix pattern "hf:<id>"
    answer_type: str | None  # an AnswerType value; None when each record says (jsonl, hf)
    splits: tuple[str, ...]  # split names accepted by load_task; () means any
    source: str  # where the records come from (file under the data dir, "synthetic", "hub")
    description: str = ""
    needs_data_dir: bool = True  # reads the real data folder
    prefix: bool = False  # a name pattern like "jsonl:<path>" rather than a fixed name
    loader: Loader | None = field(default=None, repr=False, compare=False)


_REGISTRY: dict[str, TaskInfo] = {}


def register(
    name: str,
    answer_type: AnswerType | str | None,
    splits: Sequence[str],
    source: str,
    description: str = "",
    *,
    needs_data_dir: bool = True,
    prefix: bool = False,
) -> Callable[[Loader], Loader]:
    """Decorator adding a loader to the registry under `name` (a prefix such as `hf:` if `prefix`)."""

    def decorate(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"task '{name}' registered twice")
        kind = AnswerType(answer_type).value if answer_type is not None else None
        _REGISTRY[name] = TaskInfo(name, kind, tuple(splits), source, description, needs_data_dir, prefix, loader)
        return loader

    return decorate


def list_tasks() -> list[TaskInfo]:
    """Every registered task, fixed names first, in registration order."""
    _import_loaders()
    return sorted(_REGISTRY.values(), key=lambda info: info.prefix)


def get_task_info(name: str) -> TaskInfo:
    """The TaskInfo for a task name (or a prefixed name such as `hf:gsm8k`)."""
    _import_loaders()
    if name in _REGISTRY and not _REGISTRY[name].prefix:
        return _REGISTRY[name]
    head, colon, rest = name.partition(":")
    if colon and f"{head}:" in _REGISTRY and rest:
        return _REGISTRY[f"{head}:"]
    valid = [info.name + ("<...>" if info.prefix else "") for info in _REGISTRY.values()]
    raise unknown_name("task", name, valid)


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """The data folder: the argument, else $COTDISTILL_DATA; a clear error if neither names a folder."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV) or None
    if chosen is None:
        raise CotdistillError(
            f"no data folder given: pass --data-dir DIR (Python: data_dir=...) or set {DATA_ENV} "
            "to the folder holding distilling-step-by-step/, gsm8k/, mcc-kd/, zero-shot-cot/, fine-tune-cot/"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise CotdistillError(f"data folder {path} does not exist: pass --data-dir DIR or set {DATA_ENV}")
    return path


def load_task(
    name: str,
    split: str = "train",
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    **options,
) -> list[Record]:
    """The records of one split of a task (the first `limit` of them if given).

    `data_dir` falls back to $COTDISTILL_DATA for tasks that read real data; synthetic tasks take
    `size` and `seed`; `jsonl:<path>` and `hf:<id>` take the options their docs list.
    """
    info = get_task_info(name)
    if info.splits and split not in info.splits:
        raise CotdistillError(f"task '{name}': {unknown_name('split', split, list(info.splits))}")
    if limit is not None and limit < 0:
        raise CotdistillError(f"limit must be 0 or more, got {limit}")
    if info.prefix:
        options["target"] = name.partition(":")[2]
    _check_options(info, options)
    folder = resolve_data_dir(data_dir) if info.needs_data_dir else None
    records = info.loader(split, folder, limit=limit, **options)
    records = records if limit is None else records[:limit]
    _check_unique_ids(name, split, records)
    return records


def _check_unique_ids(name: str, split: str, records: list[Record]) -> None:
    """Every loader's promise: ids are unique within a split (the store keys questions by id)."""
    from cotdistill.validation import UniqueIds

    ids = UniqueIds(f"task {name}", split)
    for index, record in enumerate(records):
        ids.add(record.id, record=index)


def task_options(info: TaskInfo) -> dict[str, object]:
    """The options a task's loader accepts, with their defaults."""
    parameters = list(inspect.signature(info.loader).parameters.values())[2:]
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("limit", "target")
    }


def _check_options(info: TaskInfo, options: dict) -> None:
    accepted = task_options(info)
    unknown = sorted(set(options) - set(accepted) - {"target"})
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        raise CotdistillError(f"task '{info.name}' has no option {', '.join(map(repr, unknown))}; its options: {listed}")


def _import_loaders() -> None:
    """Registration happens when the loader modules are imported; import them once."""
    from cotdistill.tasks import loaders  # noqa: F401
