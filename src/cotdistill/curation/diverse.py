"""Diverse downsampling: keep k rationales that cover the question's embedding clusters.

Plain k-means (k-means++ start, Lloyd iterations) on unit-normalised sentence embeddings; from each
cluster the member nearest its centre is kept.
"""

from __future__ import annotations

import numpy as np


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Cluster `points` [n, d] into k groups. Returns (labels [n], centres [k, d])."""
    n = len(points)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    centres = [points[rng.integers(n)]]
    for _ in range(1, k):  # k-means++: far points are likelier next centres
        distance = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        if distance.sum() <= 0:
            centres.append(points[rng.integers(n)])
        else:
            centres.append(points[rng.choice(n, p=distance / distance.sum())])
    centres = np.array(centres, dtype=np.float64)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new_labels = ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for cluster in range(k):
            members = points[labels == cluster]
            if len(members):
                centres[cluster] = members.mean(0)
    return labels, centres


def pick_diverse(embeddings: np.ndarray, k: int, seed: int) -> list[int]:
    """Indices of k items, one nearest the centre of each of k clusters (sorted)."""
    n = len(embeddings)
    if k >= n:
        return list(range(n))
    points = np.asarray(embeddings, dtype=np.float64)
    points = points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    labels, centres = kmeans(points, k, np.random.default_rng(seed))
    distance = ((points - centres[labels]) ** 2).sum(-1)
    chosen = []
    for cluster in range(k):
        members = np.flatnonzero(labels == cluster)
        if len(members):
            chosen.append(int(members[distance[members].argmin()]))
    # an emptied cluster (rare) leaves a gap: fill it with the items farthest from their centres
    for index in np.argsort(-distance):
        if len(chosen) >= k:
            break
        if int(index) not in chosen:
            chosen.append(int(index))
    return sorted(chosen)
