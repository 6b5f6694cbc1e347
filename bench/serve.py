"""Serving latency and throughput of pst vs pre-thinking students (not a test): bench/results/serve.{md,json}.

Each student (a `cotdistill train` folder) is served by `cotdistill serve` with each engine asked for
(--engines: transformers, transformers-bf16, llama.cpp) and, exported to GGUF, by llama.cpp's own server
(llama-cpp-python), one server at a time on 127.0.0.1. The same held-out questions go to both as /v1/completions with the student's own
prompt, greedy, from N concurrent clients (concurrency 1 and 8). llama.cpp's server is sent the
student's stop strings explicitly (it does not read them from the GGUF). Reported per cell:
latency p50/p95 per request, requests/s, completion tokens per request, and accuracy as a check
that both servers answer the same. A reference row first: the same prompts decoded in this process
by `cotdistill eval`'s `generate_batch`, one at a time and in batches of 8 (no server, no HTTP), the
requests/s that the model itself allows on this machine.

    .venv/bin/python bench/serve.py --model pst=runs/pst --model pre-thinking=runs/pre \\
        --task synth-last-letters --task-option n_words=2 --questions 24 --engines transformers llama.cpp
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import BenchResult

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# `cotdistill serve` engines: the row label and the flags that pick it.
ENGINE_FLAGS = {"transformers": [], "transformers-bf16": ["--dtype", "bfloat16"], "llama.cpp": ["--engine", "llama.cpp"]}
ENGINE_LABELS = {"transformers": "cotdistill", "transformers-bf16": "cotdistill bf16", "llama.cpp": "cotdistill llama.cpp"}


class Server:
    """A server process on 127.0.0.1, up once GET `ready_path` answers 200."""

    def __init__(self, command: list[str], port: int, ready_path: str, log: Path, env: dict):
        self.port, self.log = port, log
        self.process = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{command[:3]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def load(url: str, bodies: list[dict], concurrency: int) -> tuple[list[dict], list[float], float]:
    """Send every body, `concurrency` in flight at a time; (responses, latencies, wall seconds)."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=600) as client:
        async def one(body: dict) -> tuple[dict, float]:
            async with gate:
                started = time.perf_counter()
                response = await client.post(url, json=body)
                response.raise_for_status()
                return response.json(), time.perf_counter() - started

        started = time.perf_counter()
        done = await asyncio.gather(*(one(b) for b in bodies))
        wall = time.perf_counter() - started
    return [d[0] for d in done], [d[1] for d in done], wall


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(label: str, url: str, bodies: list[dict], records, strategy, concurrencies, warmup: int) -> list[dict]:
    asyncio.run(load(url, bodies[:warmup], 1))  # first requests pay one-off costs
    rows = []
    for concurrency in concurrencies:
        responses, latencies, wall = asyncio.run(load(url, bodies, concurrency))
        rows.append(row(label, strategy, concurrency, responses, latencies, wall, records))
    return rows


def measure_mixed(label: str, url: str, bodies: list[dict], strategy, concurrency: int) -> dict:
    """Every other request asks for the rationale too (`explain`): how long do the plain answers wait beside them?"""
    mixed = [{**body, "explain": bool(i % 2)} for i, body in enumerate(bodies)]
    responses, latencies, wall = asyncio.run(load(url, mixed, concurrency))
    answers = [t for body, t in zip(mixed, latencies) if not body["explain"]]
    explained = [t for body, t in zip(mixed, latencies) if body["explain"]]
    explained_tokens = [r["usage"]["completion_tokens"] for body, r in zip(mixed, responses) if body["explain"]]
    found = {"server": label, "strategy": strategy.name, "concurrency": concurrency, "requests": len(mixed), "mixed": True,
             "answer_p50_s": round(statistics.median(answers), 4), "answer_p95_s": round(percentile(answers, 0.95), 4),
             "explain_p50_s": round(statistics.median(explained), 4), "requests_per_s": round(len(mixed) / wall, 3),
             "explained_tokens": round(statistics.mean(explained_tokens), 2)}
    print(f"{label:10s} {strategy.name:12s} c={concurrency}, half with explain: answers p50 {found['answer_p50_s']:.3f} s, "
          f"p95 {found['answer_p95_s']:.3f} s; explained p50 {found['explain_p50_s']:.3f} s", flush=True)
    return found


