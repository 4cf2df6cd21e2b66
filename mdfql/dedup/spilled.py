"""Near-dedup clusters computed from spilled keys, with memory bounded by one key column.

The executor streams an operator's input once into spill files (Parquet, row order = file
order, then row order within a file) holding each row's `node` id and its keys; the functions
here read only the columns they need, a column at a time, and write `(node, label)` Parquet for
the rows in a cluster of two or more (label = the smallest node of the row's connected
component; the executor labels every other row with its own node).

Node values of any sortable type are mapped once, by a sort, to dense ranks in node order, so
a union-find whose roots are its smallest members (`_native.UnionFind`) yields labels
directly. Then, for LSH, each band column in turn: rows with equal key form a bucket whose
members are linked to its smallest node (star edges, as `lsh.py`). Without a threshold the
stars are unioned at once; with one, the distinct star edges of all bands are checked against
the row values (signatures or texts), read once by position ranges for just the rows those
edges name, and only passing edges are unioned. Hamming: multi-index hashing over the one
hash column (as `hamming.py`). Memory: the node column, 4-byte ranks and parents, and one band
(its keys and their sort, ~24 bytes a row); with a threshold also the candidate edges (8 bytes
each) and at most VERIFY_BYTES of row values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdfql import _native
from mdfql.io.parquet import open_streamed, read_column

log = logging.getLogger(__name__)

OUT_ROWS = 1 << 20          # rows per written label file
VERIFY_BYTES = 1 << 30      # row values held (two position ranges) while checking edges
READ_ROWS = 1 << 16         # rows decoded at a time when reading values
CHECK_EDGES = 1 << 16       # candidate edges scored at a time
MAX_ROWS = (1 << 32) - 1    # ranks are uint32


def _as_uint64(chunks: pa.ChunkedArray) -> list[pa.Array]:
    """Integer keys as uint64 chunks (signed ones reinterpreted: only equality matters)."""
    if chunks.type == pa.uint64():
        return chunks.chunks
    if not pa.types.is_integer(chunks.type):
        raise TypeError(f"keys must be integers, got {chunks.type}")
    if pa.types.is_signed_integer(chunks.type):
        chunks = chunks.cast(pa.int64())
    return [pc.cast(c, pa.uint64(), safe=False) for c in chunks.chunks]


class RankSpace:
    """Dense ranks of node values, in node order: rows are numbered by position (groups one
    after another, e.g. an index then the new rows) and ranked group by group, so every node
    of an earlier group ranks before every node of a later one."""

    def __init__(self, groups: Sequence[pa.ChunkedArray]):
        self.nodes = pa.chunked_array([c for g in groups for c in g.chunks], type=groups[-1].type)
        total = len(self.nodes)
        if total > MAX_ROWS:
            raise ValueError(f"{total} rows: at most {MAX_ROWS} can be clustered at once")
        self.rank_of = np.empty(total, np.uint32)  # position -> rank
        self.order = np.empty(total, np.uint32)    # rank -> position
        # Rows with equal ids (identical rows, when ids hash the row) are one document: the
        # ranks r of a group's repeats, each to be united with r + 1.
        self.twins: list[np.ndarray] = []
        base = 0
        for nodes in groups:
            if nodes.null_count:
                raise ValueError("node ids must not be NULL")
            n = len(nodes)
            idx = pc.sort_indices(nodes).to_numpy().astype(np.uint32)
            ranked = nodes.take(idx)
            if n > 1:
                dup = pc.equal(ranked.slice(1), ranked.slice(0, n - 1))
                at = np.flatnonzero(dup.to_numpy(zero_copy_only=False)).astype(np.uint32)
                self.twins.append(at + base)
            self.order[base:base + n] = idx + base
            self.rank_of[base + idx] = np.arange(base, base + n, dtype=np.uint32)
            base += n

    def __len__(self) -> int:
        return len(self.rank_of)

    def ranks(self) -> pa.Array:
        return pa.array(self.rank_of)

    def union_twins(self, uf: Any) -> None:
        """Put rows with equal ids in one component."""
        for at in self.twins:
            if len(at):
                uf.union_pairs(pa.array(at), pa.array(at + np.uint32(1)))


class _Values:
    """The rows of one spilled column at given positions, streamed a batch at a time from
    just the row groups that hold them."""

    def __init__(self, files: Sequence[str], name: str):
        self.name = name
        self.groups: list[tuple[str, int]] = []
        starts, size = [0], 0
        for f in files:
            meta = pq.ParquetFile(f).metadata
            if name not in meta.schema.to_arrow_schema().names:
                raise ValueError(f"spill file {f} has no column {name!r}")
            # the Parquet leaf columns of the field (a list's values are `name.list.element`)
            leaves = [i for i in range(meta.num_columns)
                      if meta.schema.column(i).path.split(".")[0] == name]
            for g in range(meta.num_row_groups):
                rg = meta.row_group(g)
                self.groups.append((f, g))
                starts.append(starts[-1] + rg.num_rows)
                size += sum(rg.column(i).total_uncompressed_size for i in leaves)
        self.starts = np.array(starts, np.int64)
        self.bytes_per_row = max(1, size // max(1, int(self.starts[-1])))

    def take(self, positions: np.ndarray) -> pa.ChunkedArray:
        """Values at `positions` (sorted, distinct), in that order."""
        groups = np.searchsorted(self.starts, positions, side="right") - 1
        pieces: list[pa.Array] = []
        for g in np.unique(groups):
            f, rg = self.groups[g]
            local = positions[groups == g] - self.starts[g]
            offset = 0
            for batch in open_streamed(f).iter_batches(READ_ROWS, row_groups=[rg],
                                                   columns=[self.name]):
                lo, hi = np.searchsorted(local, [offset, offset + batch.num_rows])
                if hi > lo:
                    piece = batch.column(0).take(pa.array(local[lo:hi] - offset))
                    pieces.append(piece.cast(pieces[0].type) if pieces else piece)
                offset += batch.num_rows
        return pa.chunked_array(pieces)


Score = Callable[[pa.Array, pa.Array], pa.Array]


def _score(verify: str, ngram: int) -> Score:
    if verify == "sig":
        return _native.signature_agreement
    return lambda a, b: _native.shingle_jaccard(a, b, ngram=ngram)


class _Verifier:
    """Unions the candidate edges whose rows' values reach the threshold.

    The distinct star edges of all bands are checked together, so the value column is read
    once, not once per band: the rows the edges name are cut into position ranges whose
    values fit VERIFY_BYTES two at a time, and each pair of ranges is loaded once (reading
    only its row groups) to check the edges between them. Edges whose ends an earlier check
    already connected are skipped: they cannot change the components.
    """

    def __init__(self, files: Sequence[str], column: str, score: Score, threshold: float,
                 space: RankSpace):
        self.values = _Values(files, column)
        self.score, self.threshold, self.space = score, threshold, space
        self.checked = 0

    def union(self, uf, a: np.ndarray, b: np.ndarray) -> int:
        """Checks the edges `(a[i], b[i])` (ranks) and unions those that pass."""
        pos_a, pos_b = self.space.order[a], self.space.order[b]
        need = np.unique(np.concatenate([pos_a, pos_b]))
        per_range = max(1, VERIFY_BYTES // 2 // self.values.bytes_per_row)
        cuts = need[per_range::per_range]
        ra, rb = np.searchsorted(cuts, pos_a, "right"), np.searchsorted(cuts, pos_b, "right")
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        by_pair = np.lexsort((hi, lo))
        bounds = np.flatnonzero(np.diff(lo[by_pair]) | np.diff(hi[by_pair])) + 1
        merged, loaded = 0, {}
        for part in np.split(by_pair, bounds):
            if not len(part):
                continue
            pair = sorted({int(lo[part[0]]), int(hi[part[0]])})
            loaded = {r: loaded[r] if r in loaded else self._range(need, per_range, r)
                      for r in pair}  # two ranges at most: range i, then each j > i in turn
            rows = np.concatenate([loaded[r][0] for r in pair])
            values = pa.chunked_array([c for r in pair for c in loaded[r][1].chunks],
                                      loaded[pair[0]][1].type)
            for start in range(0, len(part), CHECK_EDGES):
                merged += self._check(uf, part[start:start + CHECK_EDGES], a, b, rows, values)
        return merged

    def _check(self, uf, part: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray,
               values: pa.ChunkedArray) -> int:
        """Checks edges `part` (indexes into `a`, `b`) not yet connected, with the values of
        `rows` (sorted positions); unions those that pass."""
        fresh = ~uf.connected(pa.array(a[part]), pa.array(b[part])).to_numpy(
            zero_copy_only=False)
        ea, eb = a[part[fresh]], b[part[fresh]]
        if not len(ea):
            return 0
        order = self.space.order
        left = values.take(pa.array(np.searchsorted(rows, order[ea]))).combine_chunks()
        right = values.take(pa.array(np.searchsorted(rows, order[eb]))).combine_chunks()
        ok = self.score(left, right).fill_null(-1.0).to_numpy() >= self.threshold
        self.checked += len(ea)
        return uf.union_pairs(pa.array(ea[ok]), pa.array(eb[ok]))

    def _range(self, need: np.ndarray, per_range: int,
               r: int) -> tuple[np.ndarray, pa.ChunkedArray]:
        rows = need[r * per_range:(r + 1) * per_range]
        return rows, self.values.take(rows)


def _index_band(files: Sequence[str], j: int) -> Iterator[pa.Array]:
    """Band `j` of an index's `bands` lists, a record batch at a time (NULL lists: no key)."""
    for f in files:
        for batch in open_streamed(f).iter_batches(READ_ROWS, columns=["bands"]):
            # an Iceberg index stores the uint64 keys as int64 (same bits): reinterpret them
            yield pc.cast(pc.list_element(batch.column(0), j), pa.uint64(), safe=False)


