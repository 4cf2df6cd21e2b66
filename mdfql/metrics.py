"""Process-level registry of row-level failures (bad records, unparseable responses, ...).

A pipeline over web data must not stop on one bad row; it counts it here instead, so a run can
report how much it skipped and why. Counts are per process: with a distributed runner each worker
keeps its own.
"""

import logging
import threading
from collections import Counter

_log = logging.getLogger("mdfql")
_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()


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
