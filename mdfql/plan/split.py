"""Running a plan one group of input files at a time (what makes a run resumable by file).

A plan can run per group of its input files, with the union of the groups' outputs equal to
the whole plan's output, when it reads exactly one input whose files can be chosen when it
runs, and every operator above that input works row by row. Such inputs are a WARC source
(`read_warc`, which lists `SourceInput.files` when Daft asks for its scan tasks) and a stage's
spilled rows (`SpillScan`, which lists `StageFiles.files` then). Anything that must see every
row at once (a LIMIT, a sort, an aggregate, a join, a DISTINCT) runs whole.

Row ids that depend on position (`_add_monotonically_increasing_id`, which DISTINCT ON's stage
uses: ids are unique, not meaningful) restart in every group's run, so each group's ids are
moved to their own range: bits 48-63 hold the group (Daft puts the partition in bits 36-63,
and a partition count past 2**12 is not expected of one group).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import daft

from mdfql.io.inputs import SourceInput
from mdfql.plan.stages import NODE, RelationalStage
from mdfql.plan.tree import PlanNode

# Daft logical operators that keep each row's output a function of that row alone.
_ROW_WISE = {"Project", "Filter", "UDFProject", "Explode", "Unpivot", "IntoBatches"}
_ID = "MonotonicallyIncreasingId"
GROUP_SHIFT = 48


@dataclass(eq=False)
class Feed:
    """The one input a plan reads, whose files a run may narrow to a group: a WARC source's
    or a stage's spilled rows."""

    source: SourceInput | None = None
    stage: RelationalStage | None = None

    def files(self) -> list[str]:
        """The input's files (paths), in the order the whole plan reads them."""
        if self.source is not None:
            return [f.path for f in self.source.files or []]
        assert self.stage is not None
        return list(self.stage.rows.files or [])

    @contextmanager
    def narrowed(self, paths: list[str]) -> Iterator[None]:
        """While the block runs the plan, it reads only `paths` of the input."""
        if self.source is not None:
            saved_inputs = self.source.files or []
            keep = set(paths)
            self.source.files = [f for f in saved_inputs if f.path in keep]
            try:
                yield
            finally:
                self.source.files = saved_inputs
            return
        assert self.stage is not None
        saved = self.stage.rows.files
        self.stage.rows.files = list(paths)
        try:
            yield
        finally:
            self.stage.rows.files = saved


def _frontier(node: PlanNode) -> list[PlanNode]:
    """The inputs of a plan: its scans and the stages it reads (not what is below those)."""
    if node.stage is not None or node.reads:
        return [node]
    return [leaf for child in node.inputs for leaf in _frontier(child)]


def _operators(df: daft.DataFrame) -> list[dict[str, Any]]:
    """Daft's logical operators of `df`, root first."""
    found, todo = [], [json.loads(df._builder._builder.repr_json(False))]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(node.get("children", []))
    return found


def row_wise(df: daft.DataFrame) -> tuple[bool, bool]:
    """(whether `df` is one source under row-wise operators, whether it numbers rows by
    position into NODE)."""
    operators = _operators(df)
    kinds = [op.get("type") for op in operators]
    ids = [op for op in operators if op.get("type") == _ID]
    if kinds.count("Source") != 1 or len(ids) > 1:
        return False, False
    if ids and ids[0].get("column_name") not in (NODE, [f"col({NODE})"]):
        return False, False
    allowed = _ROW_WISE | {"Source", _ID}
    return all(k in allowed for k in kinds), bool(ids)


def feed_of(plan: PlanNode, df: daft.DataFrame) -> tuple[Feed, bool] | None:
    """The input `df` (described by `plan`) can run per file group on, and whether its row
    ids need moving per group; None when it runs whole."""
    inputs = _frontier(plan)
    if len(inputs) != 1:
        return None
    ok, positional = row_wise(df)
    if not ok:
        return None
    node = inputs[0]
    if node.stage is not None:
        return Feed(stage=node.stage), positional
    if len(node.reads) == 1 and node.reads[0].kind == "warc" and node.reads[0].files:
        return Feed(source=node.reads[0]), positional
    return None


def stage_input(stage: RelationalStage, plans: list[PlanNode]) -> PlanNode | None:
    """The plan below `stage`'s node in one of `plans` (what its spill plan computes)."""
    for plan in plans:
        for node in plan.walk():
            if node.stage is stage and len(node.inputs) == 1:
                return node.inputs[0]
    return None


def with_group_ids(df: daft.DataFrame, group: int) -> daft.DataFrame:
    """`df` with its positional row ids moved to group `group`'s range (see the module doc)."""
    return df.with_column(NODE, daft.col(NODE) + daft.lit(group << GROUP_SHIFT).cast(
        daft.DataType.uint64()))


def groups(paths: list[str], per_group: int) -> list[list[str]]:
    """`paths` in consecutive groups of `per_group` (the last may be smaller)."""
    return [paths[i:i + per_group] for i in range(0, len(paths), per_group)]
