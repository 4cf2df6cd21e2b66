"""Snippet-based scoring of main-content extraction, as in trafilatura's evaluation.

Each case lists `with` snippets the extracted text must contain and `without` (boilerplate)
snippets it must not. A found `with` snippet is a true positive, a missing one a false negative;
a found `without` snippet is a false positive, an absent one a true negative. Whitespace is
collapsed on both sides so line breaking does not decide a match.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Case:
    """One evaluation page."""

    url: str
    html: str
    with_: list[str]
    without: list[str]


@dataclass
class Score:
    """Snippet confusion counts with derived metrics."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fn + self.fp + self.tn
        return (self.tp + self.tn) / total if total else 0.0


def _decode(raw: bytes) -> str:
    """UTF-8 when valid, else the declared charset, else cp1252 (the crawl is mostly Western)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        m = re.search(rb"charset=[\"']?([-\w]+)", raw[:8192])
        for enc in ([m.group(1).decode("ascii")] if m else []) + ["cp1252"]:
            try:
                return raw.decode(enc)
            except (UnicodeDecodeError, LookupError):
                continue
        return raw.decode("utf-8", "replace")


def load_cases(folder: Path) -> list[Case]:
    """Read `cases.jsonl` and the gzip pages it names, decoded to text."""
    cases = []
    with open(folder / "cases.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            raw = gzip.decompress((folder / row["file"]).read_bytes())
            cases.append(
                Case(row["url"], _decode(raw), row["with"], row["without"])
            )
    return cases


def _norm(s: str) -> str:
    return " ".join(s.split())


def score(cases: Iterable[Case], texts: Iterable[str | None]) -> Score:
    """Score extracted `texts` (None = extraction failed) against `cases`, pairwise."""
    sc = Score()
    for case, text in zip(cases, texts, strict=True):
        t = _norm(text or "")
        for snippet in case.with_:
            if _norm(snippet) in t:
                sc.tp += 1
            else:
                sc.fn += 1
        for snippet in case.without:
            if _norm(snippet) in t:
                sc.fp += 1
            else:
                sc.tn += 1
    return sc
