"""The report renders from a finished run folder: tables with the right numbers, valid PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.errors import CotdistillError, DataError
from cotdistill.reports import collect_rows, render_report, report_run

TASKS = ["synth-last-letters", "synth-coin-flip"]
STRATEGIES = ["pre-thinking", "answer-only", "pst"]  # config order, deliberately not alphabetical
BASE = {"pre-thinking": 0.55, "answer-only": 0.40, "pst": 0.60}


def write_cell(run: Path, task, strategy, seed, noise, k, accuracy, ci, tokens=10.0, latency=0.05, n=50):
    cell_id = f"{task}__{strategy}__k{k}__noise{noise:g}__seed{seed}".replace(".", "p")
    folder = run / "cells" / cell_id
    folder.mkdir(parents=True)
    cell = {"id": cell_id, "task": {"name": task}, "strategy": {"name": strategy, "label": None},
            "seed": seed, "noise": noise, "samples_per_question": k}
    (folder / "cell.json").write_text(json.dumps(cell))
    result = {
        "n": n, "correct": round(accuracy * n), "accuracy": accuracy, "ci95": ci,
        "mean_generated_tokens": tokens, "mean_latency_s": latency, "tokens_per_s": tokens / latency,
        "strategy": strategy, "cell_id": cell_id, "task": task, "seed": seed, "noise": noise,
        "samples_per_question": k, "split": "test",
    }
    (folder / "eval.json").write_text(json.dumps(result, indent=2))
    return folder


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A finished grid: 2 tasks x 3 strategies x 2 seeds x noise {0, 0.2} x k {1, 4}, one failed cell."""
    run = tmp_path / "run"
    (run / "cells").mkdir(parents=True)
    config = {"name": "demo grid", "tasks": [{"name": t} for t in TASKS],
              "strategies": [{"name": s, "label": None} for s in STRATEGIES]}
    (run / "config.json").write_text(json.dumps(config))
    for task in TASKS:
        for strategy in STRATEGIES:
            for noise in (0.0, 0.2):
                for k in (1, 4):
                    for seed in (0, 1):
                        if (task, strategy, noise, k, seed) == ("synth-coin-flip", "pst", 0.2, 1, 1):
                            continue  # this one fails below
                        if (task, strategy, noise, k) == ("synth-coin-flip", "answer-only", 0.0, 4):
                            acc, ci = (0.6, [0.5, 0.7]) if seed == 0 else (0.7, [0.6, 0.8])
                            write_cell(run, task, strategy, seed, noise, k, acc, ci, tokens=3.0 + seed, latency=0.01 * (seed + 1))
                            continue
                        acc = round(BASE[strategy] - 0.5 * noise + 0.05 * k + 0.01 * seed, 4)
                        write_cell(run, task, strategy, seed, noise, k, acc, [max(acc - 0.12, 0), min(acc + 0.12, 1)],
                                   tokens=2.0 if strategy == "answer-only" else 40.0)
    failed = run / "cells" / "synth-coin-flip__pst__k1__noise0p2__seed1"
    failed.mkdir()
    (failed / "cell.json").write_text(json.dumps({"task": {"name": "synth-coin-flip"}, "strategy": {"name": "pst"},
                                                  "seed": 1, "noise": 0.2, "samples_per_question": 1}))
    (failed / "error.json").write_text(json.dumps({"error": "RuntimeError", "message": "CUDA out of memory\nmore",
                                                   "stage": "train"}))
    (run / "cells" / "synth-coin-flip__pst__k4__noise0__seed9").mkdir()  # started, nothing written yet
    return run


def test_collect_rows_reads_every_cell_in_config_order(run_dir):
    rows = collect_rows(run_dir)
    assert len(rows) == 2 * 3 * 2 * 2 * 2  # 47 finished + 1 failed; the empty cell is skipped
    assert [r["status"] for r in rows].count("failed") == 1
    assert [r["task"] for r in rows[:24]] == ["synth-last-letters"] * 24
    assert rows[0]["strategy"] == "pre-thinking" and rows[-1]["strategy"] == "pst"
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["task"] == "synth-coin-flip" and failed["strategy"] == "pst" and failed["seed"] == 1
    assert failed["error"] == "RuntimeError: CUDA out of memory" and failed["stage"] == "train"


