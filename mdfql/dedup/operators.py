"""The dedup operators (`f(args) OVER ()`) as relational stages, and `normalize_url`.

Each operator declares what it spills per row (its keys, computed while the input streams:
band hashes rather than signatures), how it computes its result from those keys alone, and
the type of its output column; `mdfql.plan.stages` runs it as a pipeline breaker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import daft
import daft.functions as F
from daft import DataType, Expression, col

from mdfql.dedup.hamming import hamming_clusters
from mdfql.dedup.lsh import lsh_clusters
from mdfql.dedup.ngrams import ngram_dedup_result
from mdfql.dedup.urls import normalize_url
from mdfql.functions.builtins import define, parse_param
from mdfql.functions.registry import Registry, relational
from mdfql.plan.stages import RelationalOp

BAND = "__band_"
SIG, TEXT, HASH, KEY = "__sig", "__text", "__hash", "__key"


def _params(text: str):
    return tuple(parse_param(p) for p in text.split())


def _write(result: daft.DataFrame, value: str, out_dir: Path) -> list[str]:
    """(node, value) rows written as the stage's result files."""
    written = result.select(col("node").alias("__node"), col(value).alias("__value")) \
        .write_parquet(str(out_dir))
    return list(written.to_pydict()["path"])


def _scan(files: list[str], columns: dict[str, str]) -> daft.DataFrame:
    """The spilled columns an operator needs, renamed (spill name -> operator name)."""
    return daft.read_parquet(files).select(*[col(a).alias(b) for a, b in columns.items()])


def _same_as_node(args: dict[str, DataType], node: DataType, options: dict[str, Any]) -> DataType:
    return node


# --- lsh_cluster ---------------------------------------------------------------------------
def band_keys(sig: Expression, bands: int, rows: int) -> dict[str, Expression]:
    """One key column per band: the hash of the band's slice of the signature (band index as
    seed). NULL and degenerate signatures (all positions equal: an empty shingle set) get NULL
    keys, so they stay singletons."""
    usable = sig.not_null() & (F.list_min(sig) != F.list_max(sig))
    return {f"{BAND}{b}": F.when(usable, F.hash(F.slice(sig, b * rows, (b + 1) * rows),
                                                 seed=b))
            for b in range(bands)}


def _lsh_keys(args: dict[str, Expression], o: dict[str, Any]) -> dict[str, Expression]:
    keys = band_keys(args["sig"], o["bands"], o["rows"])
    if o["threshold"] is not None:
        # the check needs the texts (exact) or the signatures (estimate), nothing else
        if "text" in args:
            keys[TEXT] = args["text"]
        else:
            keys[SIG] = args["sig"]
    return keys


def _lsh_compute(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                 bands: int, rows: int, threshold: float | None, ngram: int) -> list[str]:
    bucket_cols = [k for k in keys if k.startswith(BAND)]
    scan = daft.read_parquet(files)
    columns = [col("__node").alias("node"), F.to_list(*[col(c) for c in bucket_cols])
               .alias("bucket")]
    if TEXT in keys:
        columns.append(col(TEXT).alias("text"))
    elif SIG in keys:
        columns.append(col(SIG).alias("sig"))
    labels, _ = lsh_clusters(scan.select(*columns).collect(), threshold, ngram)
    return _write(labels, "label", out_dir)


def _lsh_validate(o: dict[str, Any], given: set[str]) -> None:
    if o["bands"] < 1 or o["rows"] < 1:
        raise ValueError("bands and rows must be positive")
    if o["threshold"] is not None and not 0.0 <= o["threshold"] <= 1.0:
        raise ValueError("threshold must lie in [0, 1]")
    if "text" in given and o["threshold"] is None:
        raise ValueError("lsh_cluster's text is only used to check pairs: give a threshold")


def _lsh_describe(o: dict[str, Any]) -> str:
    check = "" if o["threshold"] is None else \
        f"; pairs checked at Jaccard >= {o['threshold']!r} (spills the check's input)"
    return f"{o['bands']} band keys of {o['rows']} rows per row{check}"


