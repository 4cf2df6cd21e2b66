"""Ranking over spilled keys (whole rows stay on disk): DISTINCT ON's first row per key, and
the rank windows `percent_rank()`, `cume_dist()`, `ntile(n)` computed from each row's id,
partition keys and order values alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from daft import DataType

from mdfql.plan.stages import NODE, VALUE, RelationalOp

DISTINCT_KEY, DISTINCT_ORDER = "__dk", "__do"
RANK_PARTITION, RANK_ORDER = "__rp", "__ro"
OUT_ROWS = 1 << 20  # rows per written result file


def _read(files: list[str], columns: list[str]) -> pa.Table:
    """Just `columns` of the spilled files."""
    if not files:
        return pa.table({c: pa.array([], pa.uint64()) for c in columns})
    return pa.concat_tables(pq.read_table(f, columns=columns) for f in files)


def sort_keys(table: pa.Table, order: list[tuple[str, bool, bool]]
              ) -> tuple[pa.Table, list[tuple[str, str]]]:
    """`table` with a null flag per order column, and the pyarrow sort keys of `order`
    ((column, descending, nulls first) each): pyarrow places nulls for the whole sort at
    once, so each key sorts by its "is null" flag first."""
    keys: list[tuple[str, str]] = []
    for name, desc, nulls_first in order:
        flag = f"{name}_null"
        table = table.append_column(flag, pc.is_null(table[name]))
        keys += [(flag, "descending" if nulls_first else "ascending"),
                 (name, "descending" if desc else "ascending")]
    return table, keys


def first_per_key(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                  group: list[str], order: list[tuple[str, bool, bool]]) -> list[str]:
    """(node, true) for the first row of each `group` key in `order` ((column, descending,
    nulls first) each; NULL keys form one group). Reads only the ids, keys and order columns."""
    table, by = sort_keys(_read(files, [NODE, *group, *[name for name, _, _ in order]]), order)
    ordered = table.sort_by(by) if by else table
    winners = ordered.group_by(group, use_threads=False).aggregate([(NODE, "first")])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = str(out_dir / "winners.parquet")
    nodes = winners[f"{NODE}_first"]
    pq.write_table(pa.table({NODE: nodes, VALUE: pa.repeat(True, len(nodes))}), path)
    return [path]


FIRST_PER_KEY = RelationalOp(
    keys=lambda args, options: {}, dtype=lambda args, node, options: DataType.bool(),
    compute=first_per_key, describe=lambda options: "keys and order values",
    missing="null")


# --- rank windows ------------------------------------------------------------------------
def _starts(column: pa.ChunkedArray) -> np.ndarray:
    """Where a sorted column's value differs from the row before (row 0 included): NULLs
    equal each other, and so do NaNs (peers in SQL's ordering)."""
    a = column.combine_chunks()
    n = len(a)
    out = np.ones(n, bool)
    if n < 2:
        return out
    prev, cur = a.slice(0, n - 1), a.slice(1)
    nulls = (pc.is_null(prev).to_numpy(zero_copy_only=False)
             != pc.is_null(cur).to_numpy(zero_copy_only=False))
    differ = pc.not_equal(cur, prev)
    if pa.types.is_floating(a.type):
        differ = pc.and_(differ, pc.invert(pc.and_(pc.is_nan(cur), pc.is_nan(prev))))
    out[1:] = nulls | differ.fill_null(False).to_numpy(zero_copy_only=False)
    return out


def rank_window(table: pa.Table, function: str, buckets: int | None, partition: list[str],
                order: list[tuple[str, bool, bool]]) -> tuple[pa.Array, np.ndarray]:
    """(nodes, values) of `function` over `table` (NODE, partition and order columns):

    - percent_rank: (rank - 1) / (rows in partition - 1); 0 in a one-row partition;
    - cume_dist: rows up to and including the row's last peer / rows in partition;
    - ntile(buckets): bucket 1..buckets in order, sizes differing by at most one, the first
      ones larger (as Postgres and DuckDB); peers are split in spill order (the row id).
    """
    table, by = sort_keys(table, [(p, False, False) for p in partition] + order)
    table = table.take(pc.sort_indices(table, sort_keys=[*by, (NODE, "ascending")]))
    n = table.num_rows
    new_part = np.zeros(n, bool)
    new_part[:1] = True
    for p in partition:
        new_part |= _starts(table[p])
    pos = np.arange(n, dtype=np.int64)
    part_id = np.cumsum(new_part) - 1
    part_starts = np.flatnonzero(new_part)
    start = part_starts[part_id]
    size = np.diff(np.append(part_starts, n))[part_id]
    if function == "ntile":
        i = pos - start
        q, r = np.divmod(size, buckets)
        big = r * (q + 1)  # rows in the r buckets that hold one more
        values = np.where(i < big, i // (q + 1), r + (i - big) // np.maximum(q, 1)) + 1
    else:
        new_peer = new_part.copy()
        for name, _, _ in order:
            new_peer |= _starts(table[name])
        if function == "percent_rank":
            peer_start = np.maximum.accumulate(np.where(new_peer, pos, 0))
            values = np.where(size > 1, (peer_start - start) / np.maximum(size - 1, 1), 0.0)
        elif function == "cume_dist":
            peer_starts = np.flatnonzero(new_peer)
            peer_end = np.append(peer_starts[1:], n)[np.cumsum(new_peer) - 1]
            values = (peer_end - start) / size
        else:
            raise ValueError(f"unknown rank window {function!r}")
    return table[NODE].combine_chunks(), values


def rank_values(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                function: str, buckets: int | None, partition: list[str],
                order: list[tuple[str, bool, bool]]) -> list[str]:
    """The stage's result: (node, value) of a rank window for every spilled row, from the
    ids, partition keys and order values alone."""
    table = _read(files, [NODE, *partition, *[name for name, _, _ in order]])
    nodes, values = rank_window(table, function, buckets, partition, order)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = pa.int64() if function == "ntile" else pa.float64()
    paths = []
    for at in range(0, max(len(nodes), 1), OUT_ROWS):
        paths.append(str(out_dir / f"ranks-{len(paths):05d}.parquet"))
        pq.write_table(pa.table({NODE: nodes.slice(at, OUT_ROWS),
                                 VALUE: pa.array(values[at:at + OUT_ROWS], kind)}), paths[-1])
    return paths


RANK_WINDOW = RelationalOp(
    keys=lambda args, options: {},
    dtype=lambda args, node, options: DataType.int64() if options["function"] == "ntile"
    else DataType.float64(),
    compute=rank_values, describe=lambda options: "partition keys and order values",
    missing="null")
