"""evaluate() and `cotdistill eval` on tiny-llama students, one per strategy."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from cotdistill.cli import app
from cotdistill.evaluation import EvalOptions, evaluate, predictions_path
from cotdistill.strategies import STRATEGIES, get_strategy

from eval_students import RECORDS

REQUIRED = {"n", "accuracy", "ci95", "mean_generated_tokens", "mean_latency_s", "tokens_per_s", "strategy",
            "distinct_answers", "top_answer_share"}


def token_count(tokenizer_dir, text: str) -> int:
    from transformers import AutoTokenizer

    return len(AutoTokenizer.from_pretrained(tokenizer_dir)(text, add_special_tokens=False)["input_ids"])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_decodes_as_its_metadata_says(name, tiny_llama, tmp_path):
    """An untrained tiny model saved with a strategy's metadata: eval re-creates the strategy, no flags."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_llama, model_dir)
    strategy = get_strategy(name)
    (model_dir / "cotdistill.json").write_text(json.dumps({"strategy": strategy.metadata()}))
    out = tmp_path / "eval.json"
    metrics = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=6, similarity=False), out=out)

    saved = json.loads(out.read_text())
    assert REQUIRED <= set(saved)
    assert saved["strategy"] == name and saved["n"] == len(RECORDS)
    assert saved["stop_strings"] == strategy.stop_strings(explain=False)
    assert 0.0 <= saved["ci95"][0] <= saved["accuracy"] <= saved["ci95"][1] <= 1.0
    assert 0 < saved["mean_generated_tokens"] <= 6 and saved["mean_latency_s"] > 0
    rows = read_jsonl(predictions_path(out))
    assert [r["id"] for r in rows] == [r.id for r in RECORDS]
    assert all(r["generated_tokens"] <= 6 for r in rows)
    assert metrics["accuracy"] == sum(r["correct"] for r in rows) / len(rows)


@pytest.mark.slow
def test_answer_first_decoding_stops_at_the_separator(overfit, tmp_path):
    """The pst student writes 'y EOS r EOS' (EOS is its default separator): without --explain not one
    token past the first EOS; with it, decoding goes on to the second and the rationale is split off."""
    model_dir = overfit("pst")
    out = tmp_path / "explained.json"
    explained = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=40, explain=True, similarity=False), out=out)
    assert explained["stop_strings"] == [] and explained["stopped_by"] == {"eos": 2}
    assert explained["accuracy"] == 1.0
    assert [row["rationale"] for row in read_jsonl(predictions_path(out))] == [r.rationales[0] for r in RECORDS]

    stopped = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=40, similarity=False))
    assert stopped["stopped_by"] == {"eos": 2} and stopped["accuracy"] == 1.0
    # exactly the answer and its EOS: " 5" + EOS per question
    assert stopped["mean_generated_tokens"] == token_count(model_dir, " 5") + 1
    assert explained["mean_generated_tokens"] > token_count(model_dir, " 5") + 5  # the model would have gone on


@pytest.mark.slow
def test_a_text_separator_stops_decoding_where_it_is_written(overfit, tmp_path):
    model_dir = overfit("pst", separator="\n")
    out = tmp_path / "eval.json"
    stopped = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=40, similarity=False), out=out)
    assert stopped["stop_strings"] == ["\n"] and stopped["stopped_by"] == {"stop": 2} and stopped["accuracy"] == 1.0
    assert stopped["mean_generated_tokens"] == token_count(model_dir, " 5") + token_count(model_dir, "\n")
    for row in read_jsonl(predictions_path(out)):
        assert row["output"].endswith("\n") and row["output"].count("\n") == 1
        assert row["rationale"] is None and row["stopped_by"] == ["stop"]
    explained = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=40, explain=True, similarity=False))
    assert explained["stopped_by"] == {"eos": 2} and explained["mean_generated_tokens"] > stopped["mean_generated_tokens"] + 5


@pytest.mark.slow
def test_stopped_outputs_end_at_the_separator_and_carry_no_rationale(overfit, tmp_path):
    out = tmp_path / "eval.json"
    evaluate(overfit("pst"), records=RECORDS, options=EvalOptions(max_new_tokens=40, similarity=False), out=out)
    for row in read_jsonl(predictions_path(out)):
        assert row["output"] == " 5" if row["id"] == "q1" else row["output"] == " 8"
        assert row["rationale"] is None and row["stopped_by"] == ["eos"]


