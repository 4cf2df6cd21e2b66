"""Cryptographic digests of bytes or text (`md5`, `sha256`) for exact dedup of images and
documents: a 64-bit `hash` collides somewhere among ~5 billion rows with even odds, a 256-bit
digest never in practice. hashlib's C code hashes each value (and releases the GIL on large
ones); the results are lowercase hex, as DuckDB's md5/sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import daft
import pyarrow as pa
from daft import DataType, Expression, Series

from mdfql.functions.builtins import define
from mdfql.functions.registry import Registry


def _digest(algorithm: str):
    """A batch UDF: the hex digest of each value (NULL for NULL; text hashed as UTF-8)."""
    def digest(values: Series) -> pa.Array:
        out = []
        for v in values.to_arrow().to_pylist():
            if v is None:
                out.append(None)
            else:
                out.append(hashlib.new(algorithm, v.encode() if isinstance(v, str) else v)
                           .hexdigest())
        return pa.array(out, pa.string())

    digest.__name__ = algorithm
    udf = daft.func.batch(return_dtype=DataType.string())(digest)
    return lambda value: udf(value)


def register(registry: Registry) -> None:
    """Add md5 and sha256 to `registry`."""
    for name, bits in (("md5", 128), ("sha256", 256)):
        build: Callable[[Expression], Expression] = _digest(name)
        define(name, "value:binary", build, "string",
               f"The {name.upper()} digest ({bits} bits) of bytes or text (UTF-8), as "
               "lowercase hex; NULL for NULL. `DISTINCT ON (sha256(image))` keeps one of each "
               "byte-identical image.", registry=registry)
