"""Compile SELECT queries (CTEs, joins, grouping, windows, QUALIFY, DISTINCT ON, ORDER BY,
LIMIT, set operations) into lazy Daft DataFrames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import daft
import daft.functions as F
from daft import DataType, Expression, Series, Window, col
from sqlglot import exp

from mdfql.counting import (
    NATIVE_CONJUNCTS,
    SIGNAL_PREFIX,
    CountedFilter,
    funnel_mode,
    is_counter_column,
    predicate_text,
    preview_columns,
)
from mdfql.counting_stats import counted_conjuncts
from mdfql.counting_udf import counting_filter
from mdfql.dedup.ids import hashable as _hashable
from mdfql.dedup.ids import row_id
from mdfql.dedup.ranking import (
    DISTINCT_KEY,
    DISTINCT_ORDER,
    FIRST_PER_KEY,
    RANK_ORDER,
    RANK_PARTITION,
    RANK_WINDOW,
)
from mdfql.errors import MdfqlError, did_you_mean
from mdfql.functions.ranks import RankWindow
from mdfql.functions.registry import FunctionSpec, Registry
from mdfql.io.inputs import recording
from mdfql.lang.bind import literal_arg, literal_value, match_args
from mdfql.lang.parse import node_span
from mdfql.options import option_value
from mdfql.plan.program import View
from mdfql.plan.stages import NODE, RelationalStage
from mdfql.plan.tree import PlanNode, sql_text
from mdfql.sinks.catalog import SinkError

from .batches import coalesced
from .expressions import ExprCompiler, is_aggregate_call
from .relation import ColumnRef, Relation


@dataclass
class PlanContext:
    """What the planner consults: the script text, catalogs, and named relations in scope."""

    text: str
    registry: Registry
    sources: Registry
    resolve_table: Callable[[str], View | None]
    table_names: Callable[[], list[str]]
    options: dict[str, Any] = field(default_factory=dict)
    ctes: dict[str, View] = field(default_factory=dict)
    used_functions: set[str] = field(default_factory=set)
    source_limit: int | None = None
    stages: list[RelationalStage] = field(default_factory=list)
    view: str = "<query>"  # the view (or CTE) being compiled: what its counted filters name


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    """The terms of `a AND (b AND c) ...`, in order (without recursing: chains can be long)."""
    found: list[exp.Expression] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, exp.And):
            stack += [n.expression, n.this]
        elif isinstance(n, exp.Paren):
            stack.append(n.this)
        else:
            found.append(n)
    return found


def _all(preds: list[Expression]) -> Expression:
    """The conjunction of `preds` as a balanced tree (Daft recurses per level)."""
    if len(preds) == 1:
        return preds[0]
    mid = len(preds) // 2
    return _all(preds[:mid]) & _all(preds[mid:])


def _outside_windows(node: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Window):
            return False
        parent = parent.parent
    return True


def single_row(value: Expression, rows: Expression, dtype: DataType, shown: str) -> Expression:
    """`value`, or a failed run when the subquery `shown` returned more than one row."""
    def check(value: Series, rows: Series) -> Series:
        if any(n > 1 for n in rows.to_pylist()):
            raise ValueError(f"the subquery {shown} returned {max(rows.to_pylist())} rows; "
                             "a subquery used as a value must return at most one")
        return value

    return daft.func.batch(return_dtype=dtype)(check)(value, rows)


def _unique(found: list[exp.Expression]) -> list[exp.Expression]:
    seen: dict[str, exp.Expression] = {}
    for n in found:
        seen.setdefault(n.sql(), n)
    return list(seen.values())


class QueryCompiler:
    """Compiles one query AST (after binding) into a Relation."""

    def __init__(self, ctx: PlanContext):
        self.ctx = ctx
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"__{prefix}{self.counter}"

    def error(self, message: str, node: exp.Expression, hint: str | None = None) -> MdfqlError:
        return MdfqlError(message, node_span(node, self.ctx.text), hint)

    def exprs(self, rel: Relation, **kw) -> ExprCompiler:
        return ExprCompiler(rel, self.ctx.registry, self.ctx.text, used=self.ctx.used_functions,
                            options=self.ctx.options, **kw)

    # --- queries --------------------------------------------------------------------------
    def query(self, node: exp.Expression, top: bool = False) -> Relation:
        """A query's result: a DataFrame whose columns are the output names, and its plan.

        Only a `top` query (a statement's, not a view's or subquery's) is sorted by its ORDER
        BY: SQL gives the order of a nested query's rows no meaning unless LIMIT/OFFSET uses it,
        and a sort must hold every row."""
        with_ = node.args.get("with_") or node.args.get("with")
        saved = dict(self.ctx.ctes)
        try:
            if with_ is not None:
                for cte in with_.expressions:
                    name = cte.alias_or_name.lower()
                    outer, self.ctx.view = self.ctx.view, name
                    try:
                        sub = self.query(cte.this)
                    finally:
                        self.ctx.view = outer
                    self.ctx.ctes[name] = View(name, sub.df, PlanNode("CTE", name, [sub.plan]),
                                               sub.widths)
            return self._query_body(node, top)
        finally:
            self.ctx.ctes = saved

    def _query_body(self, node: exp.Expression, top: bool) -> Relation:
        if isinstance(node, exp.Subquery):
            return self.query(node.this, top)
        if isinstance(node, exp.Select):
            return self.select(node, top)
        if isinstance(node, (exp.Union, exp.Except, exp.Intersect)):
            return self.set_op(node, top)
        raise self.error(f"expected a query, got {node.key.upper()}", node)

    def set_op(self, node: exp.Union | exp.Except | exp.Intersect, top: bool) -> Relation:
        lrel, rrel = self.query(node.this), self.query(node.expression)
        left, right = lrel.df, rrel.df
        if len(left.column_names) != len(right.column_names):
            raise self.error(
                f"{node.key.upper()} inputs have {len(left.column_names)} and "
                f"{len(right.column_names)} columns", node,
            )
        right = right.select(
            *[col(r).alias(n) for r, n in zip(right.column_names, left.column_names)]
        )
        distinct = node.args.get("distinct", True)
        if isinstance(node, exp.Union):
            out = left.union(right) if distinct else left.union_all(right)
        elif isinstance(node, exp.Except):
            out = left.except_distinct(right) if distinct else left.except_all(right)
        else:
            out = left.intersect(right) if distinct else left.intersect_all(right)
        kind = f"{node.key.capitalize()}{'' if distinct else ' All'}"
        rel = Relation.of(out, None, PlanNode(kind, "", [lrel.plan, rrel.plan]))
        order = node.args.get("order")
        if order is not None and self._sorts(node, top):
            rel = self.sort(rel, order, self.exprs(rel, where="ORDER BY"))
        return self.limit(rel, node)

    @staticmethod
    def _sorts(node: exp.Expression, top: bool) -> bool:
        """Whether a query's ORDER BY must sort its rows (see `query`)."""
        return top or node.args.get("limit") is not None or node.args.get("offset") is not None

    # --- FROM -----------------------------------------------------------------------------
    def table_ref(self, node: exp.Expression) -> Relation:
        alias = node.alias or None
        if isinstance(node, exp.Subquery):
            sub = self.query(node.this)
            return Relation.of(sub.df, alias, sub.plan, sub.widths)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
            with recording() as reads:  # what it reads: the executor checks it before a run
                df = self.table_function(node.this)
            label, span = sql_text(node.this), node_span(node.this, self.ctx.text)
            scan = PlanNode("Scan", label, reads=[r.located(label, span) for r in reads])
            if self.ctx.source_limit is not None:
                scan = PlanNode("Limit", f"{self.ctx.source_limit} (SET limit)", [scan])
            return Relation.of(df, alias or node.this.name, scan)
        if isinstance(node, exp.Table):
            name = ".".join(p.name for p in node.parts)
            view = self.ctx.ctes.get(name.lower())
            if view is None:
                try:
                    view = self.ctx.resolve_table(name)
                except SinkError as e:  # the catalog itself fails (unreachable, ...)
                    raise self.error(e.message, node, e.hint) from None
            if view is None:
                known = list(self.ctx.ctes) + self.ctx.table_names()
                raise self.error(
                    f"unknown table '{name}'", node,
                    did_you_mean(name, known) or ("known tables: " + ", ".join(sorted(known))
                                                  if known else None),
                )
            return Relation.of(view.df, alias or node.name, view.plan, view.widths)
        raise self.error(f"unsupported FROM item: {node.sql()}", node)

    def table_function(self, call: exp.Anonymous) -> daft.DataFrame:
        spec = self.ctx.sources.get(call.name)
        if spec is None:
            raise self.error(
                f"unknown table function {call.name}()", call,
                did_you_mean(call.name, self.ctx.sources.names()),
            )
        bound, _ = match_args(spec, call, self.error)
        kwargs = {p.name: literal_arg(spec, p, bound[p.name], self.error) for p in spec.params}
        try:
            df = spec.build(options=self.ctx.options, **kwargs)
        except MdfqlError:
            raise
        except SinkError as e:
            raise self.error(f"{spec.name}(): {e.message}", call, e.hint) from None
        except (OSError, ValueError, FileNotFoundError) as e:
            raise self.error(f"{spec.name}(): {e}", call) from None
        return df if self.ctx.source_limit is None else df.limit(self.ctx.source_limit)

    def from_(self, node: exp.Select) -> Relation:
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is None:
            return Relation(daft.from_pydict({"__one": [1]}), [], plan=PlanNode("One row"))
        rel = self.table_ref(from_.this)
        for join in node.args.get("joins") or []:
            rel = self.join(rel, join)
        return rel

    def join(self, left: Relation, join: exp.Join) -> Relation:
        right = self.table_ref(join.this)
        taken = set(left.df.column_names)
        renames = {}
        for ref in right.columns:
            if ref.physical in taken:
                renames[ref.physical] = self.fresh(f"{ref.qualifier or 'r'}_{ref.name}_")
        if renames:
            right = Relation(
                right.df.select(*[col(c).alias(renames.get(c, c)) for c in right.df.column_names]),
                [ColumnRef(r.qualifier, r.name, renames.get(r.physical, r.physical))
                 for r in right.columns],
                plan=right.plan,
                widths={renames.get(c, c): w for c, w in right.widths.items()},
            )
        kind = (join.args.get("kind") or "").upper()
        side = (join.args.get("side") or "").upper()
        how = {"SEMI": "semi", "ANTI": "anti", "CROSS": "cross"}.get(kind) or {
            "LEFT": "left", "RIGHT": "right", "FULL": "outer"}.get(side, "inner")
        both = Relation(left.df, left.columns + right.columns)
        left_on: list[Expression] = []
        right_on: list[Expression] = []
        residual: list[exp.Expression] = []
        for name in join.args.get("using") or []:
            left_on.append(self.exprs(left).compile(exp.column(name.name)))
            right_on.append(self.exprs(right).compile(exp.column(name.name)))
        on = join.args.get("on")
        for cond in _conjuncts(on) if on is not None else []:
            pair = self._equi_pair(cond, left, right)
            if pair is None:
                residual.append(cond)
            else:
                left_on.append(pair[0])
                right_on.append(pair[1])
        if residual and how not in ("inner", "cross"):
            raise self.error(
                f"{how.upper()} JOIN conditions must be equalities between the two sides",
                residual[0],
            )
        if not left_on and how != "cross":
            if residual:
                raise self.error("a join needs at least one equality condition", residual[0])
            how = "cross"
        if how == "cross":
            df = left.df.join(right.df, how="cross")
        else:
            left_df, left_on = self._key_columns(left.df, left_on)
            right_df, right_on = self._key_columns(right.df, right_on)
            df = left_df.join(right_df, left_on=left_on, right_on=right_on, how=how)
        on_sql = sql_text(on) if on is not None else ", ".join(
            n.name for n in join.args.get("using") or [])
        out = Relation(df, left.columns if how in ("semi", "anti") else both.columns,
                       plan=PlanNode("Join", f"{how.upper()} ON {on_sql}" if on_sql else
                                     how.upper(), [left.plan, right.plan]),
                       widths={**left.widths, **right.widths})
        for cond in residual:
            pred = self.exprs(out, where="JOIN").condition(cond)  # (may add a shared column)
            out.df = out.df.where(pred)
        return out

    def _key_columns(self, df: daft.DataFrame, keys: list[Expression]
                     ) -> tuple[daft.DataFrame, list[Expression]]:
        """Computed join keys (`f(a.x) = f(b.y)`) become columns first: Daft resolves join keys
        by name and fails on some expressions (those with list lambdas)."""
        computed = {self.fresh("jk"): k for k in keys if not k.is_column()}
        if not computed:
            return df, keys
        names = iter(computed)
        return df.with_columns(computed), [k if k.is_column() else col(next(names))
                                           for k in keys]

    def _equi_pair(
        self, cond: exp.Expression, left: Relation, right: Relation
    ) -> tuple[Expression, Expression] | None:
        if not isinstance(cond, exp.EQ):
            return None
        for a, b in ((cond.this, cond.expression), (cond.expression, cond.this)):
            try:
                return self.exprs(left).compile(a), self.exprs(right).compile(b)
            except MdfqlError:
                continue
        return None

    # --- WHERE ----------------------------------------------------------------------------
    def where(self, rel: Relation, cond: exp.Expression, aliases: dict[str, exp.Expression],
              replacements: dict[str, str] | None = None) -> Relation:
        plain = []
        for c in _conjuncts(cond):
            negated = isinstance(c, exp.Not) and isinstance(c.this, exp.In)
            inner = c.this if negated else c
            if isinstance(inner, exp.In) and inner.args.get("query") is not None:
                rel = self._in_subquery(rel, inner, "anti" if negated else "semi")
            else:
                plain.append(self._inline_aliases(c, rel, aliases))
        if plain:
            compiler = self.exprs(rel, where="WHERE", replacements=replacements or {})
            counted = self._filter(rel, plain, [compiler.condition(c) for c in plain],
                                   [predicate_text(c) for c in plain], compiler)
            rel.step("Filter", "\n".join(sql_text(c) for c in plain))
            rel.plan.counted = counted
        return rel

    def _calls_udf(self, node: exp.Expression) -> bool:
        """Whether `node` calls a function that runs outside Daft (a batch UDF)."""
        return any((spec := self.ctx.registry.get(n.name)) is not None and spec.runs_as != "daft"
                   for n in node.find_all(exp.Anonymous))

    def _coalesced(self, df: daft.DataFrame, nodes: list[exp.Expression] | None = None
                   ) -> daft.DataFrame:
        """`df` in full batches again before a batch UDF (see mdfql.compiler.batches), when
        one of `nodes` calls one (`None`: always)."""
        if nodes is not None and not any(self._calls_udf(n) for n in nodes):
            return df
        return coalesced(df, option_value(self.ctx.options, "batch_rows"))

    def _filter(self, rel: Relation, nodes: list[exp.Expression], preds: list[Expression],
                labels: list[str], compiler: ExprCompiler,
                names: list[tuple[str, str]] | None = None) -> CountedFilter | None:
        """Filter `rel` in place on the conjunction of `preds`: counted (see mdfql.counting)
        unless SET funnel = false. `names`: the (SQL name, physical) columns rows show in
        examples and rejects (default: the relation's visible columns)."""
        mode = funnel_mode(self.ctx.options)
        if mode == "off":
            rel.df = self._coalesced(rel.df, nodes).where(_all(preds))
            return None
        if mode == "counts" and len(preds) <= NATIVE_CONJUNCTS:
            f = CountedFilter(self.ctx.view, tuple(labels), (None,) * len(labels), native=True)
            rel.df = counted_conjuncts(rel.df, f, preds,
                                       lambda i, df: self._coalesced(df, nodes[i:i + 1]))
            return f
        rel.df = self._coalesced(rel.df)  # the counting filter is a batch UDF itself
        if names is None:
            names = [(c.name, c.physical) for c in rel.columns]
            names = list(rel.aliases.items()) + names if rel.aliases_first else names
        names = [(n, p) for n, p in names if not n.startswith("__")]
        previews = preview_columns(names)
        signals = {i: v for i, node in enumerate(nodes)
                   if (v := self._signal(node, compiler)) is not None}
        if signals:  # each value computed once, then read by its conjunct and its sample
            held = {self.fresh(SIGNAL_PREFIX.lstrip("_")): signals[i] for i in sorted(signals)}
            rel.df = rel.df.with_columns({p: v for p, (_, v) in held.items()})
            again = replace(compiler, replacements={
                **compiler.replacements, **{side.sql(): p for p, (side, _) in held.items()}})
            for i, physical in zip(sorted(signals), held):
                preds[i] = again.condition(nodes[i])
                signals[i] = (signals[i][0], col(physical))
        row: dict[str, Expression] = {}
        if option_value(self.ctx.options, "rejects") is not None:
            for name, physical in names:
                row.setdefault(name.lower(), col(physical))
        f = CountedFilter(self.ctx.view, tuple(labels),
                          tuple(sql_text(signals[i][0]) if i in signals else None
                                for i in range(len(labels))),
                          tuple(previews), tuple(row))
        rel.df = counting_filter(rel.df, f, preds, {i: e for i, (_, e) in signals.items()},
                                 {name: col(p) for name, p in previews.items()},
                                 list(row.values()))
        return f

    @staticmethod
    def _signal(node: exp.Expression, compiler: ExprCompiler
                ) -> tuple[exp.Expression, Expression] | None:
        """The computed numeric side of a comparison (`lid.score > 0.65`): a signal."""
        if not isinstance(node, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)):
            return None
        for side in (node.this, node.expression):
            if isinstance(side, (exp.Literal, exp.Null, exp.Boolean)) \
                    or (isinstance(side, exp.Column) and not side.table):
                continue
            try:
                value = compiler.compile(side)
                dtype = compiler.dtype(value)
            except MdfqlError:
                continue
            if dtype.is_numeric() and not value.is_column():
                return side, value
        return None

    def _inline_aliases(self, node: exp.Expression, rel: Relation,
                        aliases: dict[str, exp.Expression]) -> exp.Expression:
        """DuckDB lets WHERE name a SELECT alias: inline its expression when no column has it."""
        def sub(n: exp.Expression) -> exp.Expression:
            if (isinstance(n, exp.Column) and not n.table and n.name.lower() in aliases
                    and rel.lookup(n.name, None, None) is None):
                return exp.Paren(this=aliases[n.name.lower()].copy())
            return n

        return node.copy().transform(sub, copy=False)

    def scalar_subqueries(self, rel: Relation, trees: list[exp.Expression],
                          select: exp.Select) -> dict[str, str]:
        """`(SELECT one value ...)` used as an expression of `select` in `trees`: each becomes
        a column of `rel` (the subquery's one row, cross-joined: Daft broadcasts it), by its
        SQL text.
        No row gives NULL; more than one fails the run, as in DuckDB and Postgres. The
        subquery is its own plan: one over the same input reads (and computes) it again."""
        found = _unique([n for tree in trees for n in tree.find_all(exp.Subquery)
                         if not (isinstance(n.parent, exp.In) and n.arg_key == "query")
                         and _outside_windows(n) and n.find_ancestor(exp.Select) is select])
        replacements: dict[str, str] = {}
        for node in found:
            if node.sql() in replacements:
                continue
            sub = self.query(node.this)
            if len(sub.df.column_names) != 1:
                raise self.error("a subquery used as a value must return one column, this "
                                 f"one returns {len(sub.df.column_names)}", node)
            value, rows = self.fresh("sq"), self.fresh("sqn")
            name = sub.df.column_names[0]
            dtype = sub.df.schema()[name].dtype
            one = sub.df.agg(col(name).any_value().alias(value), col(name).count(mode="all")
                             .alias(rows))
            one = one.select(single_row(col(value), col(rows), dtype, sql_text(node))
                             .alias(value))
            rel.df = rel.df.join(one, how="cross")
            rel.plan = PlanNode("Join", f"CROSS: the value of {sql_text(node)}",
                                [rel.plan, sub.plan])
            replacements[node.sql()] = value
        return replacements

    def _in_subquery(self, rel: Relation, node: exp.In, how: str) -> Relation:
        subrel = self.query(node.args["query"].this)
        sub = subrel.df
        if len(sub.column_names) != 1:
            raise self.error("IN (subquery) needs a subquery with exactly one column", node)
        key = self.fresh("in")
        sub = sub.select(col(sub.column_names[0]).alias(key))
        left = self.exprs(rel, where="WHERE").compile(node.this)
        kind = "NOT IN" if how == "anti" else "IN"
        return Relation(rel.df.join(sub, left_on=[left], right_on=[col(key)], how=how),
                        rel.columns, plan=PlanNode(
                            "Join", f"{how.upper()}: {sql_text(node.this)} {kind} "
                            "(subquery)", [rel.plan, subrel.plan]), widths=rel.widths)

    # --- SELECT ---------------------------------------------------------------------------
    def select(self, node: exp.Select, top: bool = False) -> Relation:
        items = node.expressions
        aliases = {i.alias.lower(): i.this for i in items if isinstance(i, exp.Alias)}
        rel = self.from_(node)
        having = node.args.get("having")
        qualify = node.args.get("qualify")
        order = node.args.get("order")
        extra = [c.this for c in (having, qualify) if c is not None]
        extra += [o.this for o in order.expressions] if order is not None else []
        aggs = _unique([
            n for tree in [*items, *extra] for n in tree.find_all(exp.Anonymous)
            if is_aggregate_call(n, self.ctx.registry) and _outside_windows(n)
            and n.find_ancestor(exp.Select) is node  # not a subquery's
        ])
        group = node.args.get("group")
        grouping = group is not None or bool(aggs)
        where = node.args.get("where")
        # scalar subqueries: a one-row column each, joined on before they are read
        replacements = self.scalar_subqueries(
            rel, ([where.this] if where is not None else []) + ([] if grouping
                                                                else [*items, *extra]), node)
        if where is not None:
            rel = self.where(rel, where.this, aliases, replacements)
        if grouping:
            groups = group.expressions if group is not None else []
            keys = [self._group_key(g, items, aliases) for g in groups]
            plan = rel.plan
            rel, replacements = self.aggregate(rel, keys, aggs)
            rel.plan = PlanNode("Aggregate", "\n".join(
                [f"GROUP BY {', '.join(sql_text(k) for k in keys)}"] * bool(keys)
                + [sql_text(a) for a in aggs]), [plan])
            replacements.update(self.scalar_subqueries(rel, [*items, *extra], node))
        if having is not None:
            hc = self.exprs(rel, replacements=replacements, where="HAVING")
            label = f"HAVING {sql_text(having.this)}"
            counted = self._filter(rel, [having.this], [hc.condition(having.this)], [label], hc)
            rel.step("Filter", label)
            rel.plan.counted = counted
        windows = _unique([n for tree in [*items, *extra] for n in tree.find_all(exp.Window)
                           if n.find_ancestor(exp.Select) is node])
        if windows:
            needed = self._needed_after_windows(rel, items, extra, node)
            rel, replacements = self.windows(rel, windows, replacements, needed)

        compiler = self.exprs(rel, replacements=replacements, where="SELECT")
        outputs: list[tuple[str, str]] = []
        computed: dict[str, Expression] = {}
        for item in items:
            outputs += self._star(rel, item) if self._is_star(item) else []
            if not self._is_star(item):
                physical = self.fresh("s")
                computed[physical] = compiler.compile(item.unalias())
                outputs.append((item.alias_or_name, physical))
                width = compiler.width(item.unalias())
                if width is not None:
                    rel.widths[physical] = width
        if computed:
            rel.df = self._coalesced(rel.df, [i for i in items if not self._is_star(i)])
            rel.df = rel.df.with_columns(computed)
        rel.aliases = {name.lower(): physical for name, physical in outputs}
        rel.aliases_first = True
        compiler = self.exprs(rel, replacements=replacements, where="QUALIFY")
        if qualify is not None:
            label = f"QUALIFY {sql_text(qualify.this)}"
            counted = self._filter(rel, [qualify.this], [compiler.condition(qualify.this)],
                                   [label], compiler, outputs)
            rel.step("Filter", label)
            rel.plan.counted = counted
        distinct = node.args.get("distinct")
        final = [col(physical).alias(name) for name, physical in outputs]
        widths = {name: rel.widths[physical] for name, physical in outputs
                  if physical in rel.widths}
        self._check_output_names(outputs, node)
        projection = ", ".join(sql_text(i) for i in items)
        if distinct is not None and distinct.args.get("on") is not None:
            rel.df = self._distinct_on(rel, distinct.args["on"], order, compiler, outputs)
        if distinct is not None and distinct.args.get("on") is None:
            rel.step("Project", projection)
            out = Relation.of(rel.df.select(*final).distinct(), None, rel.plan, widths)
            out.step("Distinct")
            if order is not None and self._sorts(node, top):
                out = self.sort(out, order, self.exprs(out, where="ORDER BY"))
        else:
            if order is not None and self._sorts(node, top):
                rel = self.sort(rel, order, self.exprs(rel, replacements=replacements,
                                                       where="ORDER BY"))
            rel.step("Project", projection)
            out = Relation.of(rel.df.select(*final), None, rel.plan, widths)
        return self.limit(out, node)

    def _check_output_names(self, outputs: list[tuple[str, str]], node: exp.Select) -> None:
        seen: set[str] = set()
        for name, _ in outputs:
            if name.lower() in seen:
                raise self.error(
                    f"duplicate output column '{name}'", node,
                    "give one of them another name with AS",
                )
            seen.add(name.lower())

    @staticmethod
    def _is_star(item: exp.Expression) -> bool:
        return isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        )

    def _star(self, rel: Relation, item: exp.Expression) -> list[tuple[str, str]]:
        star = item if isinstance(item, exp.Star) else item.this
        qualifier = item.table if isinstance(item, exp.Column) else None
        if qualifier and qualifier.lower() not in rel.qualifiers():
            raise self.error(f"unknown table '{qualifier}' in {qualifier}.*", item,
                             did_you_mean(qualifier, rel.qualifiers()))
        excluded = {c.name.lower() for c in star.args.get("except_") or
                    star.args.get("except") or []}
        visible = {c.name.lower() for c in rel.columns}
        for name in excluded - visible:
            raise self.error(f"unknown column '{name}' in EXCLUDE", item,
                             did_you_mean(name, visible))
        return [
            (c.name, c.physical) for c in rel.columns
            if (qualifier is None or (c.qualifier or "").lower() == qualifier.lower())
            and c.name.lower() not in excluded and not c.physical.startswith("__")
        ]

    def _group_key(self, g: exp.Expression, items: list[exp.Expression],
                   aliases: dict[str, exp.Expression]) -> exp.Expression:
        if isinstance(g, exp.Literal) and not g.is_string:
            idx = int(g.this)
            if not 1 <= idx <= len(items):
                raise self.error(f"GROUP BY position {idx} is out of range", g)
            return items[idx - 1].unalias()
        if isinstance(g, exp.Column) and not g.table and g.name.lower() in aliases:
            return aliases[g.name.lower()]
        return g

    def aggregate(self, rel: Relation, keys: list[exp.Expression], aggs: list[exp.Expression]
                  ) -> tuple[Relation, dict[str, str]]:
        """GROUP BY: group keys become __g columns, aggregates __a columns.

        Keys and aggregate arguments are computed in a projection first: Daft cannot group by,
        or aggregate over, a UDF expression directly.
        """
        keyc = self.exprs(rel, where="GROUP BY")
        pre: dict[str, Expression] = {}
        replacements: dict[str, str] = {}
        columns: list[ColumnRef] = []
        for k in keys:
            physical = self.fresh("g")
            pre[physical] = keyc.compile(k)
            replacements[k.sql()] = physical
            if isinstance(k, exp.Column):
                columns.append(ColumnRef(k.table or None, k.name, physical))
                for ref in rel.columns:  # unqualified and qualified spellings both resolve
                    if ref.name.lower() == k.name.lower() and (
                        not k.table or (ref.qualifier or "").lower() == k.table.lower()):
                        columns.append(ColumnRef(ref.qualifier, ref.name, physical))

        def hoist(arg: exp.Expression) -> exp.Expression:
            if isinstance(arg, exp.Distinct):
                return exp.Distinct(expressions=[hoist(e) for e in arg.expressions])
            if isinstance(arg, (exp.Column, exp.Star, exp.PropertyEQ, exp.Kwarg, exp.Literal)):
                return arg
            physical = self.fresh("x")
            pre[physical] = keyc.compile(arg)
            return exp.column(physical)

        hoisted = []
        for a in aggs:
            call = a.copy()
            call.set("expressions", [hoist(e) for e in a.expressions])
            hoisted.append(call)
        staged = Relation(rel.df.with_columns(pre) if pre else rel.df,
                          rel.columns + [ColumnRef(None, n, n) for n in pre])
        aggc = self.exprs(staged, where="aggregate")
        agg_exprs = []
        for original, call in zip(aggs, hoisted):
            physical = self.fresh("a")
            agg_exprs.append(aggc.compile(call).alias(physical))
            replacements[original.sql()] = physical
        group_cols = [col(replacements[k.sql()]) for k in keys]
        if group_cols:
            df = staged.df.groupby(*group_cols).agg(*agg_exprs)
        else:
            df = staged.df.agg(*agg_exprs)
        grouped_away = {c.name.lower() for c in rel.columns}
        return Relation(df, columns, grouped_away=grouped_away), replacements

    def windows(self, rel: Relation, windows: list[exp.Window], replacements: dict[str, str],
                needed: set[str]) -> tuple[Relation, dict[str, str]]:
        """Each distinct window call becomes a __w column computed with `.over(...)`; a
        relational operator becomes a stage (see `relational`)."""
        replacements = dict(replacements)
        computed: dict[str, Expression] = {}
        base = self.exprs(rel, replacements=replacements, where="window")

        def flush() -> None:
            if computed:
                rel.df = rel.df.with_columns(computed)
                rel.step("Window", "\n".join(sql_text(x) for x in windows
                                             if replacements.get(x.sql()) in computed))
                computed.clear()

        for at, w in enumerate(windows):
            spec = self.ctx.registry.get(w.this.name) if isinstance(w.this, exp.Anonymous) \
                else None
            if spec is not None and spec.relational:
                flush()  # windows listed before it are computed in its input
                stage = self.rank_stage if isinstance(spec.build, RankWindow) \
                    else self.relational
                later = self._read_by(rel, windows[at + 1:])  # what later windows read
                rel, physical = stage(rel, w, spec, replacements, needed | later)
                replacements[w.sql()] = physical
                needed = needed | {physical}  # the next stage keeps it
                continue
            self._check_over(w, spec)
            fn = self.exprs(rel, replacements=replacements, in_window=True).compile(w.this)
            spec = Window()
            parts = [base.compile(p) for p in w.args.get("partition_by") or []]
            if parts:
                spec = spec.partition_by(*parts)
            order = w.args.get("order")
            if order is not None:
                by, desc, nulls = self._order_keys(order, base)
                spec = spec.order_by(*by, desc=desc, nulls_first=nulls)
            if w.args.get("spec") is not None:
                raise self.error("window frames (ROWS/RANGE ...) are not supported", w)
            physical = self.fresh("w")
            computed[physical] = fn.over(spec)
            replacements[w.sql()] = physical
            needed = needed | {physical}
        flush()
        return rel, replacements

    @staticmethod
    def _read_by(rel: Relation, trees: list[exp.Expression],
                 skip: Callable[[exp.Column], bool] = lambda column: False) -> set[str]:
        """Physical columns of `rel` that `trees` name (but the `skip` ones)."""
        found: set[str] = set()
        for tree in trees:
            for column in tree.find_all(exp.Column):
                if skip(column):
                    continue
                try:
                    physical = rel.lookup(column.name, column.table or None, None)
                except MdfqlError:
                    physical = None  # reported where the column is compiled
                if physical is not None:
                    found.add(physical)
        return found

    def _check_over(self, w: exp.Window, spec: FunctionSpec | None) -> None:
        """What Daft's windows need (see FunctionSpec.over), checked before it fails a run."""
        needs = spec.over if spec is not None else None
        if needs is None:
            return
        missing = [part for part in needs.split(" and ")
                   if not w.args.get("partition_by" if part == "PARTITION BY" else "order")]
        if missing:
            raise self.error(f"{spec.name}() OVER (...) needs {needs} (Daft runs it no "
                             f"other way); this window has no {' and no '.join(missing)}", w,
                             f"e.g. {spec.name}(...) OVER ({needs.replace(' and ', ' ... ')}"
                             " ...)")

    def _needed_after_windows(self, rel: Relation, items: list[exp.Expression],
                              extra: list[exp.Expression], node: exp.Select) -> set[str]:
        """Physical columns of `rel` the SELECT reads besides relational operators' arguments:
        what a relational stage must keep of its input (the rest, e.g. a signature used only
        by `lsh_cluster`, is never spilled)."""
        visible = {r.physical for r in rel.columns}
        needed = {c for c in rel.df.column_names  # aggregates, windows
                  if c not in visible and not is_counter_column(c)}
        for item in items:
            if self._is_star(item):
                needed |= {physical for _, physical in self._star(rel, item)}
        distinct = node.args.get("distinct")
        trees = [*items, *extra] + (list(distinct.args["on"].expressions)
                                    if distinct is not None and distinct.args.get("on") else [])
        return needed | self._read_by(
            rel, trees, lambda column: self._in_relational_args(column)
            or isinstance(column.this, exp.Star)
            or column.find_ancestor(exp.Star) is not None)  # EXCLUDE (...) names

    def _in_relational_args(self, node: exp.Expression) -> bool:
        parent = node.parent
        while parent is not None:
            if isinstance(parent, exp.Window) and isinstance(parent.this, exp.Anonymous):
                spec = self.ctx.registry.get(parent.this.name)
                if spec is not None and spec.relational:
                    return True
            parent = parent.parent
        return False

    def relational(self, rel: Relation, w: exp.Window, spec: FunctionSpec,
                   replacements: dict[str, str], needed: set[str]) -> tuple[Relation, str]:
        """`f(args) OVER ()` for a relational operator: a stage of the plan. Its input keeps
        the columns the query reads later plus a row id and the operator's keys; the
        executor spills that, runs the operator, and the query goes on from the result."""
        if w.args.get("partition_by") or w.args.get("order") or w.args.get("spec"):
            raise self.error(f"{spec.name}() works over the whole relation: use OVER ()", w)
        call = w.this
        bound, _ = match_args(spec, call, self.error)
        self.ctx.used_functions.add(spec.name.lower())
        compiler = self.exprs(rel, replacements=replacements, where="window")
        args: dict[str, Expression] = {}
        options: dict[str, Any] = {}
        for p in spec.params:
            arg = bound[p.name]
            if p.const:
                options[p.name] = literal_arg(spec, p, arg, self.error)
            elif arg is not None and not (isinstance(arg, exp.Null)):
                args[p.name] = compiler.typed(spec, p.name, p.dtype, arg)
        op = spec.build
        probe = rel.df.select(*[a.alias(name) for name, a in args.items()]).schema()
        arg_types = {name: probe[name].dtype for name in args}
        try:
            op.validate(options, {name: compiler.arg_info(arg_types[name], bound[name])
                                  for name in args})
            side = op.side_input(options, self.ctx.resolve_table)
        except ValueError as e:
            raise self.error(f"{spec.name}(): {e}", call) from None
        keep = [c for c in rel.df.column_names if c in needed]
        # Row ids: the id argument, else a hash of the row's own columns (arguments derive
        # from the row anyway).
        node_expr = args["id"] if "id" in args else row_id(rel.df, None)
        keys = op.keys(args, options)
        spill = rel.df.select(*keep, node_expr.alias(NODE),
                              *[k.alias(name) for name, k in keys.items()])
        schema = spill.schema()
        out = self.fresh("w")
        stage = RelationalStage(
            index=len(self.ctx.stages) + 1, name=spec.name, call_sql=sql_text(w),
            op=op, options=options, spill_plan=spill, keep=keep, key_columns=list(keys),
            node_dtype=schema[NODE].dtype, out=out,
            out_dtype=op.dtype(arg_types, schema[NODE].dtype, options), side_plan=side)
        self.ctx.stages.append(stage)
        shown = ", ".join(c for c in keep if not c.startswith("__")) or "none"
        detail = (f"{stage.label}: {stage.call_sql}\n"
                  f"spills {len(keep)} input column(s) ({shown}), the row id and "
                  f"{op.describe(options)}\n"
                  "reads back only row ids and keys; streams the spilled rows with its result")
        plan = PlanNode("Relational", detail, [rel.plan], stage=stage)
        return Relation(stage.output_plan(), rel.columns, rel.aliases, rel.grouped_away,
                        plan=plan, widths=rel.widths), out

    def rank_stage(self, rel: Relation, w: exp.Window, spec: FunctionSpec,
                   replacements: dict[str, str], needed: set[str]) -> tuple[Relation, str]:
        """`percent_rank() / cume_dist() / ntile(n) OVER (PARTITION BY ... ORDER BY ...)`: a
        stage (see `mdfql.dedup.ranking`) that spills the rows the query reads later with a
        row id, the partition keys and the order values, and ranks from those alone."""
        if w.args.get("spec") is not None:
            raise self.error("window frames (ROWS/RANGE ...) are not supported", w)
        bound, _ = match_args(spec, w.this, self.error)
        self.ctx.used_functions.add(spec.name.lower())
        n = literal_arg(spec, spec.params[0], bound["n"], self.error) if spec.params else None
        compiler = self.exprs(rel, replacements=replacements, where="window")
        parts = [compiler.compile(p) for p in w.args.get("partition_by") or []]
        order = w.args.get("order")
        by, desc, nulls = self._order_keys(order, compiler) if order is not None \
            else ([], [], [])
        for node, key in zip([*(w.args.get("partition_by") or []),
                              *(o.this for o in order.expressions)] if order else
                             w.args.get("partition_by") or [], [*parts, *by]):
            dtype = compiler.dtype(key)
            if not (dtype.is_numeric() or dtype.is_string() or dtype.is_boolean()
                    or dtype.is_temporal() or dtype.is_binary() or dtype.is_null()):
                raise self.error(f"{spec.name}() cannot order or partition by {dtype}", node,
                                 "use a number, string, boolean or time")
        group = [f"{RANK_PARTITION}{i}" for i in range(len(parts))]
        ranks = [f"{RANK_ORDER}{i}" for i in range(len(by))]
        keep = [c for c in rel.df.column_names if c in needed]
        spill = rel.df._add_monotonically_increasing_id(NODE).with_columns(
            {**dict(zip(group, parts)), **dict(zip(ranks, by))})
        out = self.fresh("w")
        options = {"function": spec.name, "buckets": n, "partition": group,
                   "order": list(zip(ranks, desc, nulls))}
        stage = RelationalStage(
            index=len(self.ctx.stages) + 1, name=spec.name, call_sql=sql_text(w),
            op=RANK_WINDOW, options=options, spill_plan=spill.select(*keep, NODE, *group, *ranks),
            keep=keep, key_columns=[*group, *ranks], node_dtype=DataType.uint64(), out=out,
            out_dtype=spec.build.dtype)
        self.ctx.stages.append(stage)
        shown = ", ".join(c for c in keep if not c.startswith("__")) or "none"
        plan = PlanNode("Relational", (
            f"{stage.label}: {stage.call_sql}\nspills {len(keep)} input column(s) ({shown}), "
            f"a row id, {len(parts)} partition key(s) and {len(by)} order value(s); ranks "
            "from those alone"), [rel.plan], stage=stage)
        return Relation(stage.output_plan(), rel.columns, rel.aliases, rel.grouped_away,
                        plan=plan, widths=rel.widths), out

    def _order_keys(self, order: exp.Order, compiler: ExprCompiler
                    ) -> tuple[list[Expression], list[bool], list[bool]]:
        by, desc, nulls = [], [], []
        for o in order.expressions:
            by.append(compiler.compile(o.this))
            is_desc = bool(o.args.get("desc"))
            desc.append(is_desc)
            nf = o.args.get("nulls_first")
            nulls.append(bool(nf) if nf is not None else is_desc)
        return by, desc, nulls

    def sort(self, rel: Relation, order: exp.Order, compiler: ExprCompiler) -> Relation:
        by, desc, nulls = self._order_keys(order, compiler)
        out = Relation(rel.df.sort(by, desc=desc, nulls_first=nulls), rel.columns, rel.aliases,
                       plan=rel.plan, widths=rel.widths)
        out.step("Sort", ", ".join(sql_text(o) for o in order.expressions))
        return out

    def _distinct_on(self, rel: Relation, on: exp.Tuple, order: exp.Order | None,
                     compiler: ExprCompiler, outputs: list[tuple[str, str]]) -> daft.DataFrame:
        """DISTINCT ON (keys): the first row per key in ORDER BY order, as a relational stage
        (ranking must see every row): it spills the rows, picks each key's first row from the
        keys and order columns alone, and streams the spilled rows that won.

        Ties (and a missing ORDER BY) are broken by the output columns of fixed-width types
        (numbers, booleans, times) in output order, then by a hash of all output columns (not
        their values: the stage keeps order values of every row), so the kept row is the same
        on every runner and partitioning.
        """
        keys = [compiler.compile(k) for k in on.expressions]
        by, desc, nulls = self._order_keys(order, compiler) if order is not None else ([], [], [])
        schema = rel.df.schema()
        for _, physical in outputs:
            dtype = schema[physical].dtype
            if dtype.is_numeric() or dtype.is_boolean() or dtype.is_temporal():
                by.append(col(physical))
                desc.append(False)
                nulls.append(False)
        ties = {physical: col(physical) for _, physical in outputs
                if _hashable(schema[physical].dtype)}
        if ties:
            by.append(F.hash(F.to_struct(**ties), hash_function="xxhash3_64"))
            desc.append(False)
            nulls.append(False)
        group = [f"{DISTINCT_KEY}{i}" for i in range(len(keys))]
        ranks = [f"{DISTINCT_ORDER}{i}" for i in range(len(by))]
        spill = rel.df._add_monotonically_increasing_id(NODE).with_columns(
            {**dict(zip(group, keys)), **dict(zip(ranks, by))})
        keep = [c for c in rel.df.column_names if not is_counter_column(c)]
        out = self.fresh("dw")
        stage = RelationalStage(
            index=len(self.ctx.stages) + 1, name="distinct_on",
            call_sql=f"DISTINCT ON ({', '.join(sql_text(k) for k in on.expressions)})" + (
                f" first by {', '.join(sql_text(o) for o in order.expressions)}"
                if order is not None else ""),
            op=FIRST_PER_KEY, options={"group": group, "order": list(zip(ranks, desc, nulls))},
            spill_plan=spill.select(*keep, NODE, *group, *ranks), keep=keep,
            key_columns=[*group, *ranks], node_dtype=DataType.uint64(), out=out,
            out_dtype=DataType.bool())
        self.ctx.stages.append(stage)
        rel.plan = PlanNode("Relational", (
            f"{stage.label}: {stage.call_sql}\nspills {len(keep)} column(s), a row id, the "
            f"keys and {len(by)} order value(s); picks each key's first row from those alone"),
            [rel.plan], stage=stage)
        won = Relation(stage.output_plan(), rel.columns)
        rel.plan.counted = self._filter(won, [], [col(out).not_null()], [stage.call_sql],
                                        compiler, outputs)
        return won.df.exclude(out)

    def _count(self, clause: exp.Expression, what: str) -> int:
        """The row count of a LIMIT or OFFSET: a non-negative integer literal."""
        try:
            n = literal_value(clause.expression)
        except ValueError:
            n = None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise self.error(f"{what} takes a non-negative integer literal", clause.expression,
                             f"e.g. {what} 10")
        return n

    def limit(self, rel: Relation, node: exp.Expression) -> Relation:
        offset = node.args.get("offset")
        if offset is not None:
            n = self._count(offset, "OFFSET")
            rel.df = rel.df.offset(n)
            rel.step("Offset", str(n))
        limit = node.args.get("limit")
        if limit is not None:
            n = self._count(limit, "LIMIT")
            rel.df = rel.df.limit(n)
            rel.step("Limit", str(n))
        return rel
