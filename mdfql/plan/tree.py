"""What a compiled query does, as a tree a user can read: the compiler builds one `PlanNode`
per relational step beside the Daft plan it emits, and `EXPLAIN` prints it (as DuckDB does:
operators top-down, each with the SQL it came from)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp


def sql_text(node: exp.Expression) -> str:
    """A bound expression as SQL, function names as written and literals exact."""
    return node.sql(dialect="duckdb", normalize_functions=False)


@dataclass
class PlanNode:
    """One step: its kind (Scan, Filter, Project, View, Relational, ...), the SQL it runs, and
    its inputs. `stage` is set on the node of a relational stage (the executor runs it);
    `reads` on a scan: the files or table it reads (`mdfql.io.inputs.SourceInput`);
    `counted` on a filter the run counts (`mdfql.counting.CountedFilter`)."""

    kind: str
    detail: str = ""
    inputs: list[PlanNode] = field(default_factory=list)
    stage: Any = None
    reads: list[Any] = field(default_factory=list)
    counted: Any = None

    def walk(self) -> Iterator[PlanNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.inputs:
            yield from child.walk()

    def stages(self) -> list[Any]:
        """The relational stages this plan reads, inputs before the stages that read them."""
        found: list[Any] = []
        for node in self.walk():
            if node.stage is not None and node.stage not in found:
                found.append(node.stage)
        return sorted(found, key=lambda s: s.index)

    def sources(self) -> list[Any]:
        """What the scans of this plan read, each once, in plan order."""
        found: list[Any] = []
        for node in self.walk():
            found += [r for r in node.reads if not any(r is f for f in found)]
        return found

    def render(self, width: int = 100) -> str:
        """The tree as indented text, one operator per line (details wrapped under it)."""
        lines: list[str] = []
        _render(self, "", "", lines, width)
        return "\n".join(lines)


def _render(node: PlanNode, first: str, rest: str, lines: list[str], width: int) -> None:
    """A chain of one-input steps stays at one indent (read it top-down: each step consumes the
    one below); inputs of joins and set operations branch."""
    head = f"{first}{node.kind}"
    detail = " ".join(node.detail.split()) if "\n" not in node.detail else None
    if node.detail and detail is not None and len(head) + 2 + len(detail) <= width:
        lines.append(f"{head}  {detail}")
    else:
        lines.append(head)
        for text in node.detail.splitlines() if node.detail else []:
            lines.append(f"{rest}    {' '.join(text.split())}")
    if len(node.inputs) == 1:
        _render(node.inputs[0], rest, rest, lines, width)
        return
    for i, child in enumerate(node.inputs):
        last = i == len(node.inputs) - 1
        _render(child, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "),
                lines, width)