def write_labels(out_dir: Path, space: RankSpace, roots: np.ndarray, first: int) -> list[str]:
    """`(node, label)` for the rows from position `first` on that share their component with
    another row, as Parquet files of at most OUT_ROWS rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = np.bincount(roots, minlength=len(roots))
    schema = pa.schema([("node", space.nodes.type), ("label", space.nodes.type)])
    paths: list[str] = []
    for start in range(first, len(space), OUT_ROWS):
        pos = np.arange(start, min(start + OUT_ROWS, len(space)), dtype=np.int64)
        root = roots[space.rank_of[pos]]
        keep = sizes[root] >= 2
        if not keep.any():
            continue
        table = pa.table([space.nodes.take(pa.array(pos[keep])),
                          space.nodes.take(pa.array(space.order[root[keep]]))], schema=schema)
        paths.append(str(out_dir / f"labels-{len(paths):05d}.parquet"))
        pq.write_table(table, paths[-1])
    if not paths:  # one empty file, so readers still see the schema
        paths.append(str(out_dir / "labels-00000.parquet"))
        pq.write_table(schema.empty_table(), paths[-1])
    return paths


def lsh_labels(files: list[str], out_dir: Path, *, node: str, bands: list[str],
               threshold: float | None = None, verify: str | None = None,
               ngram: int = 5, against: list[str] | None = None,
               value: str | None = None) -> list[str]:
    """LSH clusters of spilled rows: `(node, label)` Parquet files under `out_dir` for every
    row in a cluster of >= 2 (see the module docs).

    `bands`: the uint64 band key columns (NULL: the row joins no bucket). `threshold` with
    `verify="sig"` keeps an edge when its rows' signature lists agree on that share of
    positions; `verify="text"` when the exact Jaccard of their texts' word `ngram`-gram
    shingle sets reaches it; the values are read from column `value` (default: `sig` or
    `text`). `against`: an index of documents kept earlier (columns `node`, `bands` as a list
    of the same keys) that joins the clustering and ranks first, so a new row near an indexed
    one is labelled with the smallest indexed node of its component; only new rows are
    written.
    """
    if not bands:
        raise ValueError("lsh_labels needs at least one band column")
    if verify not in (None, "sig", "text"):
        raise ValueError(f"verify must be None, 'sig' or 'text', not {verify!r}")
    if (threshold is None) != (verify is None):
        raise ValueError("a threshold needs verify='sig' or 'text', and verify a threshold")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must lie in [0, 1]")
    if threshold is not None and against:
        raise ValueError("an index holds no values to verify against: no threshold with against")
    new = read_column(files, node)
    groups = [new]
    if against:
        groups.insert(0, pc.cast(read_column(against, "node"), new.type, safe=False))
    space = RankSpace(groups)
    first = len(space) - len(new)
    uf = _native.UnionFind(len(space))
    space.union_twins(uf)
    ranks = space.ranks()
    verifier = (None if verify is None else
                _Verifier(files, value or verify, _score(verify, ngram), threshold, space))
    merged, edges = 0, np.empty(0, np.uint64)  # with a threshold: (member << 32) | root
    for j, band in enumerate(bands):
        keys = _as_uint64(read_column(files, band))
        if against:
            keys = [*_as_uint64(pa.chunked_array(list(_index_band(against, j)), pa.uint64())),
                    *keys]
        if verifier is None:
            merged += uf.union_buckets(keys, ranks)
            continue
        # nothing is unioned before the check, so these are all of the band's star edges
        a, b = (x.to_numpy().astype(np.uint64) for x in uf.bucket_candidates(keys, ranks))
        edges = np.union1d(edges, (a << np.uint64(32)) | b)
    if verifier is not None:
        merged = verifier.union(uf, (edges >> np.uint64(32)).astype(np.uint32),
                                (edges & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    log.info("lsh_labels: %d rows (%d indexed), %d bands, %d merges%s", len(space), first,
             len(bands), merged, f", {verifier.checked} edges checked" if verifier else "")
    return write_labels(out_dir, space, uf.roots().to_numpy(), first)


def hamming_labels(files: list[str], out_dir: Path, *, node: str, hash: str,  # noqa: A002
                   max_distance: int, fanout: int) -> list[str]:
    """Clusters of 64-bit hashes within `max_distance` bits (multi-index hashing, each hash
    compared with the next `fanout` of each band bucket; see `hamming.py`): `(node, label)`
    Parquet files under `out_dir` for every row in a cluster of >= 2. NULL hashes are
    singletons."""
    if not 0 <= max_distance < 64:
        raise ValueError("max_distance must lie in [0, 63]")
    if fanout < 1:
        raise ValueError("fanout must be positive")
    space = RankSpace([read_column(files, node)])
    hashes = pa.chunked_array(_as_uint64(read_column(files, hash)), pa.uint64()).combine_chunks()
    valid = hashes.is_valid().to_numpy(zero_copy_only=False)
    uf = _native.UnionFind(len(space))
    space.union_twins(uf)
    merged = uf.union_hamming(hashes.drop_null(), pa.array(space.rank_of[valid]),
                              max_distance, fanout)
    log.info("hamming_labels: %d rows, %d merges", len(space), merged)
    return write_labels(out_dir, space, uf.roots().to_numpy(), 0)
