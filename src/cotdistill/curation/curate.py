"""From the rationale store to a training set: filter, dedup, downsample, add noise, pick the label.

Writes `out_dir/train.jsonl` (one Record per training example, exactly one rationale, `answer` =
the label trained on) and `out_dir/manifest.json` (counts sampled / kept / dropped by reason, the
settings, a content hash). Both are written to a temporary file and renamed, so a reader never sees
half a file.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cotdistill.curation.noise import NOISE_KINDS, corruption
from cotdistill.errors import CotdistillError
from cotdistill.files import check_output_folder, write_bytes_atomic
from cotdistill.records import Record
from cotdistill.store import RationaleStore, Sample

DROP_REASONS = ("parse_error", "incorrect", "duplicate", "downsampled")


class CurateConfig(BaseModel):
    """The curation settings; recorded verbatim in the manifest."""

    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(None, description="Task to curate (needed when the store holds several).")
    split: str = Field("train", description="Split whose samples become training data.")
    teachers: list[str] | None = Field(None, description="Teacher-config keys (or prefixes) to use; default all.")
    filter: Literal["correct", "all"] = Field("correct", description="Keep only samples whose answer is right, or all.")
    dedup: bool = Field(False, description="Drop repeated rationales of the same question (whitespace/case-insensitive).")
    max_per_question: int | None = Field(None, ge=1, description="Keep at most K rationales per question.")
    downsample: Literal["random", "diverse"] = Field("random", description="How K are chosen: at random, or one per embedding cluster.")
    noise: float = Field(0.0, ge=0.0, le=1.0, description="Fraction of kept examples whose rationale is corrupted.")
    noise_kind: Literal["numbers", "shuffle", "swap", "truncate"] = Field("numbers", description=f"Corruption: {', '.join(NOISE_KINDS)}.")
    label: Literal["teacher", "gold"] = Field("teacher", description="Train on the teacher's answer or the gold answer.")
    seed: int = Field(0, description="Seed for downsampling and noise.")
    encoder: str = Field("minilm", description="Sentence encoder for diverse downsampling.")


def curate(store: str | Path, out_dir: str | Path, config: CurateConfig | None = None, **settings: Any) -> dict[str, Any]:
    """Curate a training set from `store` into `out_dir`; returns the manifest."""
    config = config or CurateConfig(**settings)
    check_output_folder(out_dir)  # before the work, not at its last write
    with RationaleStore(store, create=False) as db:
        teachers = _select_teachers(db, config, Path(store))
        task = teachers[0]["task"]
        questions = db.questions(task, config.split)
        by_question: dict[str, list[Sample]] = {}
        for sample in db.samples([t["key"] for t in teachers]):
            by_question.setdefault(sample.qid, []).append(sample)
    rng = random.Random(config.seed)
    drops: Counter[str] = Counter()
    survivors = {qid: _filter(by_question[qid], config, drops) for qid in questions if qid in by_question}
    embeddings = _embeddings(survivors, config)
    kept: list[tuple[Record, Sample]] = []
    for qid, samples in survivors.items():
        kept += [(questions[qid], sample) for sample in _downsample(samples, config, rng, drops, embeddings.get(qid))]
    examples = [_to_example(record, sample, config, teachers) for record, sample in kept]
    noised = _add_noise(examples, config, random.Random(config.seed + 1))
    sampled = sum(len(samples) for samples in by_question.values())
    if not examples:  # an empty train.jsonl helps no one: training it would only fail later
        reasons = ", ".join(f"{k} {v}" for k, v in drops.items() if v) or "no samples for its questions"
        raise CotdistillError(f"{store}: curation keeps none of the {sampled} samples ({reasons}); nothing written. "
                              "Try --filter all, other --teacher-key/--split, or more teacher samples")
    manifest = _write(Path(out_dir), examples, {
        "task": task,
        "split": config.split,
        "answer_type": next(iter(questions.values())).answer_type if questions else None,
        "synthetic": any(t["synthetic"] for t in teachers),
        "teachers": [{k: t[k] for k in ("key", "backend", "model", "prompt", "params", "synthetic")} for t in teachers],
        "counts": {
            "questions": len(questions),
            "questions_with_examples": len({record.id for record, _ in kept}),
            "sampled": sampled,
            "teacher_correct": sum(bool(s.correct) for samples in by_question.values() for s in samples),
            "kept": len(examples),
            "dropped": {reason: drops.get(reason, 0) for reason in DROP_REASONS},
            "noised": noised,
        },
        "settings": config.model_dump(mode="json"),
    })
    return manifest


def _select_teachers(db: RationaleStore, config: CurateConfig, path: Path) -> list[dict[str, Any]]:
    teachers = db.configs(task=config.task, split=config.split)
    if config.teachers:
        teachers = [t for t in teachers if any(t["key"].startswith(prefix) for prefix in config.teachers)]
    if not teachers:
        available = ", ".join(f"{t['task']}/{t['split']} ({t['key']})" for t in db.configs()) or "none"
        raise CotdistillError(f"{path}: no teacher samples for task={config.task or 'any'} split={config.split}"
                              f" (stored: {available}). Check --task/--split or run `cotdistill teach` first")
    tasks = sorted({t["task"] for t in teachers})
    if len(tasks) > 1:
        raise CotdistillError(f"{path} holds samples for several tasks ({', '.join(tasks)}): pick one with --task")
    return teachers


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def _filter(samples: list[Sample], config: CurateConfig, drops: Counter) -> list[Sample]:
    survivors, seen = [], set()
    # An unparsed answer matters only where the teacher's answer is used: to judge the sample (filter correct) or
    # as the label. Keeping every rationale with the gold label is Fine-tune-CoT's vanilla baseline (answer-only on
    # every question): StrategyQA's teacher answers 18% of its questions with neither yes nor no.
    answer_needed = config.filter == "correct" or config.label == "teacher"
    for sample in samples:
        unparsed = sample.parse_error is not None or sample.answer is None
        if not sample.rationale or (unparsed and answer_needed):
            drops["parse_error"] += 1
        elif config.filter == "correct" and not sample.correct:
            drops["incorrect"] += 1
        elif config.dedup and _normalised(sample.rationale) in seen:
            drops["duplicate"] += 1
        else:
            seen.add(_normalised(sample.rationale))
            survivors.append(sample)
    return survivors


def _embeddings(survivors: dict[str, list[Sample]], config: CurateConfig) -> dict[str, Any]:
    """Rationale embeddings of the questions diverse downsampling will cut, in one encoder pass."""
    k = config.max_per_question
    if config.downsample != "diverse" or k is None:
        return {}
    crowded = {qid: samples for qid, samples in survivors.items() if len(samples) > k}
    texts = [s.rationale for samples in crowded.values() for s in samples]
    if not texts:
        return {}
    vectors = _encoder(config.encoder).encode(texts, normalize_embeddings=True, batch_size=64)
    embeddings, start = {}, 0
    for qid, samples in crowded.items():
        embeddings[qid], start = vectors[start:start + len(samples)], start + len(samples)
    return embeddings


def _downsample(samples: list[Sample], config: CurateConfig, rng: random.Random, drops: Counter, embeddings=None) -> list[Sample]:
    k = config.max_per_question
    if k is None or len(samples) <= k:
        return samples
    if config.downsample == "random":
        chosen = sorted(rng.sample(range(len(samples)), k))
    else:
        from cotdistill.curation.diverse import pick_diverse

        chosen = pick_diverse(embeddings, k, seed=rng.randrange(2**31))
    drops["downsampled"] += len(samples) - k
    return [samples[i] for i in chosen]


_ENCODERS: dict[str, Any] = {}


def _encoder(name: str):
    if name not in _ENCODERS:
        from cotdistill.models import load_encoder

        _ENCODERS[name] = load_encoder(name)
    return _ENCODERS[name]


def _to_example(record: Record, sample: Sample, config: CurateConfig, teachers: list[dict]) -> Record:
    teacher = next(t for t in teachers if t["key"] == sample.config_key)
    return Record(
        id=f"{record.id}~{sample.config_key[:8]}~{sample.sample_index}",
        question=record.question,
        choices=record.choices,
        answer=sample.answer if config.label == "teacher" else record.answer,
        answer_type=record.answer_type,
        rationales=[sample.rationale],
        meta={
            "question_id": record.id,
            "label": config.label,
            "gold_answer": record.answer,
            "teacher_answer": sample.answer,
            "teacher_correct": sample.correct,
            "teacher": {"key": sample.config_key, "backend": sample.backend, "model": sample.model,
                        "prompt": teacher["prompt"], "sample_index": sample.sample_index},
            "synthetic": sample.synthetic,
            "noisy": False,
        },
    )


def _add_noise(examples: list[Record], config: CurateConfig, rng: random.Random) -> int:
    """Corrupt round(noise * n) examples in place (flagged in meta); returns how many were."""
    target = round(config.noise * len(examples))
    if target == 0:
        return 0
    corrupt = corruption(config.noise_kind)
    pool = [(e.meta["question_id"], e.rationales[0]) for e in examples]
    order = list(range(len(examples)))
    rng.shuffle(order)
    done = 0
    for index in order:
        if done == target:
            break
        example = examples[index]
        original = example.rationales[0]
        extra = {"own_question": example.meta["question_id"], "pool": pool} if config.noise_kind == "swap" else {}
        changed = corrupt(original, rng, **extra)
        if changed is None or changed == original:
            continue
        example.rationales = [changed]
        example.meta.update(noisy=True, noise_kind=config.noise_kind, original_rationale=original)
        done += 1
    return done


def _write(out_dir: Path, examples: list[Record], manifest: dict[str, Any]) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    body = "".join(example.to_json() + "\n" for example in examples).encode()
    manifest = {**manifest, "content_hash": "sha256:" + hashlib.sha256(body).hexdigest(), "train_file": "train.jsonl"}
    write_bytes_atomic(out_dir / "train.jsonl", body)
    write_bytes_atomic(out_dir / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest

