"""Deterministic row ids for relational operators.

`monotonically_increasing_id` depends on partitioning, so operators name rows by content
instead: the caller's `id` column when given (kept as is, so clusters are labelled with real
ids), else the xxh3 hash of every hashable column of the row. Both are the same for any
partitioning, row order and runner. Rows identical in every hashed column get the same id and
so act as one document, which is what exact deduplication wants anyway.
"""

from __future__ import annotations

import daft
import daft.functions as F
from daft import DataType, Expression, col


def hashable(dtype: DataType) -> bool:
    """Whether Daft can hash a value of `dtype` (row ids, tie-breakers)."""
    if dtype.is_list() or dtype.is_fixed_size_list():
        return hashable(dtype.dtype)
    return (dtype.is_numeric() or dtype.is_struct()
            or dtype.is_string() or dtype.is_binary() or dtype.is_boolean()
            or dtype.is_temporal() or dtype.is_fixed_size_binary() or dtype.is_null())


def row_id(df: daft.DataFrame, id_column: str | None, skip: tuple[str, ...] = ()) -> Expression:
    """The id expression: `id_column` itself, or a 64-bit hash of the row's hashable columns
    other than `skip` (operator argument columns, which derive from the row anyway)."""
    if id_column is not None:
        return col(id_column)
    fields = {f.name: col(f.name) for f in df.schema() if f.name not in skip
              and hashable(f.dtype)}
    if not fields:
        raise ValueError("no hashable column to derive row ids from: pass id := <column>")
    return F.hash(F.to_struct(**fields), hash_function="xxhash3_64")