@pytest.mark.slow
def test_pre_thinking_rationales_are_scored_against_the_teacher(overfit, minilm):
    metrics = evaluate(overfit("pre-thinking"), records=RECORDS, options=EvalOptions(max_new_tokens=40))
    assert metrics["accuracy"] == 1.0 and metrics["stopped_by"] == {"eos": 2}
    assert metrics["n_rationales_scored"] == 2
    # the memorised rationales are (nearly) the teacher's own text
    assert metrics["rationale_similarity"] > 0.9


@pytest.mark.slow
def test_self_consistency_votes_over_k_samples(overfit, tmp_path):
    model_dir = overfit("answer-only")
    greedy = evaluate(model_dir, records=RECORDS, options=EvalOptions(max_new_tokens=10, similarity=False))
    out = tmp_path / "sc.json"
    voted = evaluate(model_dir, records=RECORDS, out=out,
                     options=EvalOptions(max_new_tokens=10, similarity=False, self_consistency=3, temperature=0.5))
    assert greedy["accuracy"] == voted["accuracy"] == 1.0
    assert voted["mean_generated_tokens"] == 3 * greedy["mean_generated_tokens"]
    rows = read_jsonl(predictions_path(out))
    assert all(len(r["samples"]) == 3 and len(r["sample_answers"]) == 3 for r in rows)


@pytest.mark.slow
def test_eval_cli_writes_metrics_and_predictions(overfit, tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(r.to_json() + "\n" for r in RECORDS))
    out = tmp_path / "cli" / "eval.json"
    result = CliRunner().invoke(app, [
        "eval", "--model", str(overfit("answer-only")), "--task", f"jsonl:{questions}", "--out", str(out),
        "--batch-size", "1", "--max-new-tokens", "8", "--no-similarity",
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert metrics["accuracy"] == 1.0 and metrics["n"] == 2 and metrics["strategy"] == "answer-only"
    assert "accuracy 1.000" in result.output
    assert len(read_jsonl(out.with_name("eval.predictions.jsonl"))) == 2


@pytest.mark.slow
def test_bfloat16_weights_give_a_student_with_clear_margins_the_same_answers(overfit, tmp_path):
    """Its answers' probabilities move by bfloat16's rounding (so the weights really were bfloat16); its greedy
    tokens do not."""
    rows = {}
    for dtype in ("float32", "bfloat16"):
        out = tmp_path / f"{dtype}.json"
        assert evaluate(overfit("pst"), records=RECORDS, options=EvalOptions(max_new_tokens=10, similarity=False, dtype=dtype),
                        out=out)["dtype"] == dtype  # fmt: skip
        rows[dtype] = read_jsonl(predictions_path(out))
    for full, half in zip(rows["float32"], rows["bfloat16"]):
        assert (half["output"], half["generated_tokens"], half["correct"]) == (full["output"], full["generated_tokens"], True)
        assert half["confidence"]["product"] != full["confidence"]["product"]
        assert half["confidence"]["product"] == pytest.approx(full["confidence"]["product"], abs=0.05)


def test_eval_rejects_bad_options_before_loading_anything(tiny_llama, tmp_path):
    from cotdistill.errors import ConfigError

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_llama, model_dir)
    (model_dir / "cotdistill.json").write_text(json.dumps({"strategy": get_strategy("pst").metadata()}))
    with pytest.raises(ConfigError) as caught:
        evaluate(model_dir, records=RECORDS, options=EvalOptions(batch_size=0, self_consistency=0, dtype="int8"))
    assert all(name in str(caught.value) for name in ("batch_size", "self_consistency", "dtype must be one of float32, bfloat16"))


@pytest.mark.parametrize(("name", "expected"), [("pst", "5"), ("post-thinking", "5"), ("pre-thinking", "9")])
def test_a_student_that_runs_on_is_scored_on_the_answer_its_strategy_puts_first(name, expected):
    """An answer-first student that never wrote its separator committed to its first number; a
    rationale-first one concludes with its last."""
    from cotdistill.evaluation.evaluate import score_question
    from cotdistill.evaluation.generation import Generation

    run_on = Generation(text=" 5 | 6 | 7 | 8 | 9", n_tokens=12, stopped_by="length")
    row = score_question(RECORDS[0], [run_on], get_strategy(name))
    assert row["predicted"] == expected
    assert row["correct"] is (expected == RECORDS[0].answer)
