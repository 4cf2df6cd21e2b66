"""SemDeDup (Abbas et al. 2023, "SemDeDup: Data-efficient learning at web-scale through
semantic deduplication") over spilled embeddings: spherical k-means of the L2-normalised
embeddings, then within each cluster every pair with cosine similarity >= 1 - eps is a
duplicate; duplicate groups are the connected components of those pairs (union-find).

Each group is labelled with the id of its member farthest from its cluster's centroid (lowest
cosine similarity; ties: the smallest id): SemDeDup's default keep rule (`which_to_keep =
"hard"` in facebookresearch/SemDeDup; NeMo Curator keeps the same). SemDeDup itself drops a
point when any point before it in that order is within eps, so in a chain a~b~c (a and c
apart) it may keep a and c; components keep one row per chain.

Memory and passes over the spill (ids + embeddings only, whole rows stay on disk):
1. the node column: ids, and the k-means sample (up to SAMPLE_PER_CLUSTER rows a cluster,
   faiss' default, picked by a hash of the id so it does not depend on row order);
2. the sample's embeddings -> centroids;
3. every embedding, a batch at a time: nearest centroid and its similarity (8 bytes a row),
   the normalised float32 vector appended to one of a few bucket files (clusters modulo
   the bucket count, each bucket ~BUCKET_BYTES);
4. one bucket at a time: per cluster, similarities by blocked matrix products of at most
   BLOCK_ENTRIES entries, the pairs over the threshold unioned.
So memory is one bucket (or the largest cluster) plus ~40 bytes a row, not the input.
NULL, zero, non-finite and wrong-length embeddings are singletons (the latter two counted as
row failures).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import Series

from mdfql import _native
from mdfql.dedup.kmeans import assign, spherical_kmeans
from mdfql.dedup.spilled import MAX_ROWS, write_labels
from mdfql.io.parquet import open_streamed, read_column
from mdfql.metrics import record_failure

log = logging.getLogger(__name__)

SAMPLE_PER_CLUSTER = 256   # k-means sample rows per cluster (faiss' max_points_per_centroid)
BUCKET_BYTES = 1 << 28     # normalised embeddings per bucket file
BLOCK_ENTRIES = 1 << 22    # similarities computed at a time (16 MiB of float32)
BATCH_ROWS = 8192          # embeddings decoded at a time (24 MiB of 768-d float32)
STAGE = "semantic_cluster"


def unit_rows(column: pa.Array, width: int | None) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(unit float32 rows of the usable embeddings, which rows those are, the width): NULL,
    all-zero, non-finite and wrong-length (width: the first usable row's) are unusable."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.list_value_length(column).fill_null(-1).to_numpy(zero_copy_only=False)
    if width is None and (lengths > 0).any():
        width = int(lengths[np.argmax(lengths > 0)])
    if width is None:
        return np.zeros((0, 0), np.float32), np.zeros(len(column), bool), None
    ok = lengths == width
    for n in np.unique(lengths[(lengths >= 0) & ~ok]):
        for _ in range(int(((lengths == n) & ~ok).sum())):
            record_failure(STAGE, "embedding", f"embedding has {n} values, not {width}")
    rows = pc.list_flatten(column.filter(pa.array(ok))).to_numpy(zero_copy_only=False)
    x = rows.astype(np.float32, copy=False).reshape(-1, width)
    norms = np.linalg.norm(x, axis=1)
    finite = np.isfinite(norms)
    for _ in range(int((~finite).sum())):
        record_failure(STAGE, "embedding", "embedding has NaN or infinite values")
    good = finite & (norms > 0)
    usable = np.flatnonzero(ok)[good]
    mask = np.zeros(len(column), bool)
    mask[usable] = True
    return x[good] / norms[good, None], mask, width


def _batches(files: list[str], column: str) -> Iterator[tuple[int, pa.Array]]:
    """(first position, embeddings) a record batch at a time, in spill order."""
    at = 0
    for f in files:
        for batch in open_streamed(f).iter_batches(BATCH_ROWS, columns=[column]):
            yield at, batch.column(0)
            at += batch.num_rows


class _Priority:
    """Rows in keep order (cluster, similarity to its centroid ascending, id): a union-find
    over these ranks has the row to keep as each group's root. Quacks like RankSpace for
    `write_labels`."""

    def __init__(self, nodes: pa.ChunkedArray, cluster: np.ndarray, sim: np.ndarray):
        self.nodes = nodes
        id_rank = np.empty(len(nodes), np.int64)
        id_rank[pc.sort_indices(nodes).to_numpy()] = np.arange(len(nodes))
        self.order = np.lexsort((id_rank, sim, cluster)).astype(np.uint32)  # rank -> position
        self.rank_of = np.empty(len(nodes), np.uint32)                      # position -> rank
        self.rank_of[self.order] = np.arange(len(nodes), dtype=np.uint32)

    def __len__(self) -> int:
        return len(self.rank_of)


def _sample(nodes: pa.ChunkedArray, size: int, seed: int) -> np.ndarray:
    """Positions of `size` rows chosen by the smallest hashes of their ids (seeded), in hash
    order: the same rows in the same order whatever the order of the spill."""
    hashes = Series.from_arrow(nodes.combine_chunks()).hash(seed=seed).to_arrow().to_numpy()
    if size >= len(hashes):
        return np.argsort(hashes, kind="stable")
    chosen = np.argpartition(hashes, size)[:size]
    return chosen[np.argsort(hashes[chosen], kind="stable")]


def _pairs(uf, x: np.ndarray, ranks: np.ndarray, threshold: float) -> int:
    """Unions the pairs of rows of `x` (unit, one cluster, in keep order; `ranks` theirs)
    with cosine similarity >= threshold; returns the merges."""
    m, merged = len(x), 0
    step = max(1, min(m, BLOCK_ENTRIES // max(m, 1)))
    for i in range(0, m, step):
        close = (x[i:i + step] @ x[i:].T) >= threshold
        b = close.shape[0]
        close[:, :b] = np.triu(close[:, :b], 1)  # each pair once, no self pairs
        a, c = np.nonzero(close)
        if len(a):
            merged += uf.union_pairs(pa.array(ranks[i + a]), pa.array(ranks[i + c]))
    return merged


def semantic_labels(files: list[str], out_dir: Path, *, node: str, embedding: str,
                    clusters: int, eps: float, seed: int, iterations: int) -> list[str]:
    """SemDeDup duplicate groups of spilled rows (see the module docs): `(node, label)`
    Parquet files under `out_dir` for every row in a group of two or more, label = the id of
    the group's row to keep."""
    if clusters < 1:
        raise ValueError("clusters must be >= 1")
    if not 0 < eps <= 1:
        raise ValueError("eps must lie in (0, 1]")
    nodes = read_column(files, node)
    n = len(nodes)
    if n > MAX_ROWS:
        raise ValueError(f"{n} rows: at most {MAX_ROWS} can be clustered at once")
    picked = _sample(nodes, clusters * SAMPLE_PER_CLUSTER, seed)
    slot = np.full(n, -1, np.int64)
    slot[picked] = np.arange(len(picked))
    sample: np.ndarray | None = None
    width = None
    for at, column in _batches(files, embedding):  # pass 2: the sample's embeddings
        x, usable, width = unit_rows(column, width)
        if width is None:
            continue
        if sample is None:
            sample = np.zeros((len(picked), width), np.float32)
        where = slot[at:at + len(column)][usable]
        sample[where[where >= 0]] = x[where >= 0]
    cluster = np.full(n, -1, np.int32)
    sim = np.zeros(n, np.float32)
    if sample is None:  # no usable embedding: every row its own group
        return write_labels(out_dir, _Priority(nodes, cluster, sim), np.arange(n), 0)
    sample = sample[np.linalg.norm(sample, axis=1) > 0]
    centroids = spherical_kmeans(sample, clusters, seed, iterations)
    k = len(centroids)
    buckets = max(1, min(k, -(-n * width * 4 // BUCKET_BYTES)))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"vectors-{b:04d}.f32" for b in range(buckets)]
    rows: list[list[np.ndarray]] = [[] for _ in range(buckets)]
    handles = [open(p, "wb") for p in paths]
    try:
        for at, column in _batches(files, embedding):  # pass 3: assign, bucket
            x, usable, _ = unit_rows(column, width)
            pos = at + np.flatnonzero(usable)
            best, score = assign(x, centroids)
            cluster[pos], sim[pos] = best, score
            for b in np.unique(best % buckets):
                mine = best % buckets == b
                handles[b].write(np.ascontiguousarray(x[mine]).tobytes())
                rows[b].append(pos[mine])
    finally:
        for h in handles:
            h.close()
    space = _Priority(nodes, cluster, sim)
    uf = _native.UnionFind(n)
    merged = 0
    for b, path in enumerate(paths):  # pass 4: pairs within each cluster, bucket by bucket
        pos = np.concatenate(rows[b]) if rows[b] else np.empty(0, np.int64)
        vectors = np.fromfile(path, np.float32).reshape(-1, width)
        path.unlink()
        ranks = space.rank_of[pos]
        by_rank = np.argsort(ranks, kind="stable")  # clusters are contiguous in keep order
        ranks, members = ranks[by_rank], cluster[pos[by_rank]]
        cuts = np.flatnonzero(np.diff(members)) + 1
        for part in np.split(np.arange(len(ranks)), cuts):
            if len(part) > 1:
                merged += _pairs(uf, vectors[by_rank[part]], ranks[part], 1.0 - eps)
        del vectors
    log.info("semantic_labels: %d rows, %d clusters, %d buckets, %d merges", n, k, buckets,
             merged)
    return write_labels(out_dir, space, uf.roots().to_numpy(), 0)
