"""A router cell in a run grid, on tiny-llama: it trains nothing, routes between its two students' own
answers, chooses its thresholds on the dev slice and carries them to the test split; a mixed task pools
its sources' questions; the router folder it writes is what `cotdistill eval` takes."""

from __future__ import annotations

import json

import pytest

from cotdistill.experiments import parse_config, run_experiment
from cotdistill.tasks.files import read_jsonl

pytestmark = pytest.mark.slow

CONFIG = {
    "name": "tiny-router",
    "student": "tiny-llama",
    "tasks": [
        {"name": "synth-coin-flip", "train_size": 8, "test_size": 6, "dev_size": 6},
        {"name": "synth-last-letters", "train_size": 8, "test_size": 6, "dev_size": 6},
        {"name": "mixed", "mix": ["synth-coin-flip", "synth-last-letters"]},
    ],
    "strategies": ["post-thinking", "pre-thinking",
                   {"name": "router", "options": {"answer_first": "post-thinking", "think_first": "pre-thinking"}},
                   # a random student is never sure of its answer: at threshold 1 every question thinks
                   {"name": "router", "label": "router-always", "options": {"answer_first": "post-thinking",
                                                                            "think_first": "pre-thinking", "threshold": 1.0}}],
    "teacher": {"teacher": "reference"},
    "curation": {"filter": "all", "label": "gold"},
    "training": {"max_steps": 1, "batch_size": 4, "report_to": []},
    "eval": {"batch_size": 4, "max_new_tokens": 6, "similarity": False},
}
ROUTER = "mixed__router__k1__noise0__seed0"


def run(run_dir, split, **options):
    config = parse_config({**CONFIG, "eval": {**CONFIG["eval"], "split": split}})
    summary = run_experiment(config, run_dir, log=lambda line: None, report=False, **options)
    assert summary.ok, summary.failed
    return summary


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("router")
    run(root / "dev", "dev")
    run(root / "test", "test", students_from=[root / "dev"], evaluate_only=True)
    return root


def cell(run_dir, cell_id):
    return json.loads((run_dir / "cells" / cell_id / "eval.json").read_text())


def rows(run_dir, cell_id):
    return {row["id"]: row for _, row in read_jsonl(run_dir / "cells" / cell_id / "eval.predictions.jsonl")}


@pytest.mark.parametrize("router", [ROUTER, "mixed__router-always__k1__noise0__seed0"])
def test_the_router_counts_answer_first_tokens_for_every_question_and_think_first_for_those_that_thought(runs, router):
    for split in ("dev", "test"):
        routed = rows(runs / split, router)
        first = rows(runs / split, "mixed__post-thinking__k1__noise0__seed0")
        think = rows(runs / split, "mixed__pre-thinking__k1__noise0__seed0")
        assert set(routed) == set(first) == set(think) and len(routed) == 12  # both tasks' questions, pooled
        result = cell(runs / split, router)
        threshold = result["router"]["threshold"]
        for qid, row in routed.items():
            thought = first[qid]["confidence"]["product"] < threshold
            assert row["mode"] == ("think-first" if thought else "answer-first")
            expected = first[qid]["generated_tokens"] + (think[qid]["generated_tokens"] if thought else 0)
            assert row["generated_tokens"] == expected
            assert row["correct"] == (think if thought else first)[qid]["correct"]
        assert result["mean_generated_tokens"] == pytest.approx(sum(r["generated_tokens"] for r in routed.values()) / 12)
        sources = result["by_source"]  # a mixed task is scored per source task too
        assert sorted(sources) == ["synth-coin-flip", "synth-last-letters"]
        assert sum(s["router"]["n"] for s in sources.values()) == 12
        assert sum(s["router"]["correct"] for s in sources.values()) == result["correct"]
        assert result["thought"] == pytest.approx(sum(r["mode"] == "think-first" for r in routed.values()) / 12)


def test_thresholds_are_chosen_on_the_dev_slice_and_carried_to_the_test_split(runs):
    dev, test = cell(runs / "dev", ROUTER)["router"], cell(runs / "test", ROUTER)["router"]
    for signal in ("first", "product", "min", "perception"):
        assert signal in dev["signals"] and signal in test["signals"]
        points = dev["signals"][signal]["sweep"]
        best = max(p["accuracy"] for p in points)
        chosen = dev["signals"][signal]
        assert chosen["accuracy"] == pytest.approx(best)  # the rule: the highest dev accuracy ...
        assert chosen["mean_generated_tokens"] == pytest.approx(min(p["tokens"] for p in points if p["accuracy"] == best))
        assert test["signals"][signal]["threshold"] == chosen["threshold"]  # ... and the test split uses it
    assert dev["oracle"]["accuracy"] >= max(dev["alone"]["answer-first"]["accuracy"], dev["alone"]["think-first"]["accuracy"])
    sweep = dev["signals"]["product"]["sweep"]
    assert sweep[0]["thought"] == 0 and sweep[-1]["thought"] == 1  # from never thinking to always


