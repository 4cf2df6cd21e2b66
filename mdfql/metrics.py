"""Process-level registry of row-level failures (bad records, unparseable responses, ...), and
of the operator stats of inputs materialised while a plan is built.

A pipeline over web data must not stop on one bad row; it counts it here instead, so a run can
report how much it skipped and why. Counts are per process: with a distributed runner each worker
keeps its own. Relational operators (clustering, dedup) run their input before the rest of the
plan exists; they leave that run's operator stats here for the run summary.
"""

import logging
import threading
from collections import Counter

_log = logging.getLogger("mdfql")
_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()
_stage_stats: list[dict] = []


def record_failure(stage: str, source: str, reason: str) -> None:
    """Count one failed row of `stage` (e.g. "read_warc") and log where (`source`) and why."""
    with _lock:
        _counts[(stage, reason)] += 1
    _log.warning("%s: %s: %s", stage, source, reason)


def failures() -> dict[tuple[str, str], int]:
    """Failure counts keyed by (stage, reason)."""
    with _lock:
        return dict(_counts)


def failure_total() -> int:
    """Total number of failures recorded since the last reset."""
    with _lock:
        return sum(_counts.values())


def reset_failures() -> None:
    """Forget all recorded failures."""
    with _lock:
        _counts.clear()


def record_stage_stats(ops: tuple[dict, ...]) -> None:
    """Keep the per-operator stats of an input materialised during planning."""
    with _lock:
        _stage_stats.extend(ops)


def take_stage_stats() -> tuple[dict, ...]:
    """The stats recorded since the last call, which forgets them."""
    with _lock:
        ops = tuple(_stage_stats)
        _stage_stats.clear()
        return ops
