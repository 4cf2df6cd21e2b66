"""`Session`: the interactive entry point and the default catalog. It holds attached tables,
views, macros, parameters, options and a function catalog; compiling a script against it
returns a Program, whose views and macros the session then keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import daft

from mdfql.compiler.script import compile_script, declared_runner
from mdfql.depth import on_deep_stack
from mdfql.errors import MdfqlError
from mdfql.functions.catalog import default_registry
from mdfql.functions.registry import Registry, udf
from mdfql.io.inputs import recording
from mdfql.lang.bind import Macro
from mdfql.plan.program import Program, View
from mdfql.plan.tree import PlanNode
from mdfql.runner import use_runner
from mdfql.sinks.catalog import (
    CatalogConfig,
    CatalogUnreachable,
    SinkError,
    catalog_missing,
    open_catalog,
)
from mdfql.sinks.iceberg import check_write, read_table, table_exists, written_schema
from mdfql.sinks.written import WrittenTableScan, written_source
from mdfql.sources import define_source, source_registry

if TYPE_CHECKING:
    from mdfql.execute import RunSummary


def catalog_config(options: dict[str, Any]) -> CatalogConfig:
    """The Iceberg catalog in effect: SET catalog.* options > environment > defaults."""
    return CatalogConfig.resolve(options={k: str(v) for k, v in options.items()
                                          if k.startswith("catalog.") and v is not None})


class Session:
    """A workspace for SQL over Daft: `session.sql("SELECT ...")` returns a lazy DataFrame."""

    def __init__(self, options: dict[str, Any] | None = None):
        self.registry: Registry = default_registry().child()
        self.sources: Registry = source_registry().child()
        self.tables: dict[str, daft.DataFrame] = {}
        self.views: dict[str, View] = {}
        self.macros: dict[str, Macro] = {}
        self.params: dict[str, Any] = {}
        self.options: dict[str, Any] = dict(options or {})
        define_source(
            "read_iceberg", "table:string snapshot_id:integer=None",
            lambda table, snapshot_id, options: read_table(table, catalog_config(options),
                                                           snapshot_id),
            "An Iceberg table ('namespace.table') of the session's catalog, optionally at a "
            "snapshot.",
            registry=self.sources, with_options=True,
        )

    # --- the catalog interface --------------------------------------------------------------
    def catalog(self) -> CatalogConfig:
        """The Iceberg catalog of this session's options."""
        return catalog_config(self.options)

    def attach(self, name: str, df: daft.DataFrame) -> Session:
        """Make a DataFrame queryable as table `name`."""
        self.tables[name.lower()] = df
        return self

    def lookup_table(self, name: str, options: dict[str, Any]) -> View | None:
        key = name.lower()
        if key in self.views:
            return self.views[key]
        if key in self.tables:
            return View(key, self.tables[key], PlanNode("Table", f"{name} (attached)"))
        if "." in key:
            config = catalog_config(options)
            try:
                if not catalog_missing(config) and table_exists(name, config):
                    with recording() as reads:
                        df = read_table(name, config)
                    return View(key, df, PlanNode("Scan", f"iceberg {name}", reads=reads))
            except CatalogUnreachable:
                raise
            except SinkError:
                return None
        return None

    def table_names(self, options: dict[str, Any]) -> list[str]:
        """Views, attached tables and the catalog's Iceberg tables (for suggestions)."""
        return sorted(set(self.views) | set(self.tables) | set(self._iceberg_tables(options)))

    def check_write(self, df: daft.DataFrame, ident: str, mode: str,
                    options: dict[str, Any]) -> None:
        """What writing `df` to Iceberg table `ident` would refuse (see `sinks.check_write`)."""
        check_write(df, ident, mode, catalog_config(options))  # type: ignore[arg-type]

    def written_table(self, df: daft.DataFrame, ident: str, mode: str,
                      options: dict[str, Any]) -> View:
        """Table `ident` as read after a statement writes `df` to it (`mdfql.sinks.written`)."""
        config = catalog_config(options)
        source = written_source(ident)
        scan = WrittenTableScan(ident, config, written_schema(df, ident, mode, config), source)
        return View(ident.lower(), scan.read(),
                    PlanNode("Scan", f"iceberg {ident} (written above)", reads=[source]))

    def _iceberg_tables(self, options: dict[str, Any]) -> list[str]:
        config = catalog_config(options)
        if catalog_missing(config):
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
                params: dict[str, str] | None = None, load: bool = True) -> Program:
        """Parse, bind and plan a script (reads no data, changes nothing in the session).
        Its LOADs import their plugins (running their code) unless `load` is False: then
        their functions are reported in `Program.unchecked` (and it must not be run)."""
        program = compile_script(self, text, filename, params, load)
        program.filename, program.text = filename, text
        return program

    def apply(self, program: Program) -> None:
        """Keep a compiled script's views, macros and options for later scripts."""
        self.views.update(program.views)
        self.macros.update(program.macros)
        self.options.update(program.options)

    def sql(self, text: str, **tables: daft.DataFrame) -> daft.DataFrame:
        """Run a script's definitions and return its last query as a lazy DataFrame.

        A query over a relational operator (`lsh_cluster(...) OVER ()`) runs the operator's
        stage when the DataFrame is first executed (spilling to a temporary directory)."""
        for name, df in tables.items():
            self.attach(name, df)
        program = self.compile(text)
        self.apply(program)
        queries = [a for a in program.actions if a.kind == "query"]
        if not queries:
            raise MdfqlError("the SQL has no query to return").attach_source(text, "<sql>")
        return queries[-1].df

    def run(self, text: str, params: dict[str, str] | None = None, filename: str = "<sql>",
            runner: str | None = None, ray_address: str | None = None,
            **kw: Any) -> RunSummary:
        """Compile and execute a script (views and macros stay defined in the session) on
        `runner` (default: the script's SET runner, else native)."""
        from mdfql.execute import execute

        kind, address = self.runner_of(text, runner, ray_address)
        with use_runner(kind, address):  # before compiling: plans fix the runner
            program = self.compile(text, filename, params)  # every error before any read
            self.apply(program)
            return on_deep_stack(execute, program, catalog=catalog_config(program.options),
                                 functions=self.registry, runner=kind, ray_address=address,
                                 **kw)

    def runner_of(self, text: str, runner: str | None, ray_address: str | None
                  ) -> tuple[str, str | None]:
        """Where a script runs: the caller's choice, else its SET runner / ray.address, else
        the session's options."""
        declared, address = declared_runner(text)
        kind = runner or declared or self.options.get("runner") or "native"
        return kind, ray_address or address or self.options.get("ray.address")

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
