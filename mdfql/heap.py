"""Handing freed heap memory back to the system between the phases of a run.

Arrays the Rust kernels and the WARC reader build (html, texts, signatures, band keys) are
allocated by glibc's malloc, and freed when Daft drops them. glibc keeps freed blocks in its
arenas for reuse and returns only the top of each heap on its own: on a 1 GB crawl,
refinedweb.sql's first stage ended with 240 MB free but still resident in those arenas, which
every later phase then carried. `malloc_trim(0)` returns every free page of every arena.

Arrow's buffers (Parquet reads of a stage's spill, conversions at UDF boundaries) come from
Arrow's default pool, mimalloc in pyarrow's wheels, which keeps freed segments where
`malloc_trim` cannot reach them. On the 1.08 GiB test crawl fineweb.sql peaked at 918-955 MiB
with it and 787-814 MiB with glibc's malloc, at the same speed (benchmarks/crawl_scale.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the C heap's free pages to the system (nothing where glibc is absent)."""
    trim = _trim()
    if trim is not None:
        trim(0)


def prefer_system_arrow_pool() -> None:
    """Make glibc's malloc Arrow's default pool, so `release_free_memory` reaches Arrow's
    freed buffers too, here and in the processes this one starts (Ray workers). Arrow reads
    ARROW_DEFAULT_MEMORY_POOL once, when pyarrow is imported; where pyarrow came first, only
    pyarrow's own calls switch (C++ internals keep their pool). A pool the user chose is kept."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
