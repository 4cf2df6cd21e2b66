"""What compiling a script may consult: the catalog interface.

The compiler sees names (tables, views, functions, macros, parameters, options), never a
Session: a Session is one implementation; tests and tools can pass their own.
"""

from __future__ import annotations

from typing import Any, Protocol

import daft

from mdfql.functions.registry import Registry
from mdfql.plan.program import View


class Catalog(Protocol):
    """Names a script can refer to that it does not define itself."""

    registry: Registry  # scalar, aggregate and relational functions
    sources: Registry  # table functions (read_warc, read_iceberg, ...)
    macros: dict[str, Any]
    params: dict[str, Any]
    options: dict[str, Any]

    def lookup_table(self, name: str, options: dict[str, Any]) -> View | None:
        """A view or table by name (None when unknown); `options` are the script's SETs so far
        (they may choose the Iceberg catalog)."""
        ...

    def table_names(self, options: dict[str, Any]) -> list[str]:
        """Names to suggest when a table is unknown."""
        ...

    def check_write(self, df: daft.DataFrame, ident: str, mode: str,
                    options: dict[str, Any]) -> None:
        """Raise `mdfql.sinks.catalog.SinkError` for what writing `df` to table `ident`
        (mode 'create', 'replace' or 'append') would refuse; reads metadata only."""
        ...

    def written_table(self, df: daft.DataFrame, ident: str, mode: str,
                      options: dict[str, Any]) -> View:
        """Table `ident` as statements after one writing `df` to it (mode 'create', 'replace'
        or 'append') read it: a view that looks the table up only when it runs."""
        ...
