"""Decoding speed near the machine's limit, measured before changing it (not a test): bench/results/<name>.{md,json}.

Each student folder (a `cotdistill train` folder, loaded by the package and prompted and stopped as `cotdistill
eval` does) decodes the same questions, side by side in one run, on the CPU (medians over --repeats, each after
one untimed warm-up):
  - generate rows: today's path (`generate_batch` with eval's DecodeSettings) at each batch size, then one
    transformers option at a time: bf16 weights, eager attention, a static KV cache, no stop-string criterion,
    static cache + torch.compile; and llama.cpp (llama-cpp-python, an f16 GGUF of the same merged weights);
  - forward rows: the model's own cost without generate(): one forward on the prompt (prefill), then one-token
    forwards with a KV cache, each timed; llama.cpp's own prefill and per-token counters beside them;
  - the bound: weight bytes read per step / the bandwidth of a 1 GiB tensor copy on this machine;
  - a cProfile of one generate_batch call at the largest batch: where a decoding step's time goes.

    .venv/bin/python bench/decode.py --threads 2 \\
        --model runs/suite-router/cells/mixed__post-thinking__k1__noise0__seed0/model \\
        --model runs/suite-router/cells/mixed__pre-thinking__k1__noise0__seed0/model
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import os
import pstats
import shlex
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult

# The module, not its names: the no-stop-strings row swaps generation.text_stops for the time of its calls.
from cotdistill.evaluation import generation


@dataclass(frozen=True)
class Variant:
    """One way to decode the same student; a field at its default is today's path."""

    name: str
    dtype: torch.dtype = torch.float32  # the package loads students in float32
    attn: str | None = None  # None: the loader's choice (sdpa)
    cache: str | None = None  # generation_config.cache_implementation; None: dynamic
    compile: bool = False
    stops: bool = True  # False: generate() gets no stop-string criterion (trim_row still cuts at the stop)


VARIANTS = {v.name: v for v in (
    Variant("today"), Variant("bf16", dtype=torch.bfloat16), Variant("eager", attn="eager"),
    Variant("static-cache", cache="static"), Variant("no-stop-strings", stops=False),
    Variant("static+compile", cache="static", compile=True),
)}  # fmt: skip
OWN_FORWARD = ("today", "bf16", "eager")  # the variants whose forward differs: each gets forward rows


@dataclass
class Student:
    label: str
    folder: Path
    prompts: list[str]
    settings: generation.DecodeSettings  # eval's
    text_stops: tuple[str, ...]  # the stops generate() matches as text (an EOS-text stop is left to the EOS id)


def load_student(folder: Path, records, max_new_tokens: int) -> Student:
    """Prompts and DecodeSettings exactly as eval's decode_and_score builds them (logprobs: answer-first)."""
    from transformers import AutoTokenizer

    from cotdistill.evaluation.evaluate import EvalOptions, decode_settings
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    strategy = strategy_from_metadata(read_model_metadata(folder))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    settings = decode_settings(strategy, tokenizer, EvalOptions(max_new_tokens=max_new_tokens))
    return Student(strategy.name, folder, [strategy.prompt(r) for r in records], settings,
                   generation.text_stops(tokenizer, settings.stop_strings, settings.eos_count))


def load_model(folder: Path, variant: Variant):
    """serve's loader (any LoRA adapter merged), then the variant's transformers options."""
    from cotdistill.export.student import load_merged_student

    model, tokenizer = load_merged_student(folder, dtype=variant.dtype)
    generation.prepare_tokenizer(tokenizer)
    if variant.attn:
        model.set_attn_implementation(variant.attn)
    if variant.cache:
        model.generation_config.cache_implementation = variant.cache
    if variant.compile:  # generate() compiles its decoding forward itself given a static cache; a CPU must opt in
        from transformers import CompileConfig

        model.generation_config.compile_config = CompileConfig(mode="default")
        model.generation_config.compile_config._compile_all_devices = True
    return model.eval(), tokenizer


