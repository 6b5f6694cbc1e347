"""answer_nll: -log p(gold answer | prompt), batched with padding, checked against one-at-a-time scoring."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cotdistill.evaluation import EvalOptions, evaluate
from cotdistill.evaluation.likelihood import answer_nll
from cotdistill.models import load_causal_lm
from cotdistill.records import Record
from cotdistill.strategies import get_strategy

from eval_students import RECORDS

UNEVEN = RECORDS + [Record(id="q3", question="Tom had 12 apples and gave 5 of them to each of his 2 friends. "
                           "How many apples does he have left?", answer="2", answer_type="numeric")]


def nll_alone(model, tokenizer, prompt: str, answer: str) -> float:
    """Score one unpadded sequence, token by token: the reference for the batched version."""
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + answer_ids])).logits[0]
    total = 0.0
    for i, token in enumerate(answer_ids):
        total -= torch.log_softmax(logits[len(prompt_ids) + i - 1].float(), dim=-1)[token].item()
    return total


def test_batched_scores_match_scoring_each_question_alone(tiny_llama):
    model, tokenizer = load_causal_lm(tiny_llama)
    model.eval()
    strategy = get_strategy("pst")
    batched = answer_nll(model, tokenizer, strategy, UNEVEN, batch_size=3)
    alone = [nll_alone(model, tokenizer, strategy.prompt(r), " " + r.answer) for r in UNEVEN]
    assert batched == pytest.approx(alone, abs=1e-4)
    assert all(score > 0 for score in batched)


@pytest.mark.slow
def test_a_student_fit_to_the_answers_finds_them_likelier_and_eval_reports_it(overfit, tiny_llama, tmp_path):
    untrained = tmp_path / "untrained"
    shutil.copytree(tiny_llama, untrained)
    (untrained / "cotdistill.json").write_text(json.dumps({"strategy": get_strategy("pst").metadata()}))
    options = EvalOptions(max_new_tokens=8, similarity=False)
    before = evaluate(untrained, records=RECORDS, options=options)["mean_answer_nll"]
    after = evaluate(overfit("pst"), records=RECORDS, options=options)["mean_answer_nll"]
    assert after < before / 3, (before, after)

    pre = evaluate(overfit("pre-thinking"), records=RECORDS, options=options)
    assert "mean_answer_nll" not in pre  # its answer comes after a rationale: not comparable
