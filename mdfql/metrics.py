"""Process-level registry of row-level failures (bad records, unparseable responses, ...), and
of the operator stats of inputs materialised while a plan is built.

A pipeline over web data must not stop on one bad row; it counts it here instead, so a run can
report how much it skipped and why. During a run on Ray, rows fail in worker processes: there
every count goes to the run's tally actor (a named Ray actor the driver starts and reads), so the
driver's summary sums all workers. Relational operators (clustering, dedup) run their input
before the rest of the plan exists; they leave that run's operator stats here for the run
summary.
"""

import logging
import sys
import threading
from collections import Counter
from typing import Any

_log = logging.getLogger("mdfql")
_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()
_stage_stats: list[dict] = []


TALLY = "mdfql_failure_tally"


class _Tally:
    """Body of the Ray actor that sums failure counts across workers."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, stage: str, reason: str) -> None:
        self.counts[(stage, reason)] += 1

    def get(self) -> dict[tuple[str, str], int]:
        return dict(self.counts)


def _tally() -> Any:
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

    return ray.remote(num_cpus=0)(_Tally).options(name=TALLY, get_if_exists=True).remote()


def record_failure(stage: str, source: str, reason: str) -> None:
    """Count one failed row of `stage` (e.g. "read_warc") and log where (`source`) and why."""
    tally = _tally()
    if tally is not None:
        import ray

        # waited for: the count must land before the task that saw the row reports done
        ray.get(tally.add.remote(stage, reason))
    else:
        with _lock:
            _counts[(stage, reason)] += 1
    _log.warning("%s: %s: %s", stage, source, reason)


def failures() -> dict[tuple[str, str], int]:
    """Failure counts keyed by (stage, reason), this process's plus a Ray run's tally."""
    with _lock:
        counts = Counter(_counts)
    tally = _tally()
    if tally is not None:
        import ray

        counts.update(ray.get(tally.get.remote()))
    return dict(counts)


def failure_total() -> int:
    """Total number of failures recorded since the last reset."""
    return sum(failures().values())


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
