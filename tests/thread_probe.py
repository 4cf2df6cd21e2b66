"""`LOAD 'thread_probe'`: a SQL kernel that reports, per row, where its batch ran (Ray node,
process) and on how many threads of the kernel pool, so tests can see which nodes did the work
and that the pool was sized to the worker's CPUs. It goes through mdfql's kernel wrapper like
every Rust kernel, so it sees the pool exactly as the wrapper's sizing hook left it."""

from __future__ import annotations

import os
import sys

import pyarrow as pa
from daft import DataType

from mdfql import _native, threads
from mdfql.functions.kernels import kernel
from mdfql.functions.registry import PLUGINS

FIELDS = {"node_id": pa.string(), "pid": pa.int64(), "pool_threads": pa.int64(),
          "threads_used": pa.int64(), "sized_by": pa.string()}
PROBE_TYPE = pa.struct(FIELDS)


def node_id() -> str:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()
    return "local"


def probe(text: pa.Array) -> pa.Array:
    # 64 jobs of 2 ms: long enough that every idle pool thread steals some
    used = _native.threads_used(tasks=64, spin_us=2000)
    sized = threads.current()
    row = {"node_id": node_id(), "pid": os.getpid(), "pool_threads": _native.current_threads(),
           "threads_used": used, "sized_by": sized[1] if sized else None}
    return pa.array([row] * len(text), PROBE_TYPE)


kernel("kernel_probe", "text:string", probe, DataType.from_arrow_type(PROBE_TYPE),
       "Where this row's batch ran: {node_id, pid, pool_threads, threads_used, sized_by}.",
       registry=PLUGINS)
