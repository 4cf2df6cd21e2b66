"""Binding: expand parameters and macros, and check every function call against the catalog.

Runs on the AST of one statement before anything is planned or read, so a misspelt function,
macro or parameter, or a wrong argument count, is reported at its position with a suggestion.
Column and type checks need schemas and happen in the planner, still before data is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from mdfql.errors import MdfqlError, did_you_mean
from mdfql.functions.registry import FunctionSpec, Param, Registry, unchecked_function
from mdfql.lang.parse import locate, node_span

MAX_MACRO_DEPTH = 32


@dataclass
class Macro:
    """`CREATE MACRO name(a, b) AS expr`: an expression template expanded at bind time."""

    name: str
    params: list[str]
    body: exp.Expression


@dataclass
class BindEnv:
    """What binding consults: the script text (for positions), functions, macros, parameters."""

    text: str
    registry: Registry
    table_functions: Iterable[str]
    macros: dict[str, Macro] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    # when a set, unknown functions are not errors but recorded here, with a stand-in in
    # `registry` (`check --no-load`: a plugin not imported may define them)
    unchecked: set[str] | None = None


def to_literal(value: Any) -> exp.Expression:
    """A Python value as a SQL literal node."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def literal_value(node: exp.Expression) -> Any:
    """The Python value of a literal node (numbers, strings, booleans, NULL, negatives, lists)."""
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Neg):
        return -literal_value(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Array) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "list_value"
    ):
        return [literal_value(e) for e in node.expressions]
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    raise ValueError("not a literal")


def is_literal(node: exp.Expression) -> bool:
    try:
        literal_value(node)
    except ValueError:
        return False
    return True


def split_args(call: exp.Anonymous) -> tuple[list[exp.Expression], dict[str, exp.Expression]]:
    """Positional and `name := value` arguments of a call."""
    positional: list[exp.Expression] = []
    named: dict[str, exp.Expression] = {}
    for arg in call.expressions:
        if isinstance(arg, (exp.PropertyEQ, exp.Kwarg)):
            named[arg.this.name.lower()] = arg.expression
        else:
            positional.append(arg)
    return positional, named


def match_args(
    spec: FunctionSpec,
    call: exp.Anonymous,
    error: Callable[[str, exp.Expression], MdfqlError],
) -> tuple[dict[str, exp.Expression | None], list[exp.Expression]]:
    """Map a call's arguments onto a spec's parameters: (by name, variadic extras)."""
    positional, named = split_args(call)
    if spec.unchecked:  # nothing known: every argument is just compiled (columns checked)
        return {}, positional + list(named.values())
    params = spec.params
    bound: dict[str, exp.Expression | None] = {}
    extras: list[exp.Expression] = []
    if len(positional) > len(params) and not spec.variadic:
        raise error(
            f"{spec.name}() takes at most {len(params)} argument(s), got {len(positional)}; "
            f"signature: {spec.signature()}",
            call,
        )
    for i, arg in enumerate(positional):
        if i < len(params):
            bound[params[i].name] = arg
        else:
            extras.append(arg)
    names = {p.name for p in params}
    for key, arg in named.items():
        if key not in names:
            hint = did_you_mean(key, names)
            raise error(
                f"{spec.name}() has no parameter '{key}'"
                + (f" ({hint})" if hint else f"; signature: {spec.signature()}"),
                arg,
            )
        if key in bound:
            raise error(f"{spec.name}() got '{key}' twice", arg)
        bound[key] = arg
    for p in params:
        if p.name not in bound:
            if p.required:
                raise error(
                    f"{spec.name}() is missing argument '{p.name}'; signature: {spec.signature()}",
                    call,
                )
            bound[p.name] = None
    return bound, extras


def literal_arg(spec: FunctionSpec, param: Param, arg: exp.Expression | None,
                error: Callable[..., MdfqlError]) -> Any:
    """The value of the literal argument `arg` of `param`, checked against the parameter's
    declaration (its type, range or allowed values); its default when omitted or NULL."""
    if arg is None or isinstance(arg, exp.Null):
        return None if param.required else param.default
    try:
        value = literal_value(arg)
    except ValueError:
        raise error(f"{spec.name}(): argument '{param.name}' must be a literal value",
                    arg) from None
    problem = param.problem(value)
    if problem is not None:
        hint = did_you_mean(value, [str(c) for c in param.choices]) \
            if param.choices is not None and isinstance(value, str) else None
        raise error(f"{spec.name}(): {param.name} {problem}", arg,
                    hint or f"signature: {spec.signature()}")
    return value


