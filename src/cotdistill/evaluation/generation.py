"""Batched decoding with left padding, stop strings and exact per-row token accounting.

`transformers` stops each row as soon as a token completes a stop string (`StopStringCriteria`,
which also catches a stop string split across tokens) or at EOS; finished rows are then padded
while the rest of the batch goes on. Here each row is cut back to the token that ended it, so no
token past the separator is kept in the text or counted. An answer-first student whose separator is
EOS itself writes its rationale after that first EOS: asked for it (`eos_count=2`), a row ends at its
second EOS instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
from transformers import StoppingCriteria, StoppingCriteriaList


@dataclass(frozen=True)
class Generation:
    """One decoded continuation."""

    text: str  # generated text, ending right after the stop string when one was hit
    n_tokens: int  # tokens generated up to and including the one that ended the row
    stopped_by: str  # "stop", "eos" or "length"
    # log p of each kept token as the model chose it (DecodeSettings.logprobs): the answer's confidence
    logprobs: tuple[float, ...] = ()


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode: greedy by default; sampling for self-consistency."""

    max_new_tokens: int = 256
    stop_strings: tuple[str, ...] = ()
    num_samples: int = 1
    temperature: float = 0.7
    top_p: float = 1.0
    eos_count: int = 1  # a row ends at its eos_count-th EOS
    logprobs: bool = False  # keep each generated token's log-probability (greedy; a router reads them)

    @property
    def sampling(self) -> bool:
        return self.num_samples > 1


def prepare_tokenizer(tokenizer) -> None:
    """Left padding (decoder-only batches must end where generation starts) and a pad token."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a sequence: the tokenizer's EOS and the model's generation config's."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    return sorted(i for i in ids if i is not None)


def generate_batch(model, tokenizer, prompts: list[str], settings: DecodeSettings) -> tuple[list[list[Generation]], float]:
    """Decode `settings.num_samples` continuations per prompt; returns them per prompt and the wall time."""
    encoded = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    eos_ids = eos_token_ids(model, tokenizer)
    kwargs = dict(
        max_new_tokens=settings.max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        num_return_sequences=settings.num_samples,
    )
    if settings.sampling:
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    kwargs.update(row_end_kwargs(tokenizer, eos_ids, settings.stop_strings, settings.eos_count, encoded["input_ids"].shape[1]))
    if settings.logprobs:
        kwargs.update(return_dict_in_generate=True, output_logits=True)
    started = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(**encoded, **kwargs)
        sequences = output.sequences if settings.logprobs else output
        generated = sequences[:, encoded["input_ids"].shape[1] :]
        chosen = chosen_logprobs(output.logits, generated).tolist() if settings.logprobs else None
    new_tokens = generated.tolist()  # on a GPU, waits for the last step
    seconds = time.perf_counter() - started
    rows = [trim_row(ids, tokenizer, eos_ids, settings.stop_strings, settings.eos_count) for ids in new_tokens]
    if chosen is not None:
        rows = [replace(row, logprobs=tuple(lps[: row.n_tokens])) for row, lps in zip(rows, chosen)]
    k = settings.num_samples
    return [rows[i * k : (i + 1) * k] for i in range(len(prompts))], seconds


def chosen_logprobs(logits: tuple[torch.Tensor, ...], generated: torch.Tensor) -> torch.Tensor:
    """log p of each generated token under the raw logits of its step, [rows, steps]."""
    steps = torch.stack(logits, dim=1).float().log_softmax(dim=-1)  # [rows, steps, vocab]
    return steps.gather(-1, generated[:, : steps.shape[1], None]).squeeze(-1)


def text_stops(tokenizer, stop_strings: tuple[str, ...], eos_count: int) -> tuple[str, ...]:
    """The stop strings that need matching as text. A student trained with EOS as its separator names the
    EOS token's text as its stop string; where the first EOS ends the row anyway, its id does that already,
    and a text match would only cost a stopping criterion per call (55 ms of a 260 ms pst answer here)."""
    return tuple(s for s in stop_strings if not (eos_count == 1 and s == tokenizer.eos_token))


def row_end_kwargs(tokenizer, eos_ids: list[int], stop_strings: tuple[str, ...], eos_count: int, prompt_width: int) -> dict:
    """`generate()` arguments that end each row at a completed stop string or at its eos_count-th EOS."""
    kwargs: dict = {"eos_token_id": eos_ids}
    if stop_strings := text_stops(tokenizer, stop_strings, eos_count):
        kwargs.update(stop_strings=list(stop_strings), tokenizer=tokenizer)
    if eos_count > 1:  # EOS alone must not end the row; the criterion counts them instead
        kwargs.update(eos_token_id=[], stopping_criteria=StoppingCriteriaList([_NthEos(eos_ids, eos_count, prompt_width)]))
    return kwargs


class _NthEos(StoppingCriteria):
    """Stopping criterion: a row is done once its generated tokens hold `count` EOS tokens."""

    def __init__(self, eos_ids: list[int], count: int, prompt_width: int):
        self.eos, self.count, self.prompt_width = torch.tensor(eos_ids), count, prompt_width

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        generated = input_ids[:, self.prompt_width :]
        return torch.isin(generated, self.eos.to(generated.device)).sum(dim=1) >= self.count


def eos_count_for(strategy, tokenizer, explain: bool) -> int:
    """2 where an answer-first student's separator is EOS itself and its rationale is wanted, else 1."""
    return 2 if explain and strategy.eos_separated(tokenizer.eos_token) else 1


def trim_row(ids: list[int], tokenizer, eos_ids: list[int], stop_strings: tuple[str, ...], eos_count: int = 1) -> Generation:
    """Cut one generated row at whichever comes first: a completed stop string, its eos_count-th EOS
    (the EOS before it stay in the text), or the length limit."""
    eos_positions = [i for i, t in enumerate(ids) if t in eos_ids]
    eos_at = eos_positions[eos_count - 1] if len(eos_positions) >= eos_count else None
    body = ids if eos_at is None else ids[:eos_at]
    # skip_special_tokens=False: a separator registered as a special token must stay visible.
    text = tokenizer.decode(body, skip_special_tokens=False)
    hit = first_stop(text, stop_strings)
    if hit is not None:
        n_tokens = tokens_until(body, tokenizer, stop_strings)
        return Generation(text=text[:hit], n_tokens=n_tokens, stopped_by="stop")
    if eos_at is not None:
        return Generation(text=text, n_tokens=eos_at + 1, stopped_by="eos")
    return Generation(text=text, n_tokens=len(ids), stopped_by="length")


def first_stop(text: str, stop_strings: tuple[str, ...]) -> int | None:
    """Character offset just past the earliest stop string in `text`, or None."""
    ends = [text.find(s) + len(s) for s in stop_strings if s and s in text]
    return min(ends) if ends else None


def tokens_until(ids: list[int], tokenizer, stop_strings: tuple[str, ...]) -> int:
    """The number of leading tokens needed for the decoded text to contain a stop string."""
    for k in range(1, len(ids) + 1):
        if first_stop(tokenizer.decode(ids[:k], skip_special_tokens=False), stop_strings) is not None:
            return k
    return len(ids)
