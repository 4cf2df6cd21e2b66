"""Reading spilled Parquet a bounded slice at a time.

pyarrow's defaults read a whole column chunk at once and `iter_batches` yields 65,536 rows
per batch whatever their width: a stage's spill of 3 KB texts came back in 180 MB batches,
and those batches, queued between Daft's operators, were most of a run's peak memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_BYTES = 8 << 20  # decoded bytes per batch handed on
_BUFFER = 1 << 20  # bytes read from the file at a time


def open_streamed(path: str) -> pq.ParquetFile:
    """A Parquet file read a page buffer at a time, never a whole column chunk."""
    return pq.ParquetFile(path, buffer_size=_BUFFER, pre_buffer=False)


def batch_rows(file: pq.ParquetFile, columns: Sequence[str] | None,
               target_bytes: int = BATCH_BYTES) -> int:
    """Rows per batch so that one batch of `columns` decodes to about `target_bytes`, from the
    file's own statistics (its widest row group's uncompressed bytes per row)."""
    meta = file.metadata
    wanted = None if columns is None else set(columns)
    widest = 0.0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if group.num_rows == 0:
            continue
        size = sum(group.column(c).total_uncompressed_size for c in range(group.num_columns)
                   if wanted is None or group.column(c).path_in_schema in wanted)
        widest = max(widest, size / group.num_rows)
    return max(1, min(1 << 16, int(target_bytes / widest) if widest else 1 << 16))


def stream_batches(path: str, columns: Sequence[str] | None = None,
                   target_bytes: int = BATCH_BYTES) -> Iterator[pa.RecordBatch]:
    """The rows of one Parquet file in batches of about `target_bytes` decoded bytes."""
    file = open_streamed(path)
    rows = batch_rows(file, columns, target_bytes)
    yield from file.iter_batches(rows, columns=None if columns is None else list(columns))


def read_column(files: Sequence[str], name: str) -> pa.ChunkedArray:
    """One column of all files, in row order (only that column is read)."""
    chunks: list[pa.Array] = []
    kind: pa.DataType | None = None
    for f in files:
        column = pq.read_table(f, columns=[name]).column(0)
        kind = kind or column.type
        chunks.extend(column.cast(kind).chunks)
    if kind is None:
        raise ValueError("no spill files")
    return pa.chunked_array(chunks, type=kind)
