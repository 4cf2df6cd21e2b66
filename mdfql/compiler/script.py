"""Compile a whole script: statements -> bound ASTs -> lazy Daft plans -> a Program.

Compiling is pure: nothing is read or run, and the catalog is only consulted (its views,
macros and options are not changed: a session applies the Program's definitions afterwards).
Every table, column, function and type in the script is checked while the plans are built, so
the first error is reported before any data is read, and one compile serves check, explain
and run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlglot import exp

from mdfql.catalog import Catalog
from mdfql.depth import MAX_PLAN, on_deep_stack
from mdfql.errors import MdfqlError, Span, did_you_mean
from mdfql.lang.bind import BindEnv, Binder, Macro, literal_value
from mdfql.lang.parse import LoadStatement, Statement, node_span, parse_script
from mdfql.options import parse_option
from mdfql.plan.program import Action, Program, View
from mdfql.plan.tree import PlanNode
from mdfql.sinks.catalog import SinkError, parse_ident

from .plugins import load_plugin
from .query import PlanContext, QueryCompiler
from .relation import Relation

# COPY options of FORMAT webdataset (mdfql.sinks.webdataset): the key column, samples per shard
SHARD_OPTIONS = ("key", "shard_size")


def coerce_param(raw: str, default: Any) -> Any:
    """A `--param name=value` string in the type of the declared default."""
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expects true or false, got {raw!r}")
        return raw.lower() in ("true", "1")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expects an integer, got {raw!r}") from None
    if isinstance(default, float):
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expects a number, got {raw!r}") from None
        if not math.isfinite(value):  # SQL has no literal for them: no pipeline means them
            raise ValueError(f"expects a finite number, got {raw!r}")
        return value
    return raw


def daft_reason(e: Exception) -> str:
    """The line of a (Daft) exception that says what is wrong, without its framing."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for line in lines:
        if "DaftError::" in line:
            return line.split("DaftError::", 1)[1].split(" ", 1)[-1]
    return lines[-1] if lines else type(e).__name__


def _steps(node: PlanNode) -> int:
    """The steps a node stands for: a filter counted by operator stats is one per conjunct."""
    counted = node.counted
    return len(counted.labels) if counted is not None and counted.native else 1


