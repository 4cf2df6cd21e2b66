"""Run a compiled program: each action in order, then a summary of what happened."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import daft

from mdfql import metrics as failures
from mdfql.compiler.script import Action, Program
from mdfql.errors import MdfqlError
from mdfql.runner import use_runner
from mdfql.sinks.catalog import SinkError
from mdfql.sinks.files import write_files
from mdfql.sinks.iceberg import WriteResult, operator_metrics, write_table


@dataclass
class StepCount:
    """Rows into and out of one plan operator that changed the row count."""

    name: str
    rows_in: int
    rows_out: int


@dataclass
class RunSummary:
    """What a run read, kept, wrote and how long it took."""

    rows_read: int = 0
    rows_written: int = 0
    wall_s: float = 0.0
    steps: list[StepCount] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)
    results: list[daft.DataFrame] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.rows_read / self.wall_s if self.wall_s > 0 else 0.0


def _stat(stats: Any, key: str) -> int | None:
    for k, v in stats or []:
        if k == key:
            return int(v["value"])
    return None


def absorb_metrics(summary: RunSummary, metrics: tuple[dict, ...]) -> None:
    """Fold Daft's operator stats into the summary: source rows and row-changing steps.

    A file-listing source (read_warc's glob scan) yields files, which its reader explodes into
    records: for it, the rows read are those of the first explode downstream. In-memory scans
    are not reads: they replay frames already counted (a relational operator's materialised
    input) or handed over by the caller.
    """
    listings = 0
    for op in metrics:
        rows_in, rows_out = _stat(op["stats"], "rows.in"), _stat(op["stats"], "rows.out")
        # the native runner says "Glob Scan", Ray's "GlobScanSource"
        source = op["name"].replace(" ", "").removesuffix("Source")
        if op.get("category") == "Source" and source == "GlobScan":
            listings += 1
        elif op.get("category") == "Source" and source == "InMemoryScan":
            continue
        elif op.get("category") == "Source" and rows_out is not None:
            summary.rows_read += rows_out
        elif op["name"] == "Explode" and listings and rows_out is not None:
            listings -= 1
            summary.rows_read += rows_out
        elif rows_in is not None and rows_out is not None and rows_in != rows_out \
                and op.get("category") != "BlockingSink":
            summary.steps.append(StepCount(op["name"], rows_in, rows_out))


def _write_table(action: Action, session: Any) -> WriteResult:
    return write_table(action.df, action.target, action.mode, session.catalog())


def _write_files(action: Action, session: Any) -> WriteResult:
    return write_files(action.df, action.target, action.fmt, action.mode)


_WRITERS: dict[str, Callable[[Action, Any], WriteResult]] = {
    "write_table": _write_table,
    "write_files": _write_files,
}


def execute(
    program: Program,
    session: Any,
    *,
    runner: str | None = None,
    ray_address: str | None = None,
    on_action: Callable[[int, Action], None] | None = None,
    replan: Callable[[], Program] | None = None,
) -> RunSummary:
    """Run every action of `program`; queries are collected, writes committed atomically.

    `replan` builds the program to run inside the chosen runner (then `program` is its dry-run
    plan, which picks the runner): relational operators execute their input while the plan is
    built, so that work runs on the same runner and counts in the summary.
    """
    kind = runner or program.options.get("runner") or "native"
    address = ray_address or program.options.get("ray.address")
    summary = RunSummary()
    failures.reset_failures()
    failures.take_stage_stats()
    start = time.perf_counter()
    with use_runner(kind, address, program.used_functions, session.registry):
        if replan is not None:
            program = replan()
        absorb_metrics(summary, failures.take_stage_stats())
        for i, action in enumerate(program.actions):
            if on_action is not None:
                on_action(i, action)
            if action.kind == "explain":
                buf = io.StringIO()
                action.df.explain(show_all=True, file=buf)
                summary.explains.append(buf.getvalue())
            elif action.kind == "query":
                done = action.df.collect()
                absorb_metrics(summary, operator_metrics(done))
                summary.results.append(done)
            else:
                try:
                    result = _WRITERS[action.kind](action, session)
                except SinkError as e:
                    raise MdfqlError(e.message, action.span, e.hint) from None
                absorb_metrics(summary, result.metrics)
                summary.rows_written += result.rows_written
                summary.writes.append(result)
        summary.failures = failures.failures()  # inside: a Ray run's tally is still up
    summary.wall_s = time.perf_counter() - start
    return summary
