"""Function specs and the registry that the binder and planner consult.

A `FunctionSpec` declares a SQL name, its parameters (positional or `name := value`, each with its
type, default and allowed values), its return type (and the meaning of each field of a struct
result), a docstring and how it runs (a Daft built-in expression, a Rust kernel over Arrow
batches, a Python batch UDF or a stateful class UDF with resource hints). `build` turns bound
arguments into a Daft expression: column parameters arrive as Daft expressions, `const`
parameters as Python values, checked against their declaration before `build` sees them.

Parameters are declared as text, one word each (`parse_param`):

    text:string            a column argument of type string
    url:string?            an optional column argument (NULL when omitted)
    unit:string{day|week}! a required literal, one of the values in braces
    n:integer[1..64]=8     a literal option, an integer from 1 to 64, default 8
    t:numeric[0..1]=None   a literal option in [0, 1]; None: the function's own behaviour
    r:string|list=None     a literal of either type
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import daft

REQUIRED: Any = inspect.Parameter.empty

RunsAs = Literal["daft", "rust", "python", "class"]

# Type categories a parameter may demand; checked against the argument's Daft type at plan time.
TYPE_CHECKS: dict[str, Callable[[daft.DataType], bool]] = {
    "any": lambda t: True,
    "string": lambda t: t.is_string() or t.is_null(),
    "binary": lambda t: t.is_binary() or t.is_string() or t.is_null(),
    "numeric": lambda t: t.is_numeric() or t.is_null(),
    "integer": lambda t: t.is_integer() or t.is_null(),
    "bool": lambda t: t.is_boolean() or t.is_null(),
    "list": lambda t: t.is_list() or t.is_fixed_size_list() or t.is_null(),
    "struct": lambda t: t.is_struct() or t.is_null(),
    "temporal": lambda t: t.is_temporal() or t.is_null(),
    "image": lambda t: t.is_image() or t.is_binary() or t.is_null(),
}


def type_ok(dtype: str, actual: daft.DataType) -> bool:
    """Whether a column of type `actual` fits a parameter of type `dtype` ('a|b': either)."""
    return any(TYPE_CHECKS[d](actual) for d in dtype.split("|"))


# What a literal (a Python value from SQL) must be for each parameter type, and how to say it.
LITERAL_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "binary": (lambda v: isinstance(v, (str, bytes)), "a string"),
    "numeric": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "list": (lambda v: isinstance(v, list), "a list"),
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@dataclass(frozen=True)
class Param:
    """One function parameter. `const` ones must be literals (thresholds, options); `low` and
    `high` bound a literal number (inclusive), `choices` lists the values a literal may take."""

    name: str
    dtype: str = "any"
    default: Any = REQUIRED
    const: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def expects(self) -> str:
        """What a literal for this parameter must be, in words."""
        if self.choices is not None:
            return "one of " + ", ".join(_shown(c) for c in self.choices)
        kinds = [LITERAL_CHECKS[d][1] for d in self.dtype.split("|") if d in LITERAL_CHECKS]
        what = " or ".join(kinds) or "a value"
        if self.low is not None and self.high is not None:
            return f"{what} from {self.low} to {self.high}"
        if self.low is not None:
            return f"{what} >= {self.low}"
        if self.high is not None:
            return f"{what} <= {self.high}"
        return what

    def problem(self, value: Any) -> str | None:
        """Why a literal `value` does not fit this parameter, or None when it does (NULL always
        fits: the function's default behaviour)."""
        if value is None:
            return None
        checks = [LITERAL_CHECKS[d][0] for d in self.dtype.split("|") if d in LITERAL_CHECKS]
        if checks and not any(ok(value) for ok in checks):
            return f"must be {self.expects()}, got {_shown(value)}"
        if self.choices is not None and value not in self.choices:
            return f"must be {self.expects()}, got {_shown(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)):
            return f"must be {self.expects()}, got {value}"
        return None

    def describe(self) -> str:
        """`name: what it must be` for the catalog."""
        return f"{self.name}: {self.expects()}"


_PARAM = re.compile(r"^(?P<name>\w+)(?::(?P<dtype>[\w|]*))?"
                    r"(?:\[(?P<low>-?[\d.e_]*?)\.\.(?P<high>-?[\d.e_]*)\]|\{(?P<choices>[^}]*)\})?"
                    r"(?P<mark>[?!])?$")


def parse_param(text: str) -> Param:
    """A parameter from its declaration (see the module docstring): `'n:integer[1..]=5'` ->
    Param('n', 'integer', 5, const=True, low=1); `'url:string?'` an optional column (NULL when
    omitted); `'p:string!'` a required literal."""
    head, eq, default = text.partition("=")
    m = _PARAM.match(head)
    if m is None:
        raise ValueError(f"bad parameter declaration {text!r}")
    name, dtype = m["name"], m["dtype"] or "any"
    bound = {k: ast.literal_eval(m[k]) if m[k] else None for k in ("low", "high")}
    choices = tuple(m["choices"].split("|")) if m["choices"] is not None else None
    extra: dict[str, Any] = {"low": bound["low"], "high": bound["high"], "choices": choices}
    if m["mark"] == "?":
        return Param(name, dtype, None, const=False, **extra)
    if eq:
        return Param(name, dtype, ast.literal_eval(default), const=True, **extra)
    return Param(name, dtype, REQUIRED, const=m["mark"] == "!", **extra)


@dataclass(frozen=True)
class ArgInfo:
    """What the planner knows of a column argument: its Daft type and, for a list whose length
    is known (a minhash signature, a fixed-size list), that length."""

    dtype: daft.DataType
    width: int | None = None


@dataclass(frozen=True)
class Resources:
    """Resource hints of a UDF; on Ray they become real resource requests."""

    cpus: float | None = None
    gpus: float | None = None
    batch_size: int | None = None
    concurrency: int | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A SQL function: name, signature, docs, and the builder of its Daft expression."""

    name: str
    params: tuple[Param, ...]
    build: Callable[..., daft.Expression]
    doc: str
    returns: str
    runs_as: RunsAs = "daft"
    variadic: bool = False
    aggregate: bool = False
    window_only: bool = False
    # A relational operator used as `f(args) OVER ()`: `build` is its `RelationalOp` (how it
    # runs as a stage of the plan: keys, compute, output type).
    relational: bool = False
    resources: Resources = field(default_factory=Resources)
    # The meaning of each field of a struct result, in the result's order, and the result's
    # Daft type when it is fixed (kernels), for the catalog to show each field's type.
    fields: dict[str, str] = field(default_factory=dict)
    dtype: daft.DataType | None = None
    # `list_width(options)`: the length of every list the function returns (e.g. minhash's
    # num_hashes), which the planner follows through views to check its consumers.
    list_width: Callable[[dict[str, Any]], int] | None = None
    # `validate(options, args)`: checks across parameters at plan time (literal options by
    # name, `ArgInfo` of the column arguments given); raises ValueError saying what is wrong,
    # which becomes an error at the call.
    validate: Callable[[dict[str, Any], dict[str, ArgInfo]], None] | None = None
    # option parameters that, when a call leaves them out, take a SET option's value at plan
    # time (parameter -> option key, e.g. max_pixels -> max_image_pixels)
    settings: dict[str, str] = field(default_factory=dict)
    # what its OVER (...) must hold: "PARTITION BY", "ORDER BY" or both joined by " and "
    # (Daft runs no window without one; aggregates: PARTITION BY; ranks: ORDER BY)
    over: str | None = None
    # a stand-in for a function a plugin not loaded may define (`check --no-load`): any
    # arguments, a NULL result
    unchecked: bool = False

    def signature(self) -> str:
        """`name(a, b := 0.5, ...)` as shown in docs and errors."""
        parts = []
        for p in self.params:
            parts.append(p.name if p.required else f"{p.name} := {_sql_value(p.default)}")
        if self.variadic:
            parts.append("...")
        return f"{self.name}({', '.join(parts)})"


def _sql_value(value: Any) -> str:
    """A default as SQL writes it (NULL, true, 'text', [1, 2])."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_sql_value(v) for v in value) + "]"
    return repr(value)