class ForwardTimer:
    """Times the model's forward calls inside generate(), the prefills (many tokens) apart from the decoding steps
    (one token): what is left of generate()'s time is its own work around the model."""

    def __init__(self, model):
        self.prefill_s = self.step_s = 0.0
        self.prefills = self.steps = 0
        model.register_forward_pre_hook(self._start, with_kwargs=True)
        model.register_forward_hook(self._stop, with_kwargs=True)

    def _start(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self._one_token, self._started = ids is not None and ids.shape[1] == 1, time.perf_counter()

    def _stop(self, module, args, kwargs, output) -> None:
        took = time.perf_counter() - self._started
        if self._one_token:
            self.step_s, self.steps = self.step_s + took, self.steps + 1
        else:
            self.prefill_s, self.prefills = self.prefill_s + took, self.prefills + 1

    def totals(self) -> tuple[float, float, int, int]:
        return self.prefill_s, self.step_s, self.prefills, self.steps


@contextmanager
def without_stop_criterion():
    """generate_batch asks `text_stops` which stop strings generate() should watch; answered none, rows run on to
    EOS or the length limit and trim_row still cuts them at the stop: the same texts and tokens, more steps."""
    saved, generation.text_stops = generation.text_stops, lambda *args, **kwargs: ()
    try:
        yield
    finally:
        generation.text_stops = saved


def decode_all(model, tokenizer, prompts: list[str], settings: generation.DecodeSettings, batch: int) -> tuple[float, float, list]:
    """Every prompt through generate_batch: (wall s, generate_batch's own seconds, one Generation per prompt).
    The wall time adds tokenizing and trim_row, which every caller pays too."""
    wall = inner = 0.0
    rows = []
    for start in range(0, len(prompts), batch):
        started = time.perf_counter()
        generations, seconds = generation.generate_batch(model, tokenizer, prompts[start : start + batch], settings)
        wall += time.perf_counter() - started
        inner += seconds
        rows += [g[0] for g in generations]
    return wall, inner, rows


def measure_generate(model, tokenizer, student: Student, batch: int, repeats: int, timer: ForwardTimer | None) -> dict:
    decode_all(model, tokenizer, student.prompts[:batch], student.settings, batch)  # warm-up
    before = timer.totals() if timer else None
    runs = [decode_all(model, tokenizer, student.prompts, student.settings, batch) for _ in range(repeats)]
    wall, inner, rows = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2]
    tokens = sum(g.n_tokens for g in rows)
    found = {"batch": batch, "tokens": tokens, "tokens_per_s": tokens / wall, "ms_per_question": 1000 * wall / len(rows),
             "outside_generate_ms": 1000 * (wall - inner) / len(rows), "texts": [g.text for g in rows]}
    if timer:  # per pass over the questions
        prefill_s, step_s, prefills, steps = ((now - then) / repeats for now, then in zip(timer.totals(), before))
        found.update(forwards=prefills + steps, ms_per_step=1000 * inner / (prefills + steps),
                     forward_ms_per_step=1000 * step_s / max(steps, 1),
                     own_ms_per_forward=1000 * (inner - prefill_s - step_s) / (prefills + steps))
    else:  # a compiled forward bypasses the hooks: each batch ran until its longest kept row ended
        forwards = sum(max(g.n_tokens for g in rows[i : i + batch]) for i in range(0, len(rows), batch))
        found.update(forwards=forwards, ms_per_step=1000 * inner / forwards, forward_ms_per_step=None, own_ms_per_forward=None)
    return found


