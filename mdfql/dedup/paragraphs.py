"""Exact paragraph dedup as Dolma's deduper runs it (src/deduper.rs, `dedupe.paragraphs`), as
an external sort instead of a Bloom filter, over a stage's spilled rows.

Dolma reads documents in order and checks each paragraph (text between newlines, blank ones
skipped) against its Bloom filter: a paragraph already there is a duplicate span, one that is
not is added. Here a paragraph occurrence is a duplicate when the same paragraph (64-bit xxh3
of its text) occurs at an earlier position, positions ordered by (order key, row id, row
position, paragraph index): the first occurrence is kept, in an earlier document or earlier in
the same one. Unlike Dolma's filter (false-positive rate 1e-6 in its CC config), nothing
unseen is flagged, and the result does not depend on reading order or partitioning.

How, with memory bounded by the node and key columns plus one bucket:
1. rank the documents: one stable sort of (order key, node) over just those two columns;
   each document's rank (4 bytes) and the nodes in rank order are kept;
2. stream the texts a batch at a time; each paragraph becomes an occurrence (rank, index in
   its document, start, end, hash: 32 bytes), appended to one of up to 256 bucket files by its
   hash (Arrow IPC), so equal paragraphs share a bucket;
3. sort each bucket by (hash, rank, index), at most BUCKET_BYTES of occurrences at a time (a
   larger bucket is first split by further bits of the hash): every occurrence after the
   first of its hash is a duplicate, appended to a file of its rank range;
4. per rank range, sort the duplicates by (rank, index) and write `(node, spans)` Parquet for
   the documents that have any (the stage gives the others an empty list).
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdfql import _native
from mdfql.functions.kernels import SPAN
from mdfql.io.parquet import read_column, stream_batches

log = logging.getLogger(__name__)

SPANS = pa.large_list(SPAN)
BUCKET_BYTES = 128 << 20    # occurrences sorted at once (tests lower it to force splits)
MAX_BUCKETS = 256           # bucket files written while the texts stream
SPLIT_BITS = 4              # a bucket over BUCKET_BYTES splits 16 ways by further hash bits
MAX_ROWS = (1 << 32) - 1    # ranks are uint32
_OCCURRENCE = pa.schema([("rank", pa.uint32()), ("index", pa.uint32()), ("start", pa.int64()),
                         ("end", pa.int64()), ("hash", pa.uint64())])
_ROW_BYTES = 32
# Occurrence bytes per text byte assumed when choosing the first bucket count (paragraphs of
# ~64 characters); buckets that turn out larger are split, so this only sets the first guess.
_OCCURRENCES_PER_TEXT_BYTE = _ROW_BYTES / 64

Segments = Callable[[pa.Array], pa.Array]


class _Ranks:
    """Documents in (order key, node, position) order: `of[position]` -> rank, and the nodes
    in rank order."""

    def __init__(self, files: Sequence[str], node: str, key: str):
        nodes = read_column(files, node)
        if len(nodes) > MAX_ROWS:
            raise ValueError(f"{len(nodes)} rows: at most {MAX_ROWS} can be deduplicated at once")
        table = pa.table({"key": read_column(files, key), "node": nodes,
                          "pos": pa.array(np.arange(len(nodes), dtype=np.int64))})
        order = pc.sort_indices(table, sort_keys=[("key", "ascending"), ("node", "ascending"),
                                                  ("pos", "ascending")]).to_numpy()
        del table
        self.of = np.empty(len(order), np.uint32)
        self.of[order] = np.arange(len(order), dtype=np.uint32)
        self.nodes = nodes.take(pa.array(order)).combine_chunks()

    def __len__(self) -> int:
        return len(self.of)


class _Buckets:
    """Append-only Arrow IPC files of occurrences, one per bucket, opened on first write."""

    def __init__(self, directory: Path, prefix: str, schema: pa.Schema = _OCCURRENCE):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.prefix, self.schema = directory, prefix, schema
        self.writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}

    def path(self, bucket: int) -> Path:
        return self.directory / f"{self.prefix}-{bucket:05d}.arrow"

    def write(self, table: pa.Table, bucket: np.ndarray, count: int) -> None:
        """Append each row of `table` to the file of its `bucket` (0 <= bucket < count)."""
        if len(table) == 0:
            return
        sizes = np.bincount(bucket, minlength=count)
        ends = np.cumsum(sizes)
        table = table.take(pa.array(np.argsort(bucket, kind="stable")))
        for b in np.flatnonzero(sizes):
            start = ends[b - 1] if b else 0
            if b not in self.writers:
                self.writers[b] = pa.ipc.new_stream(str(self.path(b)), self.schema)
            self.writers[b].write_table(table.slice(start, ends[b] - start))

    def close(self) -> dict[int, Path]:
        """The files written by bucket, in bucket order."""
        for w in self.writers.values():
            w.close()
        return {b: self.path(b) for b in sorted(self.writers)}


class _RankRanges(_Buckets):
    """Duplicate occurrences (no hash) in files of `per_range` consecutive ranks each."""

    def __init__(self, directory: Path, documents: int, occurrences: int):
        super().__init__(directory, "ranks", _OCCURRENCE.remove(_OCCURRENCE.get_field_index(
            "hash")))
        self.count = max(1, math.ceil(occurrences * _ROW_BYTES / BUCKET_BYTES))
        self.per_range = max(1, math.ceil(documents / self.count))

    def add(self, dups: pa.Table) -> None:
        rank = dups.column("rank").to_numpy()
        self.write(dups, (rank // self.per_range).astype(np.int64), self.count)


def _read(path: Path) -> Iterator[pa.RecordBatch]:
    with pa.OSFile(str(path)) as f:
        yield from pa.ipc.open_stream(f)


def _occurrences(files: Sequence[str], text: str, ranks: _Ranks,
                 segments: Segments) -> Iterator[pa.Table]:
    """One table of occurrences per batch of texts, streamed."""
    base = 0
    for f in files:
        for batch in stream_batches(f, [text]):
            texts = batch.column(0)
            if not pa.types.is_large_string(texts.type):
                texts = texts.cast(pa.large_string())
            pars = segments(texts)
            parent = pc.list_parent_indices(pars).to_numpy()
            flat = pc.list_flatten(pars)
            offsets = pars.offsets.to_numpy()
            index = np.arange(len(parent), dtype=np.int64) - (offsets[parent] - offsets[0])
            yield pa.table([pa.array(ranks.of[base + parent]), pa.array(index.astype(np.uint32)),
                            flat.field("start"), flat.field("end"), flat.field("hash")],
                           schema=_OCCURRENCE)
            base += batch.num_rows


def _bucket_bits(text_bytes: int) -> int:
    """Bits of the hash choosing the first bucket: enough buckets for the occurrences
    expected from `text_bytes` to fit BUCKET_BYTES each, at most MAX_BUCKETS."""
    want = text_bytes * _OCCURRENCES_PER_TEXT_BYTE / BUCKET_BYTES
    return min(int(math.log2(MAX_BUCKETS)), max(0, math.ceil(math.log2(max(want, 1)))))


def _text_bytes(files: Sequence[str], text: str) -> int:
    """The texts' uncompressed size, from the Parquet footers."""
    total = 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            total += sum(group.column(c).total_uncompressed_size
                         for c in range(group.num_columns)
                         if group.column(c).path_in_schema == text)
    return total