LSH = RelationalOp(keys=_lsh_keys, dtype=_same_as_node, compute=_lsh_compute,
                   describe=_lsh_describe, validate=_lsh_validate)


# --- hamming_cluster -----------------------------------------------------------------------
def _hamming_compute(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                     max_distance: int, fanout: int) -> list[str]:
    labels, _ = hamming_clusters(_scan(files, {"__node": "node", HASH: "h"}), max_distance,
                                 fanout)
    return _write(labels, "label", out_dir)


def _hamming_validate(o: dict[str, Any], given: set[str]) -> None:
    if not 0 <= o["max_distance"] < 64:
        raise ValueError("max_distance must lie in [0, 63]")
    if o["fanout"] < 1:
        raise ValueError("fanout must be positive")


HAMMING = RelationalOp(
    keys=lambda a, o: {HASH: a["hash"]}, dtype=_same_as_node, compute=_hamming_compute,
    describe=lambda o: f"the 64-bit hash per row; {o['max_distance'] + 1} bit bands, "
                       f"fanout {o['fanout']}",
    validate=_hamming_validate)


# --- ngram_dedup ---------------------------------------------------------------------------
NGRAM_RESULT = DataType.struct({"keep": DataType.bool(), "text": DataType.string()})


def _ngram_compute(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                   ngram: int, threshold: float) -> list[str]:
    docs = _scan(files, {"__node": "node", KEY: "key", TEXT: "text"})
    return _write(ngram_dedup_result(docs, ngram, threshold), "result", out_dir)


NGRAM = RelationalOp(
    keys=lambda a, o: {TEXT: a["text"], KEY: a["order_key"]},
    dtype=lambda a, n, o: NGRAM_RESULT, compute=_ngram_compute,
    describe=lambda o: f"text and order key per row; word {o['ngram']}-grams",
    default_to_id=False)


def register(registry: Registry) -> None:
    """Add the dedup operators and normalize_url to `registry`."""
    relational(
        "lsh_cluster", LSH,
        _params("sig:list id:any? text:string? bands:integer=14 rows:integer=8 "
                "threshold:numeric=None ngram:integer=5"),
        "Near-duplicate cluster of a MinHash signature (any list of integers), used as "
        "`lsh_cluster(sig) OVER ()`: the smallest row id of its connected component of LSH "
        "band collisions (`bands` x `rows` values), optionally only through pairs whose "
        "Jaccard is >= `threshold`: estimated from the signatures, or exact over the word "
        "`ngram`-grams of `text` when given (normalised as minhash does). Row ids are `id` "
        "when given (unique per document), else a 64-bit hash of the row. NULL signatures are "
        "singletons.",
        "uint64 (or the type of id)", registry)
    relational(
        "hamming_cluster", HAMMING,
        _params("hash:integer id:any? max_distance:integer=10 fanout:integer=32"),
        "Near-duplicate cluster of a 64-bit image hash (pHash/dHash), used as "
        "`hamming_cluster(hash) OVER ()`: the smallest row id of its connected component of "
        "pairs within `max_distance` differing bits, found by multi-index hashing "
        "(max_distance + 1 exact bands; each hash compared with the next `fanout` hashes of "
        "each band bucket).",
        "uint64 (or the type of id)", registry)
    relational(
        "ngram_dedup", NGRAM,
        _params("text:string order_key:any ngram:integer=13 threshold:numeric=0.8"),
        "DCLM/BFF-style n-gram dedup, used as `ngram_dedup(text, order_key) OVER ()`: a struct "
        "{keep: bool, text: string}. A document is dropped (keep = false) when >= `threshold` "
        "of its word `ngram`-grams occur earlier (smaller order_key, then earlier paragraph); "
        "else paragraphs (lines) with >= `threshold` of their n-grams seen earlier are "
        "removed.",
        "struct<keep: bool, text: string>", registry)
    define("normalize_url", "url:string", normalize_url, "string",
           "Canonical URL for deduplication: lowercase scheme and host, no default port, user "
           "info or fragment, no trailing slash, sorted query parameters.", registry=registry)
