"""Cutting generated rows: at a stop string (even one split across tokens), at EOS, or at the limit."""

import pytest

from cotdistill.evaluation.generation import first_stop, row_end_kwargs, trim_row


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_first_stop_returns_the_offset_past_the_earliest_stop_string():
    assert first_stop("yes [SEP] because\nso", ("\n", "[SEP]")) == len("yes [SEP]")
    assert first_stop("no stop here", ("[SEP]",)) is None
    assert first_stop("anything", ()) is None


def test_row_is_cut_at_the_token_completing_the_separator(tokenizer):
    answer, sep, rest = ids(tokenizer, " yes"), ids(tokenizer, " [SEP]"), ids(tokenizer, " because it flips twice.")
    row = answer + sep + rest + [tokenizer.eos_token_id]
    generation = trim_row(row, tokenizer, [tokenizer.eos_token_id], ("[SEP]",))
    assert generation.stopped_by == "stop"
    assert generation.text == " yes [SEP]"
    assert generation.n_tokens == len(answer) + len(sep)


def test_separator_split_across_unusual_tokens_is_still_found(tokenizer):
    # "[SE" and "P] then" tokenised on their own: the stop string straddles a token boundary.
    head, closing, rest = ids(tokenizer, " no [SE"), ids(tokenizer, "P]"), ids(tokenizer, " then more")
    generation = trim_row(head + closing + rest, tokenizer, [tokenizer.eos_token_id], ("[SEP]",))
    assert generation.text == " no [SEP]"
    assert generation.n_tokens == len(head) + len(closing)
    assert generation.stopped_by == "stop"


def test_row_without_stop_ends_at_eos_and_counts_it(tokenizer):
    body = ids(tokenizer, " r then\nTherefore, the answer is 4")
    padding = [tokenizer.eos_token_id] * 3  # finished rows are padded (pad == eos for this tokenizer)
    generation = trim_row(body + [tokenizer.eos_token_id] + padding, tokenizer, [tokenizer.eos_token_id], ())
    assert generation.stopped_by == "eos"
    assert generation.n_tokens == len(body) + 1
    assert generation.text == " r then\nTherefore, the answer is 4"


def test_row_that_hits_the_limit_keeps_every_token(tokenizer):
    body = ids(tokenizer, " one two three")
    generation = trim_row(body, tokenizer, [tokenizer.eos_token_id], ("[SEP]",))
    assert generation.stopped_by == "length" and generation.n_tokens == len(body)


def test_an_eos_separator_row_asked_for_its_rationale_ends_at_the_second_eos(tokenizer):
    """An answer-first student whose separator is EOS: the first EOS stays in the text, the second ends it."""
    eos = tokenizer.eos_token_id
    answer, rationale = ids(tokenizer, " yes"), ids(tokenizer, " It flips twice.")
    row = answer + [eos] + rationale + [eos] + [eos] * 2  # then padding
    explained = trim_row(row, tokenizer, [eos], (), eos_count=2)
    assert explained.text == " yes" + tokenizer.eos_token + " It flips twice."
    assert explained.stopped_by == "eos" and explained.n_tokens == len(answer) + len(rationale) + 2
    answered = trim_row(row, tokenizer, [eos], ())
    assert answered.text == " yes" and answered.n_tokens == len(answer) + 1



def test_the_eos_tokens_own_text_as_stop_string_is_left_to_its_id(tokenizer):
    """A trained EOS-separator student names EOS's text as its stop: generate() gets no text criterion for it
    (the id ends the row there), unless the row runs on to a later EOS, where the text must still stop it."""
    eos, text = [tokenizer.eos_token_id], tokenizer.eos_token
    assert row_end_kwargs(tokenizer, eos, (text,), 1, 5) == {"eos_token_id": eos}
    assert row_end_kwargs(tokenizer, eos, (text, "[SEP]"), 1, 5)["stop_strings"] == ["[SEP]"]
    assert row_end_kwargs(tokenizer, eos, (text,), 2, 5)["stop_strings"] == [text]