def test_report_tables_hold_the_averaged_numbers(run_dir, tmp_path):
    path = render_report(collect_rows(run_dir), tmp_path / "out", title="demo grid")
    text = path.read_text()
    assert text.startswith("# demo grid\n")
    section = text.split("## Accuracy (%): noise 0, 4 samples per question")[1].split("## Accuracy")[0]
    lines = section.strip().splitlines()
    assert lines[0] == "| strategy | synth-last-letters | synth-coin-flip |"
    assert [line.split(" | ")[0] for line in lines[2:5]] == ["| pre-thinking", "| answer-only", "| pst"]
    # answer-only on coin flip: seeds 0.6 [0.5, 0.7] and 0.7 [0.6, 0.8] -> 65.0 ± 10.0, sd 7.1
    assert "| answer-only | 60.5 ± 12.0 (2 seeds, sd 0.7) | 65.0 ± 10.0 (2 seeds, sd 7.1) |" in lines
    cost = section.split("### Tokens and latency per question")[1]
    assert "| answer-only | 2.0 tok, 0.050 s | 3.5 tok, 0.015 s |" in cost
    # noise 0.2, k=1: pst = 0.6 - 0.1 + 0.05 (+0.01 for seed 1); coin flip has only seed 0 finished
    noisy = text.split("## Accuracy (%): noise 0.2, 1 sample per question")[1].split("###")[0]
    assert "| pst | 55.5 ± 12.0 (2 seeds, sd 0.7) | 55.0 ± 12.0 (1 seed) |" in noisy
    assert text.count("## Accuracy (%)") == 4
    assert "## Failed cells\n\n- `synth-coin-flip__pst__k1__noise0p2__seed1` (synth-coin-flip / pst / seed 1) " \
           "during train: RuntimeError: CUDA out of memory" in text


def test_report_writes_four_valid_plots_and_links_them(run_dir, tmp_path):
    out = tmp_path / "out"
    text = render_report(collect_rows(run_dir), out, title="demo grid").read_text()
    for name in ("accuracy_by_strategy.png", "accuracy_vs_tokens.png", "accuracy_vs_noise.png", "accuracy_vs_samples.png"):
        assert f"({name})" in text
        with Image.open(out / name) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 200
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy_by_strategy.png", "accuracy_vs_noise.png", "accuracy_vs_samples.png", "accuracy_vs_tokens.png",
        "report.md", "summary.json",
    ]  # no temporary files left behind
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["summaries"]) == 2 * 3 * 2 * 2 and len(summary["failed"]) == 1


def test_single_slice_rows_from_a_benchmark_get_no_noise_or_samples_plot(tmp_path):
    rows = [
        {"dataset": "svamp", "strategy": "pst", "n": 3, "accuracy": 2 / 3, "ci95": [0.2077, 0.9385],
         "mean_generated_tokens": 5, "mean_latency_s": 1.25},
        {"dataset": "svamp", "strategy": "answer-only", "n": 3, "accuracy": 1 / 3, "ci95": [0.0615, 0.7923],
         "mean_generated_tokens": None, "mean_latency_s": None},
    ]
    text = render_report(rows, tmp_path, title="bench").read_text()
    assert "## Accuracy (%): noise 0\n" in text
    assert "| pst | 66.7 ± 36.5 (1 seed) |" in text and "| answer-only | 33.3 ± 36.5 (1 seed) |" in text
    assert "| pst | 5.0 tok, 1.250 s |" in text and "| answer-only | –, – |" in text
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["accuracy_by_strategy.png", "accuracy_vs_tokens.png"]
    assert "Failed cells" not in text
    assert "on the test questions" in text


