"""Work-arounds for Daft 0.7 behaviour that costs mdfql, each applied once on import of mdfql.

- Daft's Iceberg file writer (`daft.io.writer.IcebergWriter.close`) hands its data-file entry
  back as a one-row Python-object column whose type Daft infers, and inferring a Python
  object's type imports torch when it is installed: every Iceberg write of a process that never
  touches a model paid ~500 MB of RSS and seconds of import (fineweb.sql's peak on 290 MB of
  crawl went from ~800 MB to 1.25 GB at its final write). The writer's module gets a
  RecordBatch whose `from_pydict` types a list of Python objects as `python` itself.
"""

from __future__ import annotations

from typing import Any

import daft.io.writer as _writer
from daft import DataType, Series
from daft.recordbatch import RecordBatch

_SCALARS = (str, bytes, int, float, bool)


class _TypedRecordBatch(RecordBatch):
    """A RecordBatch whose `from_pydict` gives lists of Python objects the `python` type."""

    @classmethod
    def from_pydict(cls, data: dict[str, Any]) -> RecordBatch:
        typed = {name: Series.from_pylist(values, name, dtype=DataType.python())
                 if isinstance(values, list) and values
                 and not isinstance(values[0], _SCALARS) and values[0] is not None
                 else values for name, values in data.items()}
        return RecordBatch.from_pydict(typed)


def apply() -> None:
    """Install the work-arounds (idempotent)."""
    _writer.RecordBatch = _TypedRecordBatch  # type: ignore[misc]
