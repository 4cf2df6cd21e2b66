"""`Session`: the interactive entry point. It holds attached tables, views, macros, parameters,
options and a function catalog, and compiles SQL into lazy Daft DataFrames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import daft

from mdfql.compiler.script import DeferredView, Program, ScriptCompiler
from mdfql.errors import MdfqlError
from mdfql.functions.registry import Registry, default_registry, udf
from mdfql.lang.bind import Macro
from mdfql.sinks.catalog import CatalogConfig, SinkError, open_catalog
from mdfql.sinks.iceberg import read_table, table_exists
from mdfql.sources import define_source, source_registry

if TYPE_CHECKING:
    from mdfql.execute import RunSummary


class Session:
    """A workspace for SQL over Daft: `session.sql("SELECT ...")` returns a lazy DataFrame."""

    def __init__(self, options: dict[str, Any] | None = None):
        self.registry: Registry = default_registry().child()
        self.sources: Registry = source_registry().child()
        self.tables: dict[str, daft.DataFrame] = {}
        self.views: dict[str, daft.DataFrame | DeferredView] = {}
        self.macros: dict[str, Macro] = {}
        self.params: dict[str, Any] = {}
        self.options: dict[str, Any] = dict(options or {})
        define_source(
            "read_iceberg", "table:string snapshot_id:integer=None",
            lambda table, snapshot_id: read_table(table, self.catalog(), snapshot_id),
            "An Iceberg table ('namespace.table') of the session's catalog, optionally at a "
            "snapshot.",
            registry=self.sources,
        )

    # --- catalog and tables ---------------------------------------------------------------
    def catalog(self) -> CatalogConfig:
        """The Iceberg catalog in effect: SET catalog.* options > environment > defaults."""
        options = {k: str(v) for k, v in self.options.items()
                   if k.startswith("catalog.") and v is not None}
        return CatalogConfig.resolve(options=options)

    def apply_options(self, options: dict[str, Any]) -> None:
        self.options.update(options)

    def attach(self, name: str, df: daft.DataFrame) -> Session:
        """Make a DataFrame queryable as table `name`."""
        self.tables[name.lower()] = df
        return self

    def resolve_table(self, name: str) -> daft.DataFrame | None:
        key = name.lower()
        if key in self.views:
            view = self.views[key]
            if isinstance(view, DeferredView):
                view = self.views[key] = view.build()
            return view
        if key in self.tables:
            return self.tables[key]
        if "." in key:
            try:
                if table_exists(name, self.catalog()):
                    return read_table(name, self.catalog())
            except SinkError:
                return None
        return None

    def table_names(self) -> list[str]:
        """Views, attached tables and the catalog's Iceberg tables (for suggestions)."""
        return sorted(set(self.views) | set(self.tables) | set(self._iceberg_tables()))

    def _iceberg_tables(self) -> list[str]:
        config = self.catalog()
        if config.kind == "sql" and config.uri.startswith("sqlite:///") and not Path(
            config.uri.removeprefix("sqlite:///")
        ).exists():
            return []  # no catalog yet: don't create one just to list nothing
        try:
            catalog = open_catalog(config)
            return [".".join(t) for ns in catalog.list_namespaces()
                    for t in catalog.list_tables(ns)]
        except (SinkError, OSError):
            return []

    def function(self, name: str | None = None, **kwargs: Any) -> Callable:
        """Decorator: register a Python function as a SQL function of this session."""
        return udf(name, registry=self.registry, **kwargs)

    # --- compiling and running ------------------------------------------------------------
    def compile(self, text: str, filename: str = "<sql>",
                params: dict[str, str] | None = None, dry_run: bool = False,
                checked: bool = False) -> Program:
        """Parse, bind and plan a script; errors carry the text for caret rendering.

        `dry_run` plans relational operators (clustering, dedup) over empty tables: the whole
        script is checked and explained without reading any data. `checked` says the script
        already passed a dry run: its views are then planned only when something reads them.
        """
        try:
            program = ScriptCompiler(self, text, params or {}, dry_run, checked).compile()
        except MdfqlError as e:
            raise e.attach_source(text, filename) from None
        except SinkError as e:
            raise MdfqlError(e.message, hint=e.hint).attach_source(text, filename) from None
        return program

    def sql(self, text: str, **tables: daft.DataFrame) -> daft.DataFrame:
        """Run a script's definitions and return its last query as a lazy DataFrame."""
        for name, df in tables.items():
            self.attach(name, df)
        program = self.compile(text)
        queries = [a for a in program.actions if a.kind == "query"]
        if not queries:
            raise MdfqlError("the SQL has no query to return").attach_source(text, "<sql>")
        return queries[-1].df

    def run(self, text: str, params: dict[str, str] | None = None, filename: str = "<sql>",
            **kw: Any) -> RunSummary:
        """Compile and execute a script (views and macros stay defined in the session)."""
        from mdfql.execute import execute

        checked = self.compile(text, filename, params, dry_run=True)  # errors before any read
        return execute(checked, self, **kw,
                       replan=lambda: self.compile(text, filename, params, checked=True))

    def run_file(self, path: str | Path, params: dict[str, str] | None = None,
                 **kw: Any) -> RunSummary:
        """Compile and execute a pipeline file; returns the run's summary."""
        return self.run(Path(path).read_text(encoding="utf-8"), params, str(path), **kw)


_SESSION: Session | None = None


def default_session() -> Session:
    """The module-level session behind `mdfql.sql`."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session()
    return _SESSION


def sql(text: str, **tables: daft.DataFrame) -> daft.DataFrame:
    """`mdfql.sql("SELECT ... FROM read_warc('x.warc.gz')")` -> lazy daft.DataFrame."""
    return default_session().sql(text, **tables)
