"""Every loader on the real files in ../shared/data (skipped with a reason where it is absent)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cotdistill.tasks import load_task


def test_svamp_rows_carry_their_cleaned_palm_rationale(shared_data):
    records = load_task("svamp", "train", data_dir=shared_data)
    assert len(records) == 800 and len(load_task("svamp", "test", data_dir=shared_data)) == 200
    first = records[0]
    assert first.answer == "42" and first.meta["equation"] == "( 84.0 / 2.0 )"
    assert first.rationales == ["Luke scored 84 points after 2 rounds. So he scored 84 points in 2 rounds. "
                                "84 / 2 = 42. The answer is (84 / 2)."]
    assert first.meta["teacher_answers"] == ["42"]
    assert not any("\n\nQ:" in r.rationales[0] for r in records)
    # Row 400 comes from the second teacher file (train_CoT_1.json), string 0 of it.
    second_file = json.loads((shared_data / "distilling-step-by-step/svamp/llm/train_CoT_1.json").read_text())
    first_file = json.loads((shared_data / "distilling-step-by-step/svamp/llm/train_CoT_0.json").read_text())
    assert records[len(first_file)].rationales[0] == second_file[0].split("\n\nQ:")[0].strip()


def test_cqa_answer_is_the_letter_of_the_choice_text(shared_data):
    records = load_task("cqa", "train", data_dir=shared_data)
    assert len(records) == 9741 and len(load_task("cqa", "test", data_dir=shared_data)) == 1221
    first = records[0]
    assert first.id == "6b819727eb8a670df26a7ffad036c119"
    assert first.choices[3] == "math problem" and first.answer == "D"
    assert first.rationales[0].endswith("So the answer is (d) math problem.")
    assert first.meta["teacher_answers"] == ["D"]
    assert Counter(r.answer for r in records).keys() == {"A", "B", "C", "D", "E"}


def test_svamp_mcc_has_ten_rationales_per_train_question(shared_data):
    train = load_task("svamp-mcc", "train", data_dir=shared_data)
    assert len(train) == 700 and all(len(r.rationales) == 10 for r in train)
    assert train[0].answer == "32" and train[0].question.startswith("Danny collects bottle caps")
    for split in ("dev", "test"):
        records = load_task("svamp-mcc", split, data_dir=shared_data)
        assert len(records) == 150 and all(r.rationales == [] for r in records)


def test_gsm8k_strips_calculator_annotations(shared_data):
    train = load_task("gsm8k", "train", data_dir=shared_data)
    assert len(train) == 7473 and len(load_task("gsm8k", "test", data_dir=shared_data)) == 1319
    first = train[0]
    assert first.answer == "72"
    assert first.rationales == ["Natalia sold 48/2 = 24 clips in May.\n"
                                "Natalia sold 48+24 = 72 clips altogether in April and May.\nThe answer is 72."]
    assert not any("<<" in r.rationales[0] or "####" in r.rationales[0] for r in train)


SINGLE_FILE = {"addsub": 395, "multiarith": 600, "singleeq": 508, "svamp-zs": 1000, "date": 369,
               "shuffled-objects": 750, "strategyqa": 2290, "coin-flip": 500, "last-letters": 500}


@pytest.mark.parametrize(("name", "rows"), SINGLE_FILE.items())
def test_fine_tune_cot_splits_partition_the_file(shared_data, name, rows):
    everything = load_task(name, "all", data_dir=shared_data)
    train = load_task(name, "train", data_dir=shared_data)
    test = load_task(name, "test", data_dir=shared_data)
    assert len(everything) == rows
    assert {r.id for r in train}.isdisjoint({r.id for r in test})
    assert sorted(r.id for r in train + test) == sorted(r.id for r in everything)
    by_id = {r.id: r for r in everything}
    assert all(by_id[r.id] == r for r in test)  # the index picks the same row whatever the split


def test_zero_shot_rows_are_parsed(shared_data):
    addsub = load_task("addsub", "all", data_dir=shared_data)[0]
    assert addsub.answer == "43" and addsub.question.startswith("Joan found 70 seashells")
    svamp = load_task("svamp-zs", "all", data_dir=shared_data)[0]
    assert svamp.question == ("Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each "
                              "pack, how much do you have to pay to buy each pack?") and svamp.answer == "51"
    coin = load_task("coin-flip", "all", data_dir=shared_data)[0]
    assert coin.answer == "yes" and coin.answer_type == "yes_no"
    letters = load_task("last-letters", "all", data_dir=shared_data)[0]
    assert letters.answer == "yajo"
    objects = load_task("shuffled-objects", "all", data_dir=shared_data)[0]
    assert objects.choices == ["orange ball", "white ball", "blue ball"] and objects.answer == "C"
    strategy = load_task("strategyqa", "all", data_dir=shared_data)[0]
    assert strategy.answer == "yes" and strategy.meta["human_explanation"].startswith("Yes.")


def test_date_choices_are_shuffled_so_the_answer_is_not_always_a(shared_data):
    records = load_task("date", "all", data_dir=shared_data)
    first = records[0]
    assert first.choices[ord(first.answer) - ord("A")] == "05/01/2021"
    assert len(Counter(r.answer for r in records)) >= 5
    assert records == load_task("date", "all", data_dir=shared_data)  # seeded: the same every time


def test_multi_file_index_mapping(shared_data):
    aqua = load_task("aqua", "test", data_dir=shared_data)
    assert len(aqua) == 254 and aqua[0].id == "aqua-97467"
    assert aqua[0].choices[0] == "5(\u221a3 + 1)" and aqua[0].answer == "A"
    csqa_test = load_task("commonsenseqa", "test", data_dir=shared_data)
    assert len(csqa_test) == 1221 and csqa_test[0].id == "commonsenseqa-9741"
    assert csqa_test[0].question.startswith("A revolving door is convenient") and csqa_test[0].answer == "A"
    assert len(load_task("commonsenseqa", "train", data_dir=shared_data)) == 9741
    gsm_test = load_task("gsm8k-zs", "test", data_dir=shared_data)
    assert len(gsm_test) == 1319 and gsm_test[0].id == "gsm8k-zs-7473" and gsm_test[0].answer == "18"
    assert gsm_test[0].rationales == []


def test_template_split_scheme(shared_data):
    default = {r.id for r in load_task("multiarith", "test", data_dir=shared_data)}
    template = {r.id for r in load_task("multiarith", "test", data_dir=shared_data, scheme="template")}
    assert len(template) == 187 and default != template
