"""A relation in scope: a lazy DataFrame plus how SQL names map onto its physical columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import daft

from mdfql.errors import MdfqlError, Span, did_you_mean
from mdfql.plan.tree import PlanNode


@dataclass(frozen=True)
class ColumnRef:
    """A visible column: its qualifier (table alias), SQL name and physical DataFrame column."""

    qualifier: str | None
    name: str
    physical: str


@dataclass
class Relation:
    """A DataFrame and its visible columns, in order (the order `*` expands to)."""

    df: daft.DataFrame
    columns: list[ColumnRef]
    aliases: dict[str, str] = field(default_factory=dict)  # output alias -> physical column
    grouped_away: set[str] = field(default_factory=set)  # input columns hidden by GROUP BY
    # ORDER BY and QUALIFY see SELECT aliases before input columns of the same name (DuckDB)
    aliases_first: bool = False
    plan: PlanNode = field(default_factory=lambda: PlanNode("Query"))
    # physical column -> the length of every list it holds, where known (minhash's
    # num_hashes): how lsh_cluster and minhash_bands check bands x rows before running
    widths: dict[str, int] = field(default_factory=dict)
    # key of a shared costly call (see mdfql.functions.sharing) -> the hidden column holding it
    shared: dict[object, str] = field(default_factory=dict)

    @classmethod
    def of(cls, df: daft.DataFrame, qualifier: str | None, plan: PlanNode | None = None,
           widths: dict[str, int] | None = None) -> Relation:
        return cls(df, [ColumnRef(qualifier, n, n) for n in df.column_names],
                   plan=plan or PlanNode("Query"), widths=dict(widths or {}))

    def step(self, kind: str, detail: str = "") -> None:
        """Record one more operator on top of this relation's plan tree."""
        self.plan = PlanNode(kind, detail, [self.plan])

    def qualifiers(self) -> set[str]:
        return {c.qualifier.lower() for c in self.columns if c.qualifier}

    def lookup(self, name: str, qualifier: str | None, span: Span | None) -> str | None:
        """Physical column for `[qualifier.]name`; None when absent; error when ambiguous."""
        key = name.lower()
        if self.aliases_first and qualifier is None and key in self.aliases:
            return self.aliases[key]
        hits = [
            c for c in self.columns
            if c.name.lower() == key
            and (qualifier is None or (c.qualifier or "").lower() == qualifier.lower())
        ]
        if len({c.physical for c in hits}) > 1:
            quals = sorted({c.qualifier or "?" for c in hits})
            raise MdfqlError(
                f"column '{name}' is ambiguous", span,
                "qualify it: " + " or ".join(f"{q}.{name}" for q in quals),
            )
        if hits:
            return hits[0].physical
        if qualifier is None and key in self.aliases:
            return self.aliases[key]
        return None

    def missing(self, name: str, qualifier: str | None, span: Span | None) -> MdfqlError:
        """The error for an unknown column, with the closest visible name as a hint."""
        names = [c.name for c in self.columns] + list(self.aliases)
        shown = f"{qualifier}.{name}" if qualifier else name
        if name.lower() in self.grouped_away:
            return MdfqlError(
                f"column '{shown}' must appear in GROUP BY or be used in an aggregate", span,
                f"GROUP BY {shown}, or e.g. any_value({shown})",
            )
        return MdfqlError(f"unknown column '{shown}'", span, did_you_mean(name, names))
