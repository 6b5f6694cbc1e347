"""Importing existing teacher outputs: small hand-made files, then the real ../shared/data files."""

from __future__ import annotations

import json

import pytest

from cotdistill.errors import DataError, NoTeacherOutputs
from cotdistill.store import RationaleStore
from cotdistill.store.importers import import_outputs


def test_record_jsonl_import_is_idempotent_and_keeps_unparsed(tmp_path):
    source = tmp_path / "teacher.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "question": "2 + 2?", "answer": "4", "answer_type": "numeric",
         "rationales": ["2 + 2 = 4. The answer is 4.", "Two and two make five. The answer is 5.", "Hmm, no idea."]},
        {"id": "b", "question": "Is ice cold?", "answer": "yes", "answer_type": "yes_no", "rationales": ["Ice is frozen water. The answer is yes."]},
    ]) + "\n")
    store = tmp_path / "s.sqlite"
    summary = import_outputs(store, "jsonl", task="toy", path=source)
    assert (summary.questions, summary.samples, summary.added, summary.correct, summary.parse_errors) == (2, 4, 4, 2, 1)
    assert import_outputs(store, "jsonl", task="toy", path=source).added == 0
    with RationaleStore(store) as db:
        samples = {(s.qid, s.sample_index): s for s in db.samples()}
        assert samples[("a", 1)].answer == "5" and samples[("a", 1)].correct is False
        assert samples[("a", 2)].parse_error == "no numeric answer found in the completion"
        assert samples[("a", 2)].raw == "Hmm, no idea."
        assert db.questions("toy", "train")["a"].rationales == []


def test_bad_lines_name_file_line_and_field(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "a", "question": "q", "answer": "1", "answer_type": "numeric"}\n{"id": "b", "question": "q"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2.*field 'answer'"):
        import_outputs(tmp_path / "s.sqlite", "jsonl", task="toy", path=source)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"instruction": "q", "output": ["r"], "label": "lots"}]))
    with pytest.raises(DataError, match=r"record 0\), field 'label'"):
        import_outputs(tmp_path / "s.sqlite", "multi-rationale", task="toy", path=rows)


@pytest.mark.slow
def test_real_teacher_files_reproduce_their_counts(tmp_path, shared_data):
    store = tmp_path / "s.sqlite"
    dss = shared_data / "distilling-step-by-step"
    for task, split in [("svamp", "train"), ("svamp", "test"), ("cqa", "train"), ("cqa", "test")]:
        rows = len((dss / task / f"{task}_{split}.json").read_text().splitlines())
        outputs = sum(len(json.loads(p.read_text())) for p in (dss / task / "llm").glob(f"{split}_CoT_*.json"))
        summary = import_outputs(store, "dss", task=task, split=split, data_dir=shared_data)
        assert summary.questions == rows == outputs and summary.samples == summary.added == rows
        # PaLM-540B is a strong teacher: most of its answers parse and are right
        assert summary.parse_errors < 0.05 * rows and summary.correct > 0.5 * rows
    mcc = shared_data / "mcc-kd" / "SVAMP" / "train.json"
    expected = sum(len(row["output"]) for row in json.loads(mcc.read_text()))
    summary = import_outputs(store, "multi-rationale", task="svamp-mcc", path=mcc)
    assert (summary.questions, summary.samples, summary.added) == (700, expected, expected) and expected == 7000
    with RationaleStore(store) as db:
        assert db.count() == 800 + 200 + 9741 + 1221 + 7000
        per_question = db.stored_indices(summary.config_key)
        assert len(per_question) == 700 and all(indices == set(range(10)) for indices in per_question.values())
    assert import_outputs(store, "multi-rationale", task="svamp-mcc", path=mcc).added == 0


# ------------------------------------------------------------------------ Fine-tune-CoT completion data

FTCOT = "fine-tune-cot/completion_data/B_text-davinci-002__C_zs_cot"


def _ftcot_file(path, key, completions: dict) -> None:
    """A completion_data file in Fine-tune-CoT's layout: {metadata, data: {sample_index: [completion, ...]}}."""
    metadata = {"dataset_key": key, "base_model": "text-davinci-002", "completion_key": "zs_cot"}
    data = {str(index): [{"sample_index": index, "completion_index": i, "question": question, "answer": "?",
                          "reasoning_prompt": f"Q: {question}\nA: Let's think step by step.",
                          "reasoning_completion": reasoning,
                          "prompt": f"Q: {question}\nA: Let's think step by step.{reasoning}\nTherefore, the answer is",
                          "completion": answer}
                         for i, (question, reasoning, answer) in enumerate(items)]
            for index, items in completions.items()}
    path.write_text(json.dumps({"metadata": metadata, "data": data}))


