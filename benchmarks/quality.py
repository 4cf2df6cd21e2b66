"""Docs/s per core: mdfql's quality predicates vs datatrove's filters on the same real texts.

Texts: the 300 real pages of ../shared/data/extraction-eval (trafilatura main text when installed,
else a tag-stripped page). The Rust kernels spread a batch over rayon's pool (`--threads`, default
1); rates are docs per CPU-second (process time), so they are per-core figures whatever the pool
size, and the wall-clock rate is printed beside them. datatrove runs single-threaded.
Run: `python benchmarks/quality.py [--repeat N] [--threads N]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import time
from pathlib import Path

import pyarrow as pa

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


def rate(fn, n_docs: int, repeat: int) -> tuple[float, float]:
    """Best (docs per CPU-second, docs per wall-second) over `repeat` runs."""
    cpu, wall = float("inf"), float("inf")
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return n_docs / cpu, n_docs / wall


def combined(rates: list[float]) -> float:
    """Docs/s of running every predicate on each doc, from the per-predicate rates."""
    return 1 / sum(1 / r for r in rates)


FINEWEB_RULES = ("GopherRepetition", "GopherQuality", "C4Quality(fw)", "FineWebQuality")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="rayon threads of the Rust kernels")
    args = ap.parse_args()
    # read once, when rayon's pool starts (the first kernel call)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    from mdfql import _native as nat

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
    print(f"rayon threads: {args.threads}; rates in docs per CPU-second unless marked wall")
    print(f"{'filter':<18}{'mdfql':>10}{'(wall)':>10}{'datatrove':>11}{'speed-up':>10}")
    ours_all, refs_all = [], []
    for label, ours, ref_name in pairs:
        r_ours, w_ours = rate(lambda f=ours: f(arr), len(texts), args.repeat)
        ours_all.append(r_ours)
        if Document is None:
            print(f"{label:<18}{r_ours:>10.0f}{w_ours:>10.0f}{'(none)':>11}")
            continue
        step = refs[ref_name]
        step(Document(text=texts[0], id="warm-up"))  # load spaCy outside the timing
        # C4 rewrites doc.text: fresh documents for each reference run
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        r_ref, _ = rate(lambda f=step, ds=docs: [f(d) for d in ds], len(texts), 1)
        if label in FINEWEB_RULES:
            refs_all.append(r_ref)
        print(f"{label:<18}{r_ours:>10.0f}{w_ours:>10.0f}{r_ref:>11.0f}{r_ours / r_ref:>9.1f}x")
    c_ours = combined([r for (label, *_), r in zip(pairs, ours_all) if label in FINEWEB_RULES])
    if refs_all:
        c_ref = combined(refs_all)
        print(f"{'FineWeb rules':<18}{c_ours:>10.0f}{'':>10}{c_ref:>11.0f}{c_ours / c_ref:>9.1f}x"
              "   (the four filters FineWeb ran, one after another)")
    else:
        print(f"{'FineWeb rules':<18}{c_ours:>10.0f}")
    r_all, w_all = rate(lambda: nat.quality_signals(arr), len(texts), args.repeat)
    print(f"{'quality_signals':<18}{r_all:>10.0f}{w_all:>10.0f}   (all statistics, one call)")


if __name__ == "__main__":
    main()
