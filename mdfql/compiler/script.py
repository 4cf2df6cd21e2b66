"""Compile a whole script: statements -> bound ASTs -> lazy Daft plans -> a list of actions.

Nothing runs here: every table, column, function and type in the script is checked while the
plans are built, so the first error is reported before any data is read.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import daft
from sqlglot import exp

from mdfql.errors import MdfqlError, Span, did_you_mean
from mdfql.lang.bind import BindEnv, Binder, Macro, literal_value
from mdfql.lang.parse import LoadStatement, Statement, node_span, parse_script
from mdfql.options import parse_option

from .query import PlanContext, QueryCompiler

if TYPE_CHECKING:
    from mdfql.session import Session

ActionKind = Literal["query", "write_table", "write_files", "explain"]


@dataclass
class DeferredView:
    """A view planned on first use: a script that passed a dry run binds, so views it never
    reads (and the inputs their relational operators would materialise) cost nothing."""

    build: Callable[[], daft.DataFrame]


@dataclass
class Action:
    """One thing the executor does: show a query, write a table or files, or explain a plan."""

    kind: ActionKind
    df: daft.DataFrame
    span: Span
    target: str | None = None
    mode: str | None = None
    fmt: str | None = None


@dataclass
class Program:
    """A compiled script: its actions in order, options set, and the functions it uses."""

    actions: list[Action] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    used_functions: set[str] = field(default_factory=set)


def coerce_param(raw: str, default: Any) -> Any:
    """A `--param name=value` string in the type of the declared default."""
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expects true or false, got {raw!r}")
        return raw.lower() in ("true", "1")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


class ScriptCompiler:
    """Walks a script's statements in order, keeping views, macros, parameters and options."""

    def __init__(self, session: Session, text: str, overrides: dict[str, str],
                 dry_run: bool = False, checked: bool = False):
        self.session = session
        self.checked = checked
        self.text = text
        self.overrides = dict(overrides)
        self.program = Program(options=dict(session.options))
        self.env = BindEnv(
            text=text,
            registry=session.registry,
            table_functions=session.sources.names(),
            macros=session.macros,
            params=dict(session.params),
        )
        self.ctx = PlanContext(
            text=text,
            registry=session.registry,
            sources=session.sources,
            resolve_table=session.resolve_table,
            table_names=session.table_names,
            used_functions=self.program.used_functions,
            dry_run=dry_run,
        )

    def error(self, message: str, node: exp.Expression, hint: str | None = None) -> MdfqlError:
        return MdfqlError(message, node_span(node, self.text), hint)

    def compile(self) -> Program:
        for stmt in parse_script(self.text):
            if isinstance(stmt, LoadStatement):
                self.load(stmt)
                continue
            handler = self._handler(stmt.node)
            if handler is None:
                raise MdfqlError(f"unsupported statement: {stmt.node.key.upper()}", stmt.span)
            if not isinstance(stmt.node, exp.Set):  # SET $p = ... declares; others use them
                stmt.node = Binder(self.env).substitute_params(stmt.node)
            handler(stmt)
        unused = set(self.overrides) - set(self.env.params)
        for name in sorted(unused):
            raise MdfqlError(
                f"--param {name} does not match a parameter of this script",
                hint=did_you_mean(name, self.env.params)
                or ("parameters: " + ", ".join(sorted(self.env.params)) if self.env.params
                    else "the script declares no parameters"),
            )
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

    def plan(self, node: exp.Expression) -> daft.DataFrame:
        bound = Binder(self.env).bind(node)
        self.ctx.source_limit = self.program.options.get("limit")
        return QueryCompiler(self.ctx).query(bound)

    def deferred(self, node: exp.Expression) -> DeferredView:
        """Bind now (parameters and macros as defined at this point), plan on first use in a
        context of its own (no CTEs of the query that happens to use it)."""
        bound = Binder(self.env).bind(node)
        ctx = dataclasses.replace(self.ctx, ctes={},
                                  source_limit=self.program.options.get("limit"))
        return DeferredView(lambda: QueryCompiler(ctx).query(bound))

    def emit(self, stmt: Statement, action: Action) -> None:
        if stmt.explain:
            action = Action("explain", action.df, stmt.span, action.target)
        self.program.actions.append(action)

    # --- statements -----------------------------------------------------------------------
    def load(self, stmt: LoadStatement) -> None:
        try:
            importlib.import_module(stmt.module)
        except ImportError as e:
            raise MdfqlError(f"cannot load plugin module '{stmt.module}': {e}", stmt.span) from None

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
            self.session.apply_options(self.program.options)

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
            if self.checked:
                self.session.views[name] = self.deferred(body)
            else:
                self.session.views[name] = self.plan(body)
            return
        if kind == "TABLE":
            ident = ".".join(p.name for p in node.this.parts)
            mode = "replace" if node.args.get("replace") else "create"
            self.emit(stmt, Action("write_table", self.plan(body), stmt.span, ident, mode))
            return
        raise self.error(f"CREATE {kind} is not supported", node)

    def insert(self, stmt: Statement) -> None:
        node = stmt.node
        target = node.this
        if isinstance(target, exp.Schema):
            raise self.error("INSERT with a column list is not supported; select the columns", node)
        ident = ".".join(p.name for p in target.parts)
        self.emit(stmt, Action("write_table", self.plan(node.expression), stmt.span, ident,
                               "append"))

    def copy(self, stmt: Statement) -> None:
        node = stmt.node
        files = node.args.get("files") or []
        if len(files) != 1 or not isinstance(files[0], exp.Literal):
            raise self.error("COPY (query) TO 'path' takes one path", node)
        fmt = "parquet"
        for param in node.args.get("params") or []:
            key = param.this.name.lower()
            if key != "format":
                raise self.error(f"unknown COPY option '{key}'", param, "use (FORMAT parquet)")
            fmt = param.expression.name.lower()
            if fmt not in ("parquet", "jsonl", "json"):
                raise self.error(f"unknown COPY format '{fmt}'", param,
                                 "use FORMAT parquet or FORMAT jsonl")
        query = node.this.this if isinstance(node.this, exp.Subquery) else node.this
        if isinstance(query, exp.Table):
            query = exp.select("*").from_(query)
        self.emit(stmt, Action("write_files", self.plan(query), stmt.span, files[0].this,
                               "overwrite", "jsonl" if fmt == "json" else fmt))

    def query(self, stmt: Statement) -> None:
        self.emit(stmt, Action("query", self.plan(stmt.node), stmt.span))
