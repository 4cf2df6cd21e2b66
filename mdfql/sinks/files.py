"""`COPY (query) TO 'dir' (FORMAT parquet|jsonl)`: a query's rows as files in a folder.

Daft's writers do the work in parallel. Its JSON writer already writes JSON Lines (one object per
line, newlines inside strings escaped), so `jsonl` uses it, under `.json` file names; binary
columns, which it cannot write, go out as base64 text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from daft import DataType, col
from daft.dataframe import DataFrame

from mdfql.metrics import operator_metrics
from mdfql.sinks.catalog import SinkError
from mdfql.sinks.iceberg import WriteResult

FileFormat = Literal["parquet", "jsonl"]
FileMode = Literal["overwrite", "append"]


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _json_unwritable(t: pa.DataType) -> bool:
    """Whether Daft's JSON writer rejects type `t` (binary, duration, extension), nested or not."""
    if _is_binary(t) or pa.types.is_duration(t) or isinstance(t, pa.BaseExtensionType):
        return True
    return any(_json_unwritable(t.field(i).type) for i in range(t.num_fields))


def _json_ready(df: DataFrame) -> DataFrame:
    """`df` with top-level binary columns as base64 text, which JSON can carry.

    Other types Daft cannot write as JSON raise a SinkError naming the column.
    """
    encoded = {}
    for f in df.schema().to_pyarrow_schema():
        if _is_binary(f.type):
            encoded[f.name] = col(f.name).encode("base64").cast(DataType.string())
        elif _json_unwritable(f.type):
            raise SinkError(
                f"column {f.name!r} of type {df.schema()[f.name].dtype} cannot be written as JSON",
                hint=f"cast {f.name!r} to text in the query, or COPY to FORMAT parquet",
            )
    return df.with_columns(encoded) if encoded else df


def _count_rows(paths: list[str], fmt: FileFormat) -> int:
    """Rows in the files just written: Parquet footers, or JSON Lines newlines."""
    rows = 0
    for path in paths:
        fs, inner = pafs.FileSystem.from_uri(path if "://" in path else f"file://{path}")
        if fmt == "parquet":
            with fs.open_input_file(inner) as f:
                rows += pq.ParquetFile(f).metadata.num_rows
        else:
            with fs.open_input_stream(inner) as f:
                while chunk := f.read(1 << 20):
                    rows += chunk.count(b"\n")
    return rows


def write_files(
    df: DataFrame, path: str, fmt: FileFormat, mode: FileMode = "overwrite"
) -> WriteResult:
    """Write `df` under folder `path` as Parquet or JSON Lines files; rows counted from the files.

    `overwrite` removes files already in the folder once the new ones are written; `append`
    keeps them. `WriteResult.ident` is the folder, `snapshot_id` is None.
    """
    if fmt not in ("parquet", "jsonl"):
        raise SinkError(f"unknown COPY format {fmt!r}", hint="use FORMAT parquet or FORMAT jsonl")
    if mode not in ("overwrite", "append"):
        raise SinkError(f"unknown COPY mode {mode!r}", hint="use overwrite or append")
    if "://" not in path:  # Daft turns relative folders into file:// URIs it cannot open
        path = str(Path(path).expanduser().resolve())
    if fmt == "parquet":
        written = df.write_parquet(path, write_mode=mode)
    else:
        written = _json_ready(df).write_json(path, write_mode=mode)
    paths = [p for p in written.to_pydict()["path"] if p is not None]
    return WriteResult(
        ident=path, rows_written=_count_rows(paths, fmt), snapshot_id=None, mode=mode,
        metrics=operator_metrics(written),
    )