def plan_depth(plan: PlanNode) -> int:
    """Steps on the longest path from `plan` to a scan (views read twice counted once)."""
    depth: dict[int, int] = {}
    stack = [(plan, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in depth:
            continue
        if expanded:
            depth[id(node)] = _steps(node) + max((depth[id(c)] for c in node.inputs),
                                                 default=0)
        else:
            stack.append((node, True))
            stack += [(c, False) for c in node.inputs if id(c) not in depth]
    return depth[id(plan)]


def check_plan_depth(plan: PlanNode, span: Span | None) -> None:
    """Refuse a plan deeper than Daft's stacks hold (see mdfql.depth) before building more."""
    depth = plan_depth(plan)
    if depth > MAX_PLAN:
        raise MdfqlError(
            f"plan too deep: {depth} steps on top of each other (the limit is {MAX_PLAN}, "
            "about 1,000 chained views or CTEs)", span,
            "write an intermediate result with CREATE TABLE ... AS and read it back")


class ScriptCompiler:
    """Walks a script's statements in order, keeping views, macros, parameters and options."""

    def __init__(self, catalog: Catalog, text: str, overrides: dict[str, str],
                 base: Path | None = None, load: bool = True):
        self.catalog = catalog
        self.text = text
        self.overrides = dict(overrides)
        self.base = base or Path.cwd()  # where LOAD looks for plugins beside the SQL file
        self.load_plugins = load
        self.statement: Statement | None = None  # the one being compiled
        self.written: set[str] = set()  # tables earlier statements write
        # how statements after a write read the table (looked up when they run)
        self.written_views: dict[str, View] = {}
        self.program = Program(options=dict(catalog.options), macros=dict(catalog.macros))
        # without plugins, stand-ins for their functions go to a registry of this compile only
        registry = catalog.registry if load else catalog.registry.child()
        self.env = BindEnv(
            text=text,
            registry=registry,
            table_functions=catalog.sources.names(),
            macros=self.program.macros,
            params=dict(catalog.params),
            unchecked=None if load else self.program.unchecked,
        )
        self.ctx = PlanContext(
            text=text,
            registry=registry,
            sources=catalog.sources,
            resolve_table=self.resolve_table,
            table_names=lambda: sorted(set(self.program.views)
                                       | set(catalog.table_names(self.program.options))),
            options=self.program.options,
            used_functions=self.program.used_functions,
        )

    def resolve_table(self, name: str) -> View | None:
        """A view this script defined, a table an earlier statement writes, else whatever the
        catalog knows by that name."""
        view = self.program.views.get(name.lower()) or self.written_views.get(name.lower())
        return view if view is not None else self.catalog.lookup_table(name,
                                                                       self.program.options)

    def error(self, message: str, node: exp.Expression, hint: str | None = None) -> MdfqlError:
        return MdfqlError(message, node_span(node, self.text), hint)

    def compile(self) -> Program:
        for stmt in parse_script(self.text):
            if isinstance(stmt, LoadStatement):
                self.load(stmt)
                continue
            self.statement = stmt
            handler = self._handler(stmt.node)
            if handler is None:
                raise MdfqlError(f"unsupported statement: {stmt.node.key.upper()}", stmt.span)
            if not isinstance(stmt.node, exp.Set):  # SET $p = ... declares; others use them
                stmt.node = Binder(self.env).substitute_params(stmt.node)
            try:
                handler(stmt)
            except (MdfqlError, SinkError):
                raise
            except RecursionError:
                raise MdfqlError("statement too deep to compile", stmt.span,
                                 "name intermediate results with CTEs or views") from None
            except Exception as e:  # Daft refusing a plan mdfql's checks let through
                err = MdfqlError(f"cannot plan this statement: {daft_reason(e)}", stmt.span,
                                 "if the SQL looks right this is an mdfql bug: please report "
                                 "it (MDFQL_TRACEBACK=1 shows where it failed)")
                err.internal = e
                raise err from e
        unused = set(self.overrides) - set(self.env.params)
        for name in sorted(unused):
            raise MdfqlError(
                f"--param {name} does not match a parameter of this script",
                hint=did_you_mean(name, self.env.params)
                or ("parameters: " + ", ".join(sorted(self.env.params)) if self.env.params
                    else "the script declares no parameters"),
            )
        self.program.params = dict(self.env.params)
        return self.program

    def _handler(self, node: exp.Expression) -> Callable[[Statement], None] | None:
        handlers: dict[type, Callable[[Statement], None]] = {
            exp.Set: self.set,
            exp.Create: self.create,
            exp.Insert: self.insert,
            exp.Copy: self.copy,
            exp.Select: self.query,
            exp.Union: self.query,
            exp.Except: self.query,
            exp.Intersect: self.query,
            exp.Subquery: self.query,
        }
        return handlers.get(type(node))

    def plan(self, node: exp.Expression, top: bool = True, view: str = "<query>") -> Relation:
        """A statement's query (`top`: its ORDER BY sorts), or a view's (`top=False`, `view`
        its name: what its counted filters are named after)."""
        bound = Binder(self.env).bind(node)
        self.ctx.source_limit = self.program.options.get("limit")
        self.ctx.view = view
        rel = QueryCompiler(self.ctx).query(bound, top)
        check_plan_depth(rel.plan, self.statement.span if self.statement else None)
        return rel

    def emit(self, stmt: Statement, kind: str, rel: Relation, title: str,
             target: str | None = None, mode: str | None = None, fmt: str | None = None
             ) -> None:
        plan = PlanNode(title, "", [rel.plan])
        action = Action(kind, rel.df, stmt.span, plan, target, mode, fmt)  # type: ignore[arg-type]
        if stmt.explain:
            action.kind = "explain"
        self.program.actions.append(action)

    # --- statements -----------------------------------------------------------------------
    def load(self, stmt: LoadStatement) -> None:
        if self.load_plugins:
            load_plugin(stmt.module, self.base, stmt.span)
        else:
            self.program.skipped_loads.append(stmt.module)

    def set(self, stmt: Statement) -> None:
        for item in stmt.node.expressions:
            eq = item.this
            if not isinstance(eq, exp.EQ):
                raise self.error("SET takes key = value", item)
            try:
                value = literal_value(eq.expression)
            except ValueError:
                raise self.error("SET needs a literal value", eq.expression) from None
            target = eq.this
            if isinstance(target, exp.Placeholder):
                name = target.name
                if name in self.overrides:
                    try:
                        value = coerce_param(self.overrides[name], value)
                    except ValueError as e:
                        raise MdfqlError(f"--param {name}: {e}", stmt.span) from None
                self.env.params[name] = value
                continue
            key = ".".join(p.name for p in target.parts) if isinstance(target, exp.Column) \
                else target.name
            self.program.options[key.lower()] = parse_option(key, value, node_span(target,
                                                                                   self.text))

    def create(self, stmt: Statement) -> None:
        node = stmt.node
        kind = (node.args.get("kind") or "").upper()
        if kind == "MACRO":
            udf = node.this
            name = udf.this.name if isinstance(udf.this, exp.Table) else udf.name
            params = [p.name.lower() for p in udf.expressions]
            self.env.macros[name.lower()] = Macro(name, params, node.expression)
            return
        body = node.expression
        if body is None:
            raise self.error(f"CREATE {kind} needs AS <query>", node)
        if kind == "VIEW":
            name = node.this.name.lower()
            rel = self.plan(body, top=False, view=name)
            self.program.views[name] = View(name, rel.df, PlanNode("View", name, [rel.plan]),
                                            rel.widths)
            return
        if kind == "TABLE":
            ident = ".".join(p.name for p in node.this.parts)
            mode = "replace" if node.args.get("replace") else "create"
            title = f"{'CREATE OR REPLACE' if mode == 'replace' else 'CREATE'} TABLE {ident}"
            rel = self.plan(body)
            self.check_sink(rel, ident, mode, node.this)
            self.emit(stmt, "write_table", rel, title, ident, mode)
            return
        raise self.error(f"CREATE {kind} is not supported", node)

    def insert(self, stmt: Statement) -> None:
        node = stmt.node
        target = node.this
        if isinstance(target, exp.Schema):
            raise self.error("INSERT with a column list is not supported; select the columns", node)
        ident = ".".join(p.name for p in target.parts)
        rel = self.plan(node.expression)
        self.check_sink(rel, ident, "append", target)
        self.emit(stmt, "write_table", rel, f"INSERT INTO {ident}", ident, "append")

    def copy(self, stmt: Statement) -> None:
        node = stmt.node
        files = node.args.get("files") or []
        if len(files) != 1 or not isinstance(files[0], exp.Literal):
            raise self.error("COPY (query) TO 'path' takes one path", node)
        fmt, mode = "parquet", "replace"
        options: dict[str, exp.Expression] = {}
        for param in node.args.get("params") or []:
            key = param.this.name.lower()
            if key == "overwrite":  # into a folder holding files no COPY wrote (files.py)
                if param.expression is None or param.expression.name.lower() == "true":
                    mode = "overwrite"
                continue
            if key in SHARD_OPTIONS:
                options[key] = param
                continue
            if key != "format":
                raise self.error(f"unknown COPY option '{key}'", param,
                                 "use (FORMAT parquet|jsonl|webdataset [, OVERWRITE]) "
                                 "(webdataset also: KEY 'column', SHARD_SIZE n)")
            fmt = param.expression.name.lower()
            if fmt not in ("parquet", "jsonl", "json", "webdataset"):
                raise self.error(f"unknown COPY format '{fmt}'", param,
                                 "use FORMAT parquet, FORMAT jsonl or FORMAT webdataset")
        query = node.this.this if isinstance(node.this, exp.Subquery) else node.this
        if isinstance(query, exp.Table):
            query = exp.select("*").from_(query)
        fmt = "jsonl" if fmt == "json" else fmt
        rel = self.plan(query)
        shard_options = self.shard_options(options, fmt, rel, node)
        self.emit(stmt, "write_files", rel, f"COPY TO '{files[0].this}' ({fmt})",
                  files[0].this, mode, fmt)
        self.program.actions[-1].options = shard_options

    def shard_options(self, given: dict[str, exp.Expression], fmt: str, rel: Relation,
                      node: exp.Expression) -> dict[str, Any]:
        """The webdataset options of a COPY, checked against the query's columns."""
        from mdfql.sinks.webdataset import DEFAULT_KEY

        if given and fmt != "webdataset":
            param = next(iter(given.values()))
            raise self.error(f"COPY option '{param.this.name.lower()}' is for FORMAT "
                             "webdataset", param)
        if fmt != "webdataset":
            return {}
        found: dict[str, Any] = {"key": DEFAULT_KEY}
        for key, param in given.items():
            try:
                value = literal_value(param.expression)
            except (ValueError, AttributeError):
                value = None
            if key == "shard_size" and not (isinstance(value, int) and value >= 1):
                raise self.error("SHARD_SIZE must be a whole number of samples >= 1", param)
            if key == "key" and not (isinstance(value, str) and value):
                raise self.error("KEY must name a column, e.g. KEY 'id'", param)
            found[key] = value
        columns = [c for c in rel.df.column_names if not c.startswith("__")]
        if found["key"] not in rel.df.column_names:
            at = given.get("key", node)
            raise self.error(f"COPY to webdataset: the query has no column '{found['key']}' "
                             "for the samples' keys", at,
                             "name the key column with KEY 'column'"
                             + (f" (columns: {', '.join(columns)})" if columns else ""))
        return found

    def check_sink(self, rel: Relation, ident: str, mode: str, target: exp.Expression) -> None:
        """Refuse now what writing the table would refuse later: its name, the query's column
        types and, for INSERT, the existing table's columns (catalog metadata only). A table
        an earlier statement writes, or a trial run's (`SET limit`: it writes a scratch table
        instead), is checked for its name only."""
        try:
            parse_ident(ident)
            earlier = ident.lower() in self.written
            self.written.add(ident.lower())
            if self.program.options.get("limit"):
                return  # (a trial run writes a scratch table: later reads see the real one)
            if not (self.program.unchecked or earlier):
                # (plugin stand-ins' columns have no real type to check)
                self.catalog.check_write(rel.df, ident, mode, self.program.options)
            if (not earlier or mode != "append") and not self.program.unchecked:
                self.written_views[ident.lower()] = self.catalog.written_table(
                    rel.df, ident, mode, self.program.options)
        except SinkError as e:
            raise self.error(e.message, target, e.hint) from None

    def query(self, stmt: Statement) -> None:
        self.emit(stmt, "query", self.plan(stmt.node), "Query")


def compile_script(catalog: Catalog, text: str, filename: str = "<sql>",
                   params: dict[str, str] | None = None, load: bool = True) -> Program:
    """Parse, bind and plan a script against `catalog`; errors carry the text for carets.

    LOADs find plugins beside `filename` (the current directory for `<sql>`); `load=False`
    imports none and lets their functions stand unchecked (`Program.unchecked`)."""
    base = Path(filename).resolve().parent if filename != "<sql>" else Path.cwd()
    try:
        return on_deep_stack(ScriptCompiler(catalog, text, params or {}, base, load).compile)
    except MdfqlError as e:
        raise e.attach_source(text, filename) from None
    except SinkError as e:
        raise MdfqlError(e.message, hint=e.hint).attach_source(text, filename) from None


def declared_runner(text: str) -> tuple[str | None, str | None]:
    """The `SET runner` / `SET ray.address` a script declares (read before compiling: the
    runner must be chosen before any plan is built). A script that does not parse declares
    none: compiling it next reports the error, with its file name."""
    try:
        statements = on_deep_stack(parse_script, text)
    except MdfqlError:
        return None, None
    found: dict[str, str] = {}
    for stmt in statements:
        if isinstance(stmt, LoadStatement) or not isinstance(stmt.node, exp.Set):
            continue
        for item in stmt.node.expressions:
            eq = item.this
            if isinstance(eq, exp.EQ) and isinstance(eq.expression, exp.Literal):
                key = ".".join(p.name for p in eq.this.parts) \
                    if isinstance(eq.this, exp.Column) else eq.this.name
                found[key.lower()] = str(eq.expression.this)
    return found.get("runner"), found.get("ray.address")
