"""A compiled script: what the executor does, in order, and what it defines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import daft

from mdfql.errors import Span
from mdfql.io.inputs import SourceInput
from mdfql.plan.stages import RelationalStage
from mdfql.plan.tree import PlanNode

ActionKind = Literal["query", "write_table", "write_files", "explain"]


@dataclass
class Action:
    """One thing the executor does: show a query, write a table or files, or explain a plan.
    `plan` describes `df` for EXPLAIN and names the relational stages it reads."""

    kind: ActionKind
    df: daft.DataFrame
    span: Span
    plan: PlanNode
    target: str | None = None
    mode: str | None = None
    fmt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the COPY format's (webdataset)

    def stages(self) -> list[RelationalStage]:
        return self.plan.stages()

    def sources(self) -> list[SourceInput]:
        return self.plan.sources()


@dataclass
class View:
    """A named query: its lazy plan, its plan tree, and the known lengths of its list columns
    (e.g. a minhash signature's, by column name) for checking their consumers."""

    name: str
    df: daft.DataFrame
    plan: PlanNode
    widths: dict[str, int] = field(default_factory=dict)


@dataclass
class Program:
    """A compiled script: actions in order, options set, functions used, and the views and
    macros it defines (a session applies them after compiling)."""

    actions: list[Action] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    used_functions: set[str] = field(default_factory=set)
    views: dict[str, View] = field(default_factory=dict)
    macros: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    filename: str = "<sql>"  # where the script came from (errors, snapshot summaries)
    text: str = ""
    # compiled without importing plugins (`check --no-load`): the LOADs skipped and the
    # functions nothing declares, whose calls stand for NULLs (such a program is not run)
    skipped_loads: list[str] = field(default_factory=list)
    unchecked: set[str] = field(default_factory=set)

    def sources(self) -> list[SourceInput]:
        """Every source some action reads (an EXPLAIN reads nothing), each once."""
        found: list[SourceInput] = []
        for action in self.actions:
            if action.kind != "explain":
                found += [s for s in action.sources() if not any(s is f for f in found)]
        return found

    def stages(self) -> list[RelationalStage]:
        """Every relational stage some action reads, in the order they must run."""
        found: list[RelationalStage] = []
        for action in self.actions:
            found += [s for s in action.stages() if s not in found]
        return sorted(found, key=lambda s: s.index)
