"""The function catalog, assembled in one place: each family adds its functions explicitly
(nothing registers itself by being imported), and plugins (`udf`, `LOAD`) sit on top."""

from __future__ import annotations

import functools

from mdfql.dedup import operators
from mdfql.functions import builtins, kernels
from mdfql.functions.registry import PLUGINS, Registry

FAMILIES = (builtins.register, kernels.register, operators.register)


@functools.cache
def default_registry() -> Registry:
    """mdfql's functions under the plugin registry: lookups see plugins first, then these."""
    base = Registry()
    for register in FAMILIES:
        register(base)
    PLUGINS.set_parent(base)
    return PLUGINS
