"""Exact paragraph dedup as Dolma's deduper runs it (src/deduper.rs, `dedupe.paragraphs`), as a
sort instead of a Bloom filter.

Dolma reads documents in order and checks each paragraph (text between newlines, blank ones
skipped) against its Bloom filter: a paragraph already there is a duplicate span, one that is
not is added. Here a paragraph occurrence is a duplicate when the same paragraph (64-bit xxh3
of its text) occurs at an earlier position, positions ordered by (order_key, row id, paragraph
index): the first occurrence is kept, in an earlier document or earlier in the same one. Unlike
Dolma's filter (false-positive rate 1e-6 in its CC config), nothing unseen is flagged, and the
result does not depend on reading order or partitioning.
"""

from __future__ import annotations

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mdfql import _native
from mdfql.functions.kernels import SPAN

SPANS = pa.large_list(SPAN)


def _occurrences(docs: daft.DataFrame) -> tuple[pa.Array, pa.Table]:
    """The documents' row ids, and one row per paragraph: (doc, key, start, end, hash), doc
    the document's position; texts are read batch by batch and not kept."""
    nodes, parts, base = [], [], 0
    for batch in docs.to_arrow_iter():
        text = batch.column("text")
        text = text.cast(pa.large_string()) if not pa.types.is_large_string(text.type) else text
        pars = _native.dolma_paragraphs(text.combine_chunks() if isinstance(
            text, pa.ChunkedArray) else text)
        parent = pc.list_parent_indices(pars)
        flat = pc.list_flatten(pars)
        parts.append(pa.table({
            "doc": pc.add(parent, base), "key": batch.column("key").take(parent),
            "start": flat.field("start"), "end": flat.field("end"), "hash": flat.field("hash")}))
        nodes.append(batch.column("node"))
        base += batch.num_rows
    node = pa.concat_arrays([n.combine_chunks() if isinstance(n, pa.ChunkedArray) else n
                             for n in nodes]) if nodes else pa.array([], pa.uint64())
    occ = pa.concat_tables(parts) if parts else pa.table(
        {"doc": pa.array([], pa.int64()), "key": pa.array([], pa.null()),
         "start": pa.array([], pa.int64()), "end": pa.array([], pa.int64()),
         "hash": pa.array([], pa.uint64())})
    return node, occ


def paragraph_dedup_result(docs: daft.DataFrame) -> daft.DataFrame:
    """`(node, key, text)` -> `(node, result)`, result the spans of the document's duplicate
    paragraphs (Dolma's `bff_duplicate_paragraph_spans`: start, end in characters, score 1.0)."""
    node, occ = _occurrences(docs)
    occ = occ.append_column("node", node.take(occ.column("doc")))
    occ = occ.append_column("p", pa.array(np.arange(len(occ), dtype=np.int64)))
    # within a document, rows come in paragraph order, so `p` orders its paragraphs
    order = pc.sort_indices(occ, sort_keys=[("hash", "ascending"), ("key", "ascending"),
                                            ("node", "ascending"), ("p", "ascending")])
    occ = occ.take(order)
    h = occ.column("hash").to_numpy()
    dup = np.concatenate([[False], h[1:] == h[:-1]]) if len(h) else np.zeros(0, bool)
    dups = occ.filter(pa.array(dup)).sort_by([("doc", "ascending"), ("p", "ascending")])
    counts = np.bincount(dups.column("doc").to_numpy(), minlength=len(node))
    spans = pa.StructArray.from_arrays(
        [dups.column("start").combine_chunks(), dups.column("end").combine_chunks(),
         pa.array(np.ones(len(dups)), pa.float64())], fields=list(SPAN))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int64())
    result = pa.LargeListArray.from_arrays(offsets, spans)
    return daft.from_arrow(pa.table({"node": node, "result": result}))
