"""Teacher sampling throughput (not a test): writes bench/results/teacher_throughput.{json,md}.

1. OpenAI-compatible backend against a local llama.cpp server (SmolLM2-135M GGUF): samples/s at
   concurrency 1 vs C.
2. Transformers backend (SmolLM2-135M, bf16 autocast on CPU): batched vs one prompt at a time.
3. A cached re-run over 1,000 stored samples (no requests): Python API and the CLI end to end.

    .venv/bin/python bench/teacher_throughput.py [--questions 8] [--samples 2] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx

from cotdistill.tasks import load_task
from cotdistill.teachers import SamplingParams, TeachConfig, teach

RESULTS = Path(__file__).resolve().parent / "results"
OVERLOADED = ("Load average {load:.1f} on {cpus} CPUs: other jobs competed for the CPUs during this run, so absolute "
              "speeds are far below a quiet machine's (and vary run to run); compare rows of one run only.")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_server(log_path: Path) -> tuple[subprocess.Popen, str]:
    from cotdistill.models.sources import smollm2_gguf

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 1), "--model_alias", "smollm2"],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                # the first completion pays for paging in the weights: keep it out of the timings
                httpx.post(f"{url}/completions", json={"prompt": "Hello", "max_tokens": 4}, timeout=300)
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("llama.cpp server did not start in 180 s")


def _run(config: TeachConfig, records, **kwargs) -> dict:
    summary = teach(config, records=records, progress=False, **kwargs)
    assert summary.failed_samples == 0, summary
    return {
        "samples": summary.new_samples,
        "requests": summary.requests,
        "completion_tokens": summary.completion_tokens,
        "wall_s": round(summary.wall_s, 3),
        "samples_per_s": round(summary.new_samples / summary.wall_s, 3),
        "completion_tokens_per_s": round(summary.completion_tokens / summary.wall_s, 1),
    }


def bench_server(work: Path, records, samples: int, concurrency: int, max_tokens: int) -> dict:
    process, url = start_llama_server(work / "llama.log")
    try:
        params = SamplingParams(temperature=1.0, max_tokens=max_tokens)
        results = {}
        for level in (concurrency, 1):
            config = TeachConfig(task="synth-arithmetic", teacher="openai", model="smollm2", base_url=url, samples=samples,
                                 params=params, prompt="chat", concurrency=level, store=work / f"server-c{level}.sqlite")
            results[f"concurrency_{level}"] = _run(config, records)
        return results
    finally:
        process.terminate()
        process.wait(30)


def bench_transformers(work: Path, records, samples: int, batch: int, max_tokens: int) -> dict:
    from cotdistill.models import prepare
    from cotdistill.teachers.hf import TransformersBackend

    model = str(prepare("smollm2-135m-instruct"))
    params = SamplingParams(temperature=1.0, max_tokens=max_tokens)
    results = {}
    for label, size in ((f"batched_{batch}", batch), ("one_prompt_at_a_time", 1)):
        backend = TransformersBackend(model, batch_size=size)
        backend._load()  # load outside the timed run
        config = TeachConfig(task="synth-arithmetic", teacher="hf", model=model, samples=samples, params=params,
                             prompt="chat", batch_size=size, concurrency=size, store=work / f"hf-{size}.sqlite")
        results[label] = {**_run(config, records, backend=backend), "generate_calls": backend.batches}
    return results


def bench_cached_rerun(work: Path) -> dict:
    store = work / "cached.sqlite"
    config = TeachConfig(task="synth-arithmetic", teacher="reference", samples=10, limit=100, store=store,
                         task_options={"size": 100})
    filled = teach(config, progress=False)
    assert filled.new_samples == 1000
    rerun = teach(config, progress=False)
    assert rerun.requests == 0 and rerun.already_stored == 1000
    command = [str(Path(sys.executable).parent / "cotdistill"), "teach", "--task", "synth-arithmetic", "--teacher",
               "reference", "--samples", "10", "--limit", "100", "--task-option", "size=100", "--store", str(store), "--quiet", "--json"]
    started = time.perf_counter()
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    cli_wall = time.perf_counter() - started
    assert json.loads(output.stdout)["requests"] == 0
    return {"stored_samples": 1000, "api_rerun_s": round(rerun.wall_s, 4), "cli_rerun_s_including_startup": round(cli_wall, 3),
            "requests": 0}


def _versions() -> dict:
    names = ("cotdistill", "torch", "transformers", "llama_cpp_python", "httpx", "openai")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            found[name] = None
    return {"python": platform.python_version(), **found}


def concurrency_note(server: dict, concurrency: int) -> str:
    """What concurrency bought against this server, as measured, and why it buys little here."""
    gain = server[f"concurrency_{concurrency}"]["samples_per_s"] / server["concurrency_1"]["samples_per_s"]
    return (f"Concurrency {concurrency} gave {gain:.2f}x the samples/s of one request at a time. llama-cpp-python's "
            "server decodes one request at a time, so concurrency can only overlap HTTP and parsing with decoding "
            "(and on 2 cores the waiting requests compete with the decoder for them); servers with continuous "
            "batching (vLLM, SGLang, TGI) are where concurrency pays.")


def write_markdown(result: dict, path: Path) -> None:
    lines = [
        "# Teacher sampling throughput",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs ({result['machine']['processor']}), "
        f"load average at start {result['machine']['load_average_at_start']} (other jobs share these CPUs)  ",
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}  ",
        f"Total wall time: {result['wall_s']:.1f} s. Setup: {result['setup']}",
        "",
        "| measurement | samples | requests | wall s | samples/s | completion tokens/s |",
        "|---|---|---|---|---|---|",
    ]
    for group in ("llama_cpp_server", "transformers"):
        for label, row in result.get(group, {}).items():
            if isinstance(row, dict):
                lines.append(f"| {group}: {label} | {row['samples']} | {row['requests']} | {row['wall_s']} | "
                             f"{row['samples_per_s']} | {row['completion_tokens_per_s']} |")
    cached = result["cached_rerun"]
    lines += ["", f"Cached re-run over {cached['stored_samples']} stored samples: {cached['api_rerun_s']} s through the "
              f"Python API, {cached['cli_rerun_s_including_startup']} s through the CLI (process start included); "
              f"{cached['requests']} requests."]
    for note in result.get("notes", []):
        lines += ["", note]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    records = load_task("synth-arithmetic", "train", size=max(20, args.questions))[: args.questions]
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": _versions(),
        "setup": f"{args.questions} synth-arithmetic questions x {args.samples} samples, chat prompt, temperature 1.0, "
                 f"max_tokens {args.max_tokens}",
        "notes": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if not args.skip_server:
            result["llama_cpp_server"] = bench_server(work, records, args.samples, args.concurrency, args.max_tokens)
            result["notes"].append(concurrency_note(result["llama_cpp_server"], args.concurrency))
        if not args.skip_transformers:
            result["transformers"] = bench_transformers(work, records, args.samples, args.concurrency, args.max_tokens)
        result["cached_rerun"] = bench_cached_rerun(work)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    busy = max(result["machine"]["load_average_at_start"][0], os.getloadavg()[0])
    if busy > (os.cpu_count() or 1):
        result["notes"].append(OVERLOADED.format(load=busy, cpus=os.cpu_count()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "teacher_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, RESULTS / "teacher_throughput.md")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
