"""`cotdistill teach | import | curate`: sample teacher rationales, import existing ones, build a training set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("teach")(teach_command)
    app.command("import")(import_command)
    app.command("curate")(curate_command)


def _validated(config_class, /, **fields):
    """Build a pydantic config, turning validation errors into one ConfigError listing them all."""
    from pydantic import ValidationError

    from cotdistill.errors import ConfigError

    try:
        return config_class(**fields)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(map(str, item["loc"]))
            message = item["msg"].removeprefix("Value error, ")
            # whole-config checks report several problems joined by "; "
            problems += [f"{where}: {message}"] if where else message.split("; ")
        raise ConfigError(problems, source="options") from None


def _task_options(options: list[str]) -> dict:
    from cotdistill.errors import CotdistillError

    parsed = {}
    for option in options:
        name, equals, value = option.partition("=")
        if not equals or not name:
            raise CotdistillError(f"--task-option must look like NAME=VALUE (e.g. size=200), got '{option}'")
        try:
            parsed[name] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name] = value
    return parsed


def teach_command(
    task: str = typer.Option(..., help="Task whose questions are sampled (see `cotdistill tasks list`)."),
    teacher: str = typer.Option(..., help="Backend: openai (any OpenAI-compatible server), hf, vllm, reference."),
    store: Path = typer.Option(..., help="SQLite rationale store (created if absent; re-runs resume it)."),
    model: str = typer.Option("reference", help="Model: server model id, HF id/folder/GGUF, or vLLM model."),
    samples: int = typer.Option(1, help="Samples per question (SCoTD: 30)."),
    temperature: float = typer.Option(1.0, help="Sampling temperature."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass."),
    max_tokens: int = typer.Option(256, help="Most tokens per completion."),
    prompt: str = typer.Option("chat", help="Prompt: zero-shot-cot, few-shot-cot, chat, rationalize."),
    exemplars: Optional[Path] = typer.Option(None, help="Exemplar file for few-shot-cot (Fine-tune-CoT JSON or a list of {question, rationale, answer})."),
    exemplar_key: Optional[str] = typer.Option(None, help="Entry of a multi-task exemplar file (default: the task name)."),
    split: str = typer.Option("train", help="Task split to sample."),
    limit: Optional[int] = typer.Option(None, help="Only the first K questions."),
    shard: Optional[str] = typer.Option(None, help="i/n: only the i-th (from 0) of n question ranges."),
    concurrency: Optional[int] = typer.Option(None, help="Most requests in flight (default: the backend's)."),
    rpm: Optional[float] = typer.Option(None, help="Requests-per-minute limit."),
    tpm: Optional[float] = typer.Option(None, help="Tokens-per-minute limit."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8080/v1."),
    endpoint: str = typer.Option("chat", help="chat or completions endpoint."),
    api_key_env: Optional[str] = typer.Option(None, help="Environment variable holding the API key (the key is never stored)."),
    timeout: float = typer.Option(120.0, help="Per-request timeout in seconds."),
    max_retries: int = typer.Option(8, help="Retries on 429/5xx/timeouts/connection errors."),
    batch_size: int = typer.Option(8, help="Prompts per generate() call (hf, vllm)."),
    error_rate: float = typer.Option(0.0, help="reference teacher: chance of a wrong worked solution."),
    seed: int = typer.Option(0, help="Base seed for per-sample seeds."),
    reuse: list[Path] = typer.Option([], help="Another store whose samples of this same teacher and question are copied in first, not requested again (repeatable)."),
    data_dir: Optional[Path] = typer.Option(None, help="Real data folder (default $COTDISTILL_DATA)."),
    task_option: list[str] = typer.Option([], help="Extra task option NAME=VALUE (e.g. size=200), repeatable."),
    max_requests: Optional[int] = typer.Option(None, "--max-requests", help="Refuse to start a plan of more requests "
                                               "than this (exit 2, the plan printed); stored samples are not requests."),
    check: bool = typer.Option(False, "--check", help="Print the plan (questions, samples, requests, prompt and completion "
                               "tokens) and stop: nothing is requested or written."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    json_summary: bool = typer.Option(False, "--json", help="Print the summary (with --check: the plan) as JSON on stdout."),
) -> None:
    """Sample teacher rationales for a task into the store (resumable: stored samples are never re-requested).

    The plan (questions, samples per question, requests, estimated prompt tokens, completion tokens at
    most) is printed on stderr before the first request; --max-requests refuses a larger plan and
    --check prints it without running anything.
    """
    from cotdistill.teachers import TeachConfig, plan_teach, teach
    from cotdistill.teachers.progress import print_summary
    from cotdistill.teachers.plan import check_budget

    from cotdistill.files import check_output_file

    check_output_file(store, "--store")
    options = _task_options(task_option)
    config = _validated(
        TeachConfig,
        task=task, split=split, teacher=teacher, model=model, store=store, samples=samples,
        params={"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}, prompt=prompt,
        exemplars=exemplars, exemplar_key=exemplar_key, limit=limit, shard=shard, concurrency=concurrency,
        seed=seed, task_options=options, base_url=base_url, endpoint=endpoint, api_key_env=api_key_env, rpm=rpm,
        tpm=tpm, timeout_s=timeout, max_retries=max_retries, batch_size=batch_size, error_rate=error_rate, reuse=reuse,
    )
    if check:
        plan = plan_teach(config, data_dir=data_dir)
        typer.echo(json.dumps(plan.as_dict(), indent=2) if json_summary else plan.text())
        check_budget(plan, max_requests)
        return
    summary = teach(config, data_dir=data_dir, progress=not quiet, max_requests=max_requests)  # its plan on stderr first
    if json_summary:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        print_summary(summary)
    if summary.failed_samples:
        typer.secho(f"{summary.failed_samples} samples failed after retries: run the same command again to complete the set",
                    err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(1)


def import_command(
    format: str = typer.Option(..., "--format", help="dss (Distilling step-by-step), multi-rationale (MCC-KD JSON), jsonl (Records, as jsonl: tasks read them), ftcot (Fine-tune-CoT completion_data)."),
    store: Path = typer.Option(..., help="SQLite rationale store to import into."),
    task: Optional[str] = typer.Option(None, help="Task the questions belong to (dss: svamp or cqa; ftcot: read from the file if left out)."),
    split: str = typer.Option("train", help="Split name (dss, ftcot: which of the task's splits to import)."),
    path: Optional[Path] = typer.Option(None, help="Source file (multi-rationale, jsonl, ftcot)."),
    data_dir: Optional[Path] = typer.Option(None, help="Real data folder for dss and ftcot (default $COTDISTILL_DATA)."),
    model: Optional[str] = typer.Option(None, help="Teacher name to record (dss: palm-540b; ftcot: the file's base_model)."),
    answer_type: str = typer.Option("numeric", help="multi-rationale, jsonl: answer type of lines that do not set one."),
) -> None:
    """Import existing teacher outputs into the store (idempotent)."""
    from cotdistill.files import check_output_file, read_text
    from cotdistill.store.importers import import_outputs
    from cotdistill.validation import answer_type as checked_answer_type

    checked_answer_type(answer_type, "--answer-type", field=None)
    check_output_file(store, "--store")
    if path is not None and path.is_file():
        read_text(path)  # every format: a file that is not UTF-8 is named here, in one line
    summary = import_outputs(store, format, task=task, split=split, path=path, data_dir=data_dir, model=model, answer_type=answer_type)
    typer.echo(
        f"imported {summary.samples} rationales for {summary.questions} questions into {store} "
        f"(config {summary.config_key}): {summary.added} new, {summary.parse_errors} unparsed, "
        f"{summary.correct} correct"
    )


def curate_command(
    store: Path = typer.Option(..., help="SQLite rationale store."),
    out: Path = typer.Option(..., help="Output folder for train.jsonl and manifest.json."),
    task: Optional[str] = typer.Option(None, help="Task (needed when the store holds several)."),
    split: str = typer.Option("train", help="Split to curate."),
    teacher_key: list[str] = typer.Option([], help="Only these teacher-config keys (or prefixes); repeatable."),
    filter: str = typer.Option("correct", "--filter", help="correct: keep right answers only; all: keep every sample with a rationale (an unparsed answer only with --label gold)."),
    dedup: bool = typer.Option(False, help="Drop repeated rationales of the same question."),
    max_per_question: Optional[int] = typer.Option(None, help="Keep at most K rationales per question."),
    downsample: str = typer.Option("random", help="random, or diverse (one per MiniLM embedding cluster)."),
    noise: float = typer.Option(0.0, help="Fraction of examples whose rationale is corrupted."),
    noise_kind: str = typer.Option("numbers", help="numbers, shuffle, swap or truncate."),
    label: str = typer.Option("teacher", help="Train on the teacher's answer or the gold one."),
    seed: int = typer.Option(0, help="Seed for downsampling and noise."),
) -> None:
    """Turn stored teacher samples into a training set with a manifest of what was kept and dropped."""
    from cotdistill.curation import CurateConfig, curate

    config = _validated(
        CurateConfig,
        task=task, split=split, teachers=teacher_key or None, filter=filter, dedup=dedup,
        max_per_question=max_per_question, downsample=downsample, noise=noise, noise_kind=noise_kind,
        label=label, seed=seed,
    )
    manifest = curate(store, out, config)
    counts = manifest["counts"]
    dropped = ", ".join(f"{k} {v}" for k, v in counts["dropped"].items())
    typer.echo(f"{out / 'train.jsonl'}: kept {counts['kept']} of {counts['sampled']} samples "
               f"({counts['questions_with_examples']} questions); dropped: {dropped}; noised {counts['noised']}")
