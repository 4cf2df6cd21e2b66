"""Write Daft DataFrames to Iceberg tables and read them back, one atomic commit per write.

Every write runs in two phases. Daft's native, parallel Iceberg writer first stages the data files
against a *staged* view of the table (its metadata with this write's schema change applied), so
nothing is visible yet. One pyiceberg transaction then commits, in a single catalog commit and a
single snapshot: the table creation (if new), the schema change and the file changes (APPEND for
`append`; OVERWRITE that drops every current file for `replace`). A failure before the commit
(a raising UDF, a full disk) leaves the table exactly as it was, apart from unreferenced files.

Daft's public `write_iceberg` is not used directly: it commits by itself against the table's
current schema (no schema change in the same commit) and its overwrite mode lands two snapshots
(DELETE then APPEND). Measured on 1M rows (347 MB of text, 2 shared cores, local warehouse):
append 5.4 s here vs 5.7 s with `write_iceberg` and 5.9 s with pyiceberg over `to_arrow()`;
replace 4.7 s (one OVERWRITE snapshot) vs 6.3 s for `write_iceberg(mode="overwrite")` and 9.1 s
for pyiceberg's `overwrite`, both of which land DELETE + APPEND snapshots, pyiceberg's holding
the whole result in memory.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import daft
import pyarrow as pa
import pyarrow.compute as pc
from daft.dataframe import DataFrame
from daft.io.iceberg._iceberg import _convert_iceberg_file_io_properties_to_io_config
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    ResolveError,
    TableAlreadyExistsError,
    ValidationError,
)
from pyiceberg.io.pyarrow import (
    UnsupportedPyArrowTypeException,
    _ConvertToIcebergWithoutIDs,
    schema_to_pyarrow,
    visit_pyarrow,
)
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema, assign_fresh_schema_ids, promote
from pyiceberg.table import StagedTable, Table, Transaction
from pyiceberg.table.snapshots import Operation, ancestors_of
from pyiceberg.table.update import AddSchemaUpdate, AssertCurrentSchemaId, SetCurrentSchemaUpdate
from pyiceberg.types import NestedField

from mdfql.io.inputs import InputFile, SourceInput, register
from mdfql.metrics import operator_metrics
from mdfql.sinks.catalog import (
    CatalogConfig,
    SinkError,
    catalog_missing,
    ensure_namespace,
    open_catalog,
    parse_ident,
)

WriteMode = Literal["append", "replace", "create"]


@dataclass(frozen=True)
class WriteResult:
    """What a write did: target, rows committed, the new snapshot (None if none) and the mode."""

    ident: str
    rows_written: int
    snapshot_id: int | None
    mode: str
    # Daft's per-operator statistics of the run that produced the rows (name, type, stats).
    metrics: tuple[dict, ...] = ()
    # Why the write went elsewhere or did not happen (a trial run's scratch table, a skip).
    note: str | None = None
    skipped: bool = False  # nothing committed: see `note`


def _storable_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type an Iceberg column can hold for values of type `t` without losing them.

    Iceberg has no unsigned ints, nanosecond or non-UTC timestamps, nor fixed-size lists:
    uint8/16 widen to int32, uint32 to int64, uint64 keeps its 64 bits as int64 (two's
    complement, so hashes stay equal-comparable), timestamps become microseconds (UTC when zoned),
    fixed-size lists become lists.
    """
    if pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz is not None else None)
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_storable_type(t.value_type)))
    if pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_storable_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_storable_type(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(
            t.key_field.with_type(_storable_type(t.key_type)),
            t.item_field.with_type(_storable_type(t.item_type)),
        )
    return t


def _to_storable(df: DataFrame) -> DataFrame:
    """Cast the columns Iceberg can't hold as-is to their `_storable_type`.

    The cast runs in pyarrow with `safe=False`, which wraps uint64 into int64 (where Daft's cast
    would turn large values into nulls) and truncates sub-microsecond timestamps. Embedding
    columns (an Arrow extension type) become plain lists first.
    """
    embeddings = {
        f.name: daft.col(f.name).cast(daft.DataType.list(f.dtype.dtype))
        for f in df.schema()
        if f.dtype.is_embedding()
    }
    if embeddings:
        df = df.with_columns(embeddings)
    casts = {}
    for f in df.schema().to_pyarrow_schema():
        target = _storable_type(f.type)
        if target.equals(f.type):
            continue

        def cast(s: daft.Series, target: pa.DataType = target) -> pa.Array:
            return pc.cast(s.to_arrow(), target, safe=False)

        udf = daft.func.batch(return_dtype=daft.DataType.from_arrow_type(target))(cast)
        casts[f.name] = udf(daft.col(f.name))
    return df.with_columns(casts) if casts else df


def _iceberg_schema(df: DataFrame) -> Schema:
    """The Iceberg schema (fresh ids from 1, all columns optional) of a storable DataFrame."""
    arrow_schema = df.schema().to_pyarrow_schema()
    fields = []
    for f in arrow_schema:
        try:
            converted = visit_pyarrow(pa.schema([f]), _ConvertToIcebergWithoutIDs())
        except (UnsupportedPyArrowTypeException, TypeError, ValueError) as e:
            raise SinkError(
                f"column {f.name!r} has type {df.schema()[f.name].dtype}, which Iceberg cannot "
                f"store ({e})",
                hint=f"cast {f.name!r} to a string, number, list or struct in the query",
            ) from e
        fields.append(converted.fields[0])
    return assign_fresh_schema_ids(Schema(*fields))


def _same_columns(a: Schema, b: Schema) -> bool:
    """Whether two schemas have the same names, types and order, whatever their field ids."""
    return assign_fresh_schema_ids(a) == assign_fresh_schema_ids(b)


def _check_append_compatible(current: Schema, target: Schema, ident: str) -> None:
    """Raise a SinkError naming the first query column whose type the table can't take."""
    columns = {c.name: c for c in current.fields}
    for f in target.fields:
        existing = columns.get(f.name)
        if existing is None:
            continue
        old = Schema(NestedField(1, f.name, existing.field_type))
        new = Schema(NestedField(1, f.name, f.field_type))
        if _same_columns(old, new):
            continue
        try:
            # Either direction is fine: the writer casts narrower query values up, and the
            # schema update widens a narrower table column (int -> long, float -> double).
            promote(f.field_type, existing.field_type)
        except ResolveError:
            try:
                promote(existing.field_type, f.field_type)
            except ResolveError:
                raise SinkError(
                    f"cannot append to {ident}: column {f.name!r} is {existing.field_type} in "
                    f"the table but {f.field_type} in the query",
                    hint=f"CAST({f.name} AS ...) to the table's type, or CREATE OR REPLACE TABLE",
                ) from None


def _stage_schema(txn: Transaction, table: Table, target: Schema, mode: WriteMode, ident: str):
    """Put this write's schema change into `txn` (nothing when the schema already fits)."""
    current = table.schema()
    if mode == "append":
        _check_append_compatible(current, target, ident)
        try:
            with txn.update_schema() as update:
                update.union_by_name(target)
        except (ValidationError, ResolveError, ValueError) as e:
            raise SinkError(f"cannot append to {ident}: {e}") from e
        return
    if _same_columns(current, target):
        return
    if not table.spec().is_unpartitioned() or not table.sort_order().is_unsorted:
        raise SinkError(
            f"cannot replace the schema of {ident}: it is partitioned or sorted on columns of the "
            "old schema",
            hint="drop the table first, or keep its column names and types",
        )
    # New ids past every id ever used, so old snapshots keep reading with their own schema.
    next_id = iter(range(txn.table_metadata.last_column_id + 1, 2**31))
    fresh = assign_fresh_schema_ids(target, lambda: next(next_id))
    schema_id = max(s.schema_id for s in txn.table_metadata.schemas) + 1
    new_schema = Schema(*fresh.fields, schema_id=schema_id)
    txn._apply(
        (AddSchemaUpdate(schema=new_schema), SetCurrentSchemaUpdate(schema_id=-1)),
        (AssertCurrentSchemaId(current_schema_id=current.schema_id),),
    )


def stage_data_files(
    df: DataFrame, table: Table, txn: Transaction
) -> tuple[list[DataFile], tuple[dict, ...]]:
    """Run `df` through Daft's Iceberg file writer against the table as `txn` will leave it.

    Only data files are written (in parallel, with this schema's field ids); nothing commits.
    This is what `DataFrame.write_iceberg` does before its own commit.
    """
    staged = StagedTable(
        identifier=table.name(),
        metadata=txn.table_metadata,
        metadata_location=table.metadata_location,
        io=table.io,
        catalog=table.catalog,
    )
    io_config = _convert_iceberg_file_io_properties_to_io_config(
        staged.io.properties, staged.location()
    )
    if io_config is None:
        io_config = daft.context.get_context().daft_planning_config.default_io_config
    run = DataFrame(df._builder.write_iceberg(staged, io_config))
    written = run.to_pydict()
    return list(written["data_file"]), operator_metrics(run)


@dataclass
class StagedWrite:
    """A table write whose data files are written and whose commit is still to come.

    `commit` lands it as one snapshot (with `properties` in its summary); `discard` deletes its
    data files and leaves the table as it was."""

    ident: str
    mode: WriteMode
    txn: Transaction
    new_files: list[DataFile]
    old_files: list[DataFile]
    metrics: tuple[dict, ...]
    created: bool  # the table is new: the commit creates it

    @property
    def rows(self) -> int:
        return sum(f.record_count for f in self.new_files)

    def commit(self, properties: dict[str, str] | None = None) -> WriteResult:
        """Commit the staged files (and the schema change, or the new table) at once."""
        txn, changes = self.txn, bool(self.new_files or self.old_files)
        if changes:
            update = txn.update_snapshot(snapshot_properties=dict(properties or {}))
            producer = update.overwrite() if self.mode == "replace" else update.fast_append()
            with producer as files:
                for data_file in self.old_files:
                    files.delete_data_file(data_file)
                for data_file in self.new_files:
                    files.append_data_file(data_file)
        try:
            committed = txn.commit_transaction()
        except (CommitFailedException, TableAlreadyExistsError) as e:
            self.discard()
            raise SinkError(
                f"table {self.ident} was changed by another writer during this write: {e}",
                hint="run the statement again",
            ) from e
        snapshot = committed.current_snapshot() if changes else None
        return WriteResult(
            ident=self.ident,
            rows_written=self.rows,
            snapshot_id=snapshot.snapshot_id if snapshot is not None else None,
            mode=self.mode,
            metrics=self.metrics,
        )

    def discard(self) -> None:
        """Delete the data files this write staged (nothing referenced them)."""
        io = self.txn._table.io
        for data_file in self.new_files:
            try:
                io.delete(data_file.file_path)
            except (OSError, ValueError):
                pass  # unreferenced either way; a sweep of orphan files removes it


# How a staged write's data files are written: (storable df, table, txn) -> (files, stats).
FileWriter = Callable[[DataFrame, Table, Transaction], tuple[list[DataFile], tuple[dict, ...]]]


def stage_table(df: DataFrame, ident: str, mode: WriteMode, config: CatalogConfig,
                write_files: FileWriter | None = None) -> StagedWrite:
    """Write `df`'s data files for Iceberg table `ident` ("ns.table"); nothing is committed.
    `write_files` writes them (default: all at once; a resumable run writes them per group of
    input files, see mdfql.resume).

    `create` fails if the table exists; `append` adds rows (new query columns are added to the
    table, narrower types widened; anything else is a SinkError naming the column); `replace`
    swaps contents and schema at once. The table and its namespace are made on first write.
    """
    if mode not in ("append", "replace", "create"):
        raise SinkError(f"unknown write mode {mode!r}", hint="use append, replace or create")
    namespace, _ = parse_ident(ident)
    catalog = open_catalog(config)
    df = _to_storable(df)
    target = _iceberg_schema(df)
    try:
        table: Table | None = catalog.load_table(ident)
    except NoSuchTableError:
        table = None
    if table is not None and mode == "create":
        raise SinkError(
            f"table {ident} already exists",
            hint="use CREATE OR REPLACE TABLE to replace it, or INSERT INTO to add rows",
        )
    created = table is None
    if table is None:
        ensure_namespace(catalog, namespace)
        txn = catalog.create_table_transaction(ident, schema=target)
        table = txn._table
        old_files = []
    else:
        txn = table.transaction()
        _stage_schema(txn, table, target, mode, ident)
        old_files = (
            [task.file for task in table.scan().plan_files()]
            if mode == "replace" and table.current_snapshot() is not None
            else []
        )
    new_files, metrics = (write_files or stage_data_files)(df, table, txn)
    return StagedWrite(ident, mode, txn, new_files, old_files, metrics, created)


def write_table(df: DataFrame, ident: str, mode: WriteMode, config: CatalogConfig,
                properties: dict[str, str] | None = None) -> WriteResult:
    """Write `df` to Iceberg table `ident` in one atomic commit (see `stage_table`)."""
    return stage_table(df, ident, mode, config).commit(properties)


def committed_snapshot(ident: str, config: CatalogConfig, key: str, value: str) -> int | None:
    """The snapshot of the table's current history since its last replace whose summary has
    `key` = `value` (its rows are still in the table), or None (also for a missing table)."""
    try:
        table = open_catalog(config).load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(key) == value:
            return snapshot.snapshot_id
        if summary is not None and summary.operation in (Operation.OVERWRITE, Operation.DELETE):
            return None  # rows appended before it may be gone: an append must run again
    return None


def check_write(df: DataFrame, ident: str, mode: WriteMode, config: CatalogConfig) -> None:
    """Raise the SinkError `write_table(df, ident, mode, config)` would raise for the table's
    name, the query's column types, an existing table (`create`) or the existing table's schema
    (`append`), without running anything: reads the catalog's metadata only, and does not
    create a local catalog that does not exist yet."""
    parse_ident(ident)
    target = _iceberg_schema(_to_storable(df))
    if catalog_missing(config):
        return
    try:
        table = open_catalog(config).load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError):
        return
    if mode == "create":
        raise SinkError(
            f"table {ident} already exists",
            hint="use CREATE OR REPLACE TABLE to replace it, or INSERT INTO to add rows",
        )
    if mode == "append":
        _check_append_compatible(table.schema(), target, ident)