class Registry:
    """Name -> FunctionSpec, case-insensitive, with an optional parent to fall back to."""

    def __init__(self, parent: Registry | None = None):
        self._specs: dict[str, FunctionSpec] = {}
        self._parent = parent

    def add(self, spec: FunctionSpec) -> FunctionSpec:
        self._specs[spec.name.lower()] = spec
        return spec

    def get(self, name: str) -> FunctionSpec | None:
        spec = self._specs.get(name.lower())
        if spec is None and self._parent is not None:
            return self._parent.get(name)
        return spec

    def names(self) -> list[str]:
        own = set(self._specs)
        return sorted(own | (set(self._parent.names()) if self._parent else set()))

    def __iter__(self) -> Iterator[FunctionSpec]:
        for name in self.names():
            spec = self.get(name)
            assert spec is not None
            yield spec

    def child(self) -> Registry:
        return Registry(parent=self)

    def set_parent(self, parent: Registry) -> None:
        self._parent = parent


# Functions users register with `udf` / `udf_class` (plugin modules, `Session.function`).
# Its parent, set once by `mdfql.functions.catalog`, holds mdfql's own functions.
PLUGINS = Registry()


def relational(name: str, op: Any, params: tuple[Param, ...], doc: str, returns: str,
               registry: Registry, fields: dict[str, str] | None = None) -> None:
    """Add the relational operator `op` (a `mdfql.plan.stages.RelationalOp`) as
    `name(...) OVER ()`: column parameters become its per-row inputs, `const` ones options
    (the op's `validate` checks them together)."""
    registry.add(FunctionSpec(name=name, params=params, build=op, doc=doc, returns=returns,
                              runs_as="daft", window_only=True, relational=True,
                              fields=dict(fields or {})))


