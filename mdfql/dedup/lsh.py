"""MinHash LSH clustering with Daft operations only: band buckets -> star edges -> connected
components. The `lsh_cluster` stage computes the same clusters in Rust over spilled band keys
(`mdfql.dedup.spilled`); benchmarks/dedup_scale.py measures this Daft path beside it.

Each signature is cut into `bands` slices of `rows` values; a slice is hashed with its band
index as seed, so equal slices in the same band land in the same bucket (the banding S-curve:
pairs with Jaccard s become candidates with probability 1 - (1 - s^rows)^bands). Every member
of a bucket is linked to the bucket's smallest row id (a star, |bucket| - 1 edges, never all
pairs); connected components of those edges are the clusters.
"""

from __future__ import annotations

import daft
import daft.functions as F
from daft import col

from mdfql.functions.registry import ArgInfo


def check_bands(bands: int, rows: int, signature: ArgInfo | None) -> None:
    """Raise ValueError when `bands` x `rows` needs more values than the `signature` argument
    holds (when its length is known, e.g. minhash's num_hashes): slices past its end would be
    empty, equal in every document, and put them all in one bucket; and when the signature's
    values are not integers (band keys hash integers, see `_native.lsh_band_keys`)."""
    dtype = None if signature is None else signature.dtype
    if dtype is not None and (dtype.is_list() or dtype.is_fixed_size_list()) \
            and not (dtype.dtype.is_integer() or dtype.dtype.is_null()):
        raise ValueError(f"a signature is a list of integers, got a list of {dtype.dtype}")
    width = None if signature is None else signature.width
    if width is not None and bands * rows > width:
        raise ValueError(
            f"bands x rows = {bands} x {rows} = {bands * rows} values per signature, but the "
            f"signature has {width} (num_hashes := {width}); give minhash "
            f"num_hashes := {bands * rows} or fewer bands or rows")


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
