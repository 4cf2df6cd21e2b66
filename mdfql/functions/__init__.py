"""The function catalog: every SQL function mdfql knows, its signature, docs and how it runs."""

from mdfql.functions.catalog import default_registry
from mdfql.functions.registry import (
    FunctionSpec,
    Param,
    Registry,
    Resources,
    udf,
    udf_class,
)

__all__ = [
    "FunctionSpec",
    "Param",
    "Registry",
    "Resources",
    "default_registry",
    "udf",
    "udf_class",
]
