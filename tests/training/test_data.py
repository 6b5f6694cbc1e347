"""Batch order: length grouping, a record's sequences kept in one step, micro-batches."""

from __future__ import annotations

import random

from cotdistill.training.data import length_grouped_batches, micro_batches


def test_one_sequence_per_record_is_the_plain_length_grouping():
    lengths = [random.Random(1).randint(5, 200) for _ in range(100)]
    plain = length_grouped_batches(lengths, 8, seed=3, epoch=2)
    assert length_grouped_batches(lengths, 8, seed=3, epoch=2, records=list(range(100))) == plain
    assert sorted(i for batch in plain for i in batch) == list(range(100))
    assert plain != length_grouped_batches(lengths, 8, seed=3, epoch=3)  # each epoch its own order


def test_a_records_sequences_share_one_batch():
    # prefix: record n makes a short label sequence (2n) and a long rationale sequence (2n + 1).
    # Sorted as sequences, the label ones would batch together and the rationale ones apart.
    lengths = [30 + n % 7 if i % 2 == 0 else 120 + n % 13 for n in range(40) for i in range(2)]
    records = [n for n in range(40) for _ in range(2)]
    batches = length_grouped_batches(lengths, 8, seed=0, epoch=0, records=records)
    assert sorted(i for batch in batches for i in batch) == list(range(80))
    assert [len(batch) for batch in batches] == [16] * 5  # 8 records, both tasks of each
    for batch in batches:
        assert sorted({records[i] for i in batch}) == sorted(records[i] for i in batch if i % 2 == 0)
    assert batches == length_grouped_batches(lengths, 8, seed=0, epoch=0, records=records)


def test_micro_batches_cut_a_step_by_length():
    lengths = [50, 10, 40, 20, 30]
    assert micro_batches([0, 1, 2], lengths, 3) == [[0, 1, 2]]  # fits: kept as is
    assert micro_batches([0, 1, 2, 3, 4], lengths, 2) == [[1, 3], [4, 2], [0]]
