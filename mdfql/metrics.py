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
import hashlib
import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mdfql.counting import BatchCounts, FunnelReply
from mdfql.funnel_tally import FunnelCounts

_log = logging.getLogger("mdfql")

TALLY = "mdfql_failure_tally"
# Places of failure told apart per statement. Past it, a statement's further failures of a
# (stage, reason) count together: exact within the statement, and across statements the most
# any one counted, so a very dirty crawl costs a few MB here, not one entry per bad row.
PLACES_KEPT = 50_000


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
    """Failure counts keyed by (stage, reason), the rows each file gave, and the funnel's
    counts (`FunnelCounts`); thread-safe (Daft runs UDFs in threads).

    A view read by two statements runs, and fails the same rows, once for each: failures are
    counted per statement by (stage, reason, where), and a run's count of each is the most any
    statement saw, so a bad record counts once per run however often it is read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statement = -1  # the action whose rows flow now (set by the executor)
        self._pass: Counter[tuple[str, str, bytes]] = Counter()  # this statement's
        self._done: dict[tuple[str, str, bytes], int] = {}  # earlier statements', the most
        self._restored: Counter[tuple[str, str]] = Counter()  # this statement's (see restore)
        self._most: dict[tuple[str, str], int] = {}  # the most one earlier statement counted
        self.examples: dict[tuple[str, str], str] = {}  # where each failed first
        self.reads: dict[str, FileCount] = {}
        self.funnel = FunnelCounts()
        self.rejects: str | None = None  # where counted filters write the rows they drop
        self.finished: set[tuple[int, str]] = set()  # (statement, file) read to the end

    def set_statement(self, statement: int) -> None:
        with self._lock:
            for key, n in self._pass.items():
                self._done[key] = max(n, self._done.get(key, 0))
            for key, n in self._statement_totals().items():
                self._most[key] = max(n, self._most.get(key, 0))
            self._pass, self._restored = Counter(), Counter()
            self.statement = statement

    def restore(self, stage: str, reason: str, n: int) -> None:
        """Count `n` failures an interrupted run's finished work saw (mdfql.resume): where
        they happened is not known, so they count within their statement's total."""
        with self._lock:
            self._restored[(stage, reason)] += n

    def _statement_totals(self) -> Counter[tuple[str, str]]:
        totals = Counter(self._restored)
        for key, n in self._pass.items():
            totals[key[:2]] += n
        return totals

    def add(self, stage: str, reason: str, source: str = "") -> None:
        where = hashlib.blake2b(source.encode(errors="replace"), digest_size=8).digest()
        with self._lock:
            key = (stage, reason, where)
            if key not in self._pass and len(self._pass) >= PLACES_KEPT:
                key = (stage, reason, b"")  # the statement's places past the first
            self._pass[key] += 1
            self.examples.setdefault((stage, reason), source)

    def get(self) -> dict[tuple[str, str], int]:
        with self._lock:
            counts: Counter[tuple[str, str]] = Counter()
            for key in self._done.keys() | self._pass.keys():
                counts[key[:2]] += max(self._done.get(key, 0), self._pass.get(key, 0))
            # restored counts (no place known): at least what any one statement counted
            for totals in (self._most, self._statement_totals()):
                for key, n in totals.items():
                    counts[key] = max(counts[key], n)
            return dict(counts)

    def failure_examples(self) -> dict[tuple[str, str], str]:
        with self._lock:
            return dict(self.examples)

    def file_done(self, source: str) -> None:
        with self._lock:
            self.finished.add((self.statement, source))

    def done_in(self, statement: int) -> set[str]:
        with self._lock:
            return {path for s, path in self.finished if s == statement}

    def set_rejects(self, directory: str | None) -> None:
        self.rejects = directory

    def add_funnel(self, batch: BatchCounts) -> FunnelReply:
        """Count one batch of a counted filter (see FunnelReply for the answer)."""
        with self._lock:
            self.funnel.add(self.statement, batch)
            return FunnelReply(self.rejects, self.statement,
                               self.funnel.full(self.statement, batch.filter))

    def funnel_counts(self) -> FunnelCounts:
        with self._lock:
            return self.funnel

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
        ray.get(tally.add.remote(stage, reason, source))
    else:
        _current.add(stage, reason, source)
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


def record_file_done(source: str) -> None:
    """A reader of ours finished `source` (a file) for the statement running now (progress)."""
    tally = _ray_tally()
    if tally is not None:
        import ray

        ray.get(tally.file_done.remote(source))
    else:
        _current.file_done(source)


def files_done(statement: int) -> set[str]:
    """The files readers finished for `statement`: this process's and a Ray run's."""
    done = _current.done_in(statement)
    tally = _ray_tally()
    if tally is not None:
        import ray

        done |= ray.get(tally.done_in.remote(statement))
    return done


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


def failure_examples() -> dict[tuple[str, str], str]:
    """Where each (stage, reason) failed first: this process's, else a Ray run's tally."""
    found = {}
    tally = _ray_tally()
    if tally is not None:
        import ray

        found = ray.get(tally.failure_examples.remote())
    return {**found, **_current.failure_examples()}


def record_funnel(batch: BatchCounts) -> FunnelReply:
    """Count one batch of a counted filter in the run's tally (see `mdfql.counting`)."""
    tally = _ray_tally()
    if tally is not None:
        import ray

        return ray.get(tally.add_funnel.remote(batch))
    return _current.add_funnel(batch)


def set_statement(statement: int, rejects: str | None = None) -> None:
    """The action whose rows flow from now on (driver side); where rejects go (None: nowhere)."""
    _current.set_statement(statement)
    _current.set_rejects(rejects)
    tally = _ray_tally()
    if tally is not None:
        import ray

        ray.get([tally.set_statement.remote(statement), tally.set_rejects.remote(rejects)])


def funnel_counts() -> FunnelCounts:
    """The funnel's counts: this process's plus a Ray run's tally."""
    counts = FunnelCounts()
    counts.merge(_current.funnel_counts())
    tally = _ray_tally()
    if tally is not None:
        import ray

        counts.merge(ray.get(tally.funnel_counts.remote()))
    return counts


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
        _current.restore(stage, reason, n)
