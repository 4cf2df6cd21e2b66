"""The counting filter's batch UDF (see `mdfql.counting`): evaluates nothing itself, it
reads its conjuncts' values, counts them in order into the run's tally, and returns their AND."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression, Series

from mdfql import metrics
from mdfql.counting import (
    EXAMPLES,
    KEEP_PREFIX,
    PREVIEW_CHARS,
    SAMPLE_SIZE,
    BatchCounts,
    CountedFilter,
)
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
    counts), but never moves a filter below the projection computing its column. The column
    stays (`is_counter_column`; the query's own projection drops it): excluding it at once
    costs a projection of every column per batch, 11% of fineweb.sql's CPU time."""
    keep = f"{KEEP_PREFIX}{f.fid}"
    return df.with_column(keep, _keep(f, conjuncts, signals, previews, row)) \
        .where(daft.col(keep))


def _keep(f: CountedFilter, conjuncts: list[Expression], signals: dict[int, Expression],
          previews: dict[str, Expression], row: list[Expression]) -> Expression:
    """The UDF call: conjuncts, signals, previews and row columns as separate arguments, in
    the order `_fields` names them. Not one struct: Daft 0.7 gives every UDF inside a
    `to_struct` the first one's values (their extracted columns collide by name)."""
    args = list(conjuncts) + [signals[i].cast(DataType.float64()) for i in sorted(signals)]
    args += [previews[name].cast(DataType.string()) for name in f.previews]
    udf = daft.func.batch(return_dtype=DataType.bool())(_udf(f))
    return udf(*args, *row)


class Args(Mapping[str, pa.Array]):
    """The UDF's arguments by name, each converted to Arrow when first read: once a step has
    its examples, its batches never read their previews."""

    def __init__(self, series: dict[str, Series]):
        self._series = series
        self._arrays: dict[str, pa.Array] = {}

    def __getitem__(self, name: str) -> pa.Array:
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._series[name].to_arrow()
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            self._arrays[name] = arr
        return arr

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)


def _fields(f: CountedFilter) -> list[str]:
    """Names of the UDF's arguments before the row columns (see `_keep`)."""
    return ([f"p{i}" for i in range(len(f.labels))]
            + [f"s{i}" for i, s in enumerate(f.signals) if s is not None]
            + [f"v_{name}" for name in f.previews])


def _udf(f: CountedFilter) -> Any:
    names = _fields(f)

    def count(*args: Series) -> pa.Array:
        return _count_batch(f, Args(dict(zip(names, args))), args[len(names):])

    # Daft tells UDFs apart by name (and names the operator after it): one per filter
    count.__name__ = count.__qualname__ = f"funnel_{f.fid}"
    return count


def _bools(arr: pa.Array) -> np.ndarray:
    if arr.type != pa.bool_():
        arr = arr.cast(pa.bool_())
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return arr.to_numpy(zero_copy_only=False)


_local = threading.local()  # each Daft thread's random generator (creating one costs ~50 us)
_full: dict[int, frozenset[tuple[int, bool]]] = {}  # by filter: sides with all examples


def _rng() -> np.random.Generator:
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = _local.rng = np.random.default_rng()
    return rng


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


def _previews(fields: Args, f: CountedFilter, rows: np.ndarray) -> list[dict[str, str]]:
    picked = [int(i) for i in np.flatnonzero(rows)[:EXAMPLES]]
    out = []
    for i in picked:
        out.append({name: str(v)[:PREVIEW_CHARS] for name in f.previews
                    if (v := fields[f"v_{name}"][i].as_py()) is not None})
    return out


def _count_batch(f: CountedFilter, fields: Args, row: tuple[Series, ...]) -> pa.Array:
    n = len(fields["p0"])
    alive = np.ones(n, dtype=bool)
    first_fail = np.full(n, -1, dtype=np.int32)
    rng = _rng()
    full = _full.get(f.fid, frozenset())
    counts: list[tuple[int, int]] = []
    samples: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray, int]] = {}
    examples: dict[tuple[int, bool], list[dict[str, str]]] = {}
    for i in range(len(f.labels)):
        passed = _bools(fields[f"p{i}"])
        kept = alive & passed
        dropped = alive & ~passed
        first_fail[dropped] = i
        counts.append((int(alive.sum()), int(kept.sum())))
        if f.signals[i] is not None:
            values = fields[f"s{i}"].to_numpy(zero_copy_only=False).astype(np.float64)
            samples[(i, True)] = _sample(values[kept], rng)
            samples[(i, False)] = _sample(values[dropped], rng)
        for side, rows in ((True, kept), (False, dropped)):
            if f.previews and (i, side) not in full:
                examples[(i, side)] = _previews(fields, f, rows)
        alive = kept
    reply = metrics.record_funnel(BatchCounts(f, counts, samples, examples))
    _full[f.fid] = reply.full
    if f.rejects and reply.rejects is not None and (first_fail >= 0).any():
        write_rejects((reply.rejects, reply.statement), f, fields, row, first_fail)
    return pa.array(alive, type=pa.bool_())