def model_only(folder: Path, records, strategy, stop_strings, args) -> list[dict]:
    """The same prompts through `cotdistill eval`'s `generate_batch` in this process, batch 1 then batch 8: the
    requests/s the model itself allows on this machine, with no server, HTTP or scheduling around it."""
    import torch

    from cotdistill.evaluation.generation import DecodeSettings, generate_batch, prepare_tokenizer
    from cotdistill.export.student import load_merged_student

    torch.set_num_threads(args.threads)
    model, tokenizer = load_merged_student(folder)
    prepare_tokenizer(tokenizer)
    settings = DecodeSettings(max_new_tokens=args.max_tokens, stop_strings=tuple(stop_strings))
    prompts = [strategy.prompt(r) for r in records]
    generate_batch(model, tokenizer, prompts[: args.warmup], settings)
    rows = []
    for batch in args.concurrency:
        started, latencies, generations = time.perf_counter(), [], []
        for first in range(0, len(prompts), batch):
            rows_out, seconds = generate_batch(model, tokenizer, prompts[first : first + batch], settings)
            latencies += [seconds] * len(rows_out)
            generations += [g[0] for g in rows_out]
        wall = time.perf_counter() - started
        responses = [{"choices": [{"text": g.text}], "usage": {"completion_tokens": g.n_tokens}} for g in generations]
        rows.append(row("transformers generate, no server", strategy, batch, responses, latencies, wall, records))
    return rows


def row(label: str, strategy, concurrency: int, responses: list[dict], latencies: list[float], wall: float, records) -> dict:
    from cotdistill.answers import extract_answer, is_correct

    texts = [r["choices"][0]["text"] for r in responses]
    correct = 0
    for record, text in zip(records, texts):
        answer_part, _ = strategy.split_output(text)
        predicted = extract_answer(answer_part, record.answer_type, record.choices, first=strategy.answer_first)
        correct += predicted is not None and is_correct(predicted, record.answer, record.answer_type, record.choices)
    found = {
        "server": label, "strategy": strategy.name, "concurrency": concurrency, "requests": len(responses),
        "p50_s": round(statistics.median(latencies), 4), "p95_s": round(percentile(latencies, 0.95), 4),
        "requests_per_s": round(len(responses) / wall, 3), "wall_s": round(wall, 2),
        "completion_tokens": round(sum(r["usage"]["completion_tokens"] for r in responses) / len(responses), 2),
        "accuracy": round(correct / len(records), 3), "texts": texts,
    }
    print(f"{label:10s} {strategy.name:12s} c={concurrency}: p50 {found['p50_s']:.3f} s, p95 {found['p95_s']:.3f} s, "
          f"{found['requests_per_s']:.2f} req/s, {found['completion_tokens']} tok, acc {found['accuracy']}", flush=True)
    return found