def time_prefill_and_steps(model, tokenizer, prompts: list[str], steps: int) -> tuple[float, list[float]]:
    """One forward on the left-padded prompts, then `steps` greedy one-token forwards with a KV cache:
    the model's own cost, without logits processors, stopping criteria or generate()'s bookkeeping."""
    from transformers import DynamicCache

    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    mask = encoded["attention_mask"]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as generate() derives them under left padding
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        started = time.perf_counter()
        out = model(input_ids=encoded["input_ids"], attention_mask=mask, position_ids=positions, cache=cache,
                    use_cache=True, logits_to_keep=1)  # fmt: skip
        next_ids = out.logits[:, -1].argmax(-1, keepdim=True)
        prefill, step_times = time.perf_counter() - started, []
        for _ in range(steps):
            started = time.perf_counter()
            mask = torch.cat([mask, mask.new_ones(len(prompts), 1)], dim=-1)
            positions = positions[:, -1:] + 1
            out = model(input_ids=next_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
            next_ids = out.logits[:, -1].argmax(-1, keepdim=True)
            step_times.append(time.perf_counter() - started)
    return prefill, step_times


def measure_forward(model, tokenizer, prompts: list[str], batch: int, steps: int, repeats: int) -> dict:
    time_prefill_and_steps(model, tokenizer, prompts[:batch], 2)  # warm-up
    runs = [time_prefill_and_steps(model, tokenizer, prompts[:batch], steps) for _ in range(repeats)]
    step_ms = 1000 * statistics.median(statistics.median(r[1]) for r in runs)
    return {"batch": batch, "prompt_tokens": len(tokenizer(prompts[:batch], padding=True)["input_ids"][0]),
            "prefill_ms": 1000 * statistics.median(r[0] for r in runs), "step_ms": step_ms,
            "tokens_per_s": batch * 1000 / step_ms, "weight_mb": weight_bytes(model) / 1e6}  # fmt: skip


def weight_bytes(model) -> int:
    """What a decoding step reads: every parameter once (the tied embedding is read whole as the LM head)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def copy_bandwidth(gib: float = 1.0, repeats: int = 5) -> float:
    """Bytes moved per second (read + written) by a tensor copy far larger than the caches; the median."""
    src = torch.ones(int(gib * 2**30) // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)  # fault every page in first
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - started)
    return 2 * src.numel() * 4 / statistics.median(times)


def llama_cpp_rows(gguf: Path, student: Student, args) -> tuple[dict, dict]:
    """Each question alone (llama-cpp-python decodes one sequence at a time), greedy, the student's text stops
    (llama.cpp stops at EOS itself); prefill and per-token times from llama.cpp's own counters."""
    import llama_cpp

    llm = llama_cpp.Llama(str(gguf), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads, verbose=False)

    def one_pass() -> tuple[float, list[str], int, list]:
        wall, texts, tokens, counters = 0.0, [], 0, []
        for prompt in student.prompts:
            llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
            started = time.perf_counter()
            out = llm.create_completion(prompt, max_tokens=args.max_new_tokens, temperature=0.0, stop=list(student.text_stops) or None)
            wall += time.perf_counter() - started
            texts.append(out["choices"][0]["text"])
            tokens += out["usage"]["completion_tokens"]
            counters.append(llama_cpp.llama_perf_context(llm._ctx.ctx))
        return wall, texts, tokens, counters

    llm.create_completion(student.prompts[0], max_tokens=4, temperature=0.0)  # warm-up
    runs = [one_pass() for _ in range(args.repeats)]
    wall, (_, texts, tokens, counters) = statistics.median(r[0] for r in runs), runs[-1]
    # A question's first token comes out of its prefill: forwards = tokens decoded one by one + 1 per question.
    forwards = sum(c.n_eval + 1 for c in counters)
    model_ms = sum(c.t_p_eval_ms + c.t_eval_ms for c in counters)
    step_ms = sum(c.t_eval_ms for c in counters) / max(sum(c.n_eval for c in counters), 1)
    generate = {"row": "llama.cpp f16", "batch": 1, "tokens": tokens, "tokens_per_s": tokens / wall,
                "ms_per_question": 1000 * wall / len(texts), "outside_generate_ms": None, "texts": texts, "forwards": forwards,
                "ms_per_step": 1000 * wall / forwards, "forward_ms_per_step": step_ms,
                "own_ms_per_forward": (1000 * wall - model_ms) / forwards}  # fmt: skip
    forward = {"row": "llama.cpp f16", "batch": 1, "prompt_tokens": statistics.median(c.n_p_eval for c in counters),
               "prefill_ms": statistics.median(c.t_p_eval_ms for c in counters), "step_ms": step_ms,
               "tokens_per_s": 1000 / step_ms, "weight_mb": gguf.stat().st_size / 1e6}
    return generate, forward


def code_key(function) -> tuple:
    """The key cProfile files a Python function under."""
    code = inspect.unwrap(function).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def profile_generate(model, tokenizer, prompts: list[str], settings: generation.DecodeSettings) -> dict:
    """One generate_batch call under cProfile: named parts (cumulative ms, share) and the top entries by self time.
    cProfile slows Python code more than the kernels it calls: the Python shares read high."""
    from transformers import LogitsProcessorList, StoppingCriteriaList
    from transformers.cache_utils import Cache
    from transformers.generation import StopStringCriteria
    from transformers.masking_utils import create_causal_mask

    profiler = cProfile.Profile()
    profiler.runcall(generation.generate_batch, model, tokenizer, prompts, settings)
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, calls, self s, cumulative s, callers)
    total = stats[code_key(generation.generate_batch)][3]
    torch_ops = sum(v[2] for k, v in stats.items() if k[0] == "~" and "torch" in k[2])  # builtins: torch's C++ calls
    parts = [("generate_batch, all of it", total), ("inside torch operators (kernels and dispatch)", torch_ops),
             ("Python around them", total - torch_ops)]
    named = (("model forward", type(model).forward), ("  causal mask building", create_causal_mask),
             ("  KV cache updates", Cache.update), ("prepare_inputs_for_generation", type(model).prepare_inputs_for_generation),
             ("_update_model_kwargs_for_generation", type(model)._update_model_kwargs_for_generation),
             ("logits processors", LogitsProcessorList.__call__), ("stopping criteria, every step", StoppingCriteriaList.__call__),
             ("stop-string criterion's setup, once a call", StopStringCriteria.__init__),
             ("trim_row (decode, stop search)", generation.trim_row))
    parts += [(label, stats[code_key(f)][3] if code_key(f) in stats else 0.0) for label, f in named]
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {"batch": len(prompts), "parts": [(label, 1000 * s, s / total) for label, s in parts],
            "top_self": [f"{v[2] * 1000:9.1f} ms self {v[1]:7d} calls  {Path(k[0]).name}:{k[1]}({k[2]})" for k, v in top]}


