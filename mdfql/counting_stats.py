"""Counting filters by Daft's own operator stats (the funnel's default on the native runner).

Each conjunct of a counted filter becomes a boolean column computed by a Project and a Filter
on it (`counted_conjuncts`): Daft merges adjacent filters, but never moves one below the
Project computing its column, so every conjunct keeps a Filter node of its own and sees only
the rows the conjuncts before it kept (datatrove's sequential counts). Daft measures each
node's rows in and out as it runs; `OperatorCounts`, a Daft subscriber, reads the plans of
every query to find those Filters (each filters on its column, `__keep<filter>_<conjunct>`)
and adds their final counts to the run's tally when the query ends. Nothing runs in Python
per batch, so the counts cost about what the extra Projects and Filters do.

Daft emits no operator stats on Ray, where counted filters stay batch UDFs
(`mdfql.counting_udf`), as they are for `SET funnel = 'detail'` and for rejects.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import daft
from daft import Expression, col
from daft.subscribers import Subscriber
from daft.subscribers.events import (
    ExecutionStarted,
    OptimizationCompleted,
    QueryFinished,
    QueryStarted,
    Stats,
)

from mdfql import metrics
from mdfql.counting import KEEP_PREFIX, BatchCounts, CountedFilter

log = logging.getLogger(__name__)

_KEEP = re.compile(rf"col\({KEEP_PREFIX}(\d+)_(\d+)\)")  # a Filter on a keep column


def keep_column(f: CountedFilter, i: int) -> str:
    """The column holding conjunct `i` of `f`."""
    return f"{KEEP_PREFIX}{f.fid}_{i}"


def counted_conjuncts(df: daft.DataFrame, f: CountedFilter, conjuncts: list[Expression],
                      before: Callable[[int, daft.DataFrame], daft.DataFrame]
                      ) -> daft.DataFrame:
    """`df` filtered by each conjunct in turn, each through a column of its own (see the
    module doc); NULL drops the row, as in SQL. `before(i, df)` reshapes the rows conjunct
    `i` sees (its batches). The columns stay, as the UDF path's do (`is_counter_column`: the
    query's own projection drops them)."""
    for i, conjunct in enumerate(conjuncts):
        name = keep_column(f, i)
        df = before(i, df).with_column(name, conjunct.fill_null(False)).where(col(name))
    return df


def _filters(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan's Filter nodes, depth first, inputs in order."""
    found, stack = [], [plan]
    while stack:
        node = stack.pop()
        if node.get("type") == "Filter":
            found.append(node)
        stack += reversed(node.get("children") or [])
    return found


def keep_filters(logical: dict[str, Any], physical: dict[str, Any]
                 ) -> dict[int, tuple[int, int]] | None:
    """Node id -> (filter id, conjunct) of each counted conjunct's Filter, from one query's
    optimized logical plan and physical plan (Daft's JSON); None when they do not pair up.

    Only the logical plan shows a Filter's predicate (`col(__keep3_1)`) and only the physical
    plan has the node ids stats are keyed by. Daft translates each logical Filter into one
    physical Filter, in the same place, so the two plans' Filters pair up in order."""
    predicates = [node.get("predicate") or [] for node in _filters(logical)]
    nodes = _filters(physical)
    if len(predicates) != len(nodes):
        return None
    found: dict[int, tuple[int, int]] = {}
    for predicate, node in zip(predicates, nodes):
        if len(predicate) == 1 and (m := _KEEP.fullmatch(predicate[0])):
            found[int(node["id"])] = (int(m[1]), int(m[2]))
    return found


class OperatorCounts(Subscriber):
    """Adds the counted Filters' rows in and out to the run's tally as each query ends.

    Stats arrive as running totals per node, several times per query; the last ones count.
    A query that never reports its end (an abandoned stream) is counted at `flush`."""

    def __init__(self, filters: dict[int, CountedFilter]):
        self.filters = filters
        self._lock = threading.Lock()
        self._logical: dict[str, dict[str, Any]] = {}  # by query: its optimized plan
        self._nodes: dict[str, dict[int, tuple[int, int]]] = {}  # by query: node -> step
        self._rows: dict[str, dict[int, tuple[int, int]]] = {}  # by query: node -> in, out

    def on_event(self, event: Any) -> None:  # Daft's dispatch warns on unhandled events
        if isinstance(event, QueryStarted):
            with self._lock:
                self._rows[event.query_id] = {}
        elif isinstance(event, OptimizationCompleted):
            with self._lock:
                self._logical[event.query_id] = json.loads(event.optimized_plan)
        elif isinstance(event, ExecutionStarted):
            with self._lock:
                logical = self._logical.pop(event.query_id, None)
            if logical is None or not _KEEP.search(json.dumps(logical)):
                nodes = {}  # no counted filter in this query
            else:
                nodes = keep_filters(logical, json.loads(event.physical_plan)) or {}
                if not nodes:
                    log.warning("query %s: its plans' filters do not pair up; its funnel "
                                "steps are not counted", event.query_id)
            with self._lock:
                self._nodes[event.query_id] = {n: s for n, s in nodes.items()
                                               if s[0] in self.filters}
        elif isinstance(event, Stats):
            self._stats(event)
        elif isinstance(event, QueryFinished):
            self._finish(event.query_id)

    def _stats(self, event: Stats) -> None:
        with self._lock:
            nodes = self._nodes.get(event.query_id)
            rows = self._rows.setdefault(event.query_id, {})
            if not nodes:
                return
            for node, stats in event.stats.items():
                if int(node) not in nodes:
                    continue
                seen, kept = stats.get("rows.in"), stats.get("rows.out")
                old = rows.get(int(node), (0, 0))
                rows[int(node)] = (int(seen[1]) if seen else old[0],
                                   int(kept[1]) if kept else old[1])

    def _finish(self, query: str) -> None:
        with self._lock:
            nodes = self._nodes.pop(query, {})
            rows = self._rows.pop(query, {})
        by_filter: dict[int, list[tuple[int, int]]] = {}
        for node, (fid, i) in nodes.items():
            f = self.filters[fid]
            counts = by_filter.setdefault(fid, [(0, 0)] * len(f.labels))
            seen, kept = rows.get(node, (0, 0))
            old = counts[i]  # a view read twice in one query: two Filters
            counts[i] = (old[0] + seen, old[1] + kept)
        for fid, counts in by_filter.items():
            metrics.record_funnel(BatchCounts(self.filters[fid], counts, {}, {}))

    def flush(self) -> None:
        """Count the queries still open."""
        with self._lock:
            open_queries = list(self._nodes)
        for query in open_queries:
            self._finish(query)
