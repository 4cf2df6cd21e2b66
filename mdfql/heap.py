"""Handing freed heap memory back to the system between the phases of a run.

Arrays the Rust kernels and the WARC reader build (html, texts, signatures, band keys) are
allocated by glibc's malloc, and freed when Daft drops them. glibc keeps freed blocks in its
arenas for reuse and returns only the top of each heap on its own: on a 1 GB crawl,
refinedweb.sql's first stage ended with 240 MB free but still resident in those arenas, which
every later phase then carried. `malloc_trim(0)` returns every free page of every arena.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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
