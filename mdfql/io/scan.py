"""The shape mdfql's Python scans share (read_warc, read_webdataset, read_images, a stage's
spilled rows, a table written earlier in the script).

Daft's Python `ScanOperator` with `python_factory_func_scan_task` pulls a task's batches as
the plan consumes them; the async `daft.io.source.DataSource` of Daft 0.7 buffers a task's
batches without bound, so it is not used for anything that streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import daft
from daft.daft import ScanOperatorHandle, ScanTask
from daft.io.scan import ScanOperator
from daft.logical.builder import LogicalPlanBuilder


class PulledScan(ScanOperator):
    """A named scan of a fixed schema that absorbs no pushdowns (its tasks read whole rows);
    subclasses yield the tasks (`to_scan_tasks`)."""

    def __init__(self, label: str, schema: daft.Schema):
        self._label = label
        self._schema = schema

    def name(self) -> str:
        return self._label

    def display_name(self) -> str:
        return self._label

    def schema(self) -> daft.Schema:
        return self._schema

    def partitioning_keys(self) -> list[Any]:
        return []

    def can_absorb_filter(self) -> bool:
        return False

    def can_absorb_limit(self) -> bool:
        return False

    def can_absorb_select(self) -> bool:
        return False

    def multiline_display(self) -> list[str]:
        return [self._label]

    def task(self, read: Callable[..., Any], args: tuple[Any, ...], pushdowns: Any, *,
             num_rows: int | None = None, size_bytes: int | None = None) -> ScanTask:
        """A task of this scan whose body is `read(*args)`: a module-level generator of
        record batches, which Daft pulls as the plan consumes them."""
        return ScanTask.python_factory_func_scan_task(
            module=read.__module__, func_name=read.__name__, func_args=args,
            schema=self._schema._schema, num_rows=num_rows, size_bytes=size_bytes,
            pushdowns=pushdowns, stats=None, source_name=self.display_name())

    def read(self) -> daft.DataFrame:
        """The scan as a lazy DataFrame."""
        handle = ScanOperatorHandle.from_python_scan_operator(self)
        return daft.DataFrame(LogicalPlanBuilder.from_tabular_scan(scan_operator=handle))
