"""Tasks: a registry of loaders that yield Records for named splits.

    from cotdistill.tasks import list_tasks, load_task
    records = load_task("svamp", "train", data_dir="../shared/data", limit=10)

See docs/data-formats.md for every task, its files and the generic JSONL format.
"""

from cotdistill.tasks.registry import (
    DATA_ENV,
    TaskInfo,
    get_task_info,
    list_tasks,
    load_task,
    register,
    resolve_data_dir,
    task_options,
)

__all__ = [
    "DATA_ENV",
    "TaskInfo",
    "get_task_info",
    "list_tasks",
    "load_task",
    "register",
    "resolve_data_dir",
    "task_options",
]
