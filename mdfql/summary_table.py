"""The run summary the CLI prints: reads per source, the funnel by statement, view and
predicate, failures by reason with where each first failed, and each write on its own line."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

LABEL_CHARS = 72  # a predicate longer than this is cut (the report shows it whole)


def _cut(text: str, n: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def summary_table(summary: Any) -> Table:
    """The table of a finished run (`mdfql.execute.RunSummary`)."""
    table = Table(title=f"run summary ({summary.run_id})", show_header=True,
                  header_style="bold", show_lines=False)
    for name, justify in (("", "left"), ("rows in", "right"), ("rows out", "right"),
                          ("dropped", "right"), ("UDF s", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_row("rows read", "", f"{summary.rows_read:,}", "")
    for path, count in sorted(summary.reads.items()):  # records met -> rows delivered
        failed = f"{count.failed:,} failed" if count.failed else ""
        table.add_row(f"  read {escape(path)}", f"{count.records:,}", f"{count.rows:,}", failed)
    for stage in summary.stages:
        table.add_row(f"  {escape(stage.label)} ({stage.wall_s:.1f} s)",
                      f"{stage.rows_spilled:,}", f"{stage.result_rows:,}", "")
    _funnel_rows(table, summary)
    for (stage, reason), n in sorted(summary.failures.items()):
        where = summary.failure_examples.get((stage, reason))
        table.add_row(f"[yellow]failed rows: {escape(stage)}: {escape(reason)}[/yellow]"
                      + (f"\n  first: {escape(_cut(where, 100))}" if where else ""),
                      "", "", f"{n:,}")
    for w in summary.writes:
        snap = f" (snapshot {w.snapshot_id})" if w.snapshot_id else ""
        verb = "skipped" if w.skipped else "wrote"
        table.add_row(f"{verb} {w.mode} {escape(w.ident)}{snap}", "", f"{w.rows_written:,}", "")
    table.add_row("wall time", "", f"{summary.wall_s:.2f} s", "")
    table.add_row("docs/s", "", f"{summary.docs_per_s:,.0f}", "")
    return table


def _funnel_rows(table: Table, summary: Any) -> None:
    """One line per step, under its statement and view; Daft's anonymous row-changing
    operators when nothing was counted (SET funnel = false)."""
    steps = summary.funnel.steps
    if not steps:
        for step in summary.steps:
            table.add_row(f"  {escape(step.name)}", f"{step.rows_in:,}", f"{step.rows_out:,}",
                          f"{step.rows_in - step.rows_out:,}")
        return
    statement, view = None, None
    for step in steps:
        if step.statement != statement:
            statement, view = step.statement, None
            title = summary.statements.get(statement, "")
            table.add_row(f"[bold]statement {statement + 1}[/bold] {escape(title)}", "", "", "")
        if step.view != view:
            view = step.view
            table.add_row(f"  [cyan]{escape(view)}[/cyan]", "", "", "")
        table.add_row(f"    {escape(_cut(step.predicate))}", f"{step.rows_in:,}",
                      f"{step.rows_out:,}", f"{step.dropped:,}" if step.dropped else "",
                      f"{step.seconds:.1f}" if step.seconds >= 0.05 else "")