def bench_student(name: str, folder: Path, records, args, work: Path, env: dict) -> list[dict]:
    from cotdistill.export import export_model, serving_spec
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    strategy = strategy_from_metadata(read_model_metadata(folder))
    spec = serving_spec(folder)
    prompts = [strategy.prompt(r) for r in records]
    base = {"max_tokens": args.max_tokens, "temperature": 0}
    rows = model_only(folder, records, strategy, spec.stop_strings, args)

    # This checkout's `cotdistill serve` with each --engine, then each --compare-src tree's, one after the other.
    servers = [(ENGINE_LABELS[engine], None, ENGINE_FLAGS[engine]) for engine in args.engines]
    servers += [(f"cotdistill {label}", source, []) for label, source in (pair.split("=", 1) for pair in args.compare_src)]
    for label, source, flags in servers:
        server_env = env if source is None else {**env, "PYTHONPATH": str(Path(source).resolve())}
        port = free_port()
        server = Server([str(BIN / "cotdistill"), "serve", str(folder), "--port", str(port), "--max-batch", str(max(args.concurrency)),
                         *flags], port, "/health", work / f"{name}-{label.replace(' ', '-')}.log", server_env)  # fmt: skip
        try:
            bodies = [{**base, "prompt": p} for p in prompts]
            url = f"http://127.0.0.1:{port}/v1/completions"
            rows += measure(label, url, bodies, records, strategy, args.concurrency, args.warmup)
            if strategy.answer_first:
                rows.append(measure_mixed(label, url, bodies, strategy, max(args.concurrency)))
        finally:
            server.stop()
    if args.no_llama_cpp:
        return [{"student": name, **found} for found in rows]

    started = time.perf_counter()
    gguf = export_model(folder, work / f"{name}-gguf", "gguf", quantization=args.gguf_type).files[0]
    export_s = time.perf_counter() - started
    port = free_port()
    server = Server([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
                     "--n_ctx", "2048", "--n_threads", str(args.threads), "--model_alias", name],
                    port, "/v1/models", work / f"{name}-llama.log", env)
    try:
        bodies = [{**base, "prompt": p, "stop": list(spec.stop_strings) or None} for p in prompts]
        llama_rows = measure(f"llama.cpp {args.gguf_type}", f"http://127.0.0.1:{port}/v1/completions", bodies, records,
                             strategy, args.concurrency, args.warmup)
    finally:
        server.stop()
    for found in llama_rows:
        found["export_s"] = round(export_s, 1)
    return [{"student": name, **found} for found in rows + llama_rows]


def markdown(all_rows: list[dict], args) -> str:
    rows = [r for r in all_rows if not r.get("mixed")]
    lines = ["| server | student | concurrency | p50 (s) | p95 (s) | requests/s | completion tokens | accuracy |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['server']} | {r['student']} | {r['concurrency']} | {r['p50_s']:.3f} | {r['p95_s']:.3f} | "
                     f"{r['requests_per_s']:.2f} | {r['completion_tokens']:.1f} | {r['accuracy']:.2f} |")
    lines += ["", *[f"- {c}" for c in claims(rows)], ""]
    return "\n".join(lines) + mixed_markdown([r for r in all_rows if r.get("mixed")])


def mixed_markdown(mixed: list[dict]) -> str:
    if not mixed:
        return ""
    lines = ["", "Answer-first students under a mixed load: the same questions, every other request with `explain` "
             "(the rationale too), all in flight at once; latency of the plain answers and of the explained ones. "
             "Explained tokens: the mean completion of an explained request (an engine that cannot explain this "
             "student returns the answer alone).", "",
             "| server | student | concurrency | answers p50 (s) | answers p95 (s) | explained p50 (s) | explained tokens | requests/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {m['server']} | {m['student']} | {m['concurrency']} | {m['answer_p50_s']:.3f} | {m['answer_p95_s']:.3f} | "
              f"{m['explain_p50_s']:.3f} | {m['explained_tokens']:.1f} | {m['requests_per_s']:.2f} |" for m in mixed]
    return "\n".join(lines) + "\n"


