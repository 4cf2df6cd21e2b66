"""Relational stages: pipeline breakers the executor runs, never the compiler.

A relational operator (`lsh_cluster(...) OVER ()`, ...) must see every row. The compiler turns
it into a `RelationalStage`:

1. *spill*: the upstream plan streams once into Parquet under the run's work directory, each
   row with its id (`node`) and the operator's per-row keys (e.g. LSH band hashes computed
   from the signature, so the signature itself is never stored), and only the columns the
   query reads afterwards;
2. *compute*: the operator reads only `node` and its key columns from the spill and writes
   (node, value) for the rows it has something to say about (e.g. the rows of clusters >= 2);
3. *join back*: the rest of the plan scans the spilled rows and left-joins that result.

The plan after a stage reads from `SpillScan` sources whose files the executor fills in when
it runs the stage, so compiling reads no data and one compile serves check, explain and run.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from daft import DataType, Series
from daft.daft import ScanTask
from daft.recordbatch import RecordBatch

from mdfql.heap import release_free_memory
from mdfql.io.parquet import stream_batches
from mdfql.io.scan import PulledScan
from mdfql.metrics import operator_metrics

NODE = "__node"
VALUE = "__value"


@dataclass(frozen=True)
class RelationalOp:
    """How one relational operator runs as a stage.

    `keys(args, options)` -> the per-row key columns to spill, from the argument expressions
    (by parameter name; absent optional arguments are missing); `dtype(args, node, options)`
    -> the output type from the arguments' types and the row id's; `compute(files, out_dir,
    keys, node_dtype, options)` -> Parquet files of (node, value) (the first two columns);
    `describe(options)` -> what it keeps, for EXPLAIN. Rows the result lacks get their own id
    (`missing="id"`), NULL (`"null"`) or an empty list (`"empty"`, for list outputs).
    `side_input(options, resolve_table)` -> a lazy plan the stage spills too and hands to
    `compute` as `side=files` (e.g. an index of earlier runs), or None.
    """

    keys: Callable[[dict[str, daft.Expression], dict[str, Any]], dict[str, daft.Expression]]
    dtype: Callable[[dict[str, DataType], DataType, dict[str, Any]], DataType]
    compute: Callable[..., list[str]]
    describe: Callable[[dict[str, Any]], str]
    missing: Literal["id", "null", "empty"] = "id"
    # `validate(options, args)`: raises ValueError for options that do not fit together or
    # with the arguments given (`mdfql.functions.registry.ArgInfo` by parameter name)
    validate: Callable[[dict[str, Any], dict[str, Any]], None] = lambda options, args: None
    side_input: Callable[[dict[str, Any], Callable[[str], Any]], daft.DataFrame | None] = \
        lambda options, resolve: None


@dataclass
class StageFiles:
    """Files a stage wrote; filled by the executor when the stage runs. Outside an executor
    (a DataFrame from `Session.sql`), `ensure` runs the stage on first read instead; it stays
    in this process (not pickled to workers)."""

    files: list[str] | None = None
    ensure: Callable[[], None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"files": self.files, "ensure": None}


class SpillScan(PulledScan):
    """The rest of a query after a stage: the spilled rows, each with the operator's value.

    Daft asks for its tasks when the plan executes; by then the executor has run the stage
    (a plan that reads it earlier is a bug, reported as such). Each task streams one spilled
    file a row group at a time, pulled as the plan consumes it, and looks the values up in the
    stage's result, which is small (ids and values only) and loaded once per process: a hash
    join in Daft would hold the spilled rows instead. Its scans are named after the stage
    ("Read stage 1 ... (Python)"), so a run's summary can tell them from real reads."""

    def __init__(self, stage: RelationalStage, schema: daft.Schema):
        super().__init__(f"{stage.label} rows", schema)
        self.rows, self.result = stage.rows, stage.result
        self.out, self.missing = stage.out, stage.op.missing
        self.out_type = stage.out_dtype.to_arrow_dtype()

    def to_scan_tasks(self, pushdowns: Any) -> Iterator[ScanTask]:
        if self.rows.files is None and self.rows.ensure is not None:
            self.rows.ensure()
        if self.rows.files is None or self.result.files is None:
            raise RuntimeError(f"{self._label} was read before its stage ran")
        columns = [c for c in self._schema.column_names() if c != self.out]
        for path in self.rows.files:
            yield self.task(read_spill_file, (path, columns, tuple(self.result.files),
                                              self.out, self.out_type, self.missing),
                            pushdowns, size_bytes=Path(path).stat().st_size)