def _duplicates_of(path: Path, shift: int, ranges: _RankRanges) -> int:
    """Write the duplicate occurrences of one bucket file (hash bits below `shift` equal for
    all its rows) to their rank-range files; returns how many. A bucket over BUCKET_BYTES is
    split by the next SPLIT_BITS bits of the hash first, unless that would not divide it."""
    size = path.stat().st_size
    if size > BUCKET_BYTES and shift < 64:
        parts = _Buckets(path.parent, f"{path.stem}.{shift}")
        mask = np.uint64((1 << SPLIT_BITS) - 1)
        for batch in _read(path):
            part = ((batch.column("hash").to_numpy() >> np.uint64(shift)) & mask).astype(np.int64)
            parts.write(pa.Table.from_batches([batch]), part, 1 << SPLIT_BITS)
        written = list(parts.close().values())
        if len(written) > 1:
            path.unlink()
            return sum(_duplicates_of(p, shift + SPLIT_BITS, ranges) for p in written)
        written[0].unlink()  # one hash-bit pattern for all: split further or sort as it is
        return _duplicates_of(path, shift + SPLIT_BITS, ranges)
    occ = pa.Table.from_batches(list(_read(path)), schema=_OCCURRENCE)
    path.unlink()
    h = occ.column("hash").to_numpy()
    position = (occ.column("rank").to_numpy().astype(np.uint64) << np.uint64(32)) \
        | occ.column("index").to_numpy().astype(np.uint64)
    order = np.lexsort((position, h))
    later = order[1:][h[order[1:]] == h[order[:-1]]]
    ranges.add(occ.take(pa.array(later)).drop_columns(["hash"]))
    return len(later)