@pytest.mark.parametrize("key, task, split", [
    ("gsm8k", "gsm8k-zs", "train"), ("single_eq", "singleeq", "train"), ("addsub", "addsub", "test"),
    ("aqua", "aqua", "test"), ("commonsense_qa", "commonsenseqa", "test"), ("date_understanding", "date", "train"),
])
def test_ftcot_keys_without_shared_files_join_their_task(tmp_path, shared_data, key, task, split):
    """Hand-written files for the six keys whose teacher outputs are not in the shared data."""
    from cotdistill.answers import is_correct
    from cotdistill.records import CHOICE_LETTERS, format_question
    from cotdistill.tasks import load_task

    records = load_task(task, split, data_dir=shared_data)[:3]
    completions = {}
    for record in records:
        question = format_question(record)
        if record.choices:  # Fine-tune-CoT lists choices in its own order: reversed here, so letters move
            theirs = record.choices[::-1]
            question = record.question + " Answer choices: " + ", ".join(
                f"({CHOICE_LETTERS[i]}) {c}" for i, c in enumerate(theirs)) + "."
            right = f" ({CHOICE_LETTERS[theirs.index(record.choices[CHOICE_LETTERS.index(record.answer)])]})."
        else:
            right = f" {record.answer}."
        completions[record.meta["index"]] = [(question, " Let me think. It follows.", right),
                                             (question, " A second try.", " I am not sure.")]
    source = tmp_path / f"D_{key}.json"
    _ftcot_file(source, key, completions)
    store = tmp_path / "s.sqlite"
    summary = import_outputs(store, "ftcot", path=source, split=split, data_dir=shared_data)  # the task from the file
    assert (summary.samples, summary.correct, summary.parse_errors) == (6, 3, 3)
    assert import_outputs(store, "ftcot", task=key, path=source, split=split, data_dir=shared_data).added == 0
    with RationaleStore(store) as db:
        samples = {(s.qid, s.sample_index): s for s in db.samples()}
        assert set(db.questions(task, split)) >= {r.id for r in records}
        for record in records:
            first = samples[(record.id, 0)]
            assert first.correct and is_correct(first.answer, record.answer, record.answer_type, record.choices)
            assert first.rationale == "Let me think. It follows." and "Therefore, the answer is" in first.raw


def test_ftcot_file_of_another_task_is_refused(tmp_path, shared_data):
    source = tmp_path / "D_coin_flip.json"
    _ftcot_file(source, "coin_flip", {})
    with pytest.raises(DataError, match=r"holds 'coin_flip' \(task coin-flip\), not multiarith"):
        import_outputs(tmp_path / "s.sqlite", "ftcot", task="multiarith", path=source, data_dir=shared_data)
    source.write_text(json.dumps({"metadata": {}, "data": []}))
    with pytest.raises(DataError, match="expected Fine-tune-CoT completion data"):
        import_outputs(tmp_path / "s.sqlite", "ftcot", task="coin-flip", path=source, data_dir=shared_data)


def _answer_stage_yes_no(text: str) -> str | None:
    """An independent reading of a yes/no answer stage: its first word yes or no."""
    import re

    found = re.search(r"\b(yes|no)\b", text.lower())
    return found.group(1) if found else None


@pytest.mark.slow
def test_ftcot_shared_files_import_every_split_question(tmp_path, shared_data):
    from cotdistill.curation import CurateConfig, curate
    from cotdistill.tasks import load_task

    store = tmp_path / "s.sqlite"
    for key, task in [("coin_flip", "coin-flip"), ("tracking_shuffled_objects", "shuffled-objects"),
                      ("last_letter_concatenation", "last-letters"), ("multiarith", "multiarith"),
                      ("strategy_qa", "strategyqa"), ("svamp", "svamp-zs")]:
        payload = json.loads((shared_data / FTCOT / f"D_{key}.json").read_text())
        for split in ("train", "test"):
            records = load_task(task, split, data_dir=shared_data)
            expected = sum(len(payload["data"][str(r.meta["index"])]) for r in records)
            summary = import_outputs(store, "ftcot", task=task, split=split, path=shared_data / FTCOT / f"D_{key}.json",
                                     data_dir=shared_data)
            assert (summary.questions, summary.samples, summary.added) == (len(records), expected, expected)
    # Coin flip: the answer is the answer stage's, and curation keeps the teacher's real share of right answers.
    payload = json.loads((shared_data / FTCOT / "D_coin_flip.json").read_text())
    records = {r.id: r for r in load_task("coin-flip", "train", data_dir=shared_data)}
    with RationaleStore(store) as db:
        firsts = [s for s in db.samples() if s.qid in records and s.sample_index == 0]
    independent = sum(_answer_stage_yes_no(payload["data"][str(records[s.qid].meta["index"])][0]["completion"])
                      == records[s.qid].answer for s in firsts)
    ours = sum(bool(s.correct) for s in firsts)
    assert len(firsts) == 350 and abs(ours - independent) <= 3 and 0.85 < ours / 350 < 0.95
    manifest = curate(store, tmp_path / "cf", CurateConfig(task="coin-flip", filter="correct", max_per_question=1))
    assert manifest["counts"]["kept"] == manifest["counts"]["questions_with_examples"] >= ours


def test_jsonl_import_reads_the_documented_task_format(tmp_path):
    """What `jsonl:` tasks read, import reads: `rationale` as one string, no id, answer_type as an option."""
    source = tmp_path / "mine.jsonl"
    source.write_text('{"question": "3 + 4?", "answer": 7, "rationale": "3 + 4 = 7. The answer is 7."}\n'
                      '{"question": "Is 2 even?", "answer": "Yes", "answer_type": "yes_no", "rationales": ["2 = 2 * 1. The answer is yes."]}\n')
    summary = import_outputs(tmp_path / "s.sqlite", "jsonl", task="mine", path=source, answer_type="numeric")
    assert (summary.questions, summary.samples, summary.correct) == (2, 2, 2)


def test_task_format_imports_the_rationales_a_task_carries(tmp_path, shared_data):
    summary = import_outputs(tmp_path / "s.sqlite", "task", task="svamp-mcc", split="train", data_dir=shared_data,
                             questions={"svamp-mcc-train-0", "svamp-mcc-train-1"})
    assert (summary.questions, summary.samples) == (2, 20)  # MCC-KD: 10 rationales per question
    with pytest.raises(NoTeacherOutputs, match="carries no rationales"):
        import_outputs(tmp_path / "s.sqlite", "task", task="coin-flip", data_dir=shared_data)
