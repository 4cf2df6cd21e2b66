"""How deep a pipeline may be, and the stacks that let it be that deep.

Everything that walks a plan recurses: sqlglot's parser (about 20 Python frames per level of
parentheses), mdfql's compiler, and Daft, in Rust, when it optimises, translates and starts a
plan (about 10 KiB of stack per operator). Left at their defaults (Python's limit of 1,000
frames, 8 MiB for the main thread, 2 MiB for Rust threads) 45 nested parentheses are a
RecursionError and a chain of 300 CTEs a segfault. So mdfql

- runs compiling and executing on a thread with a `PYTHON_STACK` stack and a recursion limit
  of `RECURSION_LIMIT` (`on_deep_stack`), and starts Daft's event-loop thread (which starts
  the native runner's pipelines) on such a stack too;
- gives Rust threads `RUST_STACK` bytes of stack (`RUST_MIN_STACK`, read by Rust's standard
  library when the process spawns its first thread: `mdfql` sets it on import, so import
  mdfql before running any Daft query);
- refuses, as an error at its position, what is deeper than these stacks were measured to
  hold: `MAX_NESTING` levels of parentheses, brackets and CASE, expressions `MAX_EXPRESSION`
  operators deep, and plans `MAX_PLAN` steps deep (a chain of ~1,000 views or CTEs).

Stacks are reserved address space: only the pages a deep plan touches use memory. The CLI and
`Session.run` compile and execute through `on_deep_stack`; a DataFrame from `Session.sql` runs
on its caller's thread (`on_deep_stack(df.collect)` for a deep one). On a Ray cluster started
outside mdfql, set RUST_MIN_STACK in the workers' environment too.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

PYTHON_STACK = 512 * 1024 * 1024
RUST_STACK = 64 * 1024 * 1024
RECURSION_LIMIT = 100_000

MAX_NESTING = 256
MAX_EXPRESSION = 1_000
MAX_PLAN = 3_000

T = TypeVar("T")

_lock = threading.Lock()
_state = threading.local()
_active = 0  # deep threads running: the recursion limit is raised while there is one
_saved_limit = sys.getrecursionlimit()


def prepare_process() -> None:
    """Ask Rust's standard library for `RUST_STACK` per thread (unless the user chose)."""
    os.environ.setdefault("RUST_MIN_STACK", str(RUST_STACK))


def _raise_limit() -> None:
    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _active += 1


def _restore_limit() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            sys.setrecursionlimit(_saved_limit)


def _start_daft_loop() -> None:
    """Start Daft's background event loop (the Python thread its native runner drives a
    plan's pipeline from, created once per process) now, on a deep stack too."""
    try:
        from daft.event_loop import get_or_init_event_loop
    except ImportError:  # moved in another Daft version: that thread keeps its default stack
        return
    get_or_init_event_loop()


def on_deep_stack(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on a thread with a deep stack; its result or its exception.

    The caller waits in short joins so Ctrl-C still reaches it; called from a deep thread it
    just calls `fn`. The recursion limit is process-wide in CPython: it is raised only while a
    deep thread runs (other threads then run Python too, on stacks no smaller than Rust's).
    """
    if getattr(_state, "deep", False):
        return fn(*args, **kwargs)
    outcome: dict[str, Any] = {}

    def target() -> None:
        _state.deep = True
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised in the caller, with its traceback
            outcome["error"] = e

    _raise_limit()
    try:
        with _lock:  # threading.stack_size is process-wide too
            previous = threading.stack_size(PYTHON_STACK)
            try:
                _start_daft_loop()
                worker = threading.Thread(target=target, name="mdfql-deep", daemon=True)
                worker.start()
            finally:
                threading.stack_size(previous)
        while worker.is_alive():
            worker.join(0.2)
    finally:
        _restore_limit()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