def test_latency_measured_on_a_gpu_says_which(tmp_path):
    """Seconds on an H200 and on a 2-core CPU are not comparable: the cost cell names the GPU."""
    rows = [
        {"dataset": "svamp", "strategy": "pst", "n": 3, "accuracy": 2 / 3, "ci95": [0.2, 0.9],
         "mean_generated_tokens": 5, "mean_latency_s": 0.02, "device": "NVIDIA H200"},
        {"dataset": "svamp", "strategy": "answer-only", "n": 3, "accuracy": 1 / 3, "ci95": [0.1, 0.8],
         "mean_generated_tokens": 2, "mean_latency_s": 0.1, "device": "cpu"},
    ]
    text = render_report(rows, tmp_path, title="bench").read_text()
    assert "| pst | 5.0 tok, 0.020 s on NVIDIA H200 |" in text and "| answer-only | 2.0 tok, 0.100 s |" in text


def test_a_self_consistency_run_says_how_it_decoded(tmp_path):
    """A vote over 10 samples reads as plain pre-thinking in the tables: the report says so, greedy runs say nothing."""
    row = {"task": "t", "strategy": "pre-thinking", "n": 4, "accuracy": 0.5, "ci95": [0.15, 0.85],
           "mean_generated_tokens": 700.0, "self_consistency": 10, "temperature": 0.7}
    text = render_report([row], tmp_path / "vote", title="sc").read_text()
    assert "Decoding: self-consistency (10 samples per question at temperature 0.7), the majority answer scored" in text
    greedy = render_report([{**row, "self_consistency": 1, "temperature": None}], tmp_path / "greedy", title="g").read_text()
    assert "Decoding" not in greedy


def test_a_dev_slice_run_says_so(tmp_path):
    row = {"task": "t", "strategy": "pst", "n": 4, "accuracy": 0.5, "ci95": [0.15, 0.85], "eval_split": "dev"}
    text = render_report([row], tmp_path, title="dev").read_text()
    assert "Accuracy in % on the dev slice (held out of training)" in text and "test questions" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"task": "t", "strategy": "s", "n": 5, "ci95": [0.1, 0.2]}, "field 'accuracy': missing a required field"),
        ({"task": "t", "strategy": "s", "n": 5, "accuracy": 0.5, "ci95": 0.1}, "field 'ci95': expected [low, high]"),
        ({"task": "t", "strategy": "s", "n": 5, "accuracy": 50, "ci95": [0.1, 0.2]}, "expected a fraction in [0, 1], got 50"),
        ({"strategy": "s", "n": 5, "accuracy": 0.5, "ci95": [0.1, 0.2]}, "field 'task': missing the task name"),
    ],
)
def test_a_malformed_eval_file_is_named_with_its_field(tmp_path, content, message):
    folder = tmp_path / "cells" / "bad-cell"
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text(json.dumps(content))
    with pytest.raises(DataError) as caught:
        collect_rows(tmp_path)
    assert str(folder / "eval.json") in str(caught.value) and message in str(caught.value)


def test_invalid_json_and_a_non_run_folder_are_clear_errors(tmp_path):
    with pytest.raises(CotdistillError, match="has no cells/ subfolder"):
        collect_rows(tmp_path)
    folder = tmp_path / "cells" / "c"
    folder.mkdir(parents=True)
    (folder / "eval.json").write_text('{"task": "t",\n  "n": }')
    with pytest.raises(DataError, match=r"eval.json:2: not valid JSON"):
        collect_rows(tmp_path)


def test_cli_prints_the_table_and_writes_into_the_run_folder(run_dir):
    result = CliRunner().invoke(app, ["report", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "demo grid" in result.output and "65.0 ± 10.0 (2 seeds, sd 7.1)" in result.output
    assert "accuracy_vs_noise.png" in result.output
    assert (run_dir / "report" / "report.md").is_file() and (run_dir / "report" / "accuracy_by_strategy.png").is_file()


def test_report_run_takes_an_out_folder_and_title(run_dir, tmp_path):
    path = report_run(run_dir, tmp_path / "elsewhere", title="custom")
    assert path == tmp_path / "elsewhere" / "report.md" and path.read_text().startswith("# custom\n")
