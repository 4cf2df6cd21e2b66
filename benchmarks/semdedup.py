"""semantic_cluster (SemDeDup) at scale: wall time, peak RSS, recall and precision of planted
near-duplicate embeddings.

Writes N unit embeddings of D dimensions (float32, as a fixed-size list column), drawn around
300 random topic centres (rows of a topic at cosine ~0.5, as real embeddings cluster), to
Parquet a chunk at a time; --dups of them are near copies (Gaussian noise of --noise per
dimension, cosine ~0.99+) of a random earlier row of the same chunk. Then a fresh process runs

    COPY (SELECT id, semantic_cluster(e, id, clusters := K, eps := EPS) OVER () AS g
          FROM read_parquet('emb/*.parquet')) TO 'groups.parquet'

through mdfql on Daft's native runner, so wall time and peak RSS are the job's alone.
Recall: planted (copy, original) pairs in one group; precision: grouped rows that belong to a
planted pair.

    python benchmarks/semdedup.py --rows 200000 --dim 768
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

SQL = """COPY (SELECT id, semantic_cluster(e, id, clusters := {k}, eps := {eps}) OVER () AS g
               FROM read_parquet('{emb}/*.parquet'))
          TO '{out}' (FORMAT parquet)"""
CHUNK = 20_000
TOPICS = 300  # real embeddings cluster: rows are drawn around topic centres


def write(folder: Path, rows: int, dim: int, dups: int, noise: float, seed: int
          ) -> dict[int, int]:
    """The embeddings as Parquet under `folder`; returns copy id -> original id."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(TOPICS, dim)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    copy_of: dict[int, int] = {}
    per_chunk = dups * CHUNK // rows
    for at in range(0, rows, CHUNK):
        n = min(CHUNK, rows - at)
        # a topic centre plus a spread as large: rows of one topic at cosine ~0.5
        x = topics[rng.integers(0, TOPICS, n)] + rng.normal(
            scale=dim ** -0.5, size=(n, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        copies = rng.choice(np.arange(n // 2, n), min(per_chunk, n // 2), replace=False)
        originals = rng.integers(0, n // 2, len(copies))
        x[copies] = x[originals] + rng.normal(scale=noise, size=(len(copies), dim))
        copy_of.update({at + int(c): at + int(o) for c, o in zip(copies, originals)})
        values = pa.array(x.ravel())
        pq.write_table(pa.table({"id": np.arange(at, at + n),
                                 "e": pa.FixedSizeListArray.from_arrays(values, dim)}),
                       folder / f"part-{at // CHUNK:05d}.parquet")
    return copy_of


def job(sql: str) -> None:
    """The measured process: run the SQL, print wall seconds and peak RSS as JSON."""
    from mdfql import Session

    t = time.perf_counter()
    Session().run(sql)
    print(json.dumps({"wall_s": round(time.perf_counter() - t, 2),
                      "peak_rss_mib": round(
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--dups", type=int, default=10_000)
    ap.add_argument("--noise", type=float, default=0.002)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        return job(args.job)
    with tempfile.TemporaryDirectory(prefix="semdedup-") as tmp:
        emb, out = Path(tmp) / "emb", Path(tmp) / "groups.parquet"
        emb.mkdir()
        t = time.perf_counter()
        copy_of = write(emb, args.rows, args.dim, args.dups, args.noise, args.seed)
        made = time.perf_counter() - t
        sql = SQL.format(k=args.clusters, eps=args.eps, emb=emb, out=out)
        proc = subprocess.run([sys.executable, __file__, "--job", sql], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        table = pq.read_table(out) if out.is_file() else pa.concat_tables(
            pq.read_table(p) for p in sorted(out.glob("*.parquet")))
        group = np.empty(args.rows, np.int64)
        group[table["id"].to_numpy()] = table["g"].to_numpy()
        found = sum(group[c] == group[o] for c, o in copy_of.items())
        planted = set(copy_of) | set(copy_of.values())
        sizes = np.bincount(group, minlength=args.rows)
        grouped = np.flatnonzero(sizes[group] >= 2)
        precise = sum(int(i) in planted for i in grouped) / max(1, len(grouped))
        print(json.dumps({"rows": args.rows, "dim": args.dim, "clusters": args.clusters,
                          "eps": args.eps, "input_mib": round(args.rows * args.dim * 4 / 2**20),
                          "generate_s": round(made, 1), **stats,
                          "recall": round(found / max(1, len(copy_of)), 4),
                          "precision": round(precise, 4)}))


if __name__ == "__main__":
    main()
