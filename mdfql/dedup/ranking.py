"""DISTINCT ON as a relational stage: the first row of each key by the query's order, chosen
from the spilled keys and order values alone (whole rows stay on disk)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from daft import DataType

from mdfql.plan.stages import NODE, VALUE, RelationalOp

DISTINCT_KEY, DISTINCT_ORDER = "__dk", "__do"


def first_per_key(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                  group: list[str], order: list[tuple[str, bool, bool]]) -> list[str]:
    """(node, true) for the first row of each `group` key in `order` ((column, descending,
    nulls first) each; NULL keys form one group). Reads only the ids, keys and order columns."""
    columns = [NODE, *group, *[name for name, _, _ in order]]
    table = pa.concat_tables(pq.read_table(f, columns=columns) for f in files) if files else \
        pa.table({c: pa.array([], pa.uint64()) for c in columns})
    sort_keys: list[tuple[str, str]] = []
    for name, desc, nulls_first in order:
        # pyarrow places nulls for the whole sort at once: order by "is null" first, per key
        flag = f"{name}_null"
        table = table.append_column(flag, pc.is_null(table[name]))
        sort_keys += [(flag, "descending" if nulls_first else "ascending"),
                      (name, "descending" if desc else "ascending")]
    ordered = table.sort_by(sort_keys) if sort_keys else table
    winners = ordered.group_by(group, use_threads=False).aggregate([(NODE, "first")])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = str(out_dir / "winners.parquet")
    nodes = winners[f"{NODE}_first"]
    pq.write_table(pa.table({NODE: nodes, VALUE: pa.repeat(True, len(nodes))}), path)
    return [path]


FIRST_PER_KEY = RelationalOp(
    keys=lambda args, options: {}, dtype=lambda args, node, options: DataType.bool(),
    compute=first_per_key, describe=lambda options: "keys and order values",
    default_to_id=False)
