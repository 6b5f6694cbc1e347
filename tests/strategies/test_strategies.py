"""Each strategy's token sequence and label mask, token by token, on the real SmolLM2 tokenizer."""

from __future__ import annotations

import json

import pytest

from cotdistill.answers import extract_answer
from cotdistill.errors import ConfigError, CotdistillError, DataError
from cotdistill.evaluation.generation import eos_count_for, trim_row
from cotdistill.records import Record
from cotdistill.strategies import (
    ANSWER as A,
    PROMPT as P,
    RATIONALE as R,
    STRATEGIES,
    get_strategy,
    read_model_metadata,
    strategy_from_metadata,
)

NUMERIC = Record(id="q1", question="What is 2+3?", answer="5", answer_type="numeric", rationales=["2 plus 3 is 5."])
CHOICE = Record(
    id="q2",
    question="Where do you buy a plant?",
    choices=["bank", "library", "garden center"],
    answer="C",
    answer_type="multiple_choice",
    rationales=["Plants are sold at a garden center."],
)
YES_NO = Record(id="q3", question="Is ice cold?", answer="yes", answer_type="yes_no", rationales=["Ice is frozen water."])

PROMPT_TOKENS = [("Question", P), (":", P), ("ĠWhat", P), ("Ġis", P), ("Ġ", P), ("2", P), ("+", P), ("3", P),
                 ("?", P), ("Ċ", P), ("Answer", P), (":", P)]  # fmt: skip
RATIONALE_TOKENS = [("Ġ", R), ("2", R), ("Ġplus", R), ("Ġ", R), ("3", R), ("Ġis", R), ("Ġ", R), ("5", R), (".", R)]
EOS = "<|im_end|>"
SEP_TOKENS = [(EOS, A)]  # the default separator: the end-of-sequence token


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def tokens_and_kinds(example, tokenizer):
    return list(zip(tokenizer.convert_ids_to_tokens(example.input_ids), example.kinds))


def test_answer_only_mask(tokenizer):
    (example,) = get_strategy("answer-only").encode(NUMERIC, tokenizer)
    assert tokens_and_kinds(example, tokenizer) == PROMPT_TOKENS + [("Ġ", A), ("5", A), (EOS, A)]


def test_pre_thinking_mask(tokenizer):
    (example,) = get_strategy("pre-thinking").encode(NUMERIC, tokenizer)
    bridge = [("Ċ", R), ("Therefore", R), (",", R), ("Ġthe", R), ("Ġanswer", R), ("Ġis", R)]
    expected = PROMPT_TOKENS + RATIONALE_TOKENS + bridge + [("Ġ", A), ("5", A), (EOS, A)]
    assert tokens_and_kinds(example, tokenizer) == expected
    assert get_strategy("pre-thinking").loss_spec().joint


@pytest.mark.parametrize("name", ["post-thinking", "pst"])
@pytest.mark.parametrize("separator, sep_tokens", [(None, SEP_TOKENS), ("\n", [("Ċ", A)]),
                                                   (" [SEP]", [("Ġ[", A), ("SE", A), ("P", A), ("]", A)])])
def test_answer_first_mask_and_marker(tokenizer, name, separator, sep_tokens):
    options = {} if separator is None else {"separator": separator}
    (example,) = get_strategy(name, **options).encode(NUMERIC, tokenizer)
    expected = PROMPT_TOKENS + [("Ġ", A), ("5", A)] + sep_tokens + RATIONALE_TOKENS + [(EOS, R)]
    assert tokens_and_kinds(example, tokenizer) == expected
    # The marker is SEP's last token: it has seen x and y, not r.
    assert example.marker_index == len(PROMPT_TOKENS) + 2 + len(sep_tokens) - 1
    assert tokenizer.convert_ids_to_tokens(example.input_ids[example.marker_index]) == sep_tokens[-1][0]


def test_prefix_makes_two_examples(tokenizer):
    label, rationale = get_strategy("prefix").encode(NUMERIC, tokenizer)
    label_prefix = [("[", P), ("label", P), ("]", P), ("ĠQuestion", P)]
    rationale_prefix = [("[", P), ("rational", P), ("e", P), ("]", P), ("ĠQuestion", P)]
    assert tokens_and_kinds(label, tokenizer) == label_prefix + PROMPT_TOKENS[1:] + [("Ġ", A), ("5", A), (EOS, A)]
    assert tokens_and_kinds(rationale, tokenizer) == rationale_prefix + PROMPT_TOKENS[1:] + RATIONALE_TOKENS + [(EOS, R)]
    spec = get_strategy("prefix", alpha=0.3).loss_spec()
    assert (spec.answer_weight, spec.rationale_weight) == (0.3, pytest.approx(0.7))


