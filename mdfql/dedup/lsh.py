"""MinHash LSH clustering: band buckets -> star edges -> connected components.

Each signature is cut into `bands` slices of `rows` values; a slice is hashed with its band
index as seed, so equal slices in the same band land in the same bucket (the banding S-curve:
pairs with Jaccard s become candidates with probability 1 - (1 - s^rows)^bands). Every member
of a bucket is linked to the bucket's smallest row id (a star, |bucket| - 1 edges, never all
pairs), optionally keeping only edges whose estimated Jaccard (share of equal signature
positions) reaches `threshold`; connected components of those edges are the clusters.
"""

from __future__ import annotations

import daft
import daft.functions as F
from daft import DataType, col

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


def lsh_clusters(sigs: daft.DataFrame, bands: int, rows: int,
                 threshold: float | None = None) -> tuple[daft.DataFrame, int]:
    """`(node, sig)` -> (`(node, label)` for nodes with an edge, rounds of the components)."""
    if bands < 1 or rows < 1:
        raise ValueError("bands and rows must be positive")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must lie in [0, 1]")
    sigs = sigs.collect()  # read twice (buckets, verification): compute the signatures once
    edges = star_edges(band_buckets(sigs, bands, rows))
    if threshold is not None:
        edges = verified(edges, sigs, threshold)
    return connected_components(edges)
