"""Rationale corruptions and diverse downsampling (hand-checked)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cotdistill.curation.diverse import kmeans, pick_diverse
from cotdistill.curation.noise import corruption, perturb_numbers, shuffle_sentences, split_sentences, swap_with_other, truncate

TEXT = "Tom has 3 apples. He buys 4 more. 3 + 4 = 7. The answer is 7."


def test_perturb_numbers_changes_every_number_and_nothing_else():
    changed = perturb_numbers(TEXT, random.Random(0))
    words, new_words = TEXT.split(), changed.split()
    assert len(words) == len(new_words)
    for old, new in zip(words, new_words):
        if old.rstrip(".").isdigit():
            assert new.rstrip(".").isdigit() and new != old
        else:
            assert new == old
    assert perturb_numbers("no digits here", random.Random(0)) is None
    assert perturb_numbers("It costs 2.50 dollars.", random.Random(1)).count(".") == 2  # decimals stay decimals


def test_shuffle_truncate_swap():
    rng = random.Random(3)
    shuffled = shuffle_sentences(TEXT, rng)
    assert shuffled != TEXT and sorted(split_sentences(shuffled)) == sorted(split_sentences(TEXT))
    assert shuffle_sentences("Only one sentence.", rng) is None
    assert truncate(TEXT, rng) == "Tom has 3 apples. He buys 4 more."
    assert truncate("one two three four", rng) == "one two"
    assert truncate("single", rng) is None
    pool = [("q1", TEXT), ("q1", "same question"), ("q2", "Other question reasoning.")]
    assert swap_with_other(TEXT, rng, own_question="q1", pool=pool) == "Other question reasoning."
    assert swap_with_other(TEXT, rng, own_question="q1", pool=pool[:2]) is None
    with pytest.raises(Exception, match="unknown noise kind"):
        corruption("blur")


def test_kmeans_finds_obvious_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.concatenate([c + rng.normal(scale=0.1, size=(20, 2)) for c in centres])
    labels, found = kmeans(points, 3, np.random.default_rng(1))
    assert len({tuple(labels[i * 20:(i + 1) * 20]) for i in range(3)}) == 3  # each blob its own label
    assert all(len(set(labels[i * 20:(i + 1) * 20])) == 1 for i in range(3))
    assert np.allclose(np.sort(found, axis=0), np.sort(centres, axis=0), atol=0.1)


def test_pick_diverse_takes_one_per_direction():
    # four near-copies of direction x, three of y, two of z: k=3 must cover x, y and z
    vectors = np.array([[1, 0.01 * i, 0] for i in range(4)] + [[0.01 * i, 1, 0] for i in range(3)] + [[0, 0.01 * i, 1] for i in range(2)])
    chosen = pick_diverse(vectors, 3, seed=0)
    assert len(chosen) == 3
    assert {int(np.argmax(vectors[i])) for i in chosen} == {0, 1, 2}
    assert pick_diverse(vectors, 20, seed=0) == list(range(9))
