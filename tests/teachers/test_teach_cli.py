"""`cotdistill teach | curate | import` end to end through the CLI (offline reference teacher)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cotdistill.cli import app

runner = CliRunner()


def test_teach_then_curate(tmp_path):
    store, out = tmp_path / "s.sqlite", tmp_path / "data"
    args = ["teach", "--task", "synth-coin-flip", "--task-option", "size=30", "--teacher", "reference", "--samples", "4",
            "--limit", "10", "--error-rate", "0.25", "--store", str(store), "--quiet", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["new_samples"] == 40 and summary["synthetic"] is True
    second = json.loads(runner.invoke(app, args).stdout)
    assert second["requests"] == 0 and second["already_stored"] == 40
    result = runner.invoke(app, ["curate", "--store", str(store), "--out", str(out), "--max-per-question", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    lines = (out / "train.jsonl").read_text().splitlines()
    assert manifest["counts"]["kept"] == len(lines) <= 20 and manifest["task"] == "synth-coin-flip"
    assert manifest["counts"]["sampled"] == 40 and manifest["answer_type"] == "yes_no"
    assert all(json.loads(line)["meta"]["synthetic"] for line in lines)
    assert f"kept {len(lines)} of 40 samples" in result.output


def test_bad_options_are_listed_together(tmp_path):
    result = runner.invoke(app, ["teach", "--task", "synth-coin-flip", "--teacher", "openai", "--store", str(tmp_path / "s"),
                                 "--prompt", "few-shot-cot", "--shard", "4/2"])
    assert result.exit_code != 0
    message = str(result.exception)
    for expected in ("needs --model", "needs --exemplars", "needs --base-url", "0 <= i < n"):
        assert expected in message


def test_import_jsonl(tmp_path):
    source = tmp_path / "t.jsonl"
    source.write_text(json.dumps({"id": "a", "question": "1+1?", "answer": "2", "answer_type": "numeric",
                                  "rationales": ["1 + 1 = 2. The answer is 2."]}) + "\n")
    result = runner.invoke(app, ["import", "--format", "jsonl", "--path", str(source), "--task", "toy", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    assert "imported 1 rationales for 1 questions" in result.output and "1 correct" in result.output
