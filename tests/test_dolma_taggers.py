"""Fidelity of dolma_gopher, dolma_c4, dolma_pii and remove_spans against Dolma's own taggers
(the `dolma` 1.2.1 package, tests/dolma_reference.py) on the 300 real pages of extraction-eval:
their main text as extract_text gives it, and the same with blank lines removed (the text
pipelines/dolma.sql tags), 600 texts. Every attribute, and every CC-mix decision made from it,
must agree on >= 99.5% of them."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dolma_reference import available, tag

from mdfql import _native as nat
from mdfql.functions import kernels

MIN_AGREEMENT = 0.995
GOPHER = list(kernels.GOPHER_DOLMA_FIELDS)
C4_SPANS = ("lines_with_no_ending_punctuation", "lines_with_too_few_words")
C4_FLAGS = ("has_naughty_word", "has_javascript", "has_lorem_ipsum", "has_curly_brace")
PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS")
# configs/dolma-v1_5/mixing/cc-head.yaml: (attribute, op, threshold) excluding a document
CC_RULES = [("word_count", "<", 50), ("word_count", ">", 100000),
            ("median_word_length", "<", 3), ("median_word_length", ">", 10),
            ("symbol_to_word_ratio", ">", 0.1),
            ("fraction_of_words_with_alpha_character", "<", 0.8),
            ("required_word_count", "<", 2),
            ("fraction_of_lines_starting_with_bullet_point", ">", 0.9),
            ("fraction_of_lines_ending_with_ellipsis", ">", 0.3),
            ("fraction_of_duplicate_lines", ">", 0.3),
            ("fraction_of_characters_in_duplicate_lines", ">", 0.3),
            *[(f"fraction_of_characters_in_duplicate_{n}grams", ">", t)
              for n, t in zip(range(5, 11), (0.15, 0.14, 0.13, 0.12, 0.11, 0.10), strict=True)]]


@pytest.fixture(scope="module")
def texts(shared_data: Path) -> list[str]:
    eval_dir = shared_data / "extraction-eval"
    urls, pages = [], []
    for line in (eval_dir / "cases.jsonl").read_text().splitlines():
        case = json.loads(line)
        urls.append(case["url"])
        pages.append(gzip.decompress((eval_dir / case["file"]).read_bytes())
                     .decode("utf-8", "replace"))
    main = [t or "" for t in
            kernels.extract_text_batch(pa.array(pages), pa.array(urls)).to_pylist()]
    assert sum(bool(t) for t in main) > 250
    return main + [re.sub(r"\n+", "\n", t) for t in main]


@pytest.fixture(scope="module")
def reference(texts, tmp_path_factory) -> list[dict[str, Any]]:
    if not available():
        pytest.skip("the dolma package is not installed in .dolma-ref (tests/dolma_reference.py)")
    return tag(texts, tmp_path_factory.mktemp("dolma"))


def _score(attrs: dict[str, list], name: str) -> float | None:
    spans = attrs.get(name)
    return spans[0][2] if spans else None


def _spans(spans: list[dict] | list[list] | None) -> list[tuple[int, int]]:
    return [(s["start"], s["end"]) if isinstance(s, dict) else (int(s[0]), int(s[1]))
            for s in spans or []]


def _agreement(pairs: list[tuple[Any, Any]], what: str, texts: list[str]) -> float:
    bad = [i for i, (a, b) in enumerate(pairs) if a != b]
    for i in bad[:3]:
        print(f"{what}: text {i}: mdfql {pairs[i][0]!r} dolma {pairs[i][1]!r}: "
              f"{texts[i][:120]!r}")
    return 1 - len(bad) / len(pairs)


def _excluded(value: float | None, op: str, threshold: float) -> bool:
    # the mixer's JSONPath filter fires only where the attribute exists
    return value is not None and (value < threshold if op == "<" else value > threshold)


def test_gopher_attributes_and_decisions(texts, reference):
    ours = nat.dolma_gopher(pa.array(texts, pa.large_string())).to_pylist()
    rates = {}
    for name in GOPHER:
        rates[name] = _agreement([(o[name], _score(r["gopher_v1"], name))
                                  for o, r in zip(ours, reference, strict=True)], name, texts)
    for name, op, thr in CC_RULES:
        rates[f"{name} {op} {thr}"] = _agreement(
            [(_excluded(o[name], op, thr), _excluded(_score(r["gopher_v1"], name), op, thr))
             for o, r in zip(ours, reference, strict=True)], name, texts)
    print({k: round(v, 4) for k, v in rates.items()})
    assert min(rates.values()) >= MIN_AGREEMENT, rates
    # the rules do decide something on these pages
    dropped = sum(any(_excluded(o[n], op, t) for n, op, t in CC_RULES) for o in ours)
    assert 0 < dropped < len(texts)


def test_c4_attributes(texts, reference):
    ours = nat.dolma_c4(pa.array(texts, pa.large_string())).to_pylist()
    rates = {}
    for name in C4_SPANS:
        rates[name] = _agreement([(_spans(o[name]), _spans(r["c4_v1"].get(name)))
                                  for o, r in zip(ours, reference, strict=True)], name, texts)
    for name in C4_FLAGS:
        rates[name] = _agreement([(o[name], name in r["c4_v1"])
                                  for o, r in zip(ours, reference, strict=True)], name, texts)
    rates["line_count"] = _agreement([(o["line_count"], _score(r["c4_v1"], "line_count"))
                                      for o, r in zip(ours, reference, strict=True)],
                                     "line_count", texts)
    print({k: round(v, 4) for k, v in rates.items()})
    assert min(rates.values()) >= MIN_AGREEMENT, rates
    assert sum(o["has_naughty_word"] for o in ours) > 0
    assert sum(bool(o["lines_with_no_ending_punctuation"]) for o in ours) > len(texts) / 2


def test_pii_spans_and_counts(texts, reference):
    ours = nat.dolma_pii(pa.array(texts, pa.large_string())).to_pylist()
    rates = {}
    for name in PII_TYPES:
        rates[name] = _agreement([(_spans(o[name]), _spans(r["pii_regex_with_counts_fast_v2"]
                                                            .get(name)))
                                  for o, r in zip(ours, reference, strict=True)], name, texts)
    rates["doc_count"] = _agreement(
        [(o["doc_count"], _score(r["pii_regex_with_counts_fast_v2"], "doc_count"))
         for o, r in zip(ours, reference, strict=True)], "doc_count", texts)
    rates["doc_count > 5"] = _agreement(
        [(o["doc_count"] > 5, _score(r["pii_regex_with_counts_fast_v2"], "doc_count") > 5)
         for o, r in zip(ours, reference, strict=True)], "doc_count > 5", texts)
    print({k: round(v, 4) for k, v in rates.items()})
    assert min(rates.values()) >= MIN_AGREEMENT, rates
    assert sum(o["doc_count"] for o in ours) > 10  # the regexes find something on real pages


def test_c4_cleaning_removes_the_reference_spans(texts, reference):
    """remove_spans with Dolma's c4_v1 no-punctuation spans (the "c4-cleaned" CC documents):
    the text without exactly those lines, cut at the reference's character offsets."""
    cleaned = kernels.remove_spans_batch(
        pa.array(texts, pa.large_string()),
        nat.dolma_c4(pa.array(texts, pa.large_string())).field(C4_SPANS[0])).to_pylist()
    for text, out, ref in zip(texts, cleaned, reference, strict=True):
        spans = _spans(ref["c4_v1"].get(C4_SPANS[0]))
        keep, last = [], 0
        for a, b in spans:  # c4_v1's line spans are sorted and disjoint
            keep.append(text[last:a])
            last = b
        assert out == "".join(keep) + text[last:]
