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
from daft import DataType, Window, col

WORD = r"\w+"
INDEX_WIDTH = 10  # zero-padded paragraph index: string order = paragraph order


def paragraphs(docs: daft.DataFrame) -> daft.DataFrame:
    """`(node, key, text)` -> `(node, key, p, par)`, one row per newline-separated paragraph."""
    return (docs.select("node", "key", F.split(col("text"), "\n").alias("par"))
            .explode("par", index_column="p"))


def ngram_occurrences(pars: daft.DataFrame, ngram: int) -> daft.DataFrame:
    """`(node, key, p, g)`: every word n-gram of every paragraph, `g` its 64-bit hash.

    Words are hashed once, then each n-gram is its first word's hash with the next `ngram - 1`
    taken by `lead` over the paragraph: O(words x ngram), not O(words^2).
    """
    words = (pars.select("node", "key", "p", F.list_map(F.regexp_extract_all(col("par"), WORD),
                                                          F.hash(daft.element())).alias("w"))
             .explode("w", index_column="i").where(col("w").not_null()))
    window = Window().partition_by("node", "p").order_by("i")
    ahead = [F.lead(col("w"), k).over(window) for k in range(1, ngram)]
    grams = words.select("node", "key", "p", F.to_list(col("w"), *ahead).alias("gram"))
    if ngram > 1:
        grams = grams.where(F.list_count(col("gram")) == ngram)  # count skips the NULL leads
    return grams.select("node", "key", "p", F.hash(col("gram")).alias("g"))


def paragraph_stats(occ: daft.DataFrame) -> daft.DataFrame:
    """`(node, p, total, seen)`: n-grams per paragraph and how many occur at an earlier
    position (rank > 1: every occurrence at the first position of that n-gram ranks 1)."""
    first = Window().partition_by("g").order_by(col("key"), col("node"), col("p"))
    ranked = occ.with_column("seen", (F.rank().over(first) > 1).cast(DataType.int64()))
    return ranked.groupby("node", "p").agg(col("g").count().alias("total"),
                                           col("seen").sum().alias("seen"))


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