def test_new_separator_token_is_one_trained_token(tokenizer):
    strategy = get_strategy("pst", new_separator_token=True)
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)  # a copy: adding a token mutates it
    (added,) = strategy.setup_tokenizer(tokenizer)
    assert added == 49152  # appended after SmolLM2's 49152 tokens
    (example,) = strategy.encode(NUMERIC, tokenizer)
    expected = PROMPT_TOKENS + [("Ġ", A), ("5", A), ("[SEP]", A)] + RATIONALE_TOKENS + [(EOS, R)]
    assert tokens_and_kinds(example, tokenizer) == expected
    assert example.input_ids[example.marker_index] == added
    # Not a special token: decoding keeps it, so stop strings and split_output still see it.
    text = tokenizer.decode(example.input_ids, skip_special_tokens=True)
    assert text == "Question: What is 2+3?\nAnswer: 5[SEP] 2 plus 3 is 5."
    assert strategy.stop_strings() == ["[SEP]"]


def _ideal_generation(strategy, record, tokenizer, explain=False):
    """What a perfectly trained student generates, cut as evaluation cuts it: its target tokens up to
    the first stop string or the EOS that ends the row (with an EOS separator and explain, the second)."""
    strategy.setup_tokenizer(tokenizer)  # as training does: an EOS separator gets the token's name
    example = strategy.encode(record, tokenizer)[0]
    first_target = next(i for i, k in enumerate(example.kinds) if k != P)
    stops, eos_count = tuple(strategy.stop_strings(explain)), eos_count_for(strategy, tokenizer, explain)
    return trim_row(example.input_ids[first_target:], tokenizer, [tokenizer.eos_token_id], stops, eos_count).text


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("record", [NUMERIC, CHOICE, YES_NO], ids=lambda r: r.answer_type)
def test_answer_part_extracts_to_gold(tokenizer, name, record):
    strategy = get_strategy(name)
    answer, rationale = strategy.split_output(_ideal_generation(strategy, record, tokenizer))
    assert extract_answer(answer, record.answer_type, record.choices) == record.answer
    if name == "pre-thinking":
        assert rationale == record.rationales[0]
    else:
        assert rationale is None  # answer-first strategies stop before the rationale


@pytest.mark.parametrize("name", ["post-thinking", "pst"])
def test_explain_continues_into_the_rationale(tokenizer, name):
    strategy = get_strategy(name)
    assert strategy.stop_strings(explain=True) == []
    answer, rationale = strategy.split_output(_ideal_generation(strategy, CHOICE, tokenizer, explain=True))
    assert answer == "(C) garden center"
    assert rationale == CHOICE.rationales[0]


def test_stop_strings_and_flags():
    assert get_strategy("post-thinking").stop_strings() == []  # EOS, until training names it
    assert get_strategy("post-thinking", separator="\n").stop_strings() == ["\n"]
    assert get_strategy("post-thinking", separator=" [SEP]").stop_strings() == ["[SEP]"]
    assert get_strategy("pre-thinking").stop_strings() == []
    assert {n for n, cls in STRATEGIES.items() if cls.answer_first} == {"answer-only", "post-thinking", "prefix", "pst"}


def test_truncation_keeps_prompt_and_answer(tokenizer):
    strategy = get_strategy("pst")
    full = strategy.encode(NUMERIC, tokenizer)[0]
    (cut,) = strategy.encode(NUMERIC, tokenizer, max_len=20)
    assert cut.input_ids == full.input_ids[:20] and cut.truncated
    assert cut.marker_index == full.marker_index
    assert strategy.encode(NUMERIC, tokenizer, max_len=len(PROMPT_TOKENS)) == []  # prompt alone fills it


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_metadata_round_trip(name, tmp_path):
    strategy = get_strategy(name, prompt_template="Q: {question}\nA:")
    (tmp_path / "cotdistill.json").write_text(json.dumps({"strategy": strategy.metadata()}))
    again = strategy_from_metadata(read_model_metadata(tmp_path))
    assert again == strategy and again.metadata() == strategy.metadata()
    assert again.prompt(NUMERIC).endswith("Q: What is 2+3?\nA:")


def test_bad_options_are_reported_together():
    with pytest.raises(ConfigError) as error:
        get_strategy("post-thinking", alpha=0.5, rationale_weight=-1, prompt_template="no slot")
    assert len(error.value.problems) == 3
    assert "alpha" in str(error.value) and "rationale_weight" in str(error.value)
    with pytest.raises(CotdistillError, match="Valid strategies: answer-only, post-thinking"):
        get_strategy("cot")


def test_missing_metadata_names_the_file(tmp_path):
    with pytest.raises(DataError, match="cotdistill.json: missing"):
        read_model_metadata(tmp_path)