def _write_spans(path: Path, lo: int, hi: int, ranks: _Ranks, out: Path) -> None:
    """`(node, spans)` Parquet of the documents of ranks lo..hi-1 that have duplicates."""
    dups = pa.Table.from_batches(list(_read(path)))
    rank = dups.column("rank").to_numpy().astype(np.int64)
    order = np.lexsort((dups.column("index").to_numpy(), rank))
    dups, rank = dups.take(pa.array(order)), rank[order]
    counts = np.bincount(rank - lo, minlength=hi - lo)
    has = np.flatnonzero(counts)
    spans = pa.StructArray.from_arrays(
        [dups.column("start").combine_chunks(), dups.column("end").combine_chunks(),
         pa.array(np.ones(len(dups)), pa.float64())], fields=list(SPAN))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts[has])]), pa.int64())
    pq.write_table(pa.table({"node": ranks.nodes.take(pa.array(has + lo)),
                             "spans": pa.LargeListArray.from_arrays(offsets, spans)}), out)


def paragraph_dedup_files(files: list[str], out_dir: Path, *, node: str, key: str, text: str,
                          segments: Segments = _native.dolma_paragraphs) -> list[str]:
    """Duplicate paragraphs of spilled rows: `(node, spans)` Parquet files under `out_dir`,
    for the documents with at least one duplicate paragraph (Dolma's
    `bff_duplicate_paragraph_spans`: start, end in characters, score 1.0), in paragraph order.

    `node`, `key`, `text`: the columns holding each row's id, order key and text.
    `segments(texts)` -> per text `large_list<struct<start, end, hash: uint64>>`, the units
    compared (default: Dolma's paragraphs). Memory: the node and key columns while ranking,
    then 4 bytes a row and the nodes, plus at most BUCKET_BYTES of occurrences (a few times
    that while sorting); the work files go under `out_dir`'s sibling `<name>.work`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir.with_name(out_dir.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    ranks = _Ranks(files, node, key)
    bits = _bucket_bits(_text_bytes(files, text))
    buckets = _Buckets(work, "bucket")
    occurrences = 0
    for occ in _occurrences(files, text, ranks, segments):
        bucket = (occ.column("hash").to_numpy() & np.uint64((1 << bits) - 1)).astype(np.int64)
        buckets.write(occ, bucket, 1 << bits)
        occurrences += len(occ)
    ranges = _RankRanges(work, len(ranks), occurrences)
    duplicates = sum(_duplicates_of(p, bits, ranges) for p in buckets.close().values())
    paths = []
    for r, path in ranges.close().items():
        lo = r * ranges.per_range
        paths.append(str(out_dir / f"spans-{len(paths):05d}.parquet"))
        _write_spans(path, lo, min(lo + ranges.per_range, len(ranks)), ranks, Path(paths[-1]))
    if not paths:  # one empty file, so readers still see the schema
        paths.append(str(out_dir / "spans-00000.parquet"))
        pq.write_table(pa.schema([("node", ranks.nodes.type), ("spans", SPANS)]).empty_table(),
                       paths[-1])
    shutil.rmtree(work, ignore_errors=True)
    log.info("paragraph_dedup: %d documents, %d paragraphs (%d buckets), %d duplicates",
             len(ranks), occurrences, 1 << bits, duplicates)
    return paths