# Nodes with their own planner rules; any other typed function node (sqlglot builds some from
# special syntax, e.g. SUBSTRING(x FROM 2), TRIM(BOTH ...)) becomes a generic call.
_KEEP_TYPED = (exp.Anonymous, exp.Cast, exp.TryCast, exp.Case, exp.If, exp.Array, exp.Struct,
               exp.Binary, exp.Connector, exp.Unary, exp.Predicate)


def _as_generic_call(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.Func) or isinstance(node, _KEEP_TYPED):
        return node
    args = [node.args[k] for k in node.arg_types if node.args.get(k) is not None]
    flat = [a for arg in args for a in (arg if isinstance(arg, list) else [arg])]
    call = exp.Anonymous(this=node.sql_name().lower(), expressions=flat)
    call.meta.update(node.meta)
    return call


class Binder:
    """Rewrites one statement: parameters -> literals, macros -> bodies; checks calls."""

    def __init__(self, env: BindEnv):
        self.env = env

    def error(self, message: str, node: exp.Expression, hint: str | None = None) -> MdfqlError:
        return MdfqlError(message, node_span(node, self.env.text), hint)

    def bind(self, node: exp.Expression) -> exp.Expression:
        node = node.copy()
        node = node.transform(_as_generic_call, copy=False)
        node = self.substitute_params(node)
        node = self._macros(node, depth=0)
        self._check_calls(node)
        return node

    def substitute_params(self, node: exp.Expression) -> exp.Expression:
        """Replace every `$name` with the literal value of that parameter."""
        def sub(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Placeholder):
                name = n.name
                if name not in self.env.params:
                    start = self.env.text.find(f"${name}")
                    span = locate(self.env.text, start, start + len(name)) if start >= 0 else None
                    raise MdfqlError(
                        f"unknown parameter ${name}", span,
                        did_you_mean(name, self.env.params)
                        or f"declare it with SET ${name} = <default>;",
                    )
                return to_literal(self.env.params[name])
            return n

        return node.transform(sub, copy=False)

    def _macros(self, node: exp.Expression, depth: int) -> exp.Expression:
        if depth > MAX_MACRO_DEPTH:
            raise self.error("macro expansion too deep (a macro that calls itself?)", node)

        def sub(n: exp.Expression) -> exp.Expression:
            if not isinstance(n, exp.Anonymous):
                return n
            macro = self.env.macros.get(n.name.lower())
            if macro is None:
                return n
            positional, named = split_args(n)
            if named or len(positional) != len(macro.params):
                raise self.error(
                    f"macro {macro.name}() takes {len(macro.params)} positional argument(s) "
                    f"({', '.join(macro.params)}), got {len(n.expressions)}",
                    n,
                )
            mapping = dict(zip(macro.params, positional))

            def put(m: exp.Expression) -> exp.Expression:
                if isinstance(m, exp.Column) and not m.table and m.name.lower() in mapping:
                    return exp.Paren(this=mapping[m.name.lower()].copy())
                return m

            body = macro.body.copy().transform(put, copy=False)
            return self._macros(body, depth + 1)

        return node.transform(sub, copy=False)

    def _check_calls(self, node: exp.Expression) -> None:
        table_functions = {n.lower() for n in self.env.table_functions}
        for call in node.find_all(exp.Anonymous):
            name = call.name.lower()
            if isinstance(call.parent, exp.Table) and call.arg_key == "this":
                if name not in table_functions:
                    raise self.error(
                        f"unknown table function {call.name}()", call,
                        did_you_mean(name, table_functions),
                    )
                continue
            spec = self.env.registry.get(name)
            if spec is None and self.env.unchecked is not None:
                spec = self.env.registry.add(unchecked_function(name))
                self.env.unchecked.add(name)
            if spec is None:
                candidates = list(self.env.registry.names()) + list(self.env.macros)
                raise self.error(
                    f"unknown function {call.name}()", call, did_you_mean(name, candidates)
                )
            bound, _ = match_args(spec, call, self.error)
            for p in spec.params:
                if p.const:
                    literal_arg(spec, p, bound[p.name], self.error)
            if spec.window_only and not isinstance(call.parent, exp.Window):
                raise self.error(f"{spec.name}() needs an OVER (...) clause", call)
