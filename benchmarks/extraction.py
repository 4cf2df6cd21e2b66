"""Main-content extraction benchmark: mdfql vs trafilatura (FineWeb settings) vs resiliparse.

Runs every extractor on the same 300 pages of ../shared/data/extraction-eval, scores the snippets
with `mdfql.eval.extraction.score` and prints F1, precision, recall, accuracy and docs/s per core
(CPU time from time.process_time, so the number is per core whatever the machine load).

    python benchmarks/extraction.py [--data PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from mdfql import _native
from mdfql.eval.extraction import Case, Score, load_cases, score

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction-eval"


def run_mdfql(htmls: list[str]) -> list[str | None]:
    """One batched call through the pyarrow entry point."""
    out = _native.extract_text(pa.array(htmls, pa.large_utf8()))
    return out.field("text").to_pylist()


def make_trafilatura() -> Callable[[list[str]], list[str | None]] | None:
    try:
        import trafilatura
    except ImportError:
        print("trafilatura not installed: skipped (pip install trafilatura==1.11.0)")
        return None

    def run(htmls: list[str]) -> list[str | None]:
        # FineWeb's settings (datatrove's Trafilatura extractor).
        return [
            trafilatura.extract(h, favor_precision=True, include_comments=False, deduplicate=True)
            for h in htmls
        ]

    return run


def make_resiliparse() -> Callable[[list[str]], list[str | None]] | None:
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ImportError:
        print("resiliparse not installed: skipped (pip install resiliparse)")
        return None

    def run(htmls: list[str]) -> list[str | None]:
        return [extract_plain_text(h, main_content=True) for h in htmls]

    return run


def measure(
    run: Callable[[list[str]], list[str | None]], cases: list[Case], repeat: int
) -> tuple[Score, float]:
    """Score one extractor and time it (best of `repeat` runs, after a warm-up)."""
    htmls = [c.html for c in cases]
    run(htmls[:5])
    best = float("inf")
    texts: list[str | None] = []
    for _ in range(repeat):
        t0 = time.process_time()
        texts = run(htmls)
        best = min(best, time.process_time() - t0)
    return score(cases, texts), len(cases) / max(best, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (args.data / "cases.jsonl").exists():
        raise SystemExit(f"evaluation data not found at {args.data}")
    cases = load_cases(args.data)
    extractors: dict[str, Callable[[list[str]], list[str | None]] | None] = {
        "mdfql": run_mdfql,
        "trafilatura": make_trafilatura(),
        "resiliparse": make_resiliparse(),
    }
    results = {}
    for name, run in extractors.items():
        if run is not None:
            # trafilatura is slow: one timed run is enough for a stable number.
            results[name] = measure(run, cases, 1 if name == "trafilatura" else args.repeat)
    print(f"{len(cases)} pages")
    print(f"{'extractor':<12} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} {'docs/s/core':>12}")
    for name, (sc, dps) in results.items():
        print(
            f"{name:<12} {sc.f1:6.3f} {sc.precision:6.3f} {sc.recall:6.3f} "
            f"{sc.accuracy:6.3f} {dps:12.1f}"
        )
    base = results["mdfql"][1]
    for name, (_, dps) in results.items():
        if name != "mdfql":
            print(f"mdfql speed / {name}: {base / dps:.1f}x")


if __name__ == "__main__":
    main()
