"""The function catalog, assembled in one place: each family adds its functions explicitly
(nothing registers itself by being imported), and plugins (`udf`, `LOAD`) sit on top; and how
one function reads in `mdfql functions`."""

from __future__ import annotations

import functools

from mdfql.dedup import operators
from mdfql.functions import builtins, digests, download, images, kernels, models, ranks
from mdfql.functions.registry import PLUGINS, FunctionSpec, Registry

FAMILIES = (builtins.register, kernels.register, images.register, models.register,
            operators.register, download.register, ranks.register, digests.register)


@functools.cache
def default_registry() -> Registry:
    """mdfql's functions under the plugin registry: lookups see plugins first, then these."""
    base = Registry()
    for register in FAMILIES:
        register(base)
    PLUGINS.set_parent(base)
    return PLUGINS


def kind_of(spec: FunctionSpec) -> str:
    """How a function runs, as the catalog labels it."""
    if spec.relational:
        return getattr(spec.build, "kind", "relational, OVER ()")
    if spec.aggregate:
        return "aggregate"
    return "window" if spec.window_only else spec.runs_as


def describe(spec: FunctionSpec) -> list[str]:
    """A function's catalog entry: signature and result, doc, the values its options take,
    and the meaning (and type) of each field of a struct result."""
    returns = "struct" if spec.fields else spec.returns
    lines = [f"{spec.signature()} -> {returns}  [{kind_of(spec)}]", f"    {spec.doc}"]
    limited = [p.describe() for p in spec.params
               if p.choices is not None or p.low is not None or p.high is not None]
    if limited:
        lines.append("    options: " + "; ".join(limited))
    if spec.fields:
        types = {name: str(t) for name, t in spec.dtype.fields.items()} \
            if spec.dtype is not None and spec.dtype.is_struct() else {}
        width = max(len(name) for name in spec.fields)
        type_width = max((len(t) for t in types.values()), default=0)
        lines.append("    fields:")
        for name, meaning in spec.fields.items():
            shown = f"{types.get(name, '').ljust(type_width)}  " if types else ""
            lines.append(f"      {name.ljust(width)}  {shown}{meaning}")
    return lines
