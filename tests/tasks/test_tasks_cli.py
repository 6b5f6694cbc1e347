"""`cotdistill tasks list` and `cotdistill tasks show`, through typer's CliRunner and the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.records import Record

runner = CliRunner()


def test_tasks_list_shows_every_task_with_its_answer_type():
    result = runner.invoke(app, ["tasks", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("svamp", "cqa", "svamp-mcc", "gsm8k", "last-letters", "synth-arithmetic", "jsonl:<...>", "hf:<...>"):
        assert name in result.output
    assert "multiple_choice" in result.output and "numeric" in result.output


def test_show_json_prints_one_record_a_line(shared_data):
    result = runner.invoke(app, ["tasks", "show", "svamp", "--split", "train", "--limit", "2", "--json",
                                 "--data-dir", str(shared_data)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    records = [Record.from_json(line) for line in lines]
    assert [r.answer for r in records] == ["42", "210"]
    assert all(len(r.rationales) == 1 and "The answer is" in r.rationales[0] and "\n\nQ:" not in r.rationales[0]
               for r in records)


def test_show_reads_the_data_dir_from_the_environment(shared_data):
    result = runner.invoke(app, ["tasks", "show", "gsm8k", "-n", "1", "--json"],
                           env={"COTDISTILL_DATA": str(shared_data)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"] == "72"


def test_show_readable_view_with_task_options():
    result = runner.invoke(app, ["tasks", "show", "synth-shuffled-objects", "-n", "1", "-o", "n_people=4",
                                 "-o", "seed=2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Answer Choices:" in result.output and "answer: (" in result.output and "rationale 1/1" in result.output


def test_the_entry_point_prints_one_line_errors_and_exits_2(tmp_path):
    command = [sys.executable, "-c", "from cotdistill.cli import main; main()"]
    unknown = subprocess.run(command + ["tasks", "show", "svamq"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown task 'svamq'" in unknown.stderr and "svamp" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    missing = subprocess.run(command + ["tasks", "show", "svamp"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "--data-dir" in missing.stderr and "COTDISTILL_DATA" in missing.stderr
    bad = subprocess.run(command + ["tasks", "show", "synth-coin-flip", "-o", "size"], capture_output=True, text=True)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
