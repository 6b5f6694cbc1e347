"""Importing existing teacher outputs: small hand-made files, then the real ../shared/data files."""

from __future__ import annotations

import json

import pytest

from cotdistill.errors import DataError
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