def _existing_tables(catalog: Catalog, namespace: str) -> list[str]:
    """Tables of `namespace`, or of every top-level namespace when it does not exist."""
    try:
        return [".".join(t) for t in catalog.list_tables(namespace)]
    except NoSuchNamespaceError:
        return [".".join(t) for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)]


def load_table(ident: str, config: CatalogConfig) -> Table:
    """The pyiceberg table `ident`; a SinkError listing existing tables when it is missing."""
    namespace, _ = parse_ident(ident)
    catalog = open_catalog(config)
    try:
        return catalog.load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError):
        candidates = tuple(sorted(_existing_tables(catalog, namespace)))
        close = difflib.get_close_matches(ident, candidates, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif candidates:
            hint = "existing tables: " + ", ".join(candidates)
        else:
            hint = f"no tables in namespace {namespace}"
        raise SinkError(f"table {ident} does not exist", hint=hint, candidates=candidates) from None


def table_exists(ident: str, config: CatalogConfig) -> bool:
    """Whether Iceberg table `ident` exists in the catalog."""
    parse_ident(ident)
    return open_catalog(config).table_exists(ident)


def read_table(ident: str, config: CatalogConfig, snapshot_id: int | None = None) -> DataFrame:
    """A lazy Daft DataFrame over table `ident` (its current snapshot, or `snapshot_id`).

    A recording compiler learns the snapshot it reads (a re-run over another snapshot of the
    table reads other input: see provenance.py)."""
    table = load_table(ident, config)
    if snapshot_id is None:
        current = table.current_snapshot()
        snapshot_id = current.snapshot_id if current is not None else None
    register(SourceInput("table", (ident,), files=[pinned_input(ident, snapshot_id)]))
    return daft.read_iceberg(table, snapshot_id=snapshot_id)


def pinned_input(ident: str, snapshot_id: int | None) -> InputFile:
    """How a run names the snapshot of a table it reads (its provenance compares these)."""
    return InputFile(f"iceberg://{ident}@{snapshot_id}")


def pinned_snapshot(pinned: InputFile) -> int | None:
    """The snapshot id a `pinned_input` names (None: the table had none)."""
    snapshot = pinned.path.rsplit("@", 1)[1]
    return None if snapshot == "None" else int(snapshot)


def written_schema(df: DataFrame, ident: str, mode: WriteMode,
                   config: CatalogConfig) -> daft.Schema:
    """The schema table `ident` reads back with once `df` is written to it: `df`'s columns as
    Iceberg stores them (unsigned ints signed, ...), or for an append to an existing table,
    that table's. Reads metadata only."""
    if mode == "append" and table_exists(ident, config):
        schema = load_table(ident, config).schema()
    else:
        schema = _iceberg_schema(_to_storable(df))
    return daft.Schema.from_pyarrow_schema(schema_to_pyarrow(schema, include_field_ids=False))
