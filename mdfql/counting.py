"""Counting filters: a WHERE (HAVING, QUALIFY, DISTINCT ON) whose conjuncts' rows are counted
for the run summary's funnel; this module holds what both ways of counting share.

By default (`SET funnel = 'counts'`) each conjunct is a Daft Filter of its own and Daft's
operator stats count it (`mdfql.counting_stats`): nothing runs in Python per batch. With
`SET funnel = 'detail'` (and for rejects, and on Ray) the compiler passes a filter's conjuncts
to one batch UDF (`mdfql.counting_udf`) and filters on what it returns: their SQL AND (NULL
drops). The UDF also counts, batch by batch and in order, the rows each conjunct saw and
kept (a row dropped by the first is not seen by the second, as datatrove's sequential filters
count), samples the numeric values predicates compare, keeps a few example rows and, when
rejects are on, writes the rows it drops to Parquet. Either way Daft cannot reorder or fuse
the conjuncts, so the counts are exact; the price is that such a filter is not pushed into a
scan (`SET funnel = false` compiles plain filters).

Everything the counters know at compile time is in a `CountedFilter` (labels are SQL text), so
compiling stays pure; the run's tally (`mdfql.metrics`) keys the counts by statement.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import daft
import numpy as np
from sqlglot import exp

from mdfql.options import option_value, parse_option
from mdfql.plan.tree import sql_text

PREVIEW_CHARS = 300  # of the text column, in examples and rejects
EXAMPLES = 3  # rows kept and dropped shown per step
SAMPLE_SIZE = 2_000  # values sampled per signal, among kept and among dropped rows
# Conjuncts one filter counts by operator stats: each is a Project and a Filter of Daft's, and
# Daft recurses per operator (a WHERE of 5,000 ANDs overflowed the stack); past this the
# filter counts in detail, through one UDF.
NATIVE_CONJUNCTS = 16
# Preview columns, by name: the first present of each group
PREVIEW_COLUMNS = (("url",), ("record_id", "id"), ("text", "content"))

# Columns counted filters add to a query's frame: each filter's result and each compared value
KEEP_PREFIX, SIGNAL_PREFIX = "__keep", "__sv"

_ids = itertools.count(1)


def is_counter_column(name: str) -> bool:
    """Whether `name` is a column a counted filter added (no stage needs to keep it)."""
    return name.startswith((KEEP_PREFIX, SIGNAL_PREFIX))


@dataclass(frozen=True)
class CountedFilter:
    """One counted filter as the compiler built it: which view it belongs to, the SQL of each
    conjunct, for each the SQL of the numeric value it compares (a signal) or None, the preview
    columns it carries and whether it writes rejects."""

    view: str
    labels: tuple[str, ...]
    signals: tuple[str | None, ...]
    previews: tuple[str, ...] = ()
    rejects: tuple[str, ...] = ()  # the row's column names, when its dropped rows are kept
    native: bool = False  # counted by Daft's operator stats (`mdfql.counting_stats`)
    fid: int = field(default_factory=lambda: next(_ids))  # compile order: upstream first


@dataclass
class BatchCounts:
    """What one batch of one counted filter did: per conjunct (rows seen, rows kept), signal
    samples by (conjunct, kept) as (keys, values, values seen), examples by (conjunct, kept)."""

    filter: CountedFilter
    counts: list[tuple[int, int]]
    samples: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray, int]]
    examples: dict[tuple[int, bool], list[dict[str, str]]]


def funnel_mode(options: dict[str, Any]) -> str:
    """How the compiler counts filters (`SET funnel`): 'off', 'counts' (Daft's operator
    stats, `mdfql.counting_stats`) or 'detail' (the batch UDF). Rejects need the UDF (it
    writes the rows it drops), and on Ray, where Daft emits no operator stats, it counts."""
    mode = parse_option("funnel", option_value(options, "funnel"))
    if mode == "counts" and (option_value(options, "rejects") is not None
                             or daft.get_or_infer_runner_type() == "ray"):
        return "detail"
    return mode


def predicate_text(node: exp.Expression) -> str:
    """A conjunct's label: its SQL, `x IS NOT NULL` as written (sqlglot renders NOT x IS NULL)."""
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        return f"{sql_text(node.this.this)} IS NOT {sql_text(node.this.expression)}"
    return sql_text(node)


def preview_columns(names: list[tuple[str, str]]) -> dict[str, str]:
    """Preview name -> physical column, from (SQL name, physical) pairs: url, an id, a text."""
    found: dict[str, str] = {}
    lowered = {n.lower(): p for n, p in reversed(names)}
    for group in PREVIEW_COLUMNS:
        for name in group:
            if name in lowered:
                found[name] = lowered[name]
                break
    return found


@dataclass(frozen=True)
class FunnelReply:
    """What the tally answers a batch's counts with: where its rejects go (None: nowhere),
    the statement running, and which (conjunct, kept) sides have all their examples (the
    next batches of this filter skip building those)."""

    rejects: str | None
    statement: int
    full: frozenset[tuple[int, bool]] = frozenset()