def unchecked_function(name: str) -> FunctionSpec:
    """A stand-in for `name`, a function of a plugin `check --no-load` did not import."""
    return FunctionSpec(name=name, params=(), build=lambda *args: daft.lit(None),
                        doc="not checked: its plugin was not loaded", returns="unknown",
                        runs_as="python", variadic=True, unchecked=True)


def params_from_signature(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """Parameters of a Python function; those with defaults are literal options."""
    return tuple(
        Param(p.name, default=p.default, const=p.default is not REQUIRED)
        for p in inspect.signature(fn).parameters.values()
        if p.name != "self"
    )


def _call_udf(udf_obj: Callable[..., daft.Expression], params: tuple[Param, ...]):
    def build(**kwargs: Any) -> daft.Expression:
        return udf_obj(*[kwargs[p.name] for p in params])

    return build


def udf(
    name: str | None = None,
    *,
    return_dtype: daft.DataType,
    batch: bool = True,
    batch_size: int | None = None,
    cpus: float | None = None,
    registry: Registry | None = None,
    on_error: Literal["raise", "log", "ignore"] = "raise",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Python function as a SQL function.

    With `batch=True` (default) it receives `daft.Series` per batch and returns a Series, pyarrow
    array or list; parameters with defaults are literal options (`name := value` in SQL).
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if batch:
            daft_fn = daft.func.batch(
                return_dtype=return_dtype, batch_size=batch_size, on_error=on_error
            )(fn)
        else:
            daft_fn = daft.func(fn, return_dtype=return_dtype, on_error=on_error)
        params = params_from_signature(fn)
        (registry or PLUGINS).add(
            FunctionSpec(
                name=name or fn.__name__,
                params=params,
                build=_call_udf(daft_fn, params),
                doc=inspect.getdoc(fn) or "",
                returns=str(return_dtype),
                runs_as="python",
                resources=Resources(cpus=cpus, batch_size=batch_size),
            )
        )
        return fn

    return wrap


def udf_class(
    name: str | None = None,
    *,
    method: str = "__call__",
    return_dtype: daft.DataType,
    cpus: float | None = None,
    gpus: float | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    registry: Registry | None = None,
) -> Callable[[type], type]:
    """Register a stateful class (a model) as a SQL function.

    `__init__` runs once per worker (load weights there); `method` is called per batch with
    `daft.Series` arguments. `gpus` becomes a real resource request on Ray; on the native runner
    the class runs on CPU, so `__init__` should pick the device it finds.
    """

    def wrap(cls: type) -> type:
        fn = getattr(cls, method)
        batched = daft.method.batch(fn, return_dtype=return_dtype, batch_size=batch_size)
        # A subclass carries the Daft method so the user's class stays usable as written.
        daft_cls = daft.cls(
            type(cls.__name__, (cls,), {method: batched}),
            cpus=cpus,
            gpus=gpus or 0,
            max_concurrency=concurrency,
        )
        params = params_from_signature(fn)
        state: dict[str, Any] = {}

        def build(**kwargs: Any) -> daft.Expression:
            # One instance per plan build keeps `__init__` lazy (it runs on the workers).
            inst = state.setdefault("instance", daft_cls())
            return getattr(inst, method)(*[kwargs[p.name] for p in params])

        (registry or PLUGINS).add(
            FunctionSpec(
                name=name or cls.__name__.lower(),
                params=params,
                build=build,
                doc=inspect.getdoc(cls) or "",
                returns=str(return_dtype),
                runs_as="class",
                resources=Resources(cpus=cpus, gpus=gpus, batch_size=batch_size,
                                    concurrency=concurrency),
            )
        )
        return cls

    return wrap
