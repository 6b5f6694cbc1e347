"""Evaluate a trained student on a task: decode as its strategy says, score, time, save predictions."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from cotdistill.answers import extract_answer, is_correct
from cotdistill.errors import CotdistillError
from cotdistill.files import check_output_file, write_json_atomic, write_jsonl_atomic
from cotdistill.evaluation.generation import (
    DecodeSettings,
    Generation,
    eos_count_for,
    generate_batch,
    prepare_tokenizer,
)
from cotdistill.evaluation.metrics import answer_spread, majority_vote, summarise
from cotdistill.prompt_limits import check_prompt_lengths, prompt_cap
from cotdistill.records import Record

log = logging.getLogger(__name__)


@dataclass
class EvalOptions:
    """Decoding and scoring options; the defaults are what `cotdistill eval` uses."""

    self_consistency: int = 1  # >1: sample this many continuations per question and majority-vote
    explain: bool = False  # answer-first models: keep generating the rationale after the separator
    batch_size: int = 8
    max_new_tokens: int = 256
    temperature: float = 0.7  # sampling temperature for self-consistency only
    seed: int = 0  # sampling seed for self-consistency
    similarity: bool = True  # score generated rationales against the records' reference rationales
    encoder: str = "minilm"  # sentence encoder for that score
    answer_likelihood: bool = True  # answer-first models: also score -log p(gold answer | prompt)
    max_prompt_tokens: int | None = None  # longest prompt; None: the model's context less max_new_tokens
    threshold: float | None = None  # a routed pair: think where its signal is below this; None: its router.json's
    dtype: str = "float32"  # the weights' dtype while decoding (models.DECODE_DTYPES)
    engine: str = "transformers"  # or "llama.cpp": the student's f16 GGUF, batch_size questions in flight


def predictions_path(out: str | Path) -> Path:
    """Where per-question predictions go: beside the metrics file, `<stem>.predictions.jsonl`."""
    out = Path(out)
    return out.with_name(out.stem + ".predictions.jsonl")


def evaluate(
    model_dir: str | Path,
    task: str | None = None,
    *,
    records: list[Record] | None = None,
    split: str = "test",
    limit: int | None = None,
    data_dir: str | Path | None = None,
    task_options: dict | None = None,
    options: EvalOptions | None = None,
    out: str | Path | None = None,
    predictions_out: str | Path | None = None,
    progress: bool = False,
) -> dict:
    """Decode every question with the model's own strategy (or a routed pair's router) and return the metrics.

    Give either a task name (loaded with `load_task(task, split, ...)`) or the records themselves.
    With `out`, the metrics are written there as JSON and the per-question predictions beside it
    (or to `predictions_out` when given).
    """
    from cotdistill.routing.pair import evaluate_routed, is_router

    options = options or EvalOptions()
    check_options(options)
    if predictions_out is None and out is not None:
        predictions_out = predictions_path(out)
    for path, flag in ((out, "--out"), (predictions_out, "--out (its predictions file)")):
        if path is not None:
            check_output_file(path, flag)  # before the work, not at its last write
    if records is None:
        if task is None:
            raise CotdistillError("evaluate() needs a task name or records")
        from cotdistill.tasks import load_task

        records = load_task(task, split, data_dir=data_dir, limit=limit, **(task_options or {}))
    elif limit is not None:
        records = records[:limit]
    if not records:
        raise CotdistillError(f"no questions to evaluate (task '{task}', split '{split}', limit {limit})")

    routed = is_router(model_dir)
    if options.threshold is not None and not routed:
        from cotdistill.errors import ConfigError

        raise ConfigError([f"threshold: {model_dir} is one student, not a routed pair (a folder with router.json)"], source="eval options")
    decode = evaluate_routed if routed else decode_and_score
    rows, metrics = decode(model_dir, records, options, task=task, progress=progress)
    metrics.update(task=task, split=split, model=str(model_dir))
    if predictions_out is not None:
        write_jsonl_atomic(predictions_out, rows)
        metrics["predictions"] = str(predictions_out)
    if out is not None:
        write_json_atomic(out, metrics)
    return metrics


def decode_and_score(model_dir: str | Path, records: list[Record], options: EvalOptions, *, task: str | None = None,
                     progress: bool = False) -> tuple[list[dict], dict]:
    """One student on the questions: (a row per question, the metrics)."""
    from cotdistill.models import inference_device, load_causal_lm
    from cotdistill.routing.router import answer_logprobs, confidence
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    meta = read_model_metadata(model_dir)
    strategy = strategy_from_metadata(meta)
    warning = answer_type_warning(meta, records, task)
    if warning:
        log.warning(warning)

    prompts = [strategy.prompt(r) for r in records]
    decode = _decode_on_llama_cpp if options.engine == "llama.cpp" else _decode_on_transformers
    generations, seconds_each, model, tokenizer, device = decode(model_dir, prompts, records, strategy, options,
                                                                 f"task {task}" if task else "records", progress)  # fmt: skip
    settings = decode_settings(strategy, tokenizer, options)
    rows = []
    for record, generation, seconds in zip(records, generations, seconds_each):
        row = score_question(record, generation, strategy)
        row["seconds"] = seconds
        if settings.logprobs:
            row["confidence"] = confidence(answer_logprobs(generation[0]))
        rows.append(row)
    seconds = sum(seconds_each)

    nlls = None
    if options.answer_likelihood and strategy.answer_first:  # untimed: not part of answering
        from cotdistill.evaluation.likelihood import answer_nll

        if model is None:  # the llama.cpp engine decoded: the likelihood is transformers'
            model = load_causal_lm(str(model_dir), dtype=options.dtype)[0].to(inference_device()).eval()
        nlls = answer_nll(model, tokenizer, strategy, records, options.batch_size)
        for row, nll in zip(rows, nlls):
            row["answer_nll"] = nll
    similarities = _similarities(rows, records, options)
    for row, score in zip(rows, similarities):
        row["rationale_similarity"] = score
    metrics = summarise(
        [r["correct"] for r in rows],
        [r["generated_tokens"] for r in rows],
        seconds,
        [s for s in similarities if s is not None],
    )
    metrics.update(answer_spread([r["predicted"] for r in rows]))
    if nlls is not None:
        metrics["mean_answer_nll"] = sum(nlls) / len(nlls)
    metrics.update(
        strategy=strategy.name,
        answer_first=strategy.answer_first,
        base_model=meta.get("base_model"),
        self_consistency=options.self_consistency,
        temperature=options.temperature if options.self_consistency > 1 else None,
        explain=options.explain,
        batch_size=options.batch_size,
        engine=options.engine,
        dtype=options.dtype,
        max_new_tokens=options.max_new_tokens,
        stop_strings=list(settings.stop_strings),
        stopped_by=dict(Counter(s for r in rows for s in r["stopped_by"])),
        unparsed=sum(r["predicted"] is None for r in rows),
        decode_seconds=seconds,
        device=device,
    )
    if warning:
        metrics["warnings"] = [warning]
    return rows, metrics


def _decode_on_transformers(model_dir, prompts: list[str], records: list[Record], strategy, options: EvalOptions, source: str,
                            progress: bool):  # fmt: skip
    """Batches of options.batch_size through `generate_batch`: (generations per question, each question's seconds,
    the model, its tokenizer, the device's name)."""
    import torch

    from cotdistill.models import inference_device, load_causal_lm

    model, tokenizer = load_causal_lm(str(model_dir), dtype=options.dtype)
    model.to(inference_device()).eval()
    prepare_tokenizer(tokenizer)
    check_prompt_lengths(tokenizer, prompts, [r.id for r in records], prompt_cap(model, options.max_new_tokens, options.max_prompt_tokens),
                         source)  # fmt: skip
    settings = decode_settings(strategy, tokenizer, options)
    torch.manual_seed(options.seed)
    warm_up(model, tokenizer, prompts[: options.batch_size])
    generations, seconds = [], []
    starts = range(0, len(prompts), options.batch_size)
    for start in _progress(starts, progress, len(prompts), options.batch_size):
        batch, batch_seconds = generate_batch(model, tokenizer, prompts[start : start + options.batch_size], settings)
        generations += batch
        seconds += [batch_seconds / len(batch)] * len(batch)  # the batch's time, shared evenly (as summarise does)
    device = torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else model.device.type
    return generations, seconds, model, tokenizer, device


def _decode_on_llama_cpp(model_dir, prompts: list[str], records: list[Record], strategy, options: EvalOptions, source: str,
                         progress: bool):  # fmt: skip
    """The student's cached f16 GGUF, options.batch_size questions in flight (evaluation/llama_cpp.py); the same
    return as _decode_on_transformers, with no transformers model loaded."""
    import time

    import torch
    from transformers import AutoTokenizer

    from cotdistill.evaluation.llama_cpp import LlamaCppDecoder
    from cotdistill.export.gguf_cache import cached_student, require_llama_cpp

    require_llama_cpp()
    student = cached_student(Path(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prepare_tokenizer(tokenizer)
    from cotdistill.prompt_limits import DEFAULT_CONTEXT

    cap = prompt_cap(student.context_length or DEFAULT_CONTEXT, options.max_new_tokens, options.max_prompt_tokens)
    check_prompt_lengths(tokenizer, prompts, [r.id for r in records], cap, source)
    ids = [list(tokenizer(p)["input_ids"]) for p in prompts]
    settings = decode_settings(strategy, tokenizer, options)
    decoder = LlamaCppDecoder(student.gguf, student.eos_ids, tokenizer, rows=options.batch_size,
                              row_tokens=max(map(len, ids)) + options.max_new_tokens, threads=torch.get_num_threads())  # fmt: skip
    try:
        decoder.decode(ids[: options.batch_size], replace(settings, max_new_tokens=2))  # untimed warm-up, as warm_up
        bar = _progress(None, progress, len(prompts), options.batch_size)
        started = time.perf_counter()
        generations = decoder.decode(ids, settings, on_row=bar.update if progress else None)
        seconds = (time.perf_counter() - started) / len(prompts)  # rows overlap: each question gets the mean
    finally:
        decoder.close()
    return [[g] for g in generations], [seconds] * len(prompts), None, tokenizer, "cpu (llama.cpp)"


def decode_settings(strategy, tokenizer, options: EvalOptions) -> DecodeSettings:
    """How `cotdistill eval` decodes this student: its stops, samples and EOS count; an answer-first student's
    greedy answer keeps its tokens' probabilities (a router reads them)."""
    return DecodeSettings(
        max_new_tokens=options.max_new_tokens,
        stop_strings=tuple(strategy.stop_strings(explain=options.explain)),
        num_samples=options.self_consistency,
        temperature=options.temperature,
        eos_count=eos_count_for(strategy, tokenizer, options.explain),
        logprobs=strategy.answer_first and options.self_consistency == 1 and not options.explain,
    )


def answer_type_warning(meta: dict, records: list[Record], task: str | None) -> str | None:
    """A student trained on one answer type, evaluated on another, scores by accident: say so."""
    trained = meta.get("answer_type")
    learnt = [trained] if isinstance(trained, str) else sorted(trained or [])
    asked = sorted({str(r.answer_type) for r in records})
    if not learnt or set(asked) <= set(learnt):
        return None
    return (f"warning: the model was trained on {', '.join(learnt)} answers but task {task or 'records'} has "
            f"{', '.join(asked)} answers; its accuracy here measures little")


def score_question(record: Record, generations: list[Generation], strategy) -> dict:
    """Extract each sample's answer, vote, and score against the gold answer."""
    answers, rationales = [], []
    for generation in generations:
        answer_text, rationale = strategy.split_output(generation.text)
        answers.append(extract_answer(answer_text, record.answer_type, record.choices, first=strategy.answer_first))
        rationales.append(rationale)
    predicted = majority_vote(answers)
    correct = predicted is not None and is_correct(predicted, record.answer, record.answer_type, record.choices)
    return {
        "id": record.id,
        "gold": record.answer,
        "predicted": predicted,
        "correct": bool(correct),
        "output": generations[0].text,
        "rationale": rationales[0] or None,
        "generated_tokens": sum(g.n_tokens for g in generations),
        "stopped_by": [g.stopped_by for g in generations],
        **({"samples": [g.text for g in generations], "sample_answers": answers} if len(generations) > 1 else {}),
    }


def warm_up(model, tokenizer, prompts: list[str]) -> None:
    """One short untimed generate: the first call pays one-off setup costs that are not latency."""
    generate_batch(model, tokenizer, prompts, DecodeSettings(max_new_tokens=2))


def check_options(options: EvalOptions) -> None:
    problems = []
    if options.self_consistency < 1:
        problems.append(f"self_consistency must be >= 1, got {options.self_consistency}")
    if options.batch_size < 1:
        problems.append(f"batch_size must be >= 1, got {options.batch_size}")
    if options.max_new_tokens < 1:
        problems.append(f"max_new_tokens must be >= 1, got {options.max_new_tokens}")
    if options.threshold is not None and options.threshold < 0:
        problems.append(f"threshold must be >= 0, got {options.threshold}")
    from cotdistill.models import DECODE_DTYPES, DECODE_ENGINES

    if options.dtype not in DECODE_DTYPES:
        problems.append(f"dtype must be one of {', '.join(DECODE_DTYPES)}, got {options.dtype!r}")
    if options.engine not in DECODE_ENGINES:
        problems.append(f"engine must be one of {', '.join(DECODE_ENGINES)}, got {options.engine!r}")
    if options.engine == "llama.cpp" and options.self_consistency > 1:
        problems.append("self-consistency samples: the llama.cpp engine decodes greedily; use engine transformers")
    if options.engine == "llama.cpp" and options.dtype != "float32":
        problems.append(f"dtype {options.dtype}: the llama.cpp engine runs the student's f16 GGUF; leave dtype out")
    if options.self_consistency > 1 and options.temperature <= 0:
        problems.append("self-consistency samples need temperature > 0")
    if problems:
        from cotdistill.errors import ConfigError

        raise ConfigError(problems, source="eval options")


def _similarities(rows: list[dict], records: list[Record], options: EvalOptions) -> list[float | None]:
    """Rationale-to-teacher similarity where both a generated and a reference rationale exist."""
    wanted = options.similarity and any(r["rationale"] for r in rows) and any(rec.rationales for rec in records)
    if not wanted:
        return [None] * len(rows)
    from cotdistill.evaluation.similarity import rationale_similarities
    from cotdistill.models import load_encoder

    return rationale_similarities([r["rationale"] for r in rows], [rec.rationales for rec in records], load_encoder(options.encoder))


def _progress(batches, enabled: bool, n: int, batch_size: int):
    """Batches (a range of starts) counted as they go; None: a bar of questions, updated by the caller."""
    if not enabled:
        return batches
    from cotdistill.progress import progress_bar

    if batches is None:
        return progress_bar(desc="eval", unit="question", total=n, postfix={"in flight": batch_size})
    return progress_bar(batches, desc="eval", unit="batch", total=len(batches), postfix={"questions": n, "batch": batch_size})
