"""Reading a table that an earlier statement of the same script writes.

At compile time such a table may not exist yet, or hold what an earlier run wrote: a scan
planned then would fail or read stale rows. So the compiler gets a scan whose schema is the
one the table will have (what the write stores: `iceberg.written_schema`) and which looks the
table up only when Daft asks for its tasks, after the writing statement committed. The run
pins the snapshot each reading statement sees (`pin_written`), so its provenance names it;
outside a run the scan reads the current snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import daft
import pyarrow as pa
from daft import Series
from daft.daft import ScanTask
from daft.recordbatch import RecordBatch
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask
from pyiceberg.table.metadata import TableMetadata

from mdfql.io.inputs import SourceInput
from mdfql.io.scan import PulledScan
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import load_table, pinned_input, pinned_snapshot


def written_source(ident: str) -> SourceInput:
    """The input a read of `ident` after its write is: pinned when a statement runs."""
    return SourceInput("table", (ident,), after_write=True)


def pin_written(sources: Iterable[SourceInput], config: CatalogConfig) -> None:
    """Pin the current snapshot of each table written earlier in the run that `sources`
    read (called as a statement starts, after the statements before it committed)."""
    for source in sources:
        if source.after_write:
            current = load_table(source.patterns[0], config).current_snapshot()
            source.files = [pinned_input(source.patterns[0],
                                         current.snapshot_id if current is not None else None)]


class WrittenTableScan(PulledScan):
    """The rows of Iceberg table `ident` as a statement that runs after its write sees them:
    one task per data file of the pinned (else current) snapshot."""

    def __init__(self, ident: str, config: CatalogConfig, schema: daft.Schema,
                 source: SourceInput):
        super().__init__(f"iceberg {ident} (written above)", schema)
        self.ident, self.config, self.source = ident, config, source

    def to_scan_tasks(self, pushdowns: Any) -> Iterator[ScanTask]:
        table = load_table(self.ident, self.config)
        if self.source.files:
            snapshot = pinned_snapshot(self.source.files[0])
        else:
            current = table.current_snapshot()
            snapshot = current.snapshot_id if current is not None else None
        if snapshot is None:
            return
        # planned once here; each task gets its file's scan task and what reading it needs
        scan = table.scan(snapshot_id=snapshot)
        reading = (scan.table_metadata, scan.io, scan.projection(),
                   self._schema.to_pyarrow_schema())
        for task in scan.plan_files():
            yield self.task(read_data_file, (*reading, task), pushdowns,
                            num_rows=task.file.record_count,
                            size_bytes=task.file.file_size_in_bytes)


def read_data_file(metadata: TableMetadata, io: FileIO, projection: Schema, schema: pa.Schema,
                   task: FileScanTask) -> Iterator[Any]:
    """Scan task body: one data file of the snapshot, a record batch at a time (pyiceberg
    maps its columns by field id and applies any deletes), as `schema`."""
    for batch in ArrowScan(metadata, io, projection, AlwaysTrue()).to_record_batches([task]):
        table = pa.Table.from_batches([batch]).cast(schema)
        yield RecordBatch.from_pydict({c: Series.from_arrow(table.column(c).combine_chunks(),
                                                            name=c)
                                       for c in schema.names})._recordbatch
