"""The dedup operators (`f(args) OVER ()`) as relational stages, and `normalize_url`.

Each operator declares what it spills per row (its keys, computed while the input streams:
band hashes rather than signatures), how it computes its result from those keys alone, and
the type of its output column; `mdfql.plan.stages` runs it as a pipeline breaker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import daft
import daft.functions as F
import pyarrow as pa
from daft import DataType, Expression, Series, col

from mdfql import _native, threads
from mdfql.dedup.lsh import check_bands
from mdfql.dedup.ngrams import ngram_dedup_result
from mdfql.dedup.paragraphs import SPANS, paragraph_dedup_files
from mdfql.dedup.semantic import semantic_labels
from mdfql.dedup.spilled import hamming_labels, lsh_labels
from mdfql.dedup.urls import normalize_url
from mdfql.functions.builtins import define, parse_param
from mdfql.functions.guard import call_guarded
from mdfql.functions.kernels import BATCH_SIZE
from mdfql.functions.registry import ArgInfo, Registry, relational
from mdfql.plan.stages import NODE, RelationalOp

BAND = "__band_"
SIG, TEXT, HASH, KEY, EMBEDDING = "__sig", "__text", "__hash", "__key", "__embedding"


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
@functools.cache
def _band_key_udf(bands: int) -> Callable[..., Expression]:
    """The batch UDF of `_native.lsh_band_keys` for `bands` bands (its struct result has one
    field per band)."""
    out = DataType.struct({f"b{b}": DataType.uint64() for b in range(bands)})
    result_type = out.to_arrow_dtype()

    def lsh_band_keys(sig: Series, bands: int, rows: int) -> pa.Array:
        threads.ensure()
        return call_guarded("lsh_band_keys", _native.lsh_band_keys, [sig.to_arrow()],
                            {"bands": bands, "rows": rows}, result_type)

    return daft.func.batch(return_dtype=out, batch_size=BATCH_SIZE)(lsh_band_keys)


def band_keys(sig: Expression, bands: int, rows: int) -> dict[str, Expression]:
    """One key column per band: the hash of the band's slice of the signature (band index as
    seed), as Daft's `hash(slice(sig, ..), seed := band)` computes it. NULL and degenerate
    signatures (all positions equal: an empty shingle set) get NULL keys, so they stay
    singletons; so do signatures shorter than bands x rows (checked at plan time when the
    length is in the type, see `check_bands`): their last slices would be empty, equal in every
    document, and join them all in one cluster. One Rust call per batch computes every band:
    as 450 Daft expressions (RefinedWeb's 450 bands of 20 rows) the keys cost more than the
    rest of the pipeline, and each expression held its own slice of the 9,000-value signature."""
    keys = _band_key_udf(bands)(sig, bands, rows)
    return {f"{BAND}{b}": keys.get(f"b{b}") for b in range(bands)}


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
                 bands: int, rows: int, threshold: float | None, ngram: int,
                 against: str | None, side: list[str] | None = None) -> list[str]:
    threads.ensure()  # on a Ray worker: the pool of the CPUs the task was given
    verify = "text" if TEXT in keys else "sig" if SIG in keys else None
    return lsh_labels(files, out_dir, node=NODE, bands=[k for k in keys if k.startswith(BAND)],
                      threshold=threshold, verify=verify, ngram=ngram, against=side,
                      value=TEXT if verify == "text" else SIG if verify == "sig" else None)


def _lsh_index(o: dict[str, Any], resolve: Callable[[str], Any]) -> daft.DataFrame | None:
    """`against := 'ns.table'`: the index of documents kept by earlier runs (`id`, `bands`
    as written with lsh_bands(...)); a table that does not exist yet is an empty index."""
    if o["against"] is None:
        return None
    view = resolve(o["against"])
    if view is None:
        return None
    names = set(view.df.column_names)
    if not {"id", "bands"} <= names:
        raise ValueError(f"the index {o['against']} needs columns id and bands "
                         "(lsh_bands(sig, bands := .., rows := ..)); it has "
                         + ", ".join(sorted(names)))
    return view.df.select(col("id").alias("node"), col("bands"))


def _lsh_validate(o: dict[str, Any], given: dict[str, ArgInfo]) -> None:
    check_bands(o["bands"], o["rows"], given.get("sig"))
    if "text" in given and o["threshold"] is None:
        raise ValueError("lsh_cluster's text is only used to check pairs: give a threshold")
    if o["against"] is not None and o["threshold"] is not None:
        raise ValueError("an index keeps band keys only: `against` takes no threshold")


def _lsh_describe(o: dict[str, Any]) -> str:
    check = "" if o["threshold"] is None else \
        f"; pairs checked at Jaccard >= {o['threshold']!r} (spills the check's input)"
    index = "" if o["against"] is None else \
        f"; clusters with the index {o['against']} (its documents win)"
    return f"{o['bands']} band keys of {o['rows']} rows per row{check}{index}"


LSH = RelationalOp(keys=_lsh_keys, dtype=_same_as_node, compute=_lsh_compute,
                   describe=_lsh_describe, validate=_lsh_validate, side_input=_lsh_index)


# --- hamming_cluster -----------------------------------------------------------------------
def _hamming_compute(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                     max_distance: int, fanout: int) -> list[str]:
    threads.ensure()
    return hamming_labels(files, out_dir, node=NODE, hash=HASH, max_distance=max_distance,
                          fanout=fanout)


HAMMING = RelationalOp(
    keys=lambda a, o: {HASH: a["hash"]}, dtype=_same_as_node, compute=_hamming_compute,
    describe=lambda o: f"the 64-bit hash per row; {o['max_distance'] + 1} bit bands, "
                       f"fanout {o['fanout']}")


# --- semantic_cluster ----------------------------------------------------------------------
def _semantic_compute(files: list[str], out_dir: Path, *, keys: list[str], node_dtype: DataType,
                      clusters: int, eps: float, seed: int, iterations: int) -> list[str]:
    threads.ensure()
    return semantic_labels(files, out_dir, node=NODE, embedding=EMBEDDING, clusters=clusters,
                           eps=eps, seed=seed, iterations=iterations)


def _semantic_validate(o: dict[str, Any], given: dict[str, ArgInfo]) -> None:
    if not 0 < o["eps"] <= 1:
        raise ValueError(f"eps must lie in (0, 1] (pairs with cosine similarity >= 1 - eps "
                         f"are duplicates), got {o['eps']!r}")


SEMANTIC = RelationalOp(
    keys=lambda a, o: {EMBEDDING: a["embedding"]}, dtype=_same_as_node,
    compute=_semantic_compute, validate=_semantic_validate,
    describe=lambda o: f"the embedding per row; spherical k-means into {o['clusters']} "
                       f"clusters (seed {o['seed']}), pairs at cosine >= 1 - {o['eps']!r}")


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
    missing="null")


# --- paragraph_dedup, line_dedup -----------------------------------------------------------
def _span_dedup(segments: Callable[[pa.Array], pa.Array], keeps: str) -> RelationalOp:
    """An exact dedup of the units `segments` cuts texts into: the duplicates' spans."""
    def compute(files: list[str], out_dir: Path, *, keys: list[str],
                node_dtype: DataType) -> list[str]:
        threads.ensure()
        return paragraph_dedup_files(files, out_dir, node=NODE, key=KEY, text=TEXT,
                                     segments=segments)

    # (a function, not a functools.partial: Ray's remote() takes functions and classes only)
    return RelationalOp(
        keys=lambda a, o: {TEXT: a["text"], KEY: a["order_key"]},
        dtype=lambda a, n, o: DataType.from_arrow_type(SPANS), compute=compute,
        describe=lambda o: f"text and order key per row; keeps {keeps}", missing="empty")


PARAGRAPHS = _span_dedup(_native.dolma_paragraphs,
                         "a 64-bit hash and offsets per paragraph")
LINES = _span_dedup(_native.c4_lines,
                    "a 64-bit hash of each line (stripped, lowercased) and its offsets")


def register(registry: Registry) -> None:
    """Add the dedup operators and normalize_url to `registry`."""
    relational(
        "lsh_cluster", LSH,
        _params("sig:list id:any? text:string? bands:integer[1..]=14 rows:integer[1..]=8 "
                "threshold:numeric[0..1]=None ngram:integer[1..]=5 against:string=None"),
        "Near-duplicate cluster of a MinHash signature (any list of integers), used as "
        "`lsh_cluster(sig) OVER ()`: the smallest row id of its connected component of LSH "
        "band collisions (`bands` x `rows` values, at most the signature's length; shorter "
        "signatures are singletons), optionally only through pairs whose "
        "Jaccard is >= `threshold`: estimated from the signatures, or exact over the word "
        "`ngram`-grams of `text` when given (normalised as minhash does). Row ids are `id` "
        "when given (unique per document), else a 64-bit hash of the row. NULL signatures are "
        "singletons. `against := 'ns.table'` also clusters with an index of documents kept "
        "earlier (columns id, bands = lsh_bands(sig, ...)); those win: a new document near one "
        "of them gets its id as cluster.",
        "uint64 (or the type of id)", registry)
    relational(
        "hamming_cluster", HAMMING,
        _params("hash:integer id:any? max_distance:integer[0..63]=10 fanout:integer[1..]=32"),
        "Near-duplicate cluster of a 64-bit image hash (pHash/dHash), used as "
        "`hamming_cluster(hash) OVER ()`: the smallest row id of its connected component of "
        "pairs within `max_distance` differing bits, found by multi-index hashing "
        "(max_distance + 1 exact bands; each hash compared with the next `fanout` hashes of "
        "each band bucket).",
        "uint64 (or the type of id)", registry)
    relational(
        "semantic_cluster", SEMANTIC,
        _params("embedding:list id:any? clusters:integer[1..]=100 eps:numeric[0..1]=0.01 "
                "seed:integer[0..]=0 iterations:integer[1..]=20"),
        "SemDeDup duplicate group of an embedding (any list of numbers), used as "
        "`semantic_cluster(embedding, id) OVER ()`: spherical k-means of the L2-normalised "
        "embeddings into `clusters` clusters (seeded, deterministic), then within each "
        "cluster pairs with cosine similarity >= 1 - `eps` are duplicates; a group (connected "
        "component of such pairs) is labelled with the id of its member farthest from the "
        "centroid (SemDeDup's keep rule; ties: smallest id), so `QUALIFY semantic_cluster(...) "
        "OVER () = id` keeps one row per group. Row ids are `id` when given, else a hash of "
        "the row. NULL, zero or wrong-length embeddings are singletons.",
        "uint64 (or the type of id)", registry)
    relational(
        "ngram_dedup", NGRAM,
        _params("text:string order_key:any ngram:integer[1..]=13 threshold:numeric[0..1]=0.8"),
        "DCLM/BFF-style n-gram dedup, used as `ngram_dedup(text, order_key) OVER ()`: a struct "
        "{keep: bool, text: string}. A document is dropped (keep = false) when >= `threshold` "
        "of its word `ngram`-grams occur earlier (smaller order_key, then earlier paragraph); "
        "else paragraphs (lines) with >= `threshold` of their n-grams seen earlier are "
        "removed.",
        "struct<keep: bool, text: string>", registry,
        fields={"keep": "false when the document is a duplicate of earlier ones",
                "text": "the text without its duplicated paragraphs"})
    relational(
        "paragraph_dedup", PARAGRAPHS, _params("text:string order_key:any"),
        "Dolma's exact paragraph dedup (its deduper's `dedupe.paragraphs`), used as "
        "`paragraph_dedup(text, order_key) OVER ()`: the spans {start, end, score} (characters, "
        "score 1.0, Dolma's offsets: a paragraph's newline included) of the paragraphs "
        "(newline-separated, blank ones skipped) whose exact text occurs earlier: smaller "
        "order_key, then row id, then earlier in the same document. Remove them with "
        "remove_spans(text, spans).",
        "list<struct<start: int64, end: int64, score: float64>>", registry)
    relational(
        "line_dedup", LINES, _params("text:string order_key:any"),
        "C4's exact line dedup (TFDS c4_utils.remove_duplicate_text), used as "
        "`line_dedup(text, md5(url)) OVER ()`: the spans {start, end, score} (characters, "
        "score 1.0, each line's following newline included) of the lines (`text.split('\\n')`, "
        "blank ones too) whose stripped, lowercased text occurs earlier: smaller order_key, "
        "then row id, then earlier in the same document. remove_spans(text, spans) leaves the "
        "kept lines joined by newlines (and a final newline when the last line went).",
        "list<struct<start: int64, end: int64, score: float64>>", registry)
    define("lsh_bands", "sig:list bands:integer[1..]=14 rows:integer[1..]=8",
           lambda sig, bands, rows: F.to_list(*band_keys(sig, bands, rows).values()),
           "list<uint64>",
           "The LSH band keys lsh_cluster computes from a signature (NULL keys for NULL, "
           "degenerate or too short signatures): what an index for `lsh_cluster(..., against "
           ":= ...)` stores.", registry=registry,
           validate=lambda o, args: check_bands(o["bands"], o["rows"], args.get("sig")))
    define("normalize_url", "url:string", normalize_url, "string",
           "Canonical URL for deduplication: lowercase scheme and host, no default port, user "
           "info or fragment, no trailing slash, sorted query parameters.", registry=registry)
