"""How long a grid of real-data benchmark cells takes on 2 CPU cores, before any of it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realdata import Cell, Scale

# Mean tokens of a formatted question and of one teacher rationale (SmolLM2 tokenizer, 200 training
# questions each), and rates fitted to the full-mode cells of bench/results/accuracy.json (2-core
# machine, SmolLM2 LoRA; the estimate of their sum is within 5% per dataset, and quick cells run
# ~20-40% faster than estimated): training tokens/s (GSM8K's long, ragged solutions pad the most);
# ~0.35 s per evaluated question (prompt, answer NLL, a few answer tokens); a rationale-first
# student decodes each batch to its longest rationale, at a per-step cost that grows with the
# context (hence the quadratic term); ~15 s to load and save per cell.
PROMPT_TOKENS = {"svamp": 43, "svamp-mcc": 42, "cqa": 51, "gsm8k": 62}
RATIONALE_TOKENS = {"svamp": 61, "svamp-mcc": 123, "cqa": 38, "gsm8k": 98}
TRAIN_TOKENS_PER_S = {"svamp": 180, "svamp-mcc": 180, "cqa": 180, "gsm8k": 145}
DECODE_STEPS_PER_S, EVAL_S_PER_QUESTION, CELL_OVERHEAD_S = 180, 0.35, 15
# Evaluating at batch 1 costs about 2x evaluating at batch 8 (fitted to the full speed run: 76.5 min
# measured; decoding alone is 2.8-3.5x slower per question, the prompt and answer-NLL passes are not).
BATCH_1_SLOWDOWN = 2.0
KEPT = {"svamp": 0.8, "svamp-mcc": 0.7, "cqa": 0.77, "gsm8k": 1.0}  # share of rationales with the right answer


def estimate_minutes(cells: list[Cell], scales: dict[str, Scale], eval_batch_sizes: tuple[int, ...] = (8,)) -> float:
    """Rough train + evaluate minutes for a grid on 2 idle CPU cores (a GPU is many times faster);
    each cell is evaluated once per batch size. Full fine-tuning costs the same as LoRA here (SVAMP,
    accuracy-full-finetune.json: 1186 vs 1220 s of training over the same six cells)."""
    evaluations = sum(BATCH_1_SLOWDOWN if size == 1 else 1 for size in eval_batch_sizes)
    total = 0.0
    for cell in cells:
        d, s, name = cell.dataset, scales[cell.dataset], cell.strategy.name
        prompt, rationale = PROMPT_TOKENS[d], RATIONALE_TOKENS[d]
        per_example = {"answer-only": prompt + 4, "prefix": 2 * prompt + rationale + 8}.get(name, prompt + rationale + 10)
        examples = s.train_questions * KEPT[d] * cell.samples_per_question
        steps = s.max_new_tokens if name == "pre-thinking" else 8
        per_question = EVAL_S_PER_QUESTION + steps * (1 + steps / 128) / DECODE_STEPS_PER_S
        test = s.test_questions or 200
        total += examples * s.epochs * per_example / TRAIN_TOKENS_PER_S[d] + evaluations * test * per_question
        total += CELL_OVERHEAD_S
    return total / 60
