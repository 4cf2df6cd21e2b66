"""MinHash + lsh_cluster at scale: wall time, peak RSS, recall and precision of planted pairs.

Generates N documents (150-300 words drawn from a 50k-word Zipf vocabulary); a share of them
are near copies of an earlier original with `k`% of words replaced (k from --changes), so every
planted pair has a known word-5-gram Jaccard (measured exactly with the shingle kernel). The
generator streams: word ids come from a counter-based hash of (document, position), so a copy
regenerates its original's words wherever that original was written, and documents are
written to Parquet a row group at a time (memory: a few arrays of N integers for the plan and
the truth, never the texts). Then a fresh process runs, by default,

    COPY (SELECT id, lsh_cluster(minhash(text, num_hashes := 112, ngram := 5), id,
                                 bands := 14, rows := 8) OVER () AS cluster
          FROM read_parquet('docs/*.parquet')) TO 'clusters.parquet'

through mdfql on Daft's native runner, so its wall time and peak RSS are the job's alone (not
the generator's). With --spilled it times the stage the way the spilling executor runs it:
(1) a process where Daft streams `read_parquet -> node = id, minhash -> minhash_bands 14 x 8 ->
band columns` into spill Parquet, (2) a fresh process running `spilled.lsh_labels` on the
spill; each phase's wall and peak RSS are printed. --threshold also spills the signatures and
keeps only the LSH edges whose signatures agree on that share of positions.

Recall: planted pairs with Jaccard >= --target in one cluster. Precision: pairs of a cluster
that belong to the same planted family (scored with numpy over the id -> cluster array). With
several --docs sizes it prints how time and memory grow. --datasketch (MinHashLSH, one
process) and --stages (Daft's built-in minhash, stage by stage) compare with peers at small
sizes: they hold every text in memory.

    python benchmarks/dedup_scale.py --docs 1000000 10000000 --spilled
    python benchmarks/dedup_scale.py --docs 100000 1000000
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

SQL = """COPY (SELECT id, lsh_cluster(minhash(text, num_hashes := 112, ngram := 5), id,
                                      bands := 14, rows := 8) OVER () AS cluster
               FROM read_parquet('{docs}/*.parquet'))
          TO '{out}' (FORMAT parquet)"""
BANDS_SQL = """SELECT node, sig, minhash_bands(sig, bands := 14, rows := 8) AS bands
               FROM (SELECT id AS node, minhash(text, num_hashes := 112, ngram := 5) AS sig
                     FROM read_parquet('{docs}/*.parquet'))"""
BANDS = 14
VOCAB = 50_000
ZIPF_BITS = 20          # the Zipf sampler: a 2^20-entry inverse-CDF table
CHUNK = 25_000          # documents generated (and written as one row group) at a time
FILE_DOCS = 250_000     # documents per Parquet file
U64 = np.uint64


def _mix(x: np.ndarray) -> np.ndarray:
    """A cheap 64-bit mixer over uint64 (wrapping): a counter-based random stream."""
    x = x * U64(0x9E3779B97F4A7C15)
    x ^= x >> U64(32)
    x *= U64(0xD6E8FEB86659FD93)
    return x ^ (x >> U64(32))


class Corpus:
    """The plan of N documents: which are copies, of which original, with what share of words
    replaced. Originals' words are a pure function of (seed, document, position)."""

    def __init__(self, n: int, dup_share: float, changes: list[float], seed: int = 0):
        rng = np.random.default_rng(seed)
        self.n, self.seed = n, seed
        self.is_copy = rng.random(n) < dup_share
        self.is_copy[:11] = False
        originals = np.flatnonzero(~self.is_copy)
        copies = np.flatnonzero(self.is_copy)
        before = np.searchsorted(originals, copies)      # originals earlier than each copy
        self.source = np.arange(n, dtype=np.int64)
        self.source[copies] = originals[(rng.random(len(copies)) * before).astype(np.int64)]
        self.share = np.zeros(n, np.float32)
        self.share[copies] = rng.choice(changes, len(copies))
        weights = 1 / np.arange(1, VOCAB + 1) ** 1.1
        cdf = np.cumsum(weights) / weights.sum()
        grid = (np.arange(1 << ZIPF_BITS) + 0.5) / (1 << ZIPF_BITS)
        self.zipf = np.minimum(np.searchsorted(cdf, grid), VOCAB - 1).astype(np.int32)
        self.vocab = pa.array([f"w{i}" for i in range(VOCAB)], pa.large_string())

    def _salted(self, x: np.ndarray, salt: int) -> np.ndarray:
        """`_mix` of uint64 counters, one stream per (seed, salt)."""
        return _mix(x ^ U64(((self.seed * 1_000_003 + salt) << 40) & (2**64 - 1)))

    def texts(self, docs: np.ndarray, replace: bool = True) -> pa.Array:
        """Texts of `docs` (copies with their replacements unless `replace` is False)."""
        src = self.source[docs]
        lengths = (150 + self._salted(src.astype(U64), 1) % U64(151)).astype(np.int64)
        offsets = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        doc_of = np.repeat(np.arange(len(docs)), lengths)
        # slot = source * 1024 + position (documents hold at most 300 words)
        slot = np.repeat(src.astype(U64) * U64(1024) - offsets[:-1].astype(U64), lengths)
        slot += np.arange(offsets[-1], dtype=U64)
        ids = self.zipf[self._salted(slot, 2) >> U64(64 - ZIPF_BITS)]
        dictionary = self.vocab
        copies = np.flatnonzero(self.is_copy[docs]) if replace else np.empty(0, np.int64)
        if len(copies):
            # positions of the copies, drawn by (copy, position): replaced with share p
            at = np.concatenate([np.arange(offsets[c], offsets[c + 1]) for c in copies])
            mine = slot[at] - src[doc_of[at]].astype(U64) * U64(1024) \
                + docs[doc_of[at]].astype(U64) * U64(1024)
            draw = (self._salted(mine, 3) >> U64(11)).astype(np.float64) / 2.0**53
            keep = draw < self.share[docs[doc_of[at]]]
            hit, mine = at[keep], mine[keep]
            extra = (self._salted(mine, 4) % U64(10**9)).astype(np.int64)
            ids[hit] = VOCAB + np.arange(len(hit))
            xwords = pc.binary_join_element_wise("x", pc.cast(pa.array(extra), pa.string()), "")
            dictionary = pa.concat_arrays([self.vocab, xwords.cast(pa.large_string())])
        words = dictionary.take(pa.array(ids))
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), words)
        return pc.binary_join(lists, pa.scalar(" ", pa.large_string()))

    def write(self, docs_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Writes the documents (id, text) as Parquet; returns the planted pairs (original,
        copy) and their exact word-5-gram Jaccard."""
        from mdfql import _native

        docs_dir.mkdir(parents=True)
        schema = pa.schema([("id", pa.int64()), ("text", pa.large_string())])
        writer, pairs, jaccards = None, [], []
        for start in range(0, self.n, CHUNK):
            if start % FILE_DOCS == 0:
                if writer:
                    writer.close()
                writer = pq.ParquetWriter(docs_dir / f"part-{start // FILE_DOCS:05d}.parquet",
                                          schema, compression="zstd")
            docs = np.arange(start, min(start + CHUNK, self.n))
            texts = self.texts(docs)
            writer.write_table(pa.table([pa.array(docs), texts], schema=schema))
            copies = np.flatnonzero(self.is_copy[docs])
            if len(copies):
                originals = self.texts(self.source[docs[copies]], replace=False)
                jaccards.append(_native.shingle_jaccard(texts.take(pa.array(copies)),
                                                        originals, ngram=5).to_numpy())
                pairs.append(np.stack([self.source[docs[copies]], docs[copies]], axis=1))
        if writer:
            writer.close()
        pairs_all = np.concatenate(pairs) if pairs else np.empty((0, 2), np.int64)
        j_all = np.concatenate(jaccards) if jaccards else np.empty(0)
        return pairs_all[:, 0], pairs_all[:, 1], j_all


def score(cluster: np.ndarray, family: np.ndarray, a: np.ndarray, b: np.ndarray,
          true_j: np.ndarray, target: float) -> tuple[float, float, int]:
    """(recall of planted pairs with Jaccard >= target, pair precision, clustered pairs)."""
    wanted = true_j >= target
    recall = float(np.mean(cluster[a[wanted]] == cluster[b[wanted]])) if wanted.any() else 1.0
    _, sizes = np.unique(cluster, return_counts=True)
    total = int(np.sum(sizes * (sizes - 1) // 2))
    _, same = np.unique(cluster.astype(np.int64) * len(cluster) + family, return_counts=True)
    same_pairs = int(np.sum(same * (same - 1) // 2))
    return recall, same_pairs / max(total, 1), total


def clusters_from(paths: list[str], n: int, node: str, label: str) -> np.ndarray:
    """id -> cluster over all `n` documents (ids absent from `paths` are their own)."""
    cluster = np.arange(n, dtype=np.int64)
    for p in paths:
        t = pq.read_table(p, columns=[node, label])
        cluster[t[node].to_numpy()] = t[label].to_numpy()
    return cluster


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(*args: str) -> dict:
    """Runs this script with `args` in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def job(docs: str, out: str) -> None:
    """The measured SQL process: run the SQL, print wall seconds and peak RSS as JSON."""
    from mdfql import Session

    t = time.perf_counter()
    summary = Session().run(SQL.format(docs=docs, out=out))
    print(json.dumps({"wall_s": time.perf_counter() - t, "rss_mb": rss_mb(),
                      "rows_read": summary.rows_read}))


def spill_job(docs: str, spill: str, with_sig: str) -> None:
    """Phase 1 of --spilled: Daft streams the documents' band keys (and signatures when
    `with_sig` is "1") into spill Parquet."""
    import daft.functions as F
    from daft import col

    from mdfql import Session

    t = time.perf_counter()
    keyed = Session().sql(BANDS_SQL.format(docs=docs))
    bands = [F.get(col("bands"), j).alias(f"__band_{j}") for j in range(BANDS)]
    keyed.select("node", *bands, *(["sig"] if with_sig == "1" else [])).write_parquet(spill)
    files = sorted(str(p) for p in Path(spill).glob("*.parquet"))
    print(json.dumps({"wall_s": time.perf_counter() - t, "rss_mb": rss_mb(),
                      "files": len(files),
                      "bytes": sum(Path(f).stat().st_size for f in files)}))


def label_job(spill: str, out: str, threshold: str) -> None:
    """Phase 2 of --spilled: connected components of the band buckets from the spill, edges
    checked against the signatures unless `threshold` is "none"."""
    from mdfql.dedup.spilled import lsh_labels

    t = time.perf_counter()
    files = sorted(str(p) for p in Path(spill).glob("*.parquet"))
    check = {} if threshold == "none" else {"threshold": float(threshold), "verify": "sig"}
    paths = lsh_labels(files, Path(out), node="node",
                       bands=[f"__band_{j}" for j in range(BANDS)], **check)
    print(json.dumps({"wall_s": time.perf_counter() - t, "rss_mb": rss_mb(),
                      "label_rows": sum(pq.ParquetFile(p).metadata.num_rows for p in paths)}))


def run_sql(work: Path, n: int) -> tuple[np.ndarray, dict]:
    out = work / "clusters.parquet"
    figures = _child("--job", str(work / "docs"), str(out))
    return clusters_from([str(out)], n, "id", "cluster"), figures


def run_spilled(work: Path, n: int, threshold: float | None) -> tuple[np.ndarray, dict]:
    spill, out = work / "spill", work / "labels"
    checked = threshold is not None
    first = _child("--spill-job", str(work / "docs"), str(spill), "1" if checked else "0")
    second = _child("--label-job", str(spill), str(out), str(threshold) if checked else "none")
    print(f"  phase 1 (Daft: read, minhash, bands -> spill): {first['wall_s']:.1f}s, peak RSS "
          f"{first['rss_mb']:,.0f} MB, {first['files']} files, {first['bytes'] / 2**20:,.0f} MB")
    print(f"  phase 2 (lsh_labels on the spill): {second['wall_s']:.1f}s, peak RSS "
          f"{second['rss_mb']:,.0f} MB, {second['label_rows']:,} clustered rows")
    paths = sorted(str(p) for p in out.glob("*.parquet"))
    figures = {"wall_s": first["wall_s"] + second["wall_s"],
               "rss_mb": max(first["rss_mb"], second["rss_mb"]), "phases": [first, second]}
    return clusters_from(paths, n, "node", "label"), figures


def read_texts(docs: Path) -> list[str]:
    return pq.read_table(docs, columns=["text"])["text"].to_pylist()


def stages(docs: Path) -> dict[str, float]:
    """The Daft-operator path stage by stage, with Daft's built-in minhash."""
    import daft
    import daft.functions as F
    from daft import col

    from mdfql.dedup.components import connected_components
    from mdfql.dedup.lsh import band_buckets, star_edges

    out: dict[str, float] = {}
    t = time.perf_counter()
    sigs = daft.read_parquet(f"{docs}/*.parquet").select(col("id").alias("node"), F.minhash(
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


def run_datasketch(texts: list[str]) -> tuple[np.ndarray, float] | None:
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
        w = text.split()
        m = MinHash(num_perm=112)
        m.update_batch([" ".join(w[k:k + 5]).encode() for k in range(len(w) - 4)])
        for j in lsh.query(m):
            parent[find(j)] = find(i)
        lsh.insert(i, m)
    return np.array([find(i) for i in range(len(texts))]), time.perf_counter() - t


def report(n: int, args: argparse.Namespace) -> dict:
    """Generate `n` documents, dedup them with mdfql (and peers), print and return figures."""
    t = time.perf_counter()
    corpus = Corpus(n, args.dup_share, args.changes)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        a, b, true_j = corpus.write(work / "docs")
        quantiles = np.quantile(true_j, [0, .25, .5, .75, 1]).round(2).tolist() if len(a) else []
        print(f"\n{n:,} docs, {len(a):,} planted pairs, generated in "
              f"{time.perf_counter() - t:.1f}s; planted Jaccard quantiles {list(quantiles)}")
        mode = "spilled stage" if args.spilled else "SQL"
        cluster, figures = (run_spilled(work, n, args.threshold) if args.spilled
                            else run_sql(work, n))
        if args.stages:
            print("stages:", {k: round(v, 2) for k, v in stages(work / "docs").items()})
        ds = run_datasketch(read_texts(work / "docs")) if args.datasketch else None
    family = corpus.source
    recall, precision, npairs = score(cluster, family, a, b, true_j, args.target)
    print(f"mdfql {mode}: {figures['wall_s']:.1f}s wall, {n / figures['wall_s']:,.0f} docs/s, "
          f"peak RSS {figures['rss_mb']:,.0f} MB, recall@J>={args.target} {recall:.4f}, "
          f"precision {precision:.4f} ({npairs:,} clustered pairs)")
    for lo, hi in ((0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)):
        band = (true_j >= lo) & (true_j < hi)
        if band.any():
            hit = np.mean(cluster[a[band]] == cluster[b[band]])
            print(f"  planted J in [{lo}, {min(hi, 1.0)}): {band.sum()} pairs, {hit:.3f} found")
    if ds is not None:
        ds_clusters, ds_wall = ds
        r, p, npairs = score(ds_clusters, family, a, b, true_j, args.target)
        print(f"datasketch MinHashLSH (single process): {ds_wall:.1f}s, recall {r:.4f}, "
              f"precision {p:.4f} ({npairs:,} clustered pairs)")
    elif args.datasketch:
        print("datasketch: not installed")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000])
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--changes", type=float, nargs="+",
                    default=[0.005, 0.01, 0.02, 0.03, 0.05, 0.1])
    ap.add_argument("--target", type=float, default=0.8, help="Jaccard a pair must reach to count")
    ap.add_argument("--spilled", action="store_true",
                    help="time the spilled stage (Daft -> spill, then lsh_labels) instead of SQL")
    ap.add_argument("--threshold", type=float,
                    help="--spilled: also spill the signatures and keep only LSH edges whose "
                         "signatures agree on this share of positions")
    ap.add_argument("--work", help="directory for the documents and spill (default: the temp dir)")
    ap.add_argument("--datasketch", action="store_true", help="also run datasketch's MinHashLSH")
    ap.add_argument("--stages", action="store_true",
                    help="also time the Daft-operator stages one by one (Daft's built-in minhash)")
    ap.add_argument("--job", nargs=2, metavar=("DOCS", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--spill-job", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--label-job", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    for flag, fn in ((args.job, job), (args.spill_job, spill_job), (args.label_job, label_job)):
        if flag:
            fn(*flag)
            return
    sizes = sorted(args.docs)
    figures = [report(n, args) for n in sizes]
    for (n0, f0), (n1, f1) in zip(zip(sizes, figures), zip(sizes[1:], figures[1:])):
        print(f"\n{n0:,} -> {n1:,} docs ({n1 / n0:g}x): wall {f1['wall_s'] / f0['wall_s']:.1f}x, "
              f"peak RSS {f1['rss_mb'] / f0['rss_mb']:.1f}x")


if __name__ == "__main__":
    main()
