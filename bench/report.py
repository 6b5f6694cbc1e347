"""The real-data benchmarks' reports: rows averaged over seeds, the diagnostic findings, and
bench/results/<name>.{md,json} with their tables and plots."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from common import BenchResult


def first_characters(answers: list[str | None] | None, prefix: str = "") -> dict:
    """The commonest first character of the answers and its share. SmolLM2 writes numbers digit by
    digit, so the first thing an answer-first student decides is the leading digit: a student that
    learnt only the training prior starts nearly every answer with the commonest leading digit."""
    firsts = [a[0] for a in answers or () if a]
    if not firsts:
        return {}
    top, count = Counter(firsts).most_common(1)[0]
    return {f"{prefix}first_char": top, f"{prefix}first_char_share": round(count / len(firsts), 3)}


def diagnostic_findings(rows: list[dict], baselines: dict) -> list[str]:
    """Why accuracy is what it is, per dataset: how often each strategy starts its answers with its
    favourite character, beside the training answers' share (far above it: a collapsed student), and
    the answer-first students' gold-answer likelihood (finer than greedy accuracy)."""
    out = []
    for dataset, base in baselines.items():
        shares = mean_by([r for r in rows if r["dataset"] == dataset and "first_char_share" in r], "strategy")
        if not shares or "train_first_char" not in base:
            continue
        parts = ", ".join(f"{s} {100 * m['first_char_share']:.0f}%" for (s,), m in shares.items())
        out.append(f"{dataset}: share of answers that start with the student's favourite character: {parts}; "
                   f"the training answers start with \"{base['train_first_char']}\" "
                   f"{100 * base['train_first_char_share']:.0f}% of the time (a share near 100% is a student that "
                   "learnt that prior, not to solve the question)")
        nll = {s: m["mean_answer_nll"] for (s,), m in shares.items() if "mean_answer_nll" in m}
        if nll:
            out.append(f"{dataset}: -log p(gold answer | question), nats, answer-first students (lower = the student "
                       "finds the right answer likelier, even where greedy accuracy cannot show it): "
                       + ", ".join(f"{s} {v:.2f}" for s, v in sorted(nll.items(), key=lambda kv: kv[1])))
    return out


def constant(baseline: dict, prefix: str = "") -> str:
    """'14.0% ("1")': a constant answer's accuracy and the answer."""
    return f"{100 * baseline[prefix + 'accuracy']:.1f}% (\"{baseline[prefix + 'answer']}\")"


def mean_by(rows: list[dict], *keys: str) -> dict[tuple, dict]:
    """Finished rows averaged over seeds, keyed by `keys`: accuracy, tokens and latency means, the
    number of seeds, and a 95% Wilson interval over every seed's questions pooled (`ci95_pooled`)."""
    from cotdistill.evaluation.metrics import wilson_interval

    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("status") == "ok":
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = {}
    for key, members in groups.items():
        n = sum(m["n"] for m in members)
        correct = sum(round(m["accuracy"] * m["n"]) for m in members)
        out[key] = {"seeds": len(members), "ci95_pooled": wilson_interval(correct, n), **{
            field: sum(m[field] for m in members) / len(members)
            for field in ("accuracy", "mean_generated_tokens", "mean_latency_s", "first_char_share", "mean_answer_nll")
            if all(m.get(field) is not None for m in members)}}
    return out


def compare(a: dict, b: dict) -> str:
    """' (significant)' or ' (within the 95% intervals)' for two mean_by entries."""
    (a_low, a_high), (b_low, b_high) = a["ci95_pooled"], b["ci95_pooled"]
    overlap = a_low <= b_high and b_low <= a_high
    return " (the 95% intervals overlap: not a clear difference at this scale)" if overlap else " (intervals apart)"