def test_the_report_shows_each_router_beside_its_students_the_oracle_and_per_source_task(runs):
    from cotdistill.reports import report_run

    report = report_run(runs / "test").read_text()
    section = report[report.index("## Router: mixed"):]
    result = cell(runs / "test", ROUTER)
    served = result["router"]["signals"][result["router"]["signal"]]
    assert f"| router, {result['router']['signal']} (served) | {100 * served['accuracy']:.1f} [" in section
    assert "| oracle (reference" in section and "| answer first alone |" in section and "| think first alone |" in section
    for source in ("synth-coin-flip", "synth-last-letters"):  # the mixed task, per source task
        assert f"| {source} | {100 * result['by_source'][source]['router']['accuracy']:.1f} [" in section


def test_a_router_folder_answers_as_its_cell_routed_decoding_think_first_only_where_it_thinks(runs, tmp_path):
    from cotdistill.evaluation import EvalOptions, evaluate
    from cotdistill.experiments.pipeline import Pipeline
    from cotdistill.routing.pair import RouterFile, read_router, write_router
    from cotdistill.routing.router import QuestionPair, routed

    cells = runs / "test" / "cells"
    made = read_router(cells / ROUTER / "router")  # what the cell wrote: relative paths to its students
    assert made.signal == "product" and made.student(cells / ROUTER / "router", "answer-first").name == "model"
    first, think = rows(runs / "test", "mixed__post-thinking__k1__noise0__seed0"), rows(runs / "test", "mixed__pre-thinking__k1__noise0__seed0")
    threshold = sorted(r["confidence"]["product"] for r in first.values())[6]  # half the questions think
    write_router(tmp_path / "pair", made.model_copy(update={
        "answer_first": str(cells / "mixed__post-thinking__k1__noise0__seed0" / "model"),
        "think_first": str(cells / "mixed__pre-thinking__k1__noise0__seed0" / "model"), "threshold": threshold}))
    config = parse_config(CONFIG)
    records = Pipeline(config, runs / "test").questions(config.tasks[2]).test
    metrics = evaluate(tmp_path / "pair", records=records, options=EvalOptions(batch_size=4, max_new_tokens=6, similarity=False),
                       out=tmp_path / "eval.json")  # fmt: skip
    got = {row["id"]: row for _, row in read_jsonl(tmp_path / "eval.predictions.jsonl")}
    expected = {r["id"]: r for r in routed([QuestionPair(q, first[q]["confidence"]["product"], first[q], think[q]) for q in first], threshold)}
    assert metrics["modes"] == {"answer-first": 6, "think-first": 6}
    # the same routes, answers and token counts as routing the cells' answers (decoded for real here)
    assert {q: r["mode"] for q, r in got.items()} == {q: r["mode"] for q, r in expected.items()}
    assert {q: r["predicted"] for q, r in got.items()} == {q: r["predicted"] for q, r in expected.items()}
    assert metrics["total_generated_tokens"] == sum(r["generated_tokens"] for r in expected.values())
    (tmp_path / "pair" / "router.json").write_text(json.dumps({**json.loads((tmp_path / "pair" / "router.json").read_text()), "threshold": "high"}))
    with pytest.raises(Exception, match=r"router.json, field 'threshold'"):
        read_router(tmp_path / "pair")
    assert isinstance(made, RouterFile)


def test_a_router_naming_a_strategy_outside_the_grid_is_refused_before_any_compute():
    from cotdistill.errors import ConfigError

    bad = {**CONFIG, "strategies": ["post-thinking", {"name": "router", "options": {"answer_first": "pst", "think_first": "pre-thinking"}}]}
    with pytest.raises(ConfigError, match=r"strategies.1.options.answer_first: 'pst' is not a strategy of this grid"):
        parse_config(bad)
    worse = {**CONFIG, "strategies": ["pre-thinking", {"name": "router", "options": {"answer_first": "pre-thinking", "think_first": "pre-thinking"}}]}
    with pytest.raises(ConfigError, match="does not answer first"):
        parse_config(worse)
    with pytest.raises(ConfigError, match="mix: 'nope' is not another"):
        parse_config({**CONFIG, "tasks": [*CONFIG["tasks"][:2], {"name": "mixed", "mix": ["synth-coin-flip", "nope"]}]})
