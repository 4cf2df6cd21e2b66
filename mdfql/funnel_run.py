"""One run's funnel, driver side: which statement's rows flow, which counted filters each
runs, the funnel at the end, and the rejects table committed after the run's writes."""

from __future__ import annotations

from pathlib import Path

from mdfql import metrics
from mdfql.counting import CountedFilter
from mdfql.funnel import Funnel
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

    def __init__(self, program: Program, directory: Path):
        self.program = program
        self.rejects_dir = directory / "rejects"
        self.rejects = option_value(program.options, "rejects")
        self.expected: dict[int, list[CountedFilter]] = {}
        self.titles: dict[int, str] = {}  # what each statement that ran does

    def start(self, statement: int, action: Action) -> None:
        """Before `action` (the statement-th) runs."""
        if action.kind == "explain":
            return
        self.titles[statement] = f"{action.plan.kind} (line {action.span.line})"
        ran = [s for s in self.program.stages() if s.rows.files is not None]
        self.expected[statement] = filters_run(action.plan, ran)
        metrics.set_statement(statement, str(self.rejects_dir) if self.rejects else None)

    def funnel(self) -> Funnel:
        counts = metrics.funnel_counts()
        for statement, filters in self.expected.items():
            counts.expect(statement, filters)
        return counts.funnel()

    def commit_rejects(self, catalog: CatalogConfig, run: RunInfo) -> WriteResult | None:
        """Append the run's rejects to the rejects table (after every write committed); on a
        trial run (SET limit) to its scratch stand-in."""
        if self.rejects is None:
            return None
        ident = self.rejects
        if self.program.options.get("limit") is not None:
            ident = scratch_table(ident, option_value(self.program.options, "scratch_namespace"))
        return commit_rejects(self.rejects_dir, ident, catalog, run)