def run_variant(student: Student, variant: Variant, args, result: BenchResult, notes: list[str], reference: dict) -> None:
    """The variant's generate rows at each batch size (+ forward rows, + the profile for today's path)."""
    model, tokenizer = load_model(student.folder, variant)
    timer = None if variant.compile else ForwardTimer(model)
    if variant.name == "today":
        notes.append(f"{student.label}: today's path: {model.dtype}, attention '{model.config._attn_implementation}', "
                     f"stops {list(student.settings.stop_strings)} (watched as text: {list(student.text_stops)}), "
                     f"eos_count {student.settings.eos_count}, logprobs {student.settings.logprobs}")
    with nullcontext() if variant.stops else without_stop_criterion():
        if variant.compile:  # a first call that compiles for minutes is a note, not a row
            started = time.perf_counter()
            decode_all(model, tokenizer, student.prompts[:1], student.settings, 1)
            took = time.perf_counter() - started
            notes.append(f"{student.label}: static+compile: its first call took {took:.0f} s (compiling; less where this "
                         "process or the on-disk inductor cache compiled the same code before)"
                         + (f", over --compile-budget-s {args.compile_budget_s:.0f}: not measured" if took > args.compile_budget_s
                            else "; a new shape recompiles, inside the timed runs"))
            if took > args.compile_budget_s:
                return
        for batch in args.batch_sizes:
            found = measure_generate(model, tokenizer, student, batch, args.repeats, timer)
            if variant.name == "today":  # the reference for every other row; its own rows: against its first batch size
                reference[batch] = found["texts"]
            base = reference.get(args.batch_sizes[0] if variant.name == "today" else batch)
            found.update(kind="generate", student=student.label, row=variant.name, differ=differ(found["texts"], base, student))
            result.rows.append(found)
            print(f"{student.label:14s} {variant.name:16s} b={batch}: {found['tokens_per_s']:6.1f} tok/s, {found['ms_per_question']:7.0f} "
                  f"ms/question, {found['ms_per_step']:5.1f} ms/step, {found['forwards']:.0f} forwards, differ {found['differ']}",
                  flush=True)
    if variant.name in OWN_FORWARD:
        for batch in args.batch_sizes:
            found = measure_forward(model, tokenizer, student.prompts, batch, args.max_new_tokens, args.repeats)
            result.rows.append({"kind": "forward", "student": student.label, "row": f"forward {variant.name}", **found})
            print(f"{student.label:14s} forward {variant.name:8s} b={batch}: prefill {found['prefill_ms']:.1f} ms, "
                  f"{found['step_ms']:.1f} ms/step", flush=True)
    if variant.name == "today":
        result.extra.setdefault("profiles", {})[student.label] = profile_generate(
            model, tokenizer, student.prompts[: max(args.batch_sizes)], student.settings)


