"""Fitting the perception module: which mode is right for each training question, asked of students
that never saw it (K held-out folds), then a probe on the final student's representation.

Under out/perception/ each fold keeps its labels and both modes' predictions (its student is deleted
once labelled: 270 MB apiece for SmolLM2-135M); a re-run reuses finished folds and resumes a fold's
interrupted training.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import torch

from cotdistill.files import write_json_atomic, write_text_atomic
from cotdistill.records import Record
from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule, question_features

FOLDS_DIR = "perception"
LABELS_FILE = "labels.json"
FOLD_EVAL_TOKENS = 256  # a think-first answer ends at EOS long before this (the teacher's rationales: <= 128 tokens)


def question_of(record: Record) -> str:
    """Records of one question (several rationales) share its id in meta; they stay in one fold."""
    return str(record.meta.get("question_id", record.id))


def one_per_question(records: list[Record]) -> dict[str, Record]:
    """The first record of each question, keyed (and, for evaluation, re-identified) by the question."""
    first: dict[str, Record] = {}
    for record in records:
        first.setdefault(question_of(record), record.model_copy(update={"id": question_of(record)}))
    return first


def split_folds(questions: list[str], k: int, seed: int) -> list[set[str]]:
    """k disjoint folds of the questions, seeded, sizes within one of each other."""
    order = sorted(set(questions))
    random.Random(seed).shuffle(order)
    return [set(order[i::k]) for i in range(k)]


def perception_target(labels: dict[str, dict]) -> dict[str, int]:
    """1 where answering first was right (the cheap mode suffices), 0 where only thinking first was;
    questions neither mode got right say nothing about the choice and are left out."""
    return {q: int(l["answer-first"]) for q, l in labels.items() if l["answer-first"] or l["think-first"]}


def fit_perception_module(config, train_loop) -> dict:
    """Label every training question from held-out folds, fit the module on the final student (config.out),
    save it beside the student and record a summary in its cotdistill.json."""
    from cotdistill.evaluation.generation import prepare_tokenizer
    from cotdistill.models import inference_device, load_causal_lm
    from cotdistill.strategies import METADATA_FILE, get_strategy, read_model_metadata
    from cotdistill.training.data import read_curated

    strategy = get_strategy(config.strategy, **config.strategy_options())
    records, manifest = read_curated(config.data)
    folds = split_folds([question_of(r) for r in records], strategy.perception_folds, config.seed)
    labels: dict[str, dict] = {}
    for index, held in enumerate(folds):
        labels.update(fold_labels(config, train_loop, records, manifest, held, index, len(folds)))

    target = perception_target(labels)
    first = one_per_question(records)  # the module reads the question, not a rationale
    labelled = [first[q] for q in sorted(target)]
    out = Path(config.out)
    model, tokenizer = load_causal_lm(str(out))
    model.to(inference_device()).eval()
    prepare_tokenizer(tokenizer)
    features = question_features(model, tokenizer, [strategy.question_prompt(r) for r in labelled])
    module = PerceptionModule.fit(features, torch.tensor([target[r.id] for r in labelled]))
    module.save(out / PERCEPTION_FILE, {"format": "cotdistill-perception-1"})

    scores = module.score(features)
    summary = {
        "file": PERCEPTION_FILE,
        "folds": len(folds),
        "questions": len(labels),
        "answer_first_right": sum(l["answer-first"] for l in labels.values()),
        "think_first_right": sum(l["think-first"] for l in labels.values()),
        "neither_right": len(labels) - len(target),
        "labelled": len(target),
        "answer_first_share_at_threshold": float((scores >= strategy.threshold).float().mean()) if len(target) else 0.0,
    }
    write_json_atomic(out / METADATA_FILE, {**read_model_metadata(out), "perception": summary})
    return summary


def fold_labels(config, train_loop, records: list[Record], manifest: dict, held: set[str], index: int, k: int) -> dict:
    """{question: {"answer-first": right, "think-first": right}} for the held-out questions of one fold."""
    from cotdistill.evaluation import EvalOptions, evaluate
    from cotdistill.tasks.files import read_jsonl

    folder = Path(config.out) / FOLDS_DIR / f"fold-{index}"
    done = folder / LABELS_FILE
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    data, model_dir = folder / "data", folder / "model"
    data.mkdir(parents=True, exist_ok=True)
    write_text_atomic(data / "train.jsonl", "".join(r.to_json() + "\n" for r in records if question_of(r) not in held))
    write_json_atomic(data / "manifest.json", {**manifest, "perception_fold": {"index": index, "of": k, "held_out": len(held)}})
    if config.progress:
        print(f"perception fold {index + 1}/{k}: training on the other folds, then both modes on its {len(held)} questions", flush=True)
    train_loop(config.model_copy(update={"data": data, "out": model_dir, "resume": model_dir.exists(), "report_to": []}))

    questions = [record for question, record in one_per_question(records).items() if question in held]
    labels = {record.id: {} for record in questions}
    for mode in ("answer-first", "think-first"):
        predictions = folder / f"{mode}.predictions.jsonl"
        options = EvalOptions(mode=mode, batch_size=16, max_new_tokens=FOLD_EVAL_TOKENS, similarity=False, answer_likelihood=False)
        evaluate(model_dir, records=questions, options=options, predictions_out=predictions)
        for _, row in read_jsonl(predictions):
            labels[row["id"]][mode] = row["correct"]
    write_json_atomic(done, labels)
    shutil.rmtree(model_dir)
    return labels
