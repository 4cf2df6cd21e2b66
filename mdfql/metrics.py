"""Row-level failures (a broken WARC record, an undecodable body): counted and reported, never
fatal. Process-wide and thread-safe; the run summary reads them at the end."""

from __future__ import annotations

import logging
import threading
from collections import Counter

_LOCK = threading.Lock()
_COUNTS: Counter[tuple[str, str]] = Counter()
log = logging.getLogger("mdfql")


def record_failure(stage: str, source: str, reason: str) -> None:
    """Count one failed row of `stage` (e.g. "read_warc") and log where it happened."""
    with _LOCK:
        _COUNTS[(stage, reason)] += 1
    log.warning("%s: %s: %s", stage, source, reason)


def failures() -> dict[tuple[str, str], int]:
    """Failures so far, keyed by (stage, reason)."""
    with _LOCK:
        return dict(_COUNTS)


def failure_total() -> int:
    with _LOCK:
        return sum(_COUNTS.values())


def reset_failures() -> None:
    with _LOCK:
        _COUNTS.clear()
