"""The counting filter's batch UDF (see `mdfql.counting`): evaluates nothing itself, it
reads its conjuncts' values, counts them in order into the run's tally, and returns their AND."""

from __future__ import annotations

from typing import Any

import daft
import daft.functions as F
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression, Series

from mdfql import metrics
from mdfql.counting import EXAMPLES, PREVIEW_CHARS, SAMPLE_SIZE, BatchCounts, CountedFilter
from mdfql.rejects import write_rejects


def counting_filter(df: daft.DataFrame, f: CountedFilter, conjuncts: list[Expression],
                    signals: dict[int, Expression], previews: dict[str, Expression],
                    row: list[Expression]) -> daft.DataFrame:
    """`df` filtered by counted filter `f` (see the module doc): `conjuncts` in order,
    `signals` by conjunct index, `previews` by name (in `f.previews` order), `row` the row's
    columns (named `f.rejects`) when rejects are on: separate arguments, converted only for
    a batch that drops rows.

    The UDF's result is a column first, filtered on next: Daft merges adjacent filters into
    one (and a merged filter's UDFs all see the first one's input, which breaks sequential
    counts), but never moves a filter below the projection computing its column."""
    keep = f"__keep{f.fid}"
    return df.with_column(keep, _keep(f, conjuncts, signals, previews, row)) \
        .where(daft.col(keep)).exclude(keep)


def _keep(f: CountedFilter, conjuncts: list[Expression], signals: dict[int, Expression],
          previews: dict[str, Expression], row: list[Expression]) -> Expression:
    fields: dict[str, Expression] = {f"p{i}": c for i, c in enumerate(conjuncts)}
    fields.update({f"s{i}": v.cast(DataType.float64()) for i, v in signals.items()})
    for name in f.previews:
        value = previews[name].cast(DataType.string())
        fields[f"v_{name}"] = value.left(PREVIEW_CHARS) if name in ("text", "content") \
            else value
    udf = daft.func.batch(return_dtype=DataType.bool())(_udf(f))
    return udf(F.to_struct(**fields), *row)


def _udf(f: CountedFilter) -> Any:
    def count(batch: Series, *row: Series) -> pa.Array:
        return _count_batch(f, batch, row)

    # Daft tells UDFs apart by name (and names the operator after it): one per filter
    count.__name__ = count.__qualname__ = f"funnel_{f.fid}"
    return count


def _bools(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr.cast(pa.bool_()), False).to_numpy(zero_copy_only=False)


def _sample(values: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """A bottom-k sample of `values` (NaN for NULL skipped): random keys and the values of the
    SAMPLE_SIZE smallest, mergeable with other batches' (see FunnelCounts)."""
    values = values[~np.isnan(values)]
    keys = rng.random(len(values))
    if len(values) > SAMPLE_SIZE:
        idx = np.argpartition(keys, SAMPLE_SIZE)[:SAMPLE_SIZE]
        keys, values_kept = keys[idx], values[idx]
    else:
        values_kept = values
    return keys, values_kept, len(values)


def _previews(arr: pa.StructArray, f: CountedFilter, rows: np.ndarray) -> list[dict[str, str]]:
    picked = [int(i) for i in np.flatnonzero(rows)[:EXAMPLES]]
    out = []
    for i in picked:
        out.append({name: str(v) for name in f.previews
                    if (v := arr.field(f"v_{name}")[i].as_py()) is not None})
    return out


def _count_batch(f: CountedFilter, batch: Series, row: tuple[Series, ...]) -> pa.Array:
    arr = batch.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    alive = np.ones(n, dtype=bool)
    first_fail = np.full(n, -1, dtype=np.int32)
    rng = np.random.default_rng()
    counts: list[tuple[int, int]] = []
    samples: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray, int]] = {}
    examples: dict[tuple[int, bool], list[dict[str, str]]] = {}
    for i in range(len(f.labels)):
        passed = _bools(arr.field(f"p{i}"))
        kept = alive & passed
        dropped = alive & ~passed
        first_fail[dropped] = i
        counts.append((int(alive.sum()), int(kept.sum())))
        if f.signals[i] is not None:
            values = arr.field(f"s{i}").to_numpy(zero_copy_only=False).astype(np.float64)
            samples[(i, True)] = _sample(values[kept], rng)
            samples[(i, False)] = _sample(values[dropped], rng)
        if f.previews:
            examples[(i, True)] = _previews(arr, f, kept)
            examples[(i, False)] = _previews(arr, f, dropped)
        alive = kept
    where = metrics.record_funnel(BatchCounts(f, counts, samples, examples))
    if f.rejects and where is not None and (first_fail >= 0).any():
        write_rejects(where, f, arr, row, first_fail)
    return pa.array(alive, type=pa.bool_())
