"""One run's funnel, driver side: which statement's rows flow, which counted filters each
runs, the funnel at the end, and the rejects table committed after the run's writes."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import daft

from mdfql import metrics
from mdfql.cluster_signal import cluster_signals
from mdfql.counting import CountedFilter
from mdfql.counting_stats import OperatorCounts
from mdfql.funnel import Funnel, FunnelStep
from mdfql.funnel_tally import filters_run
from mdfql.options import option_value
from mdfql.plan.program import Action, Program
from mdfql.rejects import commit_rejects
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import WriteResult
from mdfql.sinks.provenance import RunInfo
from mdfql.sinks.targets import scratch_table


class FunnelRun:
    """Tells the run's tally which statement runs (counts are keyed by it) and where rejects
    go; lists each statement's counted filters so a step no row reached shows with zeros."""

    def __init__(self, program: Program, directory: Path, udf_seconds: dict[str, float]):
        self.program = program
        self.udf_seconds = udf_seconds  # the run's, growing as statements finish
        self.marks: dict[int, dict[str, float]] = {}  # its values when each statement began
        self.rejects_dir = directory / "rejects"
        self.rejects = option_value(program.options, "rejects")
        self.expected: dict[int, list[CountedFilter]] = {}
        self.titles: dict[int, str] = {}  # what each statement that ran does

    def start(self, statement: int, action: Action) -> None:
        """Before `action` (the statement-th) runs."""
        if action.kind == "explain":
            return
        self.titles[statement] = f"{action.plan.kind} (line {action.span.line})"
        self.marks[statement] = dict(self.udf_seconds)
        ran = [s for s in self.program.stages() if s.rows.files is not None]
        self.expected[statement] = filters_run(action.plan, ran)
        metrics.set_statement(statement, str(self.rejects_dir) if self.rejects else None)

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """Daft's operator stats count the filters compiled as native conjuncts (see
        mdfql.counting_stats) while the run's statements execute."""
        filters = {f.fid: f for a in self.program.actions for f in filters_run(a.plan, [])}
        if not filters:
            yield
            return
        counter = OperatorCounts(filters)
        alias = f"mdfql-funnel-{uuid.uuid4().hex}"
        context = daft.context.get_context()
        context.attach_subscriber(alias, counter)
        try:
            yield
        finally:
            context.detach_subscriber(alias)
            counter.flush()

    def funnel(self) -> Funnel:
        counts = metrics.funnel_counts()
        for statement, filters in self.expected.items():
            counts.expect(statement, filters)
        funnel = counts.funnel()
        funnel.steps = [replace(s, seconds=self._seconds(s, funnel.steps))
                        for s in funnel.steps]
        funnel.signals += cluster_signals(self.program)
        return funnel

    def _seconds(self, step: FunnelStep, steps: list[FunnelStep]) -> float:
        """The time Daft measured in the UDFs `step`'s predicate calls during its statement
        (summed over threads; a UDF several steps of the statement call is shared out)."""
        marks = sorted(self.marks)
        start = self.marks.get(step.statement, {})
        later = [m for m in marks if m > step.statement]
        end = self.marks[later[0]] if later else self.udf_seconds
        total = 0.0
        for name in _calls(step.predicate):
            spent = end.get(name, 0.0) - start.get(name, 0.0)
            sharing = sum(1 for s in steps if s.statement == step.statement
                          and name in _calls(s.predicate))
            total += spent / max(sharing, 1)
        return round(total, 3)


    def commit_rejects(self, catalog: CatalogConfig, run: RunInfo) -> WriteResult | None:
        """Append the run's rejects to the rejects table (after every write committed); on a
        trial run (SET limit) to its scratch stand-in."""
        if self.rejects is None:
            return None
        ident = self.rejects
        if self.program.options.get("limit") is not None:
            ident = scratch_table(ident, option_value(self.program.options, "scratch_namespace"))
        return commit_rejects(self.rejects_dir, ident, catalog, run)


def _calls(predicate: str) -> set[str]:
    """Names of the functions a predicate's SQL calls."""
    return set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", predicate))