def claims(rows: list[dict]) -> list[str]:
    out = []
    by = {(r["server"], r["student"], r["concurrency"]): r for r in rows}
    for server in dict.fromkeys(r["server"] for r in rows):
        pst, pre = by.get((server, "pst", 1)), by.get((server, "pre-thinking", 1))
        if pst and pre:
            ratio = pre["p50_s"] / pst["p50_s"]
            out.append(f"{server}: p50 latency at concurrency 1: pst {pst['p50_s']:.3f} s, pre-thinking {pre['p50_s']:.3f} s "
                       f"({ratio:.1f}x) -> goal 'pst <= 1/4 of pre-thinking' {'met' if ratio >= 4 else 'NOT met'}")
        for strategy in ("pst", "pre-thinking"):
            one, eight = by.get((server, strategy, 1)), by.get((server, strategy, 8))
            if one and eight:
                gain = eight["requests_per_s"] / one["requests_per_s"]
                out.append(f"{server} {strategy}: requests/s at concurrency 8 vs 1: {eight['requests_per_s']:.2f} vs "
                           f"{one['requests_per_s']:.2f} ({gain:.1f}x) -> goal '>= 3x' {'met' if gain >= 3 else 'NOT met'}")
    for student in dict.fromkeys(r["student"] for r in rows):
        reference = {c: next((r for r in rows if r["student"] == student and r["concurrency"] == c and r["server"].startswith("llama.cpp")),
                             None) for c in (1, 8)}  # fmt: skip
        ours = [server for server in dict.fromkeys(r["server"] for r in rows) if server.startswith("cotdistill")]
        for server, concurrency in ((s, c) for s in ours[1:] for c in (1, 8)):  # each engine against the first's rows
            mine, first = by.get((server, student, concurrency)), by.get((ours[0], student, concurrency))
            if mine and first:
                equal = sum(x == y for x, y in zip(mine["texts"], first["texts"]))
                out.append(f"{student}: {server} vs {ours[0]} at concurrency {concurrency}: {equal}/{len(mine['texts'])} identical outputs")
        for server in ours:
            mine = by.get((server, student, 1))
            if mine and reference[1]:
                equal = sum(x.strip() == y.strip() for x, y in zip(mine["texts"], reference[1]["texts"]))
                ratio = mine["p50_s"] / reference[1]["p50_s"]
                out.append(f"{student}: {server} vs {reference[1]['server']}'s server, one request at a time: p50 {ratio:.2f}x "
                           f"-> goal '<= 1.3x' {'met' if ratio <= 1.3 else 'NOT met'}; {equal}/{len(mine['texts'])} identical greedy outputs")
            mine = by.get((server, student, 8))
            if mine and reference[8]:
                ratio = mine["requests_per_s"] / reference[8]["requests_per_s"]
                out.append(f"{student}: {server} vs {reference[8]['server']}'s server at 8 concurrent: requests/s {ratio:.2f}x "
                           f"-> goal '>= 1x' {'met' if ratio >= 1 else 'NOT met'}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="STRATEGY_LABEL=FOLDER, repeatable")
    p.add_argument("--task", default="synth-last-letters")
    p.add_argument("--split", default="test")
    p.add_argument("--task-option", action="append", default=[], help="KEY=VALUE")
    p.add_argument("--questions", type=int, default=24)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--gguf-type", default="f16")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")),
                   help="CPU threads of each server (torch via OMP_NUM_THREADS, llama.cpp via --n_threads)")
    p.add_argument("--name", default="serve")
    p.add_argument("--engines", nargs="+", default=["transformers"], choices=list(ENGINE_FLAGS),
                   help="cotdistill serve engines to measure, one server after another")
    p.add_argument("--compare-src", action="append", default=[],
                   help="LABEL=SRC: also serve each student with the cotdistill package in SRC (e.g. an older checkout's src/), "
                        "right after this one's, to compare serving engines side by side")
    p.add_argument("--no-llama-cpp", action="store_true", help="skip the GGUF export and llama.cpp's server")
    args = p.parse_args()

    from cotdistill.cli.evaluate import parse_task_options
    from cotdistill.tasks import load_task

    records = load_task(args.task, args.split, limit=args.questions, **parse_task_options(args.task_option))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = BenchResult(args.name, extra={"task": args.task, "questions": len(records), "threads": args.threads,
                                           "max_tokens": args.max_tokens, "load_average_start": os.getloadavg()})
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        for pair in args.model:
            name, _, folder = pair.partition("=")
            result.rows += bench_student(name, Path(folder), records, args, Path(work), env)
    result.extra["load_average_end"] = os.getloadavg()
    result.extra["claims"] = claims([r for r in result.rows if not r.get("mixed")])
    print("\n".join(result.extra["claims"]))
    notes = (f"{len(records)} questions of {args.task} ({args.split}), /v1/completions, greedy, max_tokens "
             f"{args.max_tokens}, {args.threads} CPU thread(s) per server, one server running at a time. Latency is "
             "per request as the client sees it (queueing included); requests/s = requests / wall time of the "
             "whole set. Load average at start/end: "
             f"{result.extra['load_average_start'][0]:.1f} / {result.extra['load_average_end'][0]:.1f}.\n\n")
    print(result.write(notes + markdown(result.rows, args)))


if __name__ == "__main__":
    main()
