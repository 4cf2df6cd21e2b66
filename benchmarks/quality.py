"""Docs/s per core: mdfql's quality predicates vs datatrove's filters on the same real texts.

Texts: the 300 real pages of ../shared/data/extraction-eval (trafilatura main text when installed,
else a tag-stripped page). Both sides run single-threaded (the Rust batch kernels use one core).
Run: `python benchmarks/quality.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from pathlib import Path

import pyarrow as pa

from mdfql import _native as nat

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction-eval"


def load_texts() -> list[str]:
    try:
        import trafilatura
    except ImportError:
        trafilatura = None
    texts = []
    for line in (EVAL / "cases.jsonl").read_text().splitlines():
        html = gzip.decompress((EVAL / json.loads(line)["file"]).read_bytes()).decode(
            "utf-8", "replace"
        )
        if trafilatura is not None:
            texts.append(trafilatura.extract(html, favor_recall=True) or "")
        else:
            html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
            texts.append(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "\n", html)))
    return texts


def rate(fn, n_docs: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_docs / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    texts = load_texts()
    arr = pa.array(texts)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{len(texts)} docs, {mb:.1f} MB of text")
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
        from datatrove.pipeline.formatters import PIIFormatter
    except ImportError:
        Document = None
    else:
        pii = PIIFormatter()
        refs = {  # the reference's work on one Document
            "GopherRepetitionFilter": GopherRepetitionFilter().filter,
            "GopherQualityFilter": GopherQualityFilter().filter,
            "FineWebQualityFilter": FineWebQualityFilter().filter,
            "C4QualityFilter(fw)": C4QualityFilter(filter_no_terminal_punct=False).filter,
            "C4QualityFilter": C4QualityFilter().filter,
            "PIIFormatter": lambda d: pii.format(d.text),
        }
    pairs = [
        ("GopherRepetition", nat.gopher_repetition_ok, "GopherRepetitionFilter"),
        ("GopherQuality", nat.gopher_quality_ok, "GopherQualityFilter"),
        ("FineWebQuality", nat.fineweb_quality_ok, "FineWebQualityFilter"),
        # C4 as FineWeb ran it, and defaults (which tokenise every kept line for sentences)
        ("C4Quality(fw)", lambda a: nat.c4_quality(a, filter_no_terminal_punct=False),
         "C4QualityFilter(fw)"),
        ("C4Quality", nat.c4_quality, "C4QualityFilter"),
        ("PII", nat.pii_mask, "PIIFormatter"),
    ]
    print(f"{'filter':<18}{'mdfql docs/s':>14}{'datatrove docs/s':>18}{'speed-up':>10}")
    for label, ours, ref_name in pairs:
        r_ours = rate(lambda f=ours: f(arr), len(texts), args.repeat)
        if Document is None:
            print(f"{label:<18}{r_ours:>14.0f}{'(no datatrove)':>18}")
            continue
        step = refs[ref_name]
        step(Document(text=texts[0], id="warm-up"))  # load spaCy outside the timing
        # C4 rewrites doc.text: fresh documents for each reference run
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        r_ref = rate(lambda f=step, ds=docs: [f(d) for d in ds], len(texts), 1)
        print(f"{label:<18}{r_ours:>14.0f}{r_ref:>18.0f}{r_ours / r_ref:>9.1f}x")
    r_all = rate(lambda: nat.quality_signals(arr), len(texts), args.repeat)
    print(f"{'quality_signals':<18}{r_all:>14.0f}   (all statistics, one call)")


if __name__ == "__main__":
    main()
