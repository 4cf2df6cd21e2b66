"""Batches of about a megabyte again before a batch UDF.

A filter hands on what is left of each batch, so a pipeline of filters feeds its UDFs ever
smaller batches: on a crawl, fineweb.sql's kernels got 10 rows per call by its C4 step, and
each call's fixed cost (Arrow conversion, the GIL, the kernel pool's dispatch) added up to a
tenth of its CPU time. Coalescing to a fixed row count fixed that for wide rows but cut 4M
narrow rows into 62,500 batches (28x slower), so the row count comes from the schema's row
width: the rows of one megabyte, at least one kernel batch, at most one Daft morsel."""

from __future__ import annotations

import daft
import pyarrow as pa

from mdfql.functions.kernels import BATCH_SIZE as KERNEL_BATCH_ROWS

TARGET_BYTES = 1 << 20
# assumed sizes of what a schema does not fix: a string or binary value (web text runs to
# kilobytes, ids and labels to tens of bytes) and a variable-length list's items
VARIABLE_BYTES = 1024
LIST_ITEMS = 16
DAFT_MORSEL_ROWS = 131_072  # Daft's default_morsel_size


def value_bytes(dtype: pa.DataType) -> int:
    """Assumed bytes of one value of `dtype`."""
    if pa.types.is_struct(dtype):
        return sum(value_bytes(dtype.field(i).type) for i in range(dtype.num_fields))
    if pa.types.is_fixed_size_list(dtype):
        return dtype.list_size * value_bytes(dtype.value_type)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return LIST_ITEMS * value_bytes(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return 1
    try:
        return max(1, dtype.bit_width // 8)
    except ValueError:  # strings, binaries, maps: no fixed width
        return VARIABLE_BYTES


def row_bytes(schema: daft.Schema) -> int:
    """Assumed bytes of one row of `schema` (a column Arrow cannot type counts as a string)."""
    total = 0
    for field in schema:
        try:
            total += value_bytes(field.dtype.to_arrow_dtype())
        except Exception:  # Python objects, Daft-only logical types
            total += VARIABLE_BYTES
    return max(1, total)


def coalesced_rows(schema: daft.Schema, morsel_rows: int | None = None) -> int:
    """Rows per batch for `schema`: a megabyte's worth, within [kernel batch, Daft morsel]."""
    ceiling = max(KERNEL_BATCH_ROWS, morsel_rows or DAFT_MORSEL_ROWS)
    return min(ceiling, max(KERNEL_BATCH_ROWS, TARGET_BYTES // row_bytes(schema)))


def coalesced(df: daft.DataFrame, morsel_rows: int | None = None) -> daft.DataFrame:
    """`df` in batches of `coalesced_rows` again, on the native runner. On Ray, Daft may move
    rows between workers to coalesce, so batches stay as they come there."""
    if daft.get_or_infer_runner_type() == "ray":
        return df
    return df.into_batches(coalesced_rows(df.schema(), morsel_rows))
