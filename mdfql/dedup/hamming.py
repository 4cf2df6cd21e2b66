"""Near-duplicate 64-bit hashes (pHash/dHash) by multi-index hashing.

The 64 bits are cut into `max_distance + 1` bands; two hashes within Hamming distance d differ
in at most d bands, so (pigeonhole) they agree exactly on at least one: every such pair shares
a band bucket. Narrow bands make big buckets, so instead of all pairs of a bucket each hash is
paired with the next `fanout` hashes of its bucket in (hash, id) order. This is exact while no
bucket holds more than `fanout + 1` hashes; beyond that, pairs further apart in that order are
only found through other bands or through chains. Candidate pairs are kept when their Hamming
distance is at most `max_distance`, then clustered as connected components.
"""

from __future__ import annotations

import daft
import daft.functions as F
from daft import DataType, Window, col

from mdfql.dedup.components import connected_components


def band_slices(max_distance: int) -> list[tuple[int, int]]:
    """(shift, width) of each of the `max_distance + 1` bands covering 64 bits."""
    n = max_distance + 1
    widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
    shifts = [sum(widths[:i]) for i in range(n)]
    return list(zip(shifts, widths))


def candidate_pairs(hashes: daft.DataFrame, max_distance: int, fanout: int) -> daft.DataFrame:
    """`(node, h)` -> `(a, b)`: pairs sharing a band, at most `fanout` ahead per bucket."""
    u64 = DataType.uint64()
    keys = []
    for band, (shift, width) in enumerate(band_slices(max_distance)):
        mask = daft.lit((1 << width) - 1).cast(u64)
        value = F.bitwise_and(F.shift_right(col("h"), daft.lit(shift).cast(u64)), mask)
        keys.append(F.hash(value, seed=band))
    buckets = (hashes.select("node", "h", F.to_list(*keys).alias("bucket"))
               .explode("bucket"))
    order = Window().partition_by("bucket").order_by(col("h"), col("node"))
    ranked = buckets.with_column("pos", F.row_number().over(order).cast(DataType.int64()))
    ahead = ranked.with_column(
        "step", daft.lit(list(range(1, fanout + 1))).cast(DataType.list(DataType.int64()))
    ).explode("step").select("bucket", col("node").alias("a"), col("h").alias("ha"),
                             (col("pos") + col("step")).alias("pos"))
    partner = ranked.select("bucket", "pos", col("node").alias("b"), col("h").alias("hb"))
    pairs = ahead.join(partner, on=["bucket", "pos"])
    return (pairs.where((col("a") != col("b"))
                        & (F.hamming_distance(col("ha"), col("hb")) <= max_distance))
            .select("a", "b").distinct())


def hamming_clusters(hashes: daft.DataFrame, max_distance: int,
                     fanout: int) -> tuple[daft.DataFrame, int]:
    """`(node, h)` -> (`(node, label)` for nodes with a near twin, rounds of the components)."""
    if not 0 <= max_distance < 64:
        raise ValueError("max_distance must lie in [0, 63]")
    if fanout < 1:
        raise ValueError("fanout must be positive")
    hashes = hashes.where(col("h").not_null()).with_column("h", col("h").cast(DataType.uint64()))
    return connected_components(candidate_pairs(hashes.collect(), max_distance, fanout))
