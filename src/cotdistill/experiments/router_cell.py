"""A router cell of a run grid: it trains nothing. It routes each evaluated question between two other
cells' students (same task, seed, noise and k), reading their own answers to those questions, so every
threshold of every signal is measured without decoding anything twice.

On the dev slice it chooses each signal's threshold (highest accuracy, fewer tokens breaking ties, or
within the user's budget) and fits the perception probe on the two students' right and wrong answers
there (honest labels: neither student trained on the dev slice). A test-split run takes both from the
dev run's router cell (`--students-from`, by default runs/<name>-dev).

    cells/<router cell>/router/router.json     the routed pair (`cotdistill eval` / `serve` / `export` take the folder)
    cells/<router cell>/eval.json              the routed accuracy and cost, each signal's sweep, the oracle, each mode alone
"""

from __future__ import annotations

import os
from pathlib import Path

from cotdistill.errors import CotdistillError
from cotdistill.experiments.config import Cell, ExperimentConfig
from cotdistill.routing.pair import ROUTER_FILE, RouterFile, RouterOptions, write_router
from cotdistill.routing.router import (
    ANSWER_FIRST,
    CONFIDENCE_SIGNALS,
    PERCEPTION,
    THINK_FIRST,
    QuestionPair,
    choose,
    oracle,
    routed,
    summary,
    sweep,
)

ROUTER_DIR = "router"
PROBE_FOLDS = 5  # out-of-fold probe scores on the dev slice choose its threshold


def student_cells(config: ExperimentConfig, cell: Cell) -> tuple[Cell, Cell]:
    """The (answer-first, think-first) cells a router cell routes between."""
    options = RouterOptions.model_validate(cell.strategy.options)
    by_id = {c.strategy.id: c for c in config.cells()
             if (c.task, c.seed, c.noise, c.samples_per_question) == (cell.task, cell.seed, cell.noise, cell.samples_per_question)}  # fmt: skip
    return by_id[options.answer_first], by_id[options.think_first]


def run_router_cell(runner, cell: Cell, log) -> tuple[dict, list[dict]]:
    """Route the evaluated questions and write router/; returns the cell's metrics (without the runner's
    fields) and its per-question rows."""
    from cotdistill.tasks.files import read_jsonl

    options = RouterOptions.model_validate(cell.strategy.options)
    first_cell, think_cell = student_cells(runner.config, cell)
    for student in (first_cell, think_cell):
        if (runner.cell_dir(student) / "error.json").is_file():
            raise CotdistillError(f"its student cell {student.id} failed: see {runner.cell_dir(student) / 'error.json'}")
        if not runner.is_done(student):
            raise CotdistillError(f"the router needs cell {student.id} evaluated first: list the router after its students "
                                  f"under strategies:, or run --strategy {student.strategy.id} first")  # fmt: skip
    records = runner.pipeline.eval_records(cell.task)
    first_model, think_model = (runner.cell_dir(c) / "model" for c in (first_cell, think_cell))
    first = {row["id"]: row for _, row in read_jsonl(runner.cell_dir(first_cell) / "eval.predictions.jsonl")}
    think = {row["id"]: row for _, row in read_jsonl(runner.cell_dir(think_cell) / "eval.predictions.jsonl")}
    if any("confidence" not in first.get(r.id, {}) for r in records):  # evaluated before answers kept their probabilities
        log("  answer-first predictions carry no confidence: answering again (a few tokens per question)")
        from cotdistill.evaluation.evaluate import decode_and_score

        rows, _ = decode_and_score(first_model, records, runner.pipeline.eval_options(cell), task=cell.task.name)
        first = {row["id"]: row for row in rows}
    missing = [r.id for r in records if r.id not in first or r.id not in think]
    if missing:
        raise CotdistillError(f"the students' predictions lack {len(missing)} of the evaluated questions ({missing[:3]}): "
                              "re-run their cells with --replace")  # fmt: skip

    folder = runner.cell_dir(cell) / ROUTER_DIR
    dev = runner.config.eval.split == "dev"
    chosen_before = None if dev else dev_router(runner, cell)
    scores = {signal: [first[r.id]["confidence"][signal] for r in records] for signal in CONFIDENCE_SIGNALS}
    probe = probe_scores(first_model, records, first, think, folder, chosen_before, dev)
    if probe is not None:
        scores[PERCEPTION] = probe

    signals, routes = {}, {}  # per signal: its summary and sweep; its pairs and routed rows at its threshold
    for signal, values in scores.items():
        pairs = [QuestionPair(r.id, s, first[r.id], think[r.id]) for r, s in zip(records, values)]
        points = sweep(pairs)
        if options.threshold is not None and signal == options.signal:
            threshold, how = options.threshold, "set by the user"
        elif dev:
            threshold = choose(points, options.budget).threshold
            how = "dev slice: highest accuracy, fewer tokens breaking ties" + (f", at most {options.budget:.0%} thinking" if options.budget is not None else "")
        elif chosen_before is not None and signal in chosen_before.dev.get("signals", {}):
            threshold, how = chosen_before.dev["signals"][signal]["threshold"], f"on the dev slice ({chosen_before.dev['run']})"
        else:
            continue  # a test run without the dev run's choice for this signal
        routes[signal] = pairs, routed(pairs, threshold)
        signals[signal] = {"threshold": threshold, "chosen_by": how, **summary(routes[signal][1]),
                           "sweep": [p.as_dict() for p in points]}  # fmt: skip
    if options.signal not in signals:
        raise CotdistillError(f"no threshold for signal {options.signal}: run the router on the dev slice first "
                              f"(cotdistill run ... --split dev), or set options.threshold")  # fmt: skip

    main = signals[options.signal]
    pairs, rows = routes[options.signal]
    write_router(folder, RouterFile(
        answer_first=os.path.relpath(first_model, folder), think_first=os.path.relpath(think_model, folder),
        signal=options.signal, threshold=main["threshold"], chosen_by=main["chosen_by"],
        dev={"run": str(runner.run_dir), "signals": {s: {"threshold": v["threshold"], "accuracy": v["accuracy"],
                                                          "thought": v["thought"]} for s, v in signals.items()}} if dev
        else (chosen_before.dev if chosen_before else {}),
    ))  # fmt: skip
    alone = {ANSWER_FIRST: summary([{**first[r.id], "mode": ANSWER_FIRST} for r in records]),
             THINK_FIRST: summary([{**think[r.id], "mode": THINK_FIRST} for r in records])}
    result = {
        **summary(rows),
        **({"by_source": by_source(runner, cell, rows, pairs, first, think)} if cell.task.mix else {}),
        "router": {"signal": options.signal, "threshold": main["threshold"], "chosen_by": main["chosen_by"],
                   "folder": str(folder), "students": {ANSWER_FIRST: first_cell.id, THINK_FIRST: think_cell.id},
                   "signals": signals, "oracle": summary(oracle(pairs)), "alone": alone},
        "modes": {mode: sum(r["mode"] == mode for r in rows) for mode in (ANSWER_FIRST, THINK_FIRST)},
    }  # fmt: skip
    return result, rows


