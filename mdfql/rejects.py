"""`SET rejects = 'ns.table'`: the rows a run's filters dropped, and why, as an Iceberg table.

Counted filters (`mdfql.counting`) tee the rows they drop to Parquet under the run's work
directory as they go, each with the statement, view and predicate that dropped it (the first
failing conjunct), its preview columns and the whole row as JSON. When every write of the run
committed, `commit_rejects` appends those files to the table in one snapshot tagged with the
run id; a failed run commits none (its files go with the work directory).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdfql.counting import PREVIEW_CHARS, CountedFilter
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import WriteResult, stage_table
from mdfql.sinks.provenance import PREFIX, RunInfo

SCHEMA = pa.schema([
    ("statement", pa.int32()),
    ("view", pa.string()),
    ("predicate", pa.string()),
    ("url", pa.string()),
    ("record_id", pa.string()),
    ("text", pa.string()),
    ("row", pa.large_string()),
])
_PREVIEW_FIELD = {"url": "url", "record_id": "record_id", "id": "record_id", "text": "text",
                  "content": "text"}


def write_rejects(where: tuple[str, int], f: CountedFilter, fields: Mapping[str, pa.Array],
                  row: tuple[daft.Series, ...], first_fail: np.ndarray) -> None:
    """One batch's dropped rows (`first_fail` >= 0: the conjunct that dropped each; `row` the
    batch's columns, named `f.rejects`) as a Parquet file in `where`'s directory."""
    directory, statement = where
    dropped = np.flatnonzero(first_fail >= 0)
    take = pa.array(dropped)
    labels = np.array(f.labels, dtype=object)
    columns: dict[str, pa.Array] = {
        "statement": pa.array(np.full(len(dropped), statement, dtype=np.int32)),
        "view": pa.array([f.view] * len(dropped), pa.string()),
        "predicate": pa.array(labels[first_fail[dropped]].tolist(), pa.string()),
    }
    for name in f.previews:
        values = pc.take(fields[f"v_{name}"], take).cast(pa.string())
        if _PREVIEW_FIELD[name] == "text":
            values = pc.utf8_slice_codeunits(values, 0, PREVIEW_CHARS)
        columns[_PREVIEW_FIELD[name]] = values
    picked = []
    for series in row:
        column = series.to_arrow()
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        picked.append(pc.take(column, take))
    columns["row"] = pa.array(row_json(f.rejects, picked), pa.large_string())
    table = pa.table({name: columns.get(name, pa.nulls(len(dropped), type_))
                      for name, type_ in zip(SCHEMA.names, SCHEMA.types)}, schema=SCHEMA)
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path / f"part-{uuid.uuid4().hex}.parquet")


def row_json(names: tuple[str, ...], columns: list[pa.Array]) -> list[str]:
    """Each row of `columns` as one JSON object (non-JSON values as their text)."""
    rows = pa.StructArray.from_arrays(columns, names=list(names)).to_pylist()
    return [json.dumps(r, default=str, ensure_ascii=False) for r in rows]


def commit_rejects(directory: Path, ident: str, catalog: CatalogConfig,
                   run: RunInfo) -> WriteResult:
    """Append the rejects written under `directory` to table `ident` in one snapshot (none
    when no row was dropped), each row with the run's id."""
    files = sorted(str(p) for p in directory.glob("*.parquet"))
    if not files:
        return WriteResult(ident=ident, rows_written=0, snapshot_id=None, mode="append",
                           note=f"rejects: no row dropped, {ident} unchanged", skipped=True)
    df = daft.read_parquet(files).select(daft.lit(run.run_id).alias("run_id"), *SCHEMA.names)
    staged = stage_table(df, ident, "append", catalog)
    return staged.commit({PREFIX + "run-id": run.run_id, PREFIX + "script": run.script,
                          PREFIX + "rejects": "true"})
