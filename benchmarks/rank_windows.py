"""Selection by rank at scale: DataComp's "top 30% by CLIP score" three ways over N rows with a
~300-byte caption each, wall time and peak RSS of each in a fresh process:

- `window`: `QUALIFY percent_rank() OVER (ORDER BY score DESC) < 0.3` (mdfql's rank stage:
  rows spill once, ranks from ids + scores alone);
- `subquery`: `WHERE score >= (SELECT quantile_cont(score, 0.7) FROM ...)` (two scans, the
  first holding only the scores);
- `daft_window`: Daft's own global window, `rank() OVER (ORDER BY score DESC)`, for comparison
  (one partition holding whole rows).

    python benchmarks/rank_windows.py --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

QUERIES = {
    "window": "SELECT id, caption FROM read_parquet('{src}/*.parquet') "
              "QUALIFY percent_rank() OVER (ORDER BY score DESC) < 0.3",
    "subquery": "SELECT id, caption FROM read_parquet('{src}/*.parquet') WHERE score >= "
                "(SELECT quantile_cont(score, 0.7) FROM read_parquet('{src}/*.parquet'))",
    "daft_window": "SELECT id, caption FROM read_parquet('{src}/*.parquet') "
                   "QUALIFY rank() OVER (ORDER BY score DESC) <= {top}",
}
CHUNK = 100_000
WORDS = np.array("a photo of the cat dog on beach city night red blue large small old new "
                 "man woman car tree sky sea street house food table".split())


def write(folder: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for at in range(0, rows, CHUNK):
        n = min(CHUNK, rows - at)
        words = WORDS[rng.integers(0, len(WORDS), (n, 60))]
        captions = [" ".join(w) for w in words]
        score = np.round(rng.beta(5, 12, n) * 0.6, 3)
        nulls = rng.random(n) < 0.01
        pq.write_table(pa.table({"id": np.arange(at, at + n), "caption": captions,
                                 "score": pa.array(score, mask=nulls)}),
                       folder / f"part-{at // CHUNK:05d}.parquet")


def job(sql: str) -> None:
    """The measured process: write the query's rows (every column materialised) to Parquet."""
    from mdfql import Session

    with tempfile.TemporaryDirectory(prefix="ranks-out-") as out:
        t = time.perf_counter()
        Session().run(f"COPY ({sql}) TO '{out}/kept.parquet' (FORMAT parquet)")
        wall = time.perf_counter() - t
        kept = sum(pq.ParquetFile(p).metadata.num_rows for p in Path(out).rglob("*.parquet")
                   if p.is_file())
    print(json.dumps({"wall_s": round(wall, 2), "rows_kept": kept,
                      "peak_rss_mib": round(
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--queries", nargs="*", default=list(QUERIES))
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        return job(args.job)
    with tempfile.TemporaryDirectory(prefix="ranks-") as tmp:
        src = Path(tmp)
        write(src, args.rows, 0)
        size = sum(p.stat().st_size for p in src.glob("*.parquet"))
        for name in args.queries:
            sql = QUERIES[name].format(src=src, top=int(args.rows * 0.3))
            proc = subprocess.run([sys.executable, __file__, "--job", sql],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(json.dumps({"query": name, "error": proc.stderr[-500:]}))
                continue
            stats = json.loads(proc.stdout.strip().splitlines()[-1])
            print(json.dumps({"query": name, "rows": args.rows,
                              "parquet_mib": round(size / 2**20), **stats}))


if __name__ == "__main__":
    main()
