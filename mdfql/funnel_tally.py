"""The funnel's running counts: what counted filters report, merged into one run's funnel.

Counted filters (`mdfql.counting`) report per batch; this keeps the sums by (statement, filter,
conjunct), merges signal samples (bottom-k: each value carries a uniform random key, the
SAMPLE_SIZE smallest keys are a uniform sample of everything seen, whatever the batches and
workers) and keeps the first examples. Plain data, so it lives in the run's tally (and its Ray
actor) and pickles.
"""

from __future__ import annotations

import numpy as np

from mdfql.counting import EXAMPLES, SAMPLE_SIZE, BatchCounts, CountedFilter
from mdfql.funnel import Example, Funnel, FunnelStep, Signal
from mdfql.plan.tree import PlanNode


def filters_run(plan: PlanNode, ran: list[object]) -> list[CountedFilter]:
    """The counted filters that run when `plan` runs now, upstream first: those below a
    relational stage in `ran` (it ran for an earlier statement) are not run again."""
    found: dict[int, CountedFilter] = {}
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.counted is not None:
            found[node.counted.fid] = node.counted
        if node.stage is None or not any(node.stage is s for s in ran):
            stack += node.inputs
    return [found[k] for k in sorted(found)]


def _smallest(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of the SAMPLE_SIZE smallest keys: a uniform sample of all the values."""
    if len(keys) <= SAMPLE_SIZE:
        return keys, values
    idx = np.argpartition(keys, SAMPLE_SIZE)[:SAMPLE_SIZE]
    return keys[idx], values[idx]


class FunnelCounts:
    """Counts of every counted filter that ran, keyed by statement."""

    def __init__(self) -> None:
        self.steps: dict[tuple[int, int, int], list[int]] = {}
        self.filters: dict[int, CountedFilter] = {}
        # by (statement, view, signal[, kept]); the funnel shows a view's first statement's
        self.samples: dict[tuple[int, str, str, bool], tuple[np.ndarray, np.ndarray]] = {}
        self.seen: dict[tuple[int, str, str], int] = {}
        self.examples: dict[tuple[int, int, int, bool], list[dict[str, str]]] = {}

    def add(self, statement: int, batch: BatchCounts) -> None:
        f = batch.filter
        self.filters.setdefault(f.fid, f)
        for i, (rows_in, rows_out) in enumerate(batch.counts):
            total = self.steps.setdefault((statement, f.fid, i), [0, 0])
            total[0] += rows_in
            total[1] += rows_out
        for (i, kept), (keys, values, seen) in batch.samples.items():
            name = f.signals[i]
            assert name is not None
            key = (statement, f.view, name)
            self.seen[key] = self.seen.get(key, 0) + seen
            self._sample((*key, kept), keys, values)
        for (i, kept), rows in batch.examples.items():
            self._examples((statement, f.fid, i, kept), rows)

    def _sample(self, key: tuple[int, str, str, bool], keys: np.ndarray,
                values: np.ndarray) -> None:
        old = self.samples.get(key)
        if old is not None:
            keys, values = np.concatenate([old[0], keys]), np.concatenate([old[1], values])
        if len(keys) > 2 * SAMPLE_SIZE:  # trimmed now and then, not per batch
            keys, values = _smallest(keys, values)
        self.samples[key] = (keys, values)

    def _examples(self, key: tuple[int, int, int, bool], rows: list[dict[str, str]]) -> None:
        have = self.examples.setdefault(key, [])
        have += rows[:EXAMPLES - len(have)]

    def full(self, statement: int, f: CountedFilter) -> frozenset[tuple[int, bool]]:
        """The (conjunct, kept) sides of `f` in `statement` that have all their examples."""
        return frozenset((i, kept) for i in range(len(f.labels)) for kept in (True, False)
                         if len(self.examples.get((statement, f.fid, i, kept), ())) >= EXAMPLES)

    def expect(self, statement: int, filters: list[CountedFilter]) -> None:
        """Steps of `statement` listed even when no row reached them (zero counts)."""
        for f in filters:
            self.filters.setdefault(f.fid, f)
            for i in range(len(f.labels)):
                self.steps.setdefault((statement, f.fid, i), [0, 0])

    def merge(self, other: FunnelCounts) -> None:
        """Fold another process's counts into these (a Ray run's tally into the driver's)."""
        for key, (rows_in, rows_out) in other.steps.items():
            total = self.steps.setdefault(key, [0, 0])
            total[0] += rows_in
            total[1] += rows_out
        self.filters.update(other.filters)
        for key, n in other.seen.items():
            self.seen[key] = self.seen.get(key, 0) + n
        for key, (keys, values) in other.samples.items():
            self._sample(key, keys, values)
        for key, rows in other.examples.items():
            self._examples(key, rows)

    def funnel(self) -> Funnel:
        """The run's funnel: steps by statement, then compile order (upstream first)."""
        steps = []
        for (statement, fid, i), (rows_in, rows_out) in sorted(self.steps.items()):
            f = self.filters[fid]
            steps.append(FunnelStep(statement, f.view, f.labels[i], rows_in, rows_out))
        signals, shown = [], set()
        for (statement, view, name), count in sorted(self.seen.items()):
            if (view, name) in shown:  # a view read by two statements: sampled in the first
                continue
            shown.add((view, name))
            empty = (np.array([]), np.array([]))
            kept = _smallest(*self.samples.get((statement, view, name, True), empty))[1]
            dropped = _smallest(*self.samples.get((statement, view, name, False), empty))[1]
            signals.append(Signal(view, name, tuple(float(v) for v in kept),
                                  tuple(float(v) for v in dropped), count))
        examples = []
        for (statement, fid, i, kept), rows in sorted(self.examples.items()):
            f = self.filters[fid]
            examples += [Example(statement, f.view, f.labels[i], kept, dict(r)) for r in rows]
        return Funnel(steps, signals, examples)
