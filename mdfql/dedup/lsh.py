"""MinHash LSH clustering: band buckets -> star edges -> connected components.

Each signature is cut into `bands` slices of `rows` values; a slice is hashed with its band
index as seed, so equal slices in the same band land in the same bucket (the banding S-curve:
pairs with Jaccard s become candidates with probability 1 - (1 - s^rows)^bands). Every member
of a bucket is linked to the bucket's smallest row id (a star, |bucket| - 1 edges, never all
pairs), optionally keeping only edges whose Jaccard reaches `threshold`: estimated (the share
of equal signature positions), or exact when the texts are given (their word n-gram shingle
sets, normalised as `minhash` does); connected components of those edges are the clusters.
"""

from __future__ import annotations

import daft
import daft.functions as F
import pyarrow as pa
from daft import DataType, col

from mdfql import _native
from mdfql.dedup.components import connected_components


def band_buckets(sigs: daft.DataFrame, bands: int, rows: int) -> daft.DataFrame:
    """`(node, sig)` -> `(node, bucket)`, one row per band of each usable signature.

    NULL signatures and degenerate ones (every position equal: the signature of an empty
    shingle set, e.g. Daft's minhash of empty text) get no bucket, so they stay singletons.
    """
    usable = sigs.where(col("sig").not_null()
                        & (F.list_min(col("sig")) != F.list_max(col("sig"))))
    keys = [F.hash(F.slice(col("sig"), b * rows, (b + 1) * rows), seed=b) for b in range(bands)]
    return (usable.select("node", F.to_list(*keys).alias("bucket"))
            .explode("bucket").where(col("bucket").not_null()))


def star_edges(buckets: daft.DataFrame) -> daft.DataFrame:
    """`(node, bucket)` -> `(a, b)`: each member linked to its bucket's smallest node."""
    roots = buckets.groupby("bucket").agg(col("node").min().alias("root"))
    return (buckets.join(roots, on="bucket")
            .where(col("node") != col("root"))
            .select(col("node").alias("a"), col("root").alias("b"))
            .distinct())


def verified(edges: daft.DataFrame, sigs: daft.DataFrame, threshold: float) -> daft.DataFrame:
    """Edges whose signatures agree on at least `threshold` of their positions."""
    left = sigs.select(col("node").alias("a"), col("sig").alias("sa"))
    right = sigs.select(col("node").alias("b"), col("sig").alias("sb"))
    pairs = edges.join(left, on="a").join(right, on="b").explode("sa", "sb")
    scored = pairs.groupby("a", "b").agg(
        (col("sa") == col("sb")).cast(DataType.float64()).mean().alias("jaccard"))
    return scored.where(col("jaccard") >= threshold).select("a", "b")


@daft.func.batch(return_dtype=DataType.float64())
def _shingle_jaccard(a: daft.Series, b: daft.Series, ngram: int) -> pa.Array:
    return _native.shingle_jaccard(a.to_arrow(), b.to_arrow(), ngram=ngram)


def verified_exact(edges: daft.DataFrame, texts: daft.DataFrame, threshold: float,
                   ngram: int) -> daft.DataFrame:
    """Edges whose texts' word `ngram`-gram shingle sets have Jaccard >= `threshold`."""
    left = texts.select(col("node").alias("a"), col("text").alias("ta"))
    right = texts.select(col("node").alias("b"), col("text").alias("tb"))
    pairs = edges.join(left, on="a").join(right, on="b")
    scored = pairs.with_column("jaccard", _shingle_jaccard(col("ta"), col("tb"), ngram))
    return scored.where(col("jaccard") >= threshold).select("a", "b")


def lsh_clusters(keyed: daft.DataFrame, threshold: float | None = None,
                 ngram: int = 5) -> tuple[daft.DataFrame, int]:
    """`(node, bucket[, sig | text])`, `bucket` a list of band keys (NULL keys: no bucket) ->
    (`(node, label)` for nodes with an edge, rounds of the components). The `threshold` check
    is exact over word `ngram`-grams with a `text` column, estimated with a `sig` column.
    `keyed` is read twice (buckets, then the check): pass it materialised."""
    buckets = (keyed.select("node", "bucket").explode("bucket")
               .where(col("bucket").not_null()))
    edges = star_edges(buckets)
    if threshold is not None and "text" in keyed.column_names:
        edges = verified_exact(edges, keyed.select("node", "text"), threshold, ngram)
    elif threshold is not None:
        edges = verified(edges, keyed.select("node", "sig"), threshold)
    return connected_components(edges)
