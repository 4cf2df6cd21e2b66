"""Paragraph and document n-gram deduplication (DCLM's BFF), as joins instead of a Bloom filter.

BFF reads documents in order and, per paragraph (text between newlines), counts the word
n-grams already in its filter. Here "already seen" is relational and exact: an n-gram
occurrence is seen when the same n-gram occurs at an earlier position, positions ordered by
(order_key, row id, paragraph index) - in an earlier document or an earlier paragraph of the
same one. A document is dropped when at least `threshold` of its n-grams were seen; otherwise
each paragraph with at least `threshold` of its n-grams seen is removed. Paragraphs with fewer
than `ngram` words have no n-grams and are never removed. Unlike BFF, n-grams of removed
paragraphs still count as seen (such paragraphs are mostly seen n-grams already), there is no
Bloom-filter false positive, and the result does not depend on reading order or partitioning.
"""

from __future__ import annotations

import daft
import daft.functions as F
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, col

WORD = r"\w+"
INDEX_WIDTH = 10  # zero-padded paragraph index: string order = paragraph order


def paragraphs(docs: daft.DataFrame) -> daft.DataFrame:
    """`(node, key, text)` -> `(node, key, p, par)`, one row per newline-separated paragraph."""
    return (docs.select("node", "key", F.split(col("text"), "\n").alias("par"))
            .explode("par", index_column="p"))


def ngram_occurrences(pars: daft.DataFrame, ngram: int) -> daft.DataFrame:
    """`(node, key, p, g)`: every word n-gram of every paragraph, `g` its 64-bit hash.

    Words are hashed once; each paragraph's n-gram hashes then come from its word hashes in one
    vectorised pass (`gram_hashes`). Daft's `lead` over a window, one per following word, held
    every word row `ngram` times over: ~700 MB for 1,100 pages.
    """
    words = F.list_map(F.regexp_extract_all(col("par"), WORD), F.hash(daft.element()))
    grams = pars.select("node", "key", "p", gram_hashes(words, ngram).alias("g"))
    return grams.explode("g").where(col("g").not_null())


_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: powers of it never vanish modulo 2^64


@daft.func.batch(return_dtype=DataType.list(DataType.uint64()))
def gram_hashes(words: daft.Series, ngram: int) -> pa.Array:
    """Per list of word hashes, the hash of each run of `ngram` consecutive words (none when
    the list is shorter): sum_k w[i+k] * M^(k+1) modulo 2^64, then a splitmix64 finaliser.
    Equal runs hash equal; different runs of pseudo-random word hashes collide with
    probability ~2^-64. A NULL list stays NULL."""
    arr = words.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.cast(pa.uint64()).to_numpy(zero_copy_only=False)
    counts = np.maximum(np.diff(offsets) - ngram + 1, 0)
    out_offsets = np.concatenate([[0], np.cumsum(counts)])
    starts = (np.repeat(offsets[:-1], counts)
              + np.arange(out_offsets[-1]) - np.repeat(out_offsets[:-1], counts))
    acc = np.zeros(len(starts), np.uint64)
    power = np.uint64(1)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            power = power * _MULTIPLIER
            acc += values[starts + k] * power
        acc ^= acc >> np.uint64(30)
        acc *= np.uint64(0xBF58476D1CE4E5B9)
        acc ^= acc >> np.uint64(27)
        acc *= np.uint64(0x94D049BB133111EB)
        acc ^= acc >> np.uint64(31)
    return pa.ListArray.from_arrays(pa.array(out_offsets, pa.int32()), pa.array(acc),
                                    mask=arr.is_null())


def paragraph_stats(occ: daft.DataFrame) -> daft.DataFrame:
    """`(node, p, total, seen)`: n-grams per paragraph and how many occur at an earlier
    position (after the first position, in (key, node, p) order, that holds that n-gram).

    One sort of the occurrences' ids and hashes in Arrow: Daft's rank over a window
    partitioned by `g` held ~800 MB for 320,000 occurrences."""
    table = occ.to_arrow()
    order = pc.sort_indices(table, sort_keys=[("g", "ascending"), ("key", "ascending"),
                                              ("node", "ascending"), ("p", "ascending")])
    table = table.take(order)
    g = table.column("g").to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    first = pa.array(np.repeat(starts, np.diff(np.append(starts, len(g)))))
    same = None
    for name in ("key", "node", "p"):
        column = table.column(name)
        head = column.take(first)
        equal = pc.fill_null(pc.or_kleene(pc.equal(column, head),
                                          pc.and_(pc.is_null(column), pc.is_null(head))), False)
        same = equal if same is None else pc.and_(same, equal)
    seen = pc.cast(pc.invert(same), pa.int64()) if len(table) else pa.array([], pa.int64())
    stats = (pa.table({"node": table.column("node"), "p": table.column("p"), "seen": seen})
             .group_by(["node", "p"]).aggregate([("seen", "count"), ("seen", "sum")]))
    return daft.from_arrow(pa.table({"node": stats["node"], "p": stats["p"],
                                     "total": stats["seen_count"], "seen": stats["seen_sum"]}))


def ngram_dedup_result(docs: daft.DataFrame, ngram: int, threshold: float) -> daft.DataFrame:
    """`(node, key, text)` -> `(node, result)`, result a struct {keep: bool, text: string}."""
    if ngram < 1:
        raise ValueError("ngram must be positive")
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must lie in (0, 1]")
    docs = docs.collect()
    pars = paragraphs(docs).collect()
    stats = paragraph_stats(ngram_occurrences(pars, ngram)).collect()
    per_doc = stats.groupby("node").agg(col("total").sum().alias("total"),
                                        col("seen").sum().alias("seen"))
    dup_docs = per_doc.where(col("seen") >= col("total") * threshold).select(
        "node", daft.lit(True).alias("dup"))
    dup_pars = stats.where((col("total") > 0) & (col("seen") >= col("total") * threshold))
    kept = pars.join(dup_pars.select("node", "p"), on=["node", "p"], how="anti")
    tagged = F.concat(F.lpad(col("p").cast(DataType.string()), INDEX_WIDTH, "0"),
                      F.coalesce(col("par"), daft.lit("")))
    rebuilt = (kept.groupby("node").agg(F.list_agg(tagged).alias("tagged"))
               .select("node", F.list_join(F.list_map(F.list_sort(col("tagged")),
                                                      F.substr(daft.element(), INDEX_WIDTH)),
                                           "\n").alias("out")))
    out = (docs.select("node", "text").distinct()
           .join(dup_docs, on="node", how="left")
           .join(rebuilt, on="node", how="left")
           .with_column("out", F.coalesce(col("out"), daft.lit(""))))
    emptied = (col("out").strip() == "") & (F.coalesce(col("text"), daft.lit("")).strip() != "")
    keep = ~(col("dup").fill_null(False) | emptied)
    return out.select("node", F.to_struct(
        keep=keep,
        text=F.when(keep & col("text").not_null(), col("out"))
        .otherwise(daft.lit(None).cast(DataType.string())),
    ).alias("result"))