def by_source(runner, cell: Cell, rows: list[dict], pairs: list[QuestionPair], first: dict, think: dict) -> dict:
    """A mixed task's results per source task: the router, each student alone and the oracle."""
    split = runner.config.eval.split
    out = {}
    for source in runner.pipeline.sources(cell.task):
        ids = {r.id for r in runner.pipeline.questions(source).evaluated(split)}
        out[source.name] = {"router": summary([r for r in rows if r["id"] in ids]),
                            ANSWER_FIRST: summary([{**first[q], "mode": ANSWER_FIRST} for q in first if q in ids]),
                            THINK_FIRST: summary([{**think[q], "mode": THINK_FIRST} for q in think if q in ids]),
                            "oracle": summary(oracle([p for p in pairs if p.id in ids]))}  # fmt: skip
    return out


def dev_router(runner, cell: Cell) -> RouterFile | None:
    """The dev run's router for this cell (its thresholds and probe), from --students-from."""
    from cotdistill.routing.pair import read_router

    for run_dir in runner.students_from:
        folder = Path(run_dir) / "cells" / cell.id / ROUTER_DIR
        if (folder / ROUTER_FILE).is_file():
            router = read_router(folder)
            return router.model_copy(update={"dev": {**router.dev, "folder": str(folder)}})
    return None


def probe_scores(model_dir: Path, records, first: dict, think: dict, folder: Path, chosen_before, dev: bool) -> list[float] | None:
    """The perception probe's score per question. On the dev slice: fitted on the students' right and wrong
    answers there, scored out of fold (the threshold is chosen on scores of questions the probe did not
    see), then refitted on all of them and saved; on the test split: the dev run's probe."""
    import torch

    from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule, split_folds, student_features

    if not dev and (chosen_before is None or not (Path(chosen_before.dev["folder"]) / PERCEPTION_FILE).is_file()):
        return None
    features = student_features(model_dir, records)
    if not dev:
        return PerceptionModule.load(Path(chosen_before.dev["folder"]) / PERCEPTION_FILE).score(features).tolist()
    # 1: answering first was right; 0: only thinking first was; questions neither got right say nothing.
    label = {r.id: 1 if first[r.id]["correct"] else 0 for r in records if first[r.id]["correct"] or think[r.id]["correct"]}
    index = {r.id: i for i, r in enumerate(records)}
    scores = torch.zeros(len(records))
    for held in split_folds([r.id for r in records], PROBE_FOLDS, seed=0):
        train = [q for q in label if q not in held]
        module = PerceptionModule.fit(features[[index[q] for q in train]], torch.tensor([label[q] for q in train]))
        rows = [index[q] for q in held]
        scores[rows] = module.score(features[rows])
    module = PerceptionModule.fit(features[[index[q] for q in label]], torch.tensor([label[q] for q in label]))
    folder.mkdir(parents=True, exist_ok=True)
    module.save(folder / PERCEPTION_FILE, {"format": "cotdistill-perception-1"})
    return scores.tolist()