def read_spill_file(path: str, columns: list[str], result_files: tuple[str, ...], out: str,
                    out_type: pa.DataType, missing: str) -> Iterator[Any]:
    """Scan task body: one spilled file, a row group at a time, with the stage's values.
    Columns are handed over one by one, so none pins the others of its batch."""
    lookup = _lookup(result_files)
    for batch in stream_batches(path, [*columns, NODE]):
        nodes = batch.column(NODE)
        value = lookup.values(nodes, out_type, _fallback(missing, nodes, out_type))
        series = {c: Series.from_arrow(batch.column(c), name=c) for c in columns}
        series[out] = Series.from_arrow(value, name=out)
        yield RecordBatch.from_pydict(series)._recordbatch


def _fallback(missing: str, nodes: pa.Array, out_type: pa.DataType) -> pa.Array:
    """The value of rows a stage's result lacks (see `RelationalOp.missing`)."""
    if missing == "id":
        return nodes.cast(out_type)
    if missing == "empty":
        offsets = pa.array(np.zeros(len(nodes) + 1, np.int64))
        return pa.LargeListArray.from_arrays(offsets, pa.array([], out_type.value_type)) \
            .cast(out_type)
    return pa.nulls(len(nodes), out_type)


class _Lookup:
    """A stage result (node -> value) indexed for lookups by node: sorted numeric ids are
    searched with numpy; other id types go through Arrow's hash lookup."""

    def __init__(self, table: pa.Table):
        nodes = table.column(NODE).combine_chunks()
        self.numeric = pa.types.is_integer(nodes.type) and nodes.null_count == 0
        if self.numeric:
            order = np.argsort(nodes.to_numpy(), kind="stable")
            self.nodes = nodes.to_numpy()[order]
            self.result = table.column(VALUE).combine_chunks().take(pa.array(order))
        else:
            self.nodes, self.result = nodes, table.column(VALUE).combine_chunks()

    def values(self, nodes: pa.Array, out_type: pa.DataType, fallback: pa.Array) -> pa.Array:
        """The value of each node (`fallback`'s where the result has none)."""
        if len(self.nodes) == 0 or len(nodes) == 0:
            return fallback.cast(out_type)
        if self.numeric and pa.types.is_integer(nodes.type) and nodes.null_count == 0:
            keys = nodes.to_numpy().astype(self.nodes.dtype, copy=False)
            pos = np.minimum(np.searchsorted(self.nodes, keys), len(self.nodes) - 1)
            found = self.nodes[pos] == keys
            hit, index = pa.array(found), pa.array(np.where(found, pos, 0))
        else:
            where = pc.index_in(nodes, value_set=self.nodes)
            hit, index = where.is_valid(), where.fill_null(0)
        return pc.if_else(hit, self.result.take(index).cast(out_type), fallback.cast(out_type))


@functools.lru_cache(maxsize=4)
def _lookup(files: tuple[str, ...]) -> _Lookup:
    """The result files of a stage (first column the node, second its value), loaded once
    per process: the tasks of a scan share it."""
    if not files:
        return _Lookup(pa.table({NODE: pa.array([], pa.uint64()),
                                 VALUE: pa.array([], pa.uint64())}))
    tables = [pq.read_table(f) for f in files]
    tables = [t.select([0, 1]).rename_columns([NODE, VALUE]) for t in tables]
    return _Lookup(pa.concat_tables([t.cast(tables[0].schema) for t in tables]))


