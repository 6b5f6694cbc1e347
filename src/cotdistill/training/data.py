"""Curated data in, length-grouped padded batches out.

Batches are grouped by length: each epoch shuffles the records (seeded by seed and epoch), cuts
the order into windows of 50 batches, sorts each window by length and cuts it into batches, then
shuffles the batches. So a batch pads only to its own longest sequence, which is close to its
shortest, and the order is a pure function of (seed, epoch): a resumed run sees the same batches.

A batch is batch_size records with all their sequences. Most strategies make one sequence per
record; prefix makes two (its label and rationale tasks), and Distilling step-by-step computes both
tasks' losses on the same questions in every step. Sorting sequences alone put each task in batches
of its own (short label sequences together, long rationale ones together), so every step trained
one task only. A step's sequences are then cut into micro-batches of similar length
(`micro_batches`), and the loss divides by the whole step's token counts, so how a step is cut
does not change its loss.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from cotdistill.errors import DataError
from cotdistill.records import Record
from cotdistill.strategies import PROMPT, EncodedExample, Strategy

WINDOW_BATCHES = 50


def read_curated(folder: str | Path) -> tuple[list[Record], dict]:
    """Records of folder/train.jsonl (each with exactly one rationale) and folder/manifest.json."""
    from cotdistill.training.preflight import read_manifest

    folder = Path(folder)
    manifest = read_manifest(folder / "manifest.json")
    path = folder / "train.jsonl"
    records = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = Record.from_json(line)
            except ValueError as error:
                raise DataError(path, f"not a valid record: {error}", line=number) from None
            if len(record.rationales) != 1:
                raise DataError(path, f"expected exactly one rationale, found {len(record.rationales)}",
                                line=number, record=record.id, field="rationales",
                                hint="curated training files carry one rationale per line")  # fmt: skip
            records.append(record)
    if not records:
        raise DataError(path, "no training records", hint="check the curation settings")
    return records, manifest


def encode_records(strategy: Strategy, records: list[Record], tokenizer, max_len: int) -> tuple[list[EncodedExample], dict]:
    """All training sequences, plus counts of those cut to max_len or dropped (prompt alone too long)."""
    examples, dropped = [], 0
    for index, record in enumerate(records):
        encoded = strategy.encode(record, tokenizer, max_len)
        for example in encoded:
            example.record_index = index
        dropped += len(strategy.examples(record)) - len(encoded)
        examples += encoded
    stats = {"examples": len(examples), "truncated": sum(e.truncated for e in examples), "dropped": dropped}
    return examples, stats


def length_grouped_batches(
    lengths: list[int], batch_size: int, seed: int, epoch: int, records: list[int] | None = None
) -> list[list[int]]:
    """Sequence indices of each batch of one epoch, in training order; deterministic in (seed, epoch).

    records[i] is the record (training-file line) sequence i was made from; default: each sequence
    its own. A batch holds batch_size records, sorted by their longest sequence.
    """
    units = _by_record(records) if records is not None else [[i] for i in range(len(lengths))]
    longest = [max(lengths[i] for i in unit) for unit in units]
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(units)))
    rng.shuffle(order)
    window = batch_size * WINDOW_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda u: longest[u])
        batches += [[i for u in chunk[j : j + batch_size] for i in units[u]] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _by_record(records: list[int]) -> list[list[int]]:
    """Sequence indices grouped by record, in order of first appearance."""
    units: dict[int, list[int]] = {}
    for index, record in enumerate(records):
        units.setdefault(record, []).append(index)
    return list(units.values())


def micro_batches(batch: list[int], lengths: list[int], size: int) -> list[list[int]]:
    """A batch cut into micro-batches of at most size sequences, shortest first (one when it fits)."""
    if len(batch) <= size:
        return [batch]
    ordered = sorted(batch, key=lambda i: lengths[i])
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def collate(examples: list[EncodedExample], pad_id: int, target_rows: list[int] | None = None) -> dict:
    """Right-padded tensors for one batch; padding is PROMPT kind (never a target), marker -1 = none."""
    width = max(len(e) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    kinds = torch.full((len(examples), width), PROMPT, dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        attention_mask[row, :n] = 1
        kinds[row, :n] = torch.tensor(example.kinds)
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "kinds": kinds,
        "marker_index": torch.tensor([-1 if e.marker_index is None else e.marker_index for e in examples]),
    }
    if target_rows is not None:
        batch["target_row"] = torch.tensor(target_rows, dtype=torch.long)
    return batch