def differ(texts: list[str], base: list[str] | None, student: Student) -> int | None:
    """How many outputs are not the reference's text (a trailing stop string and outer spaces aside: llama.cpp
    leaves the stop out, trim_row keeps it)."""
    def clean(text: str) -> str:
        return next((text[: -len(s)] for s in student.settings.stop_strings if s and text.endswith(s)), text).strip()

    return None if base is None else sum(clean(a) != clean(b) for a, b in zip(texts, base))


def bench_student(student: Student, gguf: Path | None, args, work: Path, result: BenchResult, notes: list[str]) -> None:
    reference: dict[int, list[str]] = {}  # today's texts per batch size
    for variant in (VARIANTS[name] for name in args.variants):
        if not variant.stops and not student.text_stops:
            notes.append(f"{student.label}: no-stop-strings not run: no stop string is watched as text (EOS ends the rows)")
            continue
        try:
            run_variant(student, variant, args, result, notes, reference)
        except Exception as error:  # noqa: BLE001 - a variant that does not run on this machine is a note
            notes.append(f"{student.label}: {variant.name} failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        gc.collect()
    if args.no_llama_cpp:
        return
    try:
        if gguf is None:
            from cotdistill.export import export_model

            gguf = export_model(student.folder, work / student.label, "gguf", quantization="f16").files[0]
        generate, forward = llama_cpp_rows(gguf, student, args)
    except Exception as error:  # noqa: BLE001
        notes.append(f"{student.label}: llama.cpp failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        return
    generate.update(kind="generate", student=student.label, differ=differ(generate["texts"], reference.get(1), student))
    result.rows += [generate, {"kind": "forward", "student": student.label, **forward}]
    print(f"{student.label:14s} llama.cpp b=1: {generate['tokens_per_s']:6.1f} tok/s, {generate['ms_per_question']:7.0f} "
          f"ms/question, {forward['step_ms']:.1f} ms/step, differ {generate['differ']}", flush=True)


def markdown(result: BenchResult, bandwidth: float, notes: list[str]) -> str:
    x = result.extra
    lines = [("Generate rows: tokens/s and ms/question from the wall time of each call (tokenize, generate, trim_row). "
              "Forwards: the model calls generate() made per pass over the questions (prefills + decoding steps); ms/step: "
              "generate()'s time / forwards; model ms/step: a decoding step's forward alone; generate's own ms/forward: "
              "generate()'s time outside the model's forwards / forwards (llama.cpp: the Python binding's time outside "
              "llama.cpp's counters). differ: outputs whose text is not today's at the same batch size (today's own "
              "rows: at its first batch size; llama.cpp: at batch 1)."), "",
             ("| student | row | batch | tokens | tokens/s | ms/question | forwards | ms/step | model ms/step | "
              "generate's own ms/forward | outside generate, ms/question | differ |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in result.rows if r["kind"] == "generate"):
        cells = [("–" if r[k] is None else f"{r[k]:.1f}") for k in ("forward_ms_per_step", "own_ms_per_forward", "outside_generate_ms")]
        same = "–" if r["differ"] is None else f"{r['differ']}/{len(r['texts'])}"
        lines.append(f"| {r['student']} | {r['row']} | {r['batch']} | {r['tokens']} | {r['tokens_per_s']:.1f} | "
                     f"{r['ms_per_question']:.0f} | {r['forwards']:.0f} | {r['ms_per_step']:.1f} | {' | '.join(cells)} | {same} |")
    lines += ["", (f"Forward rows: the prefill, then one-token forwards with a KV cache (the median step). Bound: weight "
                   f"bytes read per step / {bandwidth / 1e9:.1f} GB/s, a 1 GiB tensor copy here (read + write)."), "",
              "| student | row | batch | prompt tokens | prefill ms | ms/step | tokens/s | weights MB | bound ms/step | step / bound |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in result.rows if r["kind"] == "forward"):
        bound = r["weight_mb"] * 1e9 / bandwidth
        lines.append(f"| {r['student']} | {r['row']} | {r['batch']} | {r['prompt_tokens']:.0f} | {r['prefill_ms']:.1f} | "
                     f"{r['step_ms']:.1f} | {r['tokens_per_s']:.1f} | {r['weight_mb']:.0f} | {bound:.1f} | {r['step_ms'] / bound:.1f}x |")
    for label, profile in x.get("profiles", {}).items():
        lines += ["", (f"Where generate's time goes: {label}, today's path, batch {profile['batch']}, one call under "
                       "cProfile (cumulative; an indented part is inside the one above it)."), "", "| part | ms | share |",
                  "|---|---:|---:|"]
        lines += [f"| {name} | {ms:.0f} | {share:.0%} |" for name, ms, share in profile["parts"]]
        lines += ["", "Top entries by self time:", "", "```", *profile["top_self"], "```"]
    lines += ["", f"Reproduce: `{x['command']}`", "", "Notes:", "",
              (f"- {x['questions']} questions of {x['task']} ({x['split']}), greedy, at most {x['max_new_tokens']} new "
               f"tokens, {x['threads']} thread(s), medians over {x['repeats']} repeats after one warm-up. Load average at "
               f"start/end: {x['load_average'][0]:.1f} / {os.getloadavg()[0]:.1f}."),
              ("- llama.cpp: llama-cpp-python decodes one sequence at a time, so batch 1 only. Its tokens leave out the EOS "
               "that ended a row (ours count it); its prefill skips the prompt prefix the previous question shared."),
              *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, type=Path, help="a student folder; repeatable")
    p.add_argument("--gguf", action="append", default=[], type=Path,
                   help="an f16 GGUF of the --model in the same position (default: exported to a temp folder)")
    p.add_argument("--task", default="synth-coin-flip", help="a real task needs --data-dir or COTDISTILL_DATA")
    p.add_argument("--split", default="test")
    p.add_argument("--data-dir", default=os.environ.get("COTDISTILL_DATA"))
    p.add_argument("--task-option", action="append", default=[], help="KEY=VALUE")
    p.add_argument("--questions", type=int, default=16)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                   help="the generate rows, 'today' first (the others are compared with it)")
    p.add_argument("--compile-budget-s", type=float, default=180, help="a longer first compiled call: a note, not a row")
    p.add_argument("--no-llama-cpp", action="store_true")
    p.add_argument("--name", default="decode")
    args = p.parse_args()
    if args.variants[0] != "today":
        p.error("--variants must start with 'today'")

    from cotdistill.cli.evaluate import parse_task_options
    from cotdistill.tasks import load_task

    torch.set_num_threads(args.threads)
    records = load_task(args.task, args.split, limit=args.questions, data_dir=args.data_dir, **parse_task_options(args.task_option))
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    result = BenchResult(args.name, extra={"task": args.task, "split": args.split, "questions": len(records), "threads": args.threads,
                                           "repeats": args.repeats, "max_new_tokens": args.max_new_tokens,
                                           "load_average": os.getloadavg(), "command": command})  # fmt: skip
    bandwidth = copy_bandwidth()
    result.extra["copy_bandwidth_gb_s"] = bandwidth / 1e9
    print(f"tensor copy: {bandwidth / 1e9:.1f} GB/s (read + write)", flush=True)
    notes: list[str] = []
    students: list[Student] = []
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as work:
        for index, folder in enumerate(args.model):
            student = load_student(folder, records, args.max_new_tokens)
            if any(s.label == student.label for s in students):
                student.label = f"{student.label} ({folder.parent.name})"
            students.append(student)
            bench_student(student, args.gguf[index] if index < len(args.gguf) else None, args, Path(work), result, notes)
    result.extra["students"] = [{"label": s.label, "folder": str(s.folder), "stop_strings": list(s.settings.stop_strings)}
                                for s in students]  # fmt: skip
    result.extra["notes"] = notes
    print(result.write(markdown(result, bandwidth, notes)))


if __name__ == "__main__":
    main()
