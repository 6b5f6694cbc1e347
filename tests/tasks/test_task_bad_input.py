"""Malformed files get one DataError naming the file, the line or record, the field and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotdistill.errors import DataError
from cotdistill.tasks import load_task


def write_svamp(root: Path, lines: list[str], outputs: list[str]) -> Path:
    folder = root / "distilling-step-by-step" / "svamp"
    (folder / "llm").mkdir(parents=True)
    (folder / "svamp_train.json").write_text("\n".join(lines) + "\n")
    (folder / "llm" / "train_CoT_0.json").write_text(json.dumps(outputs))
    return folder


GOOD = json.dumps({"input": "Tom has 3 apples and gets 2. How many?", "label": "( 3.0 + 2.0 )"})


def test_a_jsonl_line_that_is_not_json(tmp_path):
    write_svamp(tmp_path, [GOOD, '{"input": "x", "label": '], ["a", "b"])
    with pytest.raises(DataError) as caught:
        load_task("svamp", "train", data_dir=tmp_path)
    message = str(caught.value)
    assert "svamp_train.json:2" in message and "not valid JSON" in message and "one JSON object per line" in message
    assert caught.value.line == 2


def test_a_missing_label(tmp_path):
    write_svamp(tmp_path, [GOOD, json.dumps({"input": "x"})], ["a", "b"])
    with pytest.raises(DataError, match=r"svamp_train.json:2, field 'label': missing field, expected an arithmetic"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_a_label_that_is_not_an_expression(tmp_path):
    write_svamp(tmp_path, [json.dumps({"input": "x", "label": "( 3.0 + banana )"})], ["a"])
    with pytest.raises(DataError, match=r":1, field 'label': cannot evaluate"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_rationale_files_that_do_not_match_the_rows(tmp_path):
    write_svamp(tmp_path, [GOOD, GOOD, GOOD], ["only one", "and two"])
    with pytest.raises(DataError, match=r"hold 2 outputs but train has 3 rows.*one teacher output per row"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_rationale_files_with_a_gap_in_their_numbering(tmp_path):
    folder = write_svamp(tmp_path, [GOOD], ["a"])
    (folder / "llm" / "train_CoT_2.json").write_text("[]")
    with pytest.raises(DataError, match=r"not numbered 0..1 without gaps"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_a_rationale_that_is_not_a_string(tmp_path):
    write_svamp(tmp_path, [GOOD], [42])
    with pytest.raises(DataError, match=r"train_CoT_0.json \(record 0\): expected a string"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_a_missing_file_says_where_the_data_should_be(tmp_path):
    with pytest.raises(DataError, match=r"svamp_train.json: file not found.*--data-dir"):
        load_task("svamp", "train", data_dir=tmp_path)


def test_cqa_answer_not_among_the_choices(tmp_path):
    folder = tmp_path / "distilling-step-by-step" / "cqa"
    (folder / "llm").mkdir(parents=True)
    row = {"id": "q1", "question": "Where?", "choices": ["a", "b"], "answer": "c"}
    (folder / "cqa_train.json").write_text(json.dumps(row) + "\n")
    (folder / "llm" / "train_CoT_0.json").write_text(json.dumps(["So the answer is (a) a."]))
    with pytest.raises(DataError, match=r"cqa_train.json:1, field 'answer': answer 'c' is not one of the choices"):
        load_task("cqa", "train", data_dir=tmp_path)


def test_gsm8k_solution_without_final_answer(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    lines = [{"question": "q", "answer": "1+1=2\n#### 2"}, {"question": "q", "answer": "1+1=2, so 2"}]
    (tmp_path / "gsm8k" / "train.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(DataError, match=r"train.jsonl:2, field 'answer': expected the final answer as '#### <number>'"):
        load_task("gsm8k", "train", data_dir=tmp_path)


def test_mcc_rationales_of_the_wrong_type(tmp_path):
    (tmp_path / "mcc-kd" / "SVAMP").mkdir(parents=True)
    rows = [{"instruction": "q", "output": ["ok"], "label": "3"}, {"instruction": "q", "output": [1, 2], "label": "3"}]
    (tmp_path / "mcc-kd" / "SVAMP" / "train.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"train.json \(record 1\), field 'output': expected a rationale string or a list"):
        load_task("svamp-mcc", "train", data_dir=tmp_path)


def test_mcc_file_that_is_not_a_list(tmp_path):
    (tmp_path / "mcc-kd" / "SVAMP").mkdir(parents=True)
    (tmp_path / "mcc-kd" / "SVAMP" / "dev.json").write_text('{"instruction": "q"}')
    with pytest.raises(DataError, match="expected a JSON array, got dict"):
        load_task("svamp-mcc", "dev", data_dir=tmp_path)


def test_split_index_outside_the_file(tmp_path):
    (tmp_path / "zero-shot-cot" / "dataset" / "coin_flip").mkdir(parents=True)
    (tmp_path / "fine-tune-cot" / "split").mkdir(parents=True)
    examples = {"examples": [{"question": "A coin is heads up. Is it still heads up?", "answer": "yes"}]}
    (tmp_path / "zero-shot-cot/dataset/coin_flip/coin_flip.json").write_text(json.dumps(examples))
    (tmp_path / "fine-tune-cot/split/coin_flip__default.json").write_text(json.dumps({"train": [0, 5], "test": []}))
    assert len(load_task("coin-flip", "all", data_dir=tmp_path)) == 1
    with pytest.raises(DataError, match=r"coin_flip__default.json \(record 1\), field 'train': sample index 5 is outside 0..0"):
        load_task("coin-flip", "train", data_dir=tmp_path)


def test_a_bad_yes_no_answer(tmp_path):
    (tmp_path / "zero-shot-cot" / "dataset" / "coin_flip").mkdir(parents=True)
    examples = {"examples": [{"question": "q", "answer": "maybe"}]}
    (tmp_path / "zero-shot-cot/dataset/coin_flip/coin_flip.json").write_text(json.dumps(examples))
    with pytest.raises(DataError, match=r"\(record 0\), field 'answer': expected 'yes' or 'no', got 'maybe'"):
        load_task("coin-flip", "all", data_dir=tmp_path)
