"""How many threads mdfql's Rust kernels use in this process: the CPUs the process was given.

The kernels share one pool (`_native.set_threads`). Left alone it would take every core of the
machine, so a Ray worker granted 1 CPU on a 64-core node, or a container limited to 2 CPUs,
would run 64 threads per batch. `ensure()` sizes the pool once per process, before its first
kernel runs (the kernel wrappers call it), from the first of:

1. `configure(n)`: an explicit size, e.g. from `SET threads = N`;
2. the `MDFQL_THREADS` environment variable;
3. on a Ray worker, the CPUs Ray assigned to the task or actor (rounded up), or, for work
   holding no CPU (Daft runs a node's work in one actor of 0 CPUs that uses the whole node),
   the node's CPUs (`ray start --num-cpus`);
4. the CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from pathlib import Path

from mdfql import _native

ENV = "MDFQL_THREADS"

_lock = threading.Lock()
_explicit: int | None = None
_decided: tuple[int, str] | None = None  # (threads, why) once the pool is sized


def configure(threads: int | None) -> int:
    """Use `threads` kernel threads in this process from now on (None: back to the default
    choice) and resize the pool at once; returns the size in effect."""
    global _explicit, _decided
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    with _lock:
        _explicit = threads
        _decided = None
    return ensure()


def ensure() -> int:
    """Size the kernel pool for this process unless already done; cheap after the first call."""
    global _decided
    sized = _decided
    if sized is None:
        with _lock:
            if _decided is None:
                n, why = decide()
                _native.set_threads(n)
                _decided = (n, why)
            sized = _decided
    return sized[0]


def current() -> tuple[int, str] | None:
    """(threads, why) when the pool has been sized in this process, else None."""
    return _decided


def decide() -> tuple[int, str]:
    """The kernel thread count for this process and where it comes from."""
    if _explicit is not None:
        return _explicit, "SET threads"
    env = os.environ.get(ENV, "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{ENV} must be a positive integer, got {env!r}")
        return n, ENV
    ray_cpus = ray_worker_cpus()
    if ray_cpus is not None:
        return ray_cpus
    return process_cpus()


def ray_worker_cpus() -> tuple[int, str] | None:
    """CPUs Ray gave this worker process; None outside a Ray worker (drivers included)."""
    ray = sys.modules.get("ray")  # a Ray worker has imported it; never import it here
    if ray is None or not ray.is_initialized():
        return None
    ctx = ray.get_runtime_context()
    if ctx.worker.mode != ray.WORKER_MODE:
        return None
    assigned = ctx.get_assigned_resources().get("CPU", 0.0)
    if assigned > 0:
        return max(1, math.ceil(assigned)), "Ray task CPUs"
    node_id = ctx.get_node_id()
    for node in ray.nodes():
        if node["NodeID"] == node_id and node["Resources"].get("CPU", 0) > 0:
            return max(1, math.ceil(node["Resources"]["CPU"])), "Ray node CPUs"
    return None


def process_cpus() -> tuple[int, str]:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        n, why = len(os.sched_getaffinity(0)), "CPU affinity"
    except AttributeError:  # not Linux
        n, why = os.cpu_count() or 1, "CPU count"
    quota = cgroup_cpu_quota()
    if quota is not None and quota < n:
        return quota, "cgroup CPU quota"
    return max(1, n), why


def cgroup_cpu_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """The cgroup v2 CPU limit ("200000 100000" -> 2, rounded up), None when unlimited."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))
