"""Counting filters: a WHERE (HAVING, QUALIFY, DISTINCT ON) as one batch UDF that counts.

The compiler emits a filter's conjuncts as the fields of one struct and filters on what
`_count_batch` returns: their SQL AND (NULL drops). The UDF also counts, batch by batch and in
order, the rows each conjunct saw and kept (a row dropped by the first is not seen by the
second, as datatrove's sequential filters count), samples the numeric values predicates compare,
keeps a few example rows and, when rejects are on, writes the rows it drops to Parquet. Daft
cannot reorder or fuse anything through a UDF, so the counts are exact; the price is that such a
filter is not pushed into a scan (`SET funnel = false` compiles plain filters).

Everything the UDF knows at compile time is in a `CountedFilter` (labels are SQL text), so
compiling stays pure; the run's tally (`mdfql.metrics`) keys the counts by statement.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import daft
import daft.functions as F
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression, Series
from sqlglot import exp

from mdfql.plan.tree import sql_text

PREVIEW_CHARS = 300  # of the text column, in examples and rejects
EXAMPLES = 3  # rows kept and dropped shown per step
SAMPLE_SIZE = 2_000  # values sampled per signal, among kept and among dropped rows
# Preview columns, by name: the first present of each group
PREVIEW_COLUMNS = (("url",), ("record_id", "id"), ("text", "content"))

_ids = itertools.count(1)


@dataclass(frozen=True)
class CountedFilter:
    """One counted filter as the compiler built it: which view it belongs to, the SQL of each
    conjunct, for each the SQL of the numeric value it compares (a signal) or None, the preview
    columns it carries and whether it writes rejects."""

    view: str
    labels: tuple[str, ...]
    signals: tuple[str | None, ...]
    previews: tuple[str, ...] = ()
    rejects: tuple[str, ...] = ()  # the row's column names, when its dropped rows are kept
    fid: int = field(default_factory=lambda: next(_ids))  # compile order: upstream first


@dataclass
class BatchCounts:
    """What one batch of one counted filter did: per conjunct (rows seen, rows kept), signal
    samples by (conjunct, kept) as (keys, values, values seen), examples by (conjunct, kept)."""

    filter: CountedFilter
    counts: list[tuple[int, int]]
    samples: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray, int]]
    examples: dict[tuple[int, bool], list[dict[str, str]]]


def predicate_text(node: exp.Expression) -> str:
    """A conjunct's label: its SQL, `x IS NOT NULL` as written (sqlglot renders NOT x IS NULL)."""
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        return f"{sql_text(node.this.this)} IS NOT {sql_text(node.this.expression)}"
    return sql_text(node)


def preview_columns(names: list[tuple[str, str]]) -> dict[str, str]:
    """Preview name -> physical column, from (SQL name, physical) pairs: url, an id, a text."""
    found: dict[str, str] = {}
    lowered = {n.lower(): p for n, p in reversed(names)}
    for group in PREVIEW_COLUMNS:
        for name in group:
            if name in lowered:
                found[name] = lowered[name]
                break
    return found


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
    from mdfql import metrics  # the run's tally; imported here: metrics imports nothing of ours
    from mdfql.rejects import write_rejects

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


def row_json(names: tuple[str, ...], columns: list[pa.Array]) -> list[str]:
    """Each row of `columns` as one JSON object (non-JSON values as their text)."""
    rows = pa.StructArray.from_arrays(columns, names=list(names)).to_pylist()
    return [json.dumps(r, default=str, ensure_ascii=False) for r in rows]