def write_results(name: str, rows: list[dict], settings, args, findings: list[str], baselines: dict,
                  descriptions: dict[str, str], notes: str = "", quiet: bool = False) -> Path:
    """bench/results/<name>.{md,json} (provenance by BenchResult) and the report tables + plots in
    results/<name>/; `settings` are realdata.Settings, `descriptions` name each dataset's data."""
    from cotdistill.reports import render_report

    findings = findings + diagnostic_findings(rows, baselines)
    result = BenchResult(name)
    result.started = args.started
    result.rerender = args.report_only
    result.rows = rows
    result.extra = {"quick": args.quick, "smoke_scale": args.quick, "student": settings.student,
                    "eval_split": settings.split, "data_dir": str(settings.data_dir),
                    "scales": {d: asdict(s) for d, s in settings.scales.items()},
                    "curation": {"filter": settings.filter, "label": "gold", "dedup": True,
                                 "noise_kind": settings.noise_kind, "data_seed": settings.data_seed},
                    "findings": findings,
                    "constant_baselines": baselines,
                    # wall_time_s is this invocation's; cells cached from earlier runs took this long in all:
                    "cells_seconds_total": round(sum(r.get("cell_seconds") or 0 for r in rows), 1),
                    # a re-render keeps the load of the run that timed the cells
                    "load_average_1_5_15min": result.earlier_run(args.results).get("load_average_1_5_15min")
                    or [round(x, 2) for x in os.getloadavg()]}
    figures = args.results / name
    report = render_report([r for r in rows], figures, title=name)
    tables = report.read_text().split("\n", 1)[1].replace("](", f"]({name}/")
    scale_lines = "\n".join(
        f"| {d} | {descriptions[d]} | {s.train_questions} | {s.test_questions or 'all'} | {s.epochs:g} | "
        f"{s.lr:g} | {s.max_new_tokens} | {constant(baselines[d])} | {constant(baselines[d], 'best_')} |"
        for d, s in settings.scales.items())
    warning = ("**Quick mode: a smoke-scale result** (the few training and test questions in the table below); "
               "it shows the pipeline works on real teacher data, not what the methods can reach. "
               "Run without `--quick` for the full numbers.\n\n" if args.quick else "")
    cached = (f"Compute in the cells (training + evaluation, summed, including cells cached from earlier "
              f"invocations): {result.extra['cells_seconds_total'] / 60:.1f} min; machine load average when the run ended "
              f"{result.extra['load_average_1_5_15min']} on {os.cpu_count()} cores (timings on a shared machine "
              f"are slower than on an idle one).\n\n")
    body = (warning + notes + cached +
            f"Student {settings.student} with "
            f"{f'LoRA r={next(iter(settings.scales.values())).lora_r}' if settings.lora else 'full fine-tuning'}, bf16 autocast; "
            f"evaluated on the **{settings.split}** split (seeded subset); curation: "
            f"{'correct-only' if settings.filter == 'correct' else 'all'} rationales, gold labels, dedup, "
            f"noise kind `{settings.noise_kind}` where noise > 0.\n\n"
            "| dataset | data | train questions | eval questions | epochs | lr | max new tokens | constant answer "
            "| best constant |\n"
            "|---|---|---:|---:|---:|---:|---:|---|---|\n" + scale_lines + "\n\n"
            "*Constant answer*: the accuracy of always giving the most frequent answer of the training questions, "
            "the floor for a student that learnt only the answer distribution; *distinct* in the rows: how many "
            "different answers a student gave (a student stuck on a few guesses gives few). *Best constant*: the best "
            "any single answer could score on the evaluated questions (read off their gold answers; a diagnostic, "
            "never used to choose anything): a student below it may be guessing, not solving.\n\n" +
            ("## Findings\n\n" + "\n".join(f"- {f}" for f in findings) + "\n\n" if findings else "") +
            tables + "\n## Rows\n\n" + rows_table(rows) + "\n")
    path = result.write(body, results_dir=args.results)
    if not quiet:
        print(body, flush=True)
    return path


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _first_char_cell(row: dict) -> str:
    return f"\"{row['first_char']}\" {100 * row['first_char_share']:.0f}%" if "first_char" in row else ""


def rows_table(rows: list[dict]) -> str:
    lines = ["| dataset | strategy | seed | noise | k | n | accuracy | ci95 | distinct | first char | answer NLL | "
             "tokens/q | latency/q (s) | train ex | train s |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['dataset']} | {r['strategy']} | {r['seed']} | {r['noise']:g} | "
                         f"{r['samples_per_question']} | failed: {r.get('error', '')[:120]} ||||||||||")
            continue
        lines.append(f"| {r['dataset']} | {r['strategy']} | {r['seed']} | {r['noise']:g} | {r['samples_per_question']} | "
                     f"{r['n']} | {100 * r['accuracy']:.1f} | [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}] | "
                     f"{r.get('distinct_answers', '')} | {_first_char_cell(r)} | {_number(r.get('mean_answer_nll'))} | {r['mean_generated_tokens']:.1f} | {r['mean_latency_s']:.3f} | {r.get('train_examples')} | "
                     f"{r.get('train_seconds')} |")
    return "\n".join(lines)
