"""Spherical k-means (cosine) in numpy, deterministic for a seed: k-means++ seeding, then
Lloyd rounds until no point moves. Rows are unit vectors; centroids are re-normalised means
(what SemDeDup's clustering of L2-normalised embeddings computes)."""

from __future__ import annotations

import numpy as np

ASSIGN_ROWS = 1 << 14  # rows scored against the centroids at a time


def assign(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centroid, cosine similarity to it) of each unit row of `x`; ties go to the
    lower centroid index."""
    best = np.empty(len(x), np.int32)
    sim = np.empty(len(x), np.float32)
    for at in range(0, len(x), ASSIGN_ROWS):
        scores = x[at:at + ASSIGN_ROWS] @ centroids.T
        best[at:at + ASSIGN_ROWS] = np.argmax(scores, axis=1)
        sim[at:at + ASSIGN_ROWS] = scores[np.arange(len(scores)), best[at:at + ASSIGN_ROWS]]
    return best, sim


def _seed(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) on cosine distance 1 - x.c."""
    chosen = [int(rng.integers(len(x)))]
    distance = np.maximum(1.0 - x @ x[chosen[0]], 0.0).astype(np.float64)
    for _ in range(1, k):
        total = distance.sum()
        pick = int(rng.choice(len(x), p=distance / total)) if total > 0 \
            else int(rng.integers(len(x)))  # every point already is a centroid
        chosen.append(pick)
        np.minimum(distance, np.maximum(1.0 - x @ x[pick], 0.0), out=distance)
    return x[chosen].copy()


def spherical_kmeans(x: np.ndarray, k: int, seed: int, iterations: int) -> np.ndarray:
    """`min(k, len(x))` unit centroids of the unit rows `x` (float32), the same for the same
    rows in the same order and seed. An emptied cluster keeps its previous centroid."""
    if len(x) == 0:
        return np.zeros((0, x.shape[1]), np.float32)
    k = min(k, len(x))
    centroids = _seed(x, k, np.random.default_rng(seed))
    labels = None
    for _ in range(iterations):
        new, _ = assign(x, centroids)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        order = np.argsort(labels, kind="stable")
        present, starts = np.unique(labels[order], return_index=True)
        sums = np.add.reduceat(x[order], starts, axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        ok = norms[:, 0] > 0
        centroids[present[ok]] = sums[ok] / norms[ok]
    return centroids.astype(np.float32, copy=False)
