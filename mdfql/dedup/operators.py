"""SQL registration of the dedup operators (`f(args) OVER ()`) and `normalize_url`.

Each operator keys rows by a deterministic id (see `ids`), computes its result on a narrow
(id, arguments) table, and joins it back onto the input by id. The result is computed eagerly
when the plan is built (the iterations need counts), so the keyed input is materialised there
once: the upstream plan (extraction, signatures, ...) runs once, not again for the output rows.
That run's operator stats go to `metrics` for the run summary.
"""

from __future__ import annotations

import daft
import daft.functions as F
from daft import col

from mdfql import metrics
from mdfql.dedup.hamming import hamming_clusters
from mdfql.dedup.ids import row_id
from mdfql.dedup.lsh import lsh_clusters
from mdfql.dedup.ngrams import ngram_dedup_result
from mdfql.dedup.urls import normalize_url
from mdfql.functions.builtins import define, parse_param
from mdfql.functions.registry import relational
from mdfql.sinks.iceberg import operator_metrics

NODE = "__dedup_node"
RNODE = "__dedup_result_node"
VALUE = "__dedup_value"


def _params(text: str):
    return tuple(parse_param(p) for p in text.split())


def _attach(df: daft.DataFrame, out: str, args: tuple[str, ...], keyed: daft.DataFrame,
            result: daft.DataFrame, value: str, default_to_id: bool) -> daft.DataFrame:
    """Input rows (argument columns dropped) plus `out` = the result's `value` column, joined
    on the row id; rows the result lacks get their own id (`default_to_id`) or NULL."""
    keep = [c for c in df.column_names if c not in args]
    # Internal names on the right: user columns called node/label/result must not collide.
    right = result.select(col("node").alias(RNODE), col(value).alias(VALUE))
    joined = keyed.select(*keep, NODE).join(right, left_on=NODE, right_on=RNODE, how="left")
    out_value = F.coalesce(col(VALUE), col(NODE)) if default_to_id else col(VALUE)
    return joined.select(*keep, out_value.alias(out))


def _keyed(df: daft.DataFrame, id_col: str | None, args: tuple[str, ...]) -> daft.DataFrame:
    """The input with its row ids, materialised (its run's stats recorded)."""
    keyed = df.with_column(NODE, row_id(df, id_col, skip=args)).collect()
    metrics.record_stage_stats(operator_metrics(keyed))
    return keyed


def _clustered(df: daft.DataFrame, out: str, id_col: str | None, args: tuple[str, ...],
               cluster) -> daft.DataFrame:
    """`cluster(keyed)` -> `(node, label)`: `keyed` is the input with row ids in NODE."""
    keyed = _keyed(df, id_col, args)
    labels, _ = cluster(keyed)
    # Rows without any edge are their own cluster.
    return _attach(df, out, args, keyed, labels, "label", default_to_id=True)


@relational(
    "lsh_cluster",
    _params("sig:list id:any? text:string? bands:integer=14 rows:integer=8 "
            "threshold:numeric=None ngram:integer=5"),
    "Near-duplicate cluster of a MinHash signature (any list of integers), used as "
    "`lsh_cluster(sig) OVER ()`: the smallest row id of its connected component of LSH band "
    "collisions (`bands` x `rows` values), optionally only through pairs whose Jaccard is >= "
    "`threshold`: estimated from the signatures, or exact over the word `ngram`-grams of "
    "`text` when given (normalised as minhash does). Row ids are `id` when given (unique per "
    "document), else a 64-bit hash of the row. NULL signatures are singletons.",
    "uint64 (or the type of id)",
)
def lsh_cluster(df: daft.DataFrame, out: str, sig: str, id: str | None = None,  # noqa: A002
                text: str | None = None, *, bands: int, rows: int, threshold: float | None,
                ngram: int) -> daft.DataFrame:
    if text is not None and threshold is None:
        raise ValueError("lsh_cluster's text is only used to check pairs: give a threshold")

    def cluster(keyed: daft.DataFrame):
        columns = [col(NODE).alias("node"), col(sig).alias("sig")]
        if text is not None:
            columns.append(col(text).alias("text"))
        return lsh_clusters(keyed.select(*columns), bands, rows, threshold, ngram)

    args = tuple(a for a in (sig, id, text) if a is not None)
    return _clustered(df, out, id, args, cluster)


@relational(
    "hamming_cluster",
    _params("hash:integer id:any? max_distance:integer=10 fanout:integer=32"),
    "Near-duplicate cluster of a 64-bit image hash (pHash/dHash), used as "
    "`hamming_cluster(hash) OVER ()`: the smallest row id of its connected component of pairs "
    "within `max_distance` differing bits, found by multi-index hashing (max_distance + 1 "
    "exact bands; each hash compared with the next `fanout` hashes of each band bucket).",
    "uint64 (or the type of id)",
)
def hamming_cluster(df: daft.DataFrame, out: str, hash: str,  # noqa: A002
                    id: str | None = None, *, max_distance: int,  # noqa: A002
                    fanout: int) -> daft.DataFrame:
    def cluster(keyed: daft.DataFrame):
        return hamming_clusters(keyed.select(col(NODE).alias("node"), col(hash).alias("h")),
                                max_distance, fanout)

    args = tuple(a for a in (hash, id) if a is not None)
    return _clustered(df, out, id, args, cluster)


@relational(
    "ngram_dedup",
    _params("text:string order_key:any ngram:integer=13 threshold:numeric=0.8"),
    "DCLM/BFF-style n-gram dedup, used as `ngram_dedup(text, order_key) OVER ()`: a struct "
    "{keep: bool, text: string}. A document is dropped (keep = false) when >= `threshold` of "
    "its word `ngram`-grams occur earlier (smaller order_key, then earlier paragraph); else "
    "paragraphs (lines) with >= `threshold` of their n-grams seen earlier are removed.",
    "struct<keep: bool, text: string>",
)
def ngram_dedup(df: daft.DataFrame, out: str, text: str, order_key: str, *, ngram: int,
                threshold: float) -> daft.DataFrame:
    args = (text, order_key)
    keyed = _keyed(df, None, args)
    docs = keyed.select(col(NODE).alias("node"), col(order_key).alias("key"),
                        col(text).alias("text"))
    result = ngram_dedup_result(docs, ngram, threshold)
    return _attach(df, out, args, keyed, result, "result", default_to_id=False)


define("normalize_url", "url:string", normalize_url, "string",
       "Canonical URL for deduplication: lowercase scheme and host, no default port, user "
       "info or fragment, no trailing slash, sorted query parameters.")