@dataclass(eq=False)
class RelationalStage:
    """One relational operator over its whole input (see the module docstring)."""

    index: int
    name: str  # the operator, e.g. "lsh_cluster"
    call_sql: str  # the call as written, for EXPLAIN
    op: RelationalOp
    options: dict[str, Any]
    spill_plan: daft.DataFrame  # input columns kept + NODE + key columns
    keep: list[str]  # input columns the rest of the query reads
    key_columns: list[str]
    node_dtype: DataType
    out: str  # the output column's physical name
    out_dtype: DataType
    side_plan: daft.DataFrame | None = None  # see RelationalOp.side_input
    rows: StageFiles = field(default_factory=StageFiles)
    result: StageFiles = field(default_factory=StageFiles)
    # a temporary directory for a stage run on first read (see StageFiles.ensure)
    _scratch: tempfile.TemporaryDirectory | None = None

    def __post_init__(self) -> None:
        self.rows.ensure = self._run_on_demand

    def _run_on_demand(self) -> None:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="mdfql-stage-")
        self.run(Path(self._scratch.name))

    @property
    def label(self) -> str:
        return f"stage {self.index} {self.name}"

    def output_plan(self) -> daft.DataFrame:
        """The rest of the query's input: spilled rows + the operator's value, lazily."""
        spill_schema = self.spill_plan.schema()
        fields = {c: spill_schema[c].dtype for c in self.keep}
        fields[self.out] = self.out_dtype
        return SpillScan(self, daft.Schema.from_pydict(fields)).read()

    def run(self, directory: Path, call: Callable[..., Any] | None = None) -> StageRun:
        """Spill the input under `directory`, then compute the operator's result there;
        `call(fn, *args, **kwargs)` runs the computation (e.g. as a task on a Ray worker)."""
        start = time.perf_counter()
        files, metrics = self.spill(directory / "rows")
        self.rows.files = files
        found = self.compute(directory, call)
        return StageRun(self.label, self.call_sql, spilled_rows(files), found,
                        time.perf_counter() - start, metrics)

    def spill(self, directory: Path, plan: daft.DataFrame | None = None
              ) -> tuple[list[str], tuple[dict, ...]]:
        """Write `plan` (default: the stage's whole spill plan) as Parquet under `directory`:
        its files, sorted, and Daft's stats of the run."""
        written = (plan if plan is not None else self.spill_plan).write_parquet(str(directory))
        return sorted(written.to_pydict()["path"]), operator_metrics(written)

    def compute(self, directory: Path, call: Callable[..., Any] | None = None) -> int:
        """Spill the side input (if any) and compute the result from the spilled rows
        (`rows.files`) under `directory`; returns the result's row count."""
        side = {}
        if self.side_plan is not None:
            side["side"] = sorted(self.side_plan.write_parquet(
                str(directory / "side")).to_pydict()["path"])
        call = call or (lambda fn, *a, **kw: fn(*a, **kw))
        self.result.files = call(self.op.compute, self.rows.files, directory / "result",
                                 keys=self.key_columns, node_dtype=self.node_dtype, **side,
                                 **self.options)
        release_free_memory()  # what the spill freed would stay resident for later phases
        return spilled_rows(self.result.files)

    def reset(self) -> None:
        """Forget the files of an earlier run (a Program can run more than once)."""
        self.rows.files = self.result.files = None


def spilled_rows(files: list[str]) -> int:
    """Rows of Parquet files (from their footers)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


@dataclass(frozen=True)
class StageRun:
    """What running one stage did: rows spilled, rows of its result, time, Daft's stats."""

    label: str
    call_sql: str
    rows_spilled: int
    result_rows: int
    wall_s: float
    metrics: tuple[dict, ...]
