"""Row guards around a kernel's batch call: what keeps one hostile row from failing its batch.

Every SQL kernel declared with `kernels.kernel` runs its batches through `call_guarded`:
- a row whose string or binary argument is over the kernel's `max_row_bytes` is not passed to
  the kernel (it gets NULL), its result is NULL and it counts as a `too_large` failure: the
  text kernels' memory grows with a document's size (quality_signals: about 16 bytes per input
  byte), so a 100 MB document must not reach them;
- a Rust panic (raised by `_native` as `KernelPanic`, or by PyO3 as `PanicException` should one
  escape the binding layer) does not fail the batch: the batch is retried row by row, and the
  rows that panic alone become NULL and count as `panic` failures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mdfql import _native
from mdfql.metrics import record_failure

# Rows over this many bytes (one argument's value) are refused by the text kernels: a few times
# the largest real pages, and about 1 GB of quality_signals' working memory.
MAX_ROW_BYTES = 64 << 20


def _is_panic(exc: BaseException) -> bool:
    # PyO3's PanicException derives from BaseException and is not importable by name.
    return isinstance(exc, _native.KernelPanic) or type(exc).__name__ == "PanicException"


def _sized(arr: pa.Array) -> bool:
    t = arr.type
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t))


def refuse_oversized(name: str, arrays: list[pa.Array],
                     limit: int | None) -> tuple[list[pa.Array], pa.Array | None]:
    """`arrays` with each value over `limit` bytes replaced by NULL, counted as `too_large`,
    and the mask of the rows refused (None when none was)."""
    refused = None
    if limit is None:
        return arrays, refused
    out = []
    for arr in arrays:
        if _sized(arr) and len(arr):
            over = pc.fill_null(pc.greater(pc.binary_length(arr), limit), False)
            if pc.any(over).as_py():
                for i in pc.indices_nonzero(over).to_pylist():
                    record_failure(name, f"row {i}", "too_large")
                arr = pc.if_else(over, pa.scalar(None, arr.type), arr)
                refused = over if refused is None else pc.or_(refused, over)
        out.append(arr)
    return out, refused


def null_where(result: pa.Array, mask: pa.Array | None) -> pa.Array:
    """`result` with the rows of `mask` NULL (a kernel may map a NULL input to a value)."""
    return result if mask is None else pc.if_else(mask, pa.scalar(None, result.type), result)


def call_guarded(name: str, fn: Callable[..., pa.Array], arrays: list[pa.Array],
                 options: dict[str, Any], result_type: pa.DataType) -> pa.Array:
    """`fn(*arrays, **options)`, retried row by row if it panics (see the module docstring)."""
    try:
        return fn(*arrays, **options)
    except BaseException as exc:
        if not _is_panic(exc):
            raise
    rows = len(arrays[0]) if arrays else 0
    parts: list[pa.Array | None] = []
    for i in range(rows):
        try:
            parts.append(fn(*[a.slice(i, 1) for a in arrays], **options))
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            record_failure(name, f"row {i}", "panic")
            parts.append(None)
    typ = next((p.type for p in parts if p is not None), result_type)
    return pa.concat_arrays([pa.nulls(1, typ) if p is None else p.cast(typ) for p in parts]) \
        if parts else pa.array([], typ)
