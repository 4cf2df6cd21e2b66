"""Docs per CPU-second of `rpv2_signals` (Rust) vs the pure-Python reference of the same RPv2
definitions in tests/test_rpv2.py, on the 300 real pages of ../shared/data/extraction-eval
(text from mdfql's extractor). Rates are per CPU-second of the process, so the Rust figure is
per core whatever rayon's pool size (`RAYON_NUM_THREADS`); wall-clock rates are printed beside.
Run: `python benchmarks/rpv2.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import pyarrow as pa

from mdfql import _native as nat

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "extraction-eval"
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]
from quality import rate  # noqa: E402  (best docs per CPU-second and per wall-second)
from test_rpv2 import reference  # noqa: E402  (the reference lives with its tests)


def load_texts() -> list[str]:
    html = [gzip.decompress((EVAL / json.loads(line)["file"]).read_bytes()).decode(
        "utf-8", "replace") for line in (EVAL / "cases.jsonl").read_text().splitlines()]
    texts = nat.extract_text(pa.array(html, pa.large_string())).field("text").to_pylist()
    return [t or "" for t in texts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    texts = load_texts()
    arr = pa.array(texts, pa.large_string())
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{len(texts)} docs, {mb:.1f} MB of text")
    print(f"{'':<22}{'docs/CPU-s':>12}{'docs/s wall':>13}")
    rust = rate(lambda: nat.rpv2_signals(arr), len(texts), args.repeat)
    py = rate(lambda: [reference(t) for t in texts], len(texts), 1)
    print(f"{'rpv2_signals (Rust)':<22}{rust[0]:>12.0f}{rust[1]:>13.0f}")
    print(f"{'Python reference':<22}{py[0]:>12.0f}{py[1]:>13.0f}")
    print(f"speed-up per CPU-second: {rust[0] / py[0]:.1f}x")


if __name__ == "__main__":
    main()
