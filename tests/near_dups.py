"""Brute-force near-duplicate references that dedup tests check against."""

from __future__ import annotations

from collections import defaultdict


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


class Sets:
    """Plain union-find keyed by node value."""

    def __init__(self, nodes):
        self.parent = {n: n for n in nodes}

    def find(self, x):
        while self.parent[x] != x:
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> dict:
        """node -> smallest node of its component, for components of two or more."""
        members = defaultdict(list)
        for n in self.parent:
            members[self.find(n)].append(n)
        return {n: min(m) for m in members.values() if len(m) > 1 for n in m}
