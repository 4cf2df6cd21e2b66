"""MinHash + lsh_cluster at scale: wall time, peak RSS, recall and precision of planted pairs.

Generates N documents (150-300 words drawn from a 50k-word Zipf vocabulary); a share of them
are near copies of an earlier document with `k`% of words replaced (k from --changes), so every
planted pair has a known word-5-gram Jaccard (measured exactly here). The documents are written
to Parquet (8 files) and a fresh process runs

    COPY (SELECT id, lsh_cluster(minhash(text, num_hashes := 112, ngram := 5), id,
                                 bands := 14, rows := 8) OVER () AS cluster
          FROM read_parquet('docs/*.parquet')) TO 'clusters.parquet'

through mdfql on Daft's native runner, so its wall time and peak RSS are the job's alone (not
the generator's). With several --docs sizes it prints how time and memory grow. Then, unless
--no-datasketch, datasketch's MinHashLSH (same 112 permutations, threshold 0.8, one process)
on the same texts, and the stages one by one with Daft's built-in minhash (--stages).
Recall: planted pairs with Jaccard >= --target in one cluster. Precision: pairs of a cluster
that belong to the same planted family.

    python benchmarks/dedup_scale.py --docs 100000 1000000 --no-datasketch
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from itertools import accumulate
from pathlib import Path

import daft
import daft.functions as F
import pyarrow as pa
import pyarrow.parquet as pq
from daft import col

from mdfql import Session
from mdfql.dedup.components import connected_components
from mdfql.dedup.lsh import band_buckets, star_edges

SQL = """COPY (SELECT id, lsh_cluster(minhash(text, num_hashes := 112, ngram := 5), id,
                                      bands := 14, rows := 8) OVER () AS cluster
               FROM read_parquet('{docs}/*.parquet'))
          TO '{out}' (FORMAT parquet)"""
PARTS = 8


def generate(n: int, dup_share: float, changes: list[float], seed: int = 0):
    """(texts, family of each doc, planted (orig, copy) pairs)."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    cum = list(accumulate(1 / (i + 1) ** 1.1 for i in range(len(vocab))))  # Zipf
    texts: list[str] = []
    family: list[int] = []
    pairs: list[tuple[int, int]] = []
    for i in range(n):
        if i > 10 and rng.random() < dup_share:
            src = rng.randrange(i)
            words = texts[src].split()
            k = int(len(words) * rng.choice(changes))
            for j in rng.sample(range(len(words)), k):
                words[j] = f"x{rng.randrange(10**9)}"
            texts.append(" ".join(words))
            family.append(family[src])
            pairs.append((src, i))
        else:
            texts.append(" ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(150, 300))))
            family.append(i)
    return texts, family, pairs


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = text.split()
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def score(clusters: dict[int, int], family: list[int], pairs: list[tuple[int, int]],
          true_j: list[float], target: float) -> tuple[float, float, int]:
    """(recall of planted pairs with Jaccard >= target, pair precision, clustered pairs)."""
    wanted = [p for p, j in zip(pairs, true_j) if j >= target]
    found = sum(clusters[a] == clusters[b] for a, b in wanted)
    members: dict[int, list[int]] = defaultdict(list)
    for doc, c in clusters.items():
        members[c].append(doc)
    total = same = 0
    for docs in members.values():
        if len(docs) > 1:
            total += len(docs) * (len(docs) - 1) // 2
            fams = Counter(family[d] for d in docs)
            same += sum(v * (v - 1) // 2 for v in fams.values())
    return found / max(len(wanted), 1), same / max(total, 1), total


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def job(docs: str, out: str) -> None:
    """The measured process: run the SQL, print wall seconds and peak RSS as JSON."""
    t = time.perf_counter()
    summary = Session().run(SQL.format(docs=docs, out=out))
    print(json.dumps({"wall_s": time.perf_counter() - t, "rss_mb": rss_mb(),
                      "rows_read": summary.rows_read}))


def run_mdfql(texts: list[str], work: str) -> tuple[dict[int, int], dict]:
    """Write the texts as Parquet, run the job in a fresh process, read its clusters back."""
    docs = f"{work}/docs"
    Path(docs).mkdir()
    ids = list(range(len(texts)))
    step = -(-len(texts) // PARTS)
    for p in range(PARTS):
        pq.write_table(pa.table({"id": ids[p * step:(p + 1) * step],
                                 "text": texts[p * step:(p + 1) * step]}),
                       f"{docs}/{p}.parquet")
    out = f"{work}/clusters.parquet"
    proc = subprocess.run([sys.executable, __file__, "--job", docs, out], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    table = pq.read_table(out)
    return dict(zip(table["id"].to_pylist(), table["cluster"].to_pylist())), figures


def stages(df: daft.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    sigs = df.select(col("id").alias("node"), F.minhash(
        col("text"), num_hashes=112, ngram_size=5, seed=1).alias("sig")).collect()
    out["minhash"] = time.perf_counter() - t
    t = time.perf_counter()
    edges = star_edges(band_buckets(sigs, 14, 8)).collect()
    out["bands+edges"] = time.perf_counter() - t
    out["edges"] = len(edges)
    t = time.perf_counter()
    labels, rounds = connected_components(edges)
    out["components"] = time.perf_counter() - t
    out["rounds"] = rounds
    out["clustered_docs"] = len(labels)
    return out


def run_datasketch(texts: list[str]) -> tuple[dict[int, int], float] | None:
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        return None
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=112)
    parent = list(range(len(texts)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, text in enumerate(texts):
        m = MinHash(num_perm=112)
        m.update_batch([" ".join(s).encode() for s in shingles(text)])
        for j in lsh.query(m):
            parent[find(j)] = find(i)
        lsh.insert(i, m)
    clusters = {i: min_root for i, min_root in ((i, find(i)) for i in range(len(texts)))}
    return clusters, time.perf_counter() - t


def report(n: int, args: argparse.Namespace) -> dict:
    """Generate `n` documents, dedup them with mdfql (and peers), print and return figures."""
    t = time.perf_counter()
    texts, family, pairs = generate(n, args.dup_share, args.changes)
    true_j = [jaccard(texts[a], texts[b]) for a, b in pairs]
    print(f"\n{n:,} docs, {len(pairs):,} planted pairs, generated in "
          f"{time.perf_counter() - t:.1f}s; planted Jaccard quantiles "
          f"{[round(sorted(true_j)[int(q * (len(true_j) - 1))], 2) for q in (0, .25, .5, .75, 1)]}")
    with tempfile.TemporaryDirectory() as work:
        clusters, figures = run_mdfql(texts, work)
    recall, precision, npairs = score(clusters, family, pairs, true_j, args.target)
    print(f"mdfql SQL: {figures['wall_s']:.1f}s wall, {n / figures['wall_s']:,.0f} docs/s, "
          f"peak RSS {figures['rss_mb']:,.0f} MB, recall@J>={args.target} {recall:.4f}, "
          f"precision {precision:.4f} ({npairs:,} clustered pairs)")
    for lo, hi in ((0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)):
        band = [(a, b) for (a, b), j in zip(pairs, true_j) if lo <= j < hi]
        if band:
            hit = sum(clusters[a] == clusters[b] for a, b in band) / len(band)
            print(f"  planted J in [{lo}, {min(hi, 1.0)}): {len(band)} pairs, {hit:.3f} found")
    if args.stages:
        df = daft.from_pydict({"id": list(range(len(texts))), "text": texts})
        print("stages:", {k: round(v, 2) for k, v in stages(df).items()})
    ds = None if args.no_datasketch else run_datasketch(texts)
    if ds is None:
        print("datasketch: not run (not installed or --no-datasketch)")
    else:
        ds_clusters, ds_wall = ds
        r, p, npairs = score(ds_clusters, family, pairs, true_j, args.target)
        print(f"datasketch MinHashLSH (single process): {ds_wall:.1f}s, recall {r:.4f}, "
              f"precision {p:.4f} ({npairs:,} clustered pairs)")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000])
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--changes", type=float, nargs="+",
                    default=[0.005, 0.01, 0.02, 0.03, 0.05, 0.1])
    ap.add_argument("--target", type=float, default=0.8, help="Jaccard a pair must reach to count")
    ap.add_argument("--no-datasketch", action="store_true")
    ap.add_argument("--stages", action="store_true",
                    help="also time the stages one by one (Daft's built-in minhash)")
    ap.add_argument("--job", nargs=2, metavar=("DOCS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        job(*args.job)
        return
    sizes = sorted(args.docs)
    figures = [report(n, args) for n in sizes]
    for (n0, f0), (n1, f1) in zip(zip(sizes, figures), zip(sizes[1:], figures[1:])):
        print(f"\n{n0:,} -> {n1:,} docs ({n1 / n0:g}x): wall {f1['wall_s'] / f0['wall_s']:.1f}x, "
              f"peak RSS {f1['rss_mb'] / f0['rss_mb']:.1f}x")


if __name__ == "__main__":
    main()
