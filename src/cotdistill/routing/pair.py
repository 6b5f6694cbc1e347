"""A routed pair on disk and in use: router.json names the two students and the rule that picks between
them, and `evaluate_routed` answers questions as a user's request is answered (the answer-first student
on every question, the think-first student on those the rule sends on).

    router/
      router.json              RouterFile: the students (paths relative to this folder), signal, threshold
      perception.safetensors   the probe, where the signal is "perception"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cotdistill.errors import DataError
from cotdistill.records import Record
from cotdistill.routing.router import ANSWER_FIRST, PERCEPTION, SIGNALS, THINK_FIRST, QuestionPair, routed, summary, thinks

ROUTER = "router"  # a run grid's strategy name for a router cell
ROUTER_FILE = "router.json"
ROUTER_FORMAT = "cotdistill-router-1"
Signal = Literal["first", "product", "min", "perception"]


class RouterOptions(BaseModel):
    """A `router` cell of a run grid (strategies[].options): which two cells of the grid it routes between."""

    model_config = ConfigDict(extra="forbid")

    answer_first: str = Field(description="The grid's strategy (label) whose student answers first, e.g. post-thinking or pst.")
    think_first: str = Field(description="The grid's strategy (label) whose student thinks first, e.g. pre-thinking.")
    signal: Signal = Field("product", description="first / product / min: the answer-first student's probability of its own "
                                                  "answer (first token, all tokens, least likely token); perception: the probe.")
    threshold: float | None = Field(None, ge=0, description="Think where the signal is below this; default: chosen on the dev slice.")
    budget: float | None = Field(None, ge=0, le=1, description="Choose the threshold among those that send at most this share of "
                                                               "questions to think (on the dev slice).")


class RouterFile(BaseModel):
    """router.json."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["cotdistill-router-1"] = ROUTER_FORMAT
    answer_first: str = Field(description="The answer-first student's folder (relative to router.json's folder, or absolute).")
    think_first: str = Field(description="The think-first student's folder.")
    signal: Signal = "product"
    threshold: float = Field(ge=0)
    chosen_by: str = Field("set by the user", description="How the threshold was chosen.")
    dev: dict = Field(default_factory=dict, description="The dev slice's measurements behind the choice.")

    def student(self, folder: Path, mode: str) -> Path:
        path = Path(self.answer_first if mode == ANSWER_FIRST else self.think_first)
        return path if path.is_absolute() else (Path(folder) / path)


def is_router(folder: str | Path) -> bool:
    return (Path(folder) / ROUTER_FILE).is_file()


def read_router(folder: str | Path) -> RouterFile:
    """router.json, validated: a hand-edited or foreign file gets one line naming the file and the field."""
    from cotdistill.files import check_json, read_json

    path = Path(folder) / ROUTER_FILE
    hint = "write it with `cotdistill run` (a router cell) or `cotdistill export --format hf` of a router folder"
    router = check_json(path, read_json(path, hint=hint), RouterFile, hint=hint)
    for mode in (ANSWER_FIRST, THINK_FIRST):
        if not (router.student(Path(folder), mode) / "cotdistill.json").is_file():
            raise DataError(path, f"its {mode} student {router.student(Path(folder), mode)} is not a student folder (no cotdistill.json)",
                            field=mode.replace("-", "_"))  # fmt: skip
    return router


def write_router(folder: str | Path, router: RouterFile) -> Path:
    from cotdistill.files import write_json_atomic

    Path(folder).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(folder) / ROUTER_FILE, router.model_dump(mode="json"))
    return Path(folder) / ROUTER_FILE


def probe_scores(folder: Path, router: RouterFile, records: list[Record], batch_size: int = 16) -> list[float]:
    """The perception probe's P(answering first is right) per question, from the answer-first student."""
    from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule, student_features

    module = PerceptionModule.load(Path(folder) / PERCEPTION_FILE)
    return module.score(student_features(router.student(folder, ANSWER_FIRST), records, batch_size)).tolist()


def evaluate_routed(folder: str | Path, records: list[Record], options, *, task: str | None = None, progress: bool = False) -> tuple[list[dict], dict]:
    """Answer every question as the router would: the answer-first student on all, the think-first student
    on those whose signal is below the threshold. Returns the rows and the metrics; every token and second
    either student spent is counted."""
    import dataclasses
    import time

    from cotdistill.evaluation.evaluate import decode_and_score

    folder = Path(folder)
    router = read_router(folder)
    if options.threshold is not None:
        router = router.model_copy(update={"threshold": options.threshold, "chosen_by": "set by the user"})
    first_options = dataclasses.replace(options, answer_likelihood=False, similarity=False, threshold=None)
    first_rows, first_metrics = decode_and_score(router.student(folder, ANSWER_FIRST), records, first_options, task=task, progress=progress)
    if router.signal == PERCEPTION:
        started = time.perf_counter()  # choosing is part of answering: its time goes to the questions
        scores = probe_scores(folder, router, records, options.batch_size)
        share = (time.perf_counter() - started) / len(records)
        first_rows = [{**row, "seconds": row["seconds"] + share} for row in first_rows]
    else:
        scores = [row["confidence"][router.signal] for row in first_rows]
    pairs = [QuestionPair(r.id, s, row) for r, s, row in zip(records, scores, first_rows)]
    thinking = [r for r, p in zip(records, pairs) if thinks(p.score, router.threshold)]
    think_rows = {}
    if thinking:
        rows, _ = decode_and_score(router.student(folder, THINK_FIRST), thinking, dataclasses.replace(options, threshold=None),
                                   task=task, progress=progress)
        think_rows = {row["id"]: row for row in rows}
    pairs = [QuestionPair(p.id, p.score, p.first, think_rows.get(p.id)) for p in pairs]
    rows = routed(pairs, router.threshold)
    metrics = {**summary(rows), "strategy": "router", "router": {"signal": router.signal, "threshold": router.threshold, "chosen_by": router.chosen_by,
                                           "answer_first": str(router.student(folder, ANSWER_FIRST)),
                                           "think_first": str(router.student(folder, THINK_FIRST))},
               "modes": {mode: sum(r["mode"] == mode for r in rows) for mode in (ANSWER_FIRST, THINK_FIRST)},
               "base_model": first_metrics.get("base_model"), "device": first_metrics.get("device")}  # fmt: skip
    return rows, metrics


__all__ = ["ROUTER", "ROUTER_FILE", "RouterFile", "RouterOptions", "SIGNALS", "evaluate_routed", "is_router", "read_router", "write_router"]
