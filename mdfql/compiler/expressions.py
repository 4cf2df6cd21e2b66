"""Compile bound SQL expressions into Daft Expressions over a Relation."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import daft.functions as F
from daft import DataType, Expression, col, lit
from sqlglot import exp

from mdfql.errors import MdfqlError, did_you_mean
from mdfql.functions.registry import ArgInfo, FunctionSpec, Registry, type_ok
from mdfql.functions.sharing import sharing
from mdfql.lang.bind import is_literal, literal_arg, literal_value, match_args
from mdfql.lang.parse import node_span
from mdfql.options import option_value
from mdfql.plan.tree import sql_text

from .relation import Relation

_BINARY: dict[type, Callable[[Expression, Expression], Expression]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
    exp.Div: operator.truediv,
    exp.Mod: operator.mod,
    exp.IntDiv: operator.floordiv,
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.And: operator.and_,
    exp.Or: operator.or_,
    exp.NullSafeEQ: lambda a, b: a.eq_null_safe(b),
    exp.DPipe: lambda a, b: F.concat(a.cast(DataType.string()), b.cast(DataType.string())),
    exp.Like: lambda a, b: a.like(b),
    exp.ILike: lambda a, b: a.ilike(b),
}

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.Like,
                exp.ILike)
_OPS = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.IntDiv: "//",
        exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
        exp.And: "AND", exp.Or: "OR", exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.DPipe: "||",
        exp.Like: "LIKE", exp.ILike: "ILIKE"}

_TYPES: dict[exp.DataType.Type, DataType] = {
    exp.DataType.Type.BOOLEAN: DataType.bool(),
    exp.DataType.Type.TINYINT: DataType.int8(),
    exp.DataType.Type.SMALLINT: DataType.int16(),
    exp.DataType.Type.INT: DataType.int32(),
    exp.DataType.Type.BIGINT: DataType.int64(),
    exp.DataType.Type.UTINYINT: DataType.uint8(),
    exp.DataType.Type.USMALLINT: DataType.uint16(),
    exp.DataType.Type.UINT: DataType.uint32(),
    exp.DataType.Type.UBIGINT: DataType.uint64(),
    exp.DataType.Type.FLOAT: DataType.float32(),
    exp.DataType.Type.DOUBLE: DataType.float64(),
    exp.DataType.Type.VARCHAR: DataType.string(),
    exp.DataType.Type.TEXT: DataType.string(),
    exp.DataType.Type.BLOB: DataType.binary(),
    exp.DataType.Type.VARBINARY: DataType.binary(),
    exp.DataType.Type.DATE: DataType.date(),
    exp.DataType.Type.TIMESTAMP: DataType.timestamp("us"),
    exp.DataType.Type.TIMESTAMPTZ: DataType.timestamp("us", "UTC"),
}


def sql_type(node: exp.DataType, error: Callable[[str], MdfqlError]) -> DataType:
    """The Daft type of a SQL type name, including LIST/ARRAY of a known type."""
    if node.this in (exp.DataType.Type.ARRAY, exp.DataType.Type.LIST) and node.expressions:
        return DataType.list(sql_type(node.expressions[0], error))
    if node.this in _TYPES:
        return _TYPES[node.this]
    raise error(f"unsupported type {node.sql()}")


def is_aggregate_call(node: exp.Expression, registry: Registry) -> bool:
    if isinstance(node, exp.Anonymous):
        spec = registry.get(node.name)
        return spec is not None and spec.aggregate
    return False


@dataclass
class ExprCompiler:
    """Turns one SQL expression into a Daft Expression against `relation`.

    `replacements` maps the SQL text of already-computed sub-expressions (group keys,
    aggregates, window calls) to the physical columns that hold them.
    """

    relation: Relation
    registry: Registry
    text: str
    replacements: dict[str, str] = field(default_factory=dict)
    where: str = "expression"
    in_window: bool = False
    used: set[str] = field(default_factory=set)
    # the script's SET values so far (options a function reads, see FunctionSpec.settings)
    options: dict[str, Any] = field(default_factory=dict)
    # while compiling the operands of an operator chain (its outermost operator checks types)
    _in_operator: bool = field(default=False, init=False)
    _operators: dict[int, tuple[exp.Expression, Expression, Expression, Expression]] = field(
        default_factory=dict, init=False)
    _schema: tuple[Any, Any] | None = field(default=None, init=False)  # (df, its schema)

    def error(self, message: str, node: exp.Expression, hint: str | None = None) -> MdfqlError:
        return MdfqlError(message, node_span(node, self.text), hint)

    def compile(self, node: exp.Expression) -> Expression:
        if self.replacements:  # (rendering every sub-expression is quadratic in its depth)
            key = node.sql()
            if key in self.replacements:
                return col(self.replacements[key])
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            if isinstance(node, exp.Paren):
                return handler(self, node)
            # operators inside a call or CASE are checked where their own chain ends
            saved, self._in_operator = self._in_operator, False
            try:
                return handler(self, node)
            finally:
                self._in_operator = saved
        for kind, fn in _BINARY.items():
            if isinstance(node, kind):
                return self.binary(node, fn)
        raise self.error(f"unsupported SQL construct: {node.sql()}", node)

    def binary(self, node: exp.Expression,
               fn: Callable[[Expression, Expression], Expression]) -> Expression:
        """`a op b`, its operand types checked (Daft would fail later, in a traceback) once
        per chain of operators: Daft resolves a type in time quadratic in the depth.
        Integer `%` and `//` by zero give NULL, as in DuckDB (Daft would panic)."""
        outer = not self._in_operator
        self._in_operator = True
        try:
            left, right = self.compile(node.this), self.compile(node.expression)
        finally:
            self._in_operator = not outer
        if isinstance(node, (exp.Mod, exp.IntDiv)) and self.dtype(right).is_integer():
            if is_literal(node.expression) and literal_value(node.expression) == 0:
                raise self.error("division by zero", node.expression)
            right = F.when(right == 0, lit(None)).otherwise(right)
        out = fn(left, right)
        self._operators[id(node)] = (node, left, right, out)
        if outer and self._type_error(out) is not None:
            raise self._operator_error(self._culprit(node))
        return out

    def _type_error(self, expr: Expression) -> Exception | None:
        try:
            self.dtype(expr)
        except Exception as e:  # Daft's type error, raised when the expression is resolved
            return e
        return None

    def _culprit(self, node: exp.Expression) -> exp.Expression:
        """The innermost operator under `node` (whose type does not resolve) that fails."""
        for child in (node.this, node.expression):
            while isinstance(child, exp.Paren):
                child = child.this
            seen = self._operators.get(id(child))
            if seen is not None and self._type_error(seen[3]) is not None:
                return self._culprit(child)
        return node

    def _operator_error(self, node: exp.Expression) -> MdfqlError:
        _, left, right, out = self._operators[id(node)]
        problem = self._type_error(out)
        detail = str(problem).strip().splitlines()[-1] if str(problem).strip() \
            else type(problem).__name__
        verb = ("compare" if isinstance(node, _COMPARISONS) else
                "combine" if isinstance(node, exp.Connector) else "compute")
        return self.error(
            f"cannot {verb} {sql_text(node.this)} ({self.dtype(left)}) "
            f"{_OPS.get(type(node), node.key)} {sql_text(node.expression)} "
            f"({self.dtype(right)})", node,
            "cast one side, e.g. CAST(x AS VARCHAR) or CAST(x AS BIGINT)"
            if isinstance(node, _COMPARISONS) else f"Daft: {detail}")

    def condition(self, node: exp.Expression, what: str | None = None) -> Expression:
        """A WHERE/HAVING/QUALIFY/JOIN/WHEN condition: a boolean expression."""
        expr = self.compile(node)
        dtype = self.dtype(expr)
        if not (dtype.is_boolean() or dtype.is_null()):
            raise self.error(f"{what or self.where} condition {sql_text(node)} is {dtype}, not a "
                             "boolean", node, "compare it, e.g. x > 0 or x IS NOT NULL")
        return expr.cast(DataType.bool()) if dtype.is_null() else expr  # WHERE NULL

    def dtype(self, expr: Expression) -> DataType:
        """The type `expr` has over the relation (raising Daft's error when it has none)."""
        df = self.relation.df
        if self._schema is None or self._schema[0] is not df:
            self._schema = (df, df.schema())
        try:  # resolving against the schema alone: ~100x cheaper than planning a projection
            return expr._to_field(self._schema[1]).dtype
        except Exception:  # what a projection would say, error included
            return df.select(expr.alias("_t")).schema()["_t"].dtype

    # --- leaves ---------------------------------------------------------------------------
    def column(self, node: exp.Column) -> Expression:
        """`name`, `alias.name`, or struct access `name.field[.field...]`."""
        parts = [p.name for p in node.parts]
        qualified = len(parts) >= 2 and parts[0].lower() in self.relation.qualifiers()
        qualifier, name = (parts[0], parts[1]) if qualified else (None, parts[0])
        try:  # (a span costs a scan of the text: found only for an error)
            physical = self.relation.lookup(name, qualifier, None)
        except MdfqlError as e:
            raise MdfqlError(e.message, node_span(node, self.text), e.hint) from None
        if physical is None:
            raise self.relation.missing(name, qualifier, node_span(node, self.text))
        expr = col(physical)
        first = 2 if qualified else 1
        shown = ".".join(parts[:first])
        for part in node.parts[first:]:
            expr = self.field(expr, part.name, part, shown)
            shown += f".{part.name}"
        return expr

    def field(self, base: Expression, name: str, node: exp.Expression, shown: str
              ) -> Expression:
        """`base.name` for a struct `base`, checked: an unknown field is an error listing the
        close ones (DuckDB matches field names case-insensitively, so does this)."""
        dtype = self.dtype(base)
        if dtype.is_null():
            return F.get(base, name)
        if not dtype.is_struct():
            raise self.error(f"{shown} is {dtype}, not a struct: it has no field '{name}'",
                             node)
        fields = list(dtype.fields)
        actual = name if name in fields else next(
            (f for f in fields if f.lower() == name.lower()), None)
        if actual is None:
            close = did_you_mean(name, fields, n=3, cutoff=0.5)
            listing = ", ".join(fields) if len(fields) <= 12 else \
                ", ".join(fields[:12]) + f", ... ({len(fields)} fields)"
            raise self.error(f"{shown} has no field '{name}'", node,
                             f"{close} Its fields: {listing}" if close
                             else f"its fields: {listing}")
        return F.get(base, actual)

    def literal(self, node: exp.Expression) -> Expression:
        value = literal_value(node)
        if isinstance(value, int) and not isinstance(value, bool) and \
                not -(1 << 63) <= value < (1 << 64):
            raise self.error("integer literal out of range: integers are 64-bit", node,
                             "write it as a DOUBLE (e.g. 1.5e37) or as a string")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error("number literal out of range", node,
                             "DOUBLE holds up to about 1.8e308")
        return lit(value)

    # --- calls ----------------------------------------------------------------------------
    def call(self, node: exp.Anonymous) -> Expression:
        spec = self.registry.get(node.name)
        if spec is None:  # the binder checked; a macro body may still name an unknown one
            raise self.error(f"unknown function {node.name}()", node)
        if spec.aggregate and not (self.in_window or self.where == "aggregate"):
            raise self.error(f"aggregate {spec.name}() is not allowed in {self.where}", node)
        if spec.window_only and not self.in_window:
            raise self.error(f"{spec.name}() needs an OVER (...) clause", node)
        if spec.name == "count" and node.expressions and isinstance(node.expressions[0], exp.Star):
            return col(self.relation.df.column_names[0]).count(mode="all")
        if spec.name == "count" and node.expressions and isinstance(
            node.expressions[0], exp.Distinct
        ):
            return self.compile(node.expressions[0].expressions[0]).count_distinct()
        return self.apply(spec, node)

    def apply(self, spec: FunctionSpec, node: exp.Anonymous) -> Expression:
        """Bind arguments to parameters, check literal and type constraints, build."""
        bound, extras = match_args(spec, node, self.error)
        self.used.add(spec.name.lower())
        kwargs: dict[str, Any] = {}
        for p in spec.params:
            arg = bound[p.name]
            if p.const or arg is None:
                kwargs[p.name] = literal_arg(spec, p, arg, self.error)
            else:
                kwargs[p.name] = self.typed(spec, p.name, p.dtype, arg)
        for name, key in spec.settings.items():
            if bound[name] is None:  # not given in the call: the SET option's value
                kwargs[name] = option_value(self.options, key)
        if spec.validate is not None:
            given = [p.name for p in spec.params if not p.const and bound[p.name] is not None]
            try:
                spec.validate({p.name: kwargs[p.name] for p in spec.params if p.const},
                              {n: self.arg_info(self.dtype(kwargs[n]), bound[n]) for n in given})
            except ValueError as e:
                raise self.error(f"{spec.name}(): {e}", node) from None
        try:
            with sharing(self.share):
                if spec.variadic:
                    values = [kwargs[p.name] for p in spec.params]
                    values += [self.typed(spec, "...", "any", a) for a in extras]
                    return spec.build(*values)
                return spec.build(**kwargs)
        except MdfqlError:
            raise
        except Exception as e:  # a builder's own validation (bad option value, ...)
            raise self.error(f"{spec.name}(): {e}", node) from None

    def share(self, key: Any, make: Callable[[], Expression]) -> Expression:
        """A costly call computed once per relation: the first request adds it as a hidden
        column (callers read `relation.df` after compiling), later ones read that column."""
        rel = self.relation
        physical = rel.shared.get(key)
        if physical is None or physical not in rel.df.column_names:
            taken = set(rel.df.column_names)
            physical = next(f"__shared{n}" for n in range(1, len(taken) + 2)
                            if f"__shared{n}" not in taken)
            rel.df = rel.df.with_column(physical, make())
            rel.shared[key] = physical
        return col(physical)

    def arg_info(self, dtype: DataType, arg: exp.Expression | None) -> ArgInfo:
        """What is known of an argument: its type and its list length (from a fixed-size
        type, or followed from the call that made it, see `width`)."""
        width = dtype.size if dtype.is_fixed_size_list() else None
        return ArgInfo(dtype, width if arg is None else self.width(arg) or width)

    def width(self, node: exp.Expression) -> int | None:
        """The length of every list `node` evaluates to, when the plan knows it: a call of a
        function that declares it (minhash's num_hashes), or a column that holds one."""
        while isinstance(node, (exp.Paren, exp.Alias)):
            node = node.this
        if isinstance(node, exp.Column) and len(node.parts) <= 2:
            try:
                physical = self.relation.lookup(node.name, node.table or None, None)
            except MdfqlError:
                return None
            return self.relation.widths.get(physical) if physical else None
        if isinstance(node, exp.Anonymous):
            spec = self.registry.get(node.name)
            if spec is None or spec.list_width is None:
                return None
            bound, _ = match_args(spec, node, self.error)
            return spec.list_width({p.name: literal_arg(spec, p, bound[p.name], self.error)
                                    for p in spec.params if p.const})
        return None

    def typed(self, spec: FunctionSpec, pname: str, dtype: str, arg: exp.Expression) -> Expression:
        expr = self.compile(arg)
        if dtype != "any":
            actual = self.dtype(expr)
            if not type_ok(dtype, actual):
                raise self.error(
                    f"{spec.name}(): argument '{pname}' must be {dtype}, got {actual}", arg
                )
        return expr

    # --- compound -------------------------------------------------------------------------
    def case(self, node: exp.Case) -> Expression:
        subject = node.this
        ifs = node.args.get("ifs") or []
        result = None
        for branch in ifs:
            cond = branch.this if subject is None else exp.EQ(this=subject, expression=branch.this)
            # SQL treats an unknown (NULL) condition as false and moves on to the next WHEN.
            c = self.condition(cond, "WHEN").fill_null(False)
            then = self.compile(branch.args["true"])
            result = F.when(c, then) if result is None else result.when(c, then)
        default = node.args.get("default")
        if result is None:
            raise self.error("CASE needs at least one WHEN", node)
        return result.otherwise(self.compile(default) if default is not None else lit(None))

    def cast(self, node: exp.Cast) -> Expression:
        target = sql_type(node.to, lambda m: self.error(m, node))
        expr = self.compile(node.this)
        return F.try_cast(expr, target) if isinstance(node, exp.TryCast) else expr.cast(target)

    def bracket(self, node: exp.Bracket) -> Expression:
        base = self.compile(node.this)
        if len(node.expressions) != 1:
            raise self.error("only single-element access is supported: x[i] or x['field']", node)
        key = node.expressions[0]
        try:
            value = literal_value(key)
        except ValueError:
            raise self.error("the index in x[...] must be a literal", key) from None
        if isinstance(value, int):
            # SQL lists are 1-based and negative indexes count from the end; sqlglot's DuckDB
            # dialect already shifted the index down by one (x[1] -> 0, x[-1] -> -2)
            if value == -1:
                raise self.error("SQL lists are 1-based: x[1] is the first element", key)
            return F.get(base, value if value >= 0 else value + 1)
        return self.field(base, str(value), key, sql_text(node.this))

    def dot(self, node: exp.Dot) -> Expression:
        return self.field(self.compile(node.this), node.expression.name, node.expression,
                          sql_text(node.this))

    def in_list(self, node: exp.In) -> Expression:
        if node.args.get("query") is not None:
            raise self.error("IN (subquery) is supported as a WHERE condition only", node)
        values = []
        for e in node.expressions:
            try:
                values.append(literal_value(e))
            except ValueError:
                raise self.error("IN (...) lists must hold literal values", e) from None
        return self.compile(node.this).is_in(values)

    def is_(self, node: exp.Is) -> Expression:
        if not isinstance(node.expression, exp.Null):
            return self.compile(node.this).eq_null_safe(self.compile(node.expression))
        return self.compile(node.this).is_null()

    def window(self, node: exp.Window) -> Expression:
        raise self.error("window functions are allowed in SELECT, QUALIFY and ORDER BY only", node)


_HANDLERS: dict[type, Callable[[ExprCompiler, Any], Expression]] = {
    exp.Column: ExprCompiler.column,
    exp.Literal: ExprCompiler.literal,
    exp.Boolean: ExprCompiler.literal,
    exp.Null: ExprCompiler.literal,
    exp.Anonymous: ExprCompiler.call,
    exp.Paren: lambda c, n: c.compile(n.this),
    exp.Not: lambda c, n: ~c.compile(n.this),
    exp.Neg: lambda c, n: F.negate(c.compile(n.this)),
    exp.Case: ExprCompiler.case,
    exp.Cast: ExprCompiler.cast,
    exp.TryCast: ExprCompiler.cast,
    exp.Bracket: ExprCompiler.bracket,
    exp.Dot: ExprCompiler.dot,
    exp.In: ExprCompiler.in_list,
    exp.Between: lambda c, n: c.compile(n.this).between(
        c.compile(n.args["low"]), c.compile(n.args["high"])
    ),
    exp.Is: ExprCompiler.is_,
    exp.Window: ExprCompiler.window,
}
