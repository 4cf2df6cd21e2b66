"""Brute-force near-duplicate count that pipeline tests check dedup against."""

from __future__ import annotations


def shingles(text: str, n: int = 5) -> set[str]:
    """Lower-cased word `n`-grams of `text` (the whole text when shorter)."""
    words = text.lower().split()
    return {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


def similar_pairs(texts: list[str], threshold: float = 0.8) -> int:
    """Pairs of texts whose word 5-gram Jaccard similarity is at least `threshold`."""
    sets = [shingles(t) for t in texts]
    return sum(
        len(a & b) >= threshold * len(a | b)
        for i, a in enumerate(sets) for b in sets[i + 1:]
    )
