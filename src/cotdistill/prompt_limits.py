"""A cap on prompt length wherever user text is tokenized for generation (eval, the hf teacher).

Without one, a pasted 1.25M-token question makes a job run without limit (or fail deep in the
model). The cap is the model's context window less the tokens it will generate, unless set lower;
text far longer than any cap (more than `CHARS_PER_TOKEN_BOUND` characters a token) is refused
before it is even tokenized. Training needs no cap here: its sequences are cut to --max-len and a
prompt longer than that is dropped and counted in cotdistill.json.
"""

from __future__ import annotations

from pathlib import Path

from cotdistill.errors import CotdistillError, DataError

# No tokenizer in use packs more characters than this into one token on ordinary text.
CHARS_PER_TOKEN_BOUND = 64
DEFAULT_CONTEXT = 2048  # when a model config names no context window


def context_window(model) -> int:
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_CONTEXT


def prompt_cap(model, max_new_tokens: int, requested: int | None = None, flag: str = "--max-prompt-tokens") -> int:
    """The longest prompt, in tokens, that leaves room for `max_new_tokens` in the model's context (`model`: a
    transformers model, or its context in tokens)."""
    context = model if isinstance(model, int) else context_window(model)
    room = context - max_new_tokens
    if room < 1:
        raise CotdistillError(f"--max-new-tokens {max_new_tokens} leaves no room for a prompt in the model's "
                              f"{context}-token context; lower it")
    if requested is not None and requested < 1:
        raise CotdistillError(f"{flag} must be at least 1, got {requested}")
    return min(room, requested) if requested is not None else room


def check_prompt_lengths(tokenizer, prompts: list[str], ids: list[str], cap: int, source: str | Path,
                         flag: str = "--max-prompt-tokens") -> None:
    """A DataError naming the first prompt longer than `cap` tokens, before any generation."""
    hint = f"shorten the question, or drop it; {flag} sets a lower cap (the highest is the model's context less the new tokens)"
    for prompt, record_id in zip(prompts, ids):
        if len(prompt) > cap * CHARS_PER_TOKEN_BOUND:
            raise DataError(source, f"prompt of {len(prompt):,} characters, far over the cap of {cap:,} tokens",
                            record=record_id, field="question", hint=hint)
        length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if length > cap:
            raise DataError(source, f"prompt of {length:,} tokens, over the cap of {cap:,}", record=record_id,
                            field="question", hint=hint)
