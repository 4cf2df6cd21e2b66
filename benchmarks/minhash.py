"""MinHash benchmark: mdfql's `minhash` kernel vs datasketch and Daft's built-in `minhash`.

All three sign the same documents (the main text of the 300 real pages of
../shared/data/extraction-eval, repeated) with 112 hashes over word 5-grams. mdfql normalises
inside the kernel (its cost is included); datasketch and Daft get the text already normalised
(the same normalisation, not timed) and split on spaces. Prints docs/s per core (CPU time from
time.process_time, covering every thread) and the ratios.

    python benchmarks/minhash.py [--data PATH] [--repeat N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction-eval"


def timed(fn: Callable[[], object]) -> float:
    """CPU seconds (all threads) of one run."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=10, help="copies of the page texts")
    ap.add_argument("--threads", type=int, default=1, help="rayon threads of the mdfql kernel")
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when the pool first starts

    import daft
    from daft import col

    from mdfql import _native
    from mdfql.eval.extraction import load_cases

    htmls = [c.html for c in load_cases(args.data)]
    pages = _native.extract_text(pa.array(htmls, pa.large_utf8())).field("text").to_pylist()
    texts = [t for t in pages if t] * args.repeat
    normalized = _native.normalize_for_dedup(pa.array(texts, pa.large_utf8())).to_pylist()
    words = sum(len(t.split()) for t in normalized)
    print(f"{len(texts)} docs, {words / len(texts):.0f} words per doc on average")

    results: dict[str, float] = {}
    arr = pa.array(texts, pa.large_utf8())
    _native.minhash(arr[:10])
    results["mdfql minhash"] = len(texts) / timed(lambda: _native.minhash(arr))

    df = daft.from_pydict({"t": normalized})
    df.select(col("t").minhash(num_hashes=112, ngram_size=5, seed=1)).limit(10).collect()
    results["daft minhash (murmur3)"] = len(texts) / timed(
        lambda: df.select(col("t").minhash(num_hashes=112, ngram_size=5, seed=1)).collect())
    results["daft minhash (xxhash3)"] = len(texts) / timed(
        lambda: df.select(col("t").minhash(num_hashes=112, ngram_size=5, seed=1,
                                           hash_function="xxhash3_64")).collect())

    try:
        from datasketch import MinHash
    except ImportError:
        print("datasketch not installed: skipped (pip install datasketch)")
    else:
        sample = normalized[: max(len(normalized) // args.repeat, 1)]

        def run_datasketch() -> None:
            for text in sample:
                w = text.split(" ")
                shingles = {" ".join(w[i:i + 5]).encode() for i in range(max(len(w) - 4, 1))}
                m = MinHash(num_perm=112, seed=1)
                m.update_batch(shingles)

        results["datasketch MinHash"] = len(sample) / timed(run_datasketch)

    base = results["mdfql minhash"]
    for name, rate in results.items():
        print(f"{name:26s} {rate:10.0f} docs/s per core   mdfql is {base / rate:6.1f}x")


if __name__ == "__main__":
    main()
