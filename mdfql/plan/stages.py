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

import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import daft
import daft.functions as F
import pyarrow.parquet as pq
from daft import DataType, col
from daft.io.pushdowns import Pushdowns
from daft.io.source import DataSource, DataSourceTask
from daft.recordbatch import RecordBatch

from mdfql.metrics import operator_metrics

NODE = "__node"
VALUE = "__value"


@dataclass(frozen=True)
class RelationalOp:
    """How one relational operator runs as a stage.

    `keys(args, options)` -> the per-row key columns to spill, from the argument expressions
    (by parameter name; absent optional arguments are missing); `dtype(args, node, options)`
    -> the output type from the arguments' types and the row id's; `compute(files, out_dir,
    keys, node_dtype, options)` -> Parquet files of (node, value); `describe(options)` -> what
    it keeps, for EXPLAIN. Rows the result lacks get their own id (`default_to_id`) or NULL.
    """

    keys: Callable[[dict[str, daft.Expression], dict[str, Any]], dict[str, daft.Expression]]
    dtype: Callable[[dict[str, DataType], DataType, dict[str, Any]], DataType]
    compute: Callable[..., list[str]]
    describe: Callable[[dict[str, Any]], str]
    default_to_id: bool = True
    validate: Callable[[dict[str, Any], set[str]], None] = lambda options, given: None


@dataclass
class StageFiles:
    """Files a stage wrote; filled by the executor when the stage runs. Outside an executor
    (a DataFrame from `Session.sql`), `ensure` runs the stage on first read instead; it stays
    in this process (not pickled to workers)."""

    files: list[str] | None = None
    ensure: Callable[[], None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"files": self.files, "ensure": None}


class SpillScan(DataSource):
    """A Daft source over files a stage writes at run time (a spill or an operator result).

    Daft asks for its tasks when the plan executes; by then the executor has run the stage
    (a plan that reads it earlier is a bug, reported as such). Its scans are named after the
    stage ("Read stage 1 ... (Python)"), so a run's summary can tell them from real reads."""

    def __init__(self, label: str, schema: daft.Schema, output: StageFiles):
        self._label = label
        self._schema = schema
        self.output = output

    @property
    def name(self) -> str:
        return self._label

    @property
    def schema(self) -> daft.Schema:
        return self._schema

    async def get_tasks(self, pushdowns: Pushdowns) -> AsyncIterator[DataSourceTask]:
        if self.output.files is None and self.output.ensure is not None:
            self.output.ensure()
        if self.output.files is None:
            raise RuntimeError(f"{self._label} was read before its stage ran")
        columns = None if pushdowns.columns is None else sorted(
            set(pushdowns.columns) | set(pushdowns.filter_required_column_names() or []))
        for path in self.output.files:
            yield _ParquetFileTask(path, self._schema, columns)


class _ParquetFileTask(DataSourceTask):
    """One spilled file, streamed a row group at a time, only the columns the plan reads."""

    def __init__(self, path: str, schema: daft.Schema, columns: list[str] | None):
        self._path, self._schema, self._columns = path, schema, columns

    @property
    def schema(self) -> daft.Schema:
        return self._schema

    async def read(self) -> AsyncIterator[RecordBatch]:
        for batch in pq.ParquetFile(self._path).iter_batches(columns=self._columns):
            yield RecordBatch.from_arrow_record_batches([batch], batch.schema)


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
    rows: StageFiles = field(default_factory=StageFiles)
    result: StageFiles = field(default_factory=StageFiles)
    # a temporary directory for a stage run on first read (see StageFiles.ensure)
    _scratch: tempfile.TemporaryDirectory | None = None

    def __post_init__(self) -> None:
        self.rows.ensure = self.result.ensure = self._run_on_demand

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
        row_fields = [spill_schema[c] for c in (*self.keep, NODE)]
        rows = SpillScan(f"{self.label} rows", _schema(row_fields), self.rows).read()
        result_schema = _schema([daft.Schema.from_pydict({NODE: self.node_dtype})[NODE],
                                 daft.Schema.from_pydict({VALUE: self.out_dtype})[VALUE]])
        result = SpillScan(f"{self.label} result", result_schema, self.result).read()
        right = result.select(col(NODE).alias("__rnode"), col(VALUE))
        joined = rows.join(right, left_on=NODE, right_on="__rnode", how="left")
        value = F.coalesce(col(VALUE), col(NODE).cast(self.out_dtype)) \
            if self.op.default_to_id else col(VALUE)
        return joined.select(*self.keep, value.alias(self.out))

    def run(self, directory: Path) -> StageRun:
        """Spill the input under `directory`, then compute the operator's result there."""
        start = time.perf_counter()
        written = self.spill_plan.write_parquet(str(directory / "rows"))
        files = sorted(written.to_pydict()["path"])
        spilled = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        self.rows.files = files
        self.result.files = self.op.compute(files, directory / "result", keys=self.key_columns,
                                            node_dtype=self.node_dtype, **self.options)
        found = sum(pq.ParquetFile(f).metadata.num_rows for f in self.result.files)
        return StageRun(self.label, self.call_sql, spilled, found,
                        time.perf_counter() - start, operator_metrics(written))

    def reset(self) -> None:
        """Forget the files of an earlier run (a Program can run more than once)."""
        self.rows.files = self.result.files = None


@dataclass(frozen=True)
class StageRun:
    """What running one stage did: rows spilled, rows of its result, time, Daft's stats."""

    label: str
    call_sql: str
    rows_spilled: int
    result_rows: int
    wall_s: float
    metrics: tuple[dict, ...]




def _schema(fields: list[Any]) -> daft.Schema:
    return daft.Schema.from_pydict({f.name: f.dtype for f in fields})
