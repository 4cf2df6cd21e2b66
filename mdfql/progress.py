"""Progress bars for `mdfql run` on a terminal: per statement, the bytes of its input files
read out of their total (inputs are listed with their sizes before a run starts), with speed
and ETA. Quiet when stderr is not a terminal (logs, CI).

A file counts whole once its reader finished it (`metrics.files_done`); while the native
runner reads a local file, the position of the descriptor it reads through (/proc/self/fdinfo,
Linux) says how far it got: the Rust reader opens the file itself, so nothing in Python sees
its reads, and a 1 GB archive would otherwise sit at 0% until it is done.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mdfql import metrics

POLL_S = 0.5


def open_positions(paths: set[str]) -> dict[str, int]:
    """How far this process has read each of `paths` it holds open (the furthest descriptor);
    empty where /proc is not there."""
    found: dict[str, int] = {}
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target not in paths:
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                pos = int(info.readline().split()[1])  # first line: "pos:\t<offset>"
        except (OSError, ValueError, IndexError):
            continue
        found[target] = max(pos, found.get(target, 0))
    return found


class _Statement:
    """The input files of one statement and how much of them is read."""

    def __init__(self, index: int, files: list[Any]):
        self.index = index
        self.sizes = {f.path: f.size or 0 for f in files}
        self.local = {os.path.realpath(p.removeprefix("file://")): p for p in self.sizes
                      if "://" not in p or p.startswith("file://")}

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def read(self, native: bool) -> int:
        done = metrics.files_done(self.index)
        count = sum(size for path, size in self.sizes.items() if path in done)
        if native:
            for real, pos in open_positions(set(self.local)).items():
                path = self.local[real]
                if path not in done:
                    count += min(pos, self.sizes[path])
        return count


@contextmanager
def run_progress(console: Console, native: bool
                 ) -> Iterator[Callable[[int, Any], None]]:
    """A progress display for one run; yields the executor's `on_action` callback."""
    if not console.is_terminal:
        yield lambda i, action: None
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                        transient=True)
    current: dict[str, Any] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def update() -> None:
        with lock:
            statement, task = current.get("statement"), current.get("task")
        if statement is not None and task is not None and statement.total:
            try:
                progress.update(task, completed=statement.read(native))
            except Exception:  # noqa: BLE001 - a progress bar never fails a run
                pass

    def poll() -> None:
        while not stop.wait(POLL_S):
            update()

    def on_action(i: int, action: Any) -> None:
        update()
        with lock:
            if current.get("task") is not None:
                progress.update(current["task"], completed=current["statement"].total)
            files = [f for s in action.sources() for f in (s.files or [])]
            statement = _Statement(i, files)
            title = action.plan.kind
            task: TaskID = progress.add_task(f"[{i + 1}] {title} (line {action.span.line})",
                                             total=statement.total or None)
            current.update(statement=statement, task=task)

    thread = threading.Thread(target=poll, name="mdfql-progress", daemon=True)
    with progress:
        thread.start()
        try:
            yield on_action
        finally:
            stop.set()
            thread.join()
