"""Row-level failures (bad records, unparseable responses, ...) and Daft's operator stats.

A pipeline over web data must not stop on one bad row; it counts it here instead, so a run can
report how much it skipped and why. Rows fail inside UDFs, in Daft's threads or Ray's worker
processes, where nothing of the run is in scope: this process keeps a tally that the executor
resets when a run starts and reads when it ends, and during a run on Ray every count goes to the
run's tally actor (a named Ray actor the driver starts and reads), so the summary sums all
workers.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("mdfql")

TALLY = "mdfql_failure_tally"


@dataclass(frozen=True)
class FileCount:
    """What a reader of ours got from one file: rows it delivered, records it met (rows plus
    records it could not read) and records that failed (unreadable or unparseable)."""

    rows: int
    records: int
    failed: int

    def most(self, other: FileCount | None) -> FileCount:
        if other is None:
            return self
        return FileCount(max(self.rows, other.rows), max(self.records, other.records),
                         max(self.failed, other.failed))


class FailureTally:
    """Failure counts keyed by (stage, reason); thread-safe (Daft runs UDFs in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.reads: dict[str, FileCount] = {}

    def add(self, stage: str, reason: str) -> None:
        with self._lock:
            self.counts[(stage, reason)] += 1

    def get(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.counts)

    def add_rows(self, source: str, rows: int, records: int | None = None,
                 failed: int = 0) -> None:
        """Counts of `source` in all so far (a source read twice, as Ray may, counts once)."""
        count = FileCount(rows, rows if records is None else records, failed)
        with self._lock:
            self.reads[source] = count.most(self.reads.get(source))

    def rows(self) -> dict[str, int]:
        with self._lock:
            return {source: count.rows for source, count in self.reads.items()}

    def files(self) -> dict[str, FileCount]:
        with self._lock:
            return dict(self.reads)


# Where failures in this process go: the running run's tally while `collecting` (the executor
# owns it), else one for interactive use.
_current = FailureTally()


@contextlib.contextmanager
def collecting() -> Iterator[FailureTally]:
    """Count this process's failures in a fresh tally for the duration of a run."""
    global _current
    saved, _current = _current, FailureTally()
    try:
        yield _current
    finally:
        _current = saved


def _ray_tally() -> Any:
    """The running tally actor when this process belongs to a Ray run, else None."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        return ray.get_actor(TALLY)
    except ValueError:
        return None


def start_tally() -> Any:
    """Start the run's tally actor (driver side, Ray initialised); returns its handle."""
    import ray

    return ray.remote(num_cpus=0)(FailureTally).options(name=TALLY,
                                                         get_if_exists=True).remote()


def record_failure(stage: str, source: str, reason: str) -> None:
    """Count one failed row of `stage` (e.g. "read_warc") and log where (`source`) and why."""
    tally = _ray_tally()
    if tally is not None:
        import ray

        # waited for: the count must land before the task that saw the row reports done
        ray.get(tally.add.remote(stage, reason))
    else:
        _current.add(stage, reason)
    _log.warning("%s: %s: %s", stage, source, reason)


def record_rows_read(source: str, rows: int, records: int | None = None,
                     failed: int = 0) -> None:
    """Count the rows a reader of ours delivered from `source` (a file), in all so far (Daft's
    own count for a source is taken after the filters it fuses into the scan); `records` the
    records it met there (default `rows`), `failed` those that failed (the error budget)."""
    tally = _ray_tally()
    if tally is not None:
        import ray

        ray.get(tally.add_rows.remote(source, rows, records, failed))
    else:
        _current.add_rows(source, rows, records, failed)


def rows_read() -> dict[str, int]:
    """Rows counted by `record_rows_read`, by file: this process's and a Ray run's."""
    counts = _current.rows()
    tally = _ray_tally()
    if tally is not None:
        import ray

        for source, rows in ray.get(tally.rows.remote()).items():
            counts[source] = max(counts.get(source, 0), rows)
    return counts


def file_counts() -> dict[str, FileCount]:
    """Per-file counts of `record_rows_read`: this process's and a Ray run's."""
    counts = _current.files()
    tally = _ray_tally()
    if tally is not None:
        import ray

        for source, count in ray.get(tally.files.remote()).items():
            counts[source] = count.most(counts.get(source))
    return counts


def failures() -> dict[tuple[str, str], int]:
    """Failure counts keyed by (stage, reason): this process's plus a Ray run's tally."""
    counts = Counter(_current.get())
    tally = _ray_tally()
    if tally is not None:
        import ray

        counts.update(ray.get(tally.get.remote()))
    return dict(counts)


def failure_total() -> int:
    """Total number of failures recorded since the last reset."""
    return sum(failures().values())


def reset_failures() -> None:
    """Forget the failures recorded in this process (outside a run: the interactive tally)."""
    global _current
    _current = FailureTally()


def operator_metrics(run: Any) -> tuple[dict, ...]:
    """Per-operator stats of a finished Daft run, as plain dicts (empty when Daft kept none)."""
    try:
        table = run.metrics
    except (AttributeError, ValueError):
        return ()
    return tuple(table.to_pylist()) if table is not None else ()


def restore_counts(files: dict[str, FileCount], failed: dict[tuple[str, str], int]) -> None:
    """Count again what finished work of an interrupted run read and lost before it was
    killed (`mdfql.resume` skips that work): rows and records by file, failures by reason."""
    for source, count in files.items():
        _current.add_rows(source, count.rows, count.records, count.failed)
    for (stage, reason), n in failed.items():
        for _ in range(n):
            _current.add(stage, reason)
