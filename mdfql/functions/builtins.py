"""Daft built-in expressions exposed as SQL functions (scalar, aggregate and window).

Each entry is declared once: SQL name, parameters (see `registry.parse_param`: `name:type`, a
literal option `name:type[low..high]=default`, choices `name:type{a|b}=default`), builder, return
type, doc.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import daft
import daft.functions as F
from daft import Expression

from mdfql.functions.registry import ArgInfo, FunctionSpec, Registry, parse_param

# mdfql's Daft-backed functions, declared below; `register` adds them to a registry.
BUILTINS: list[FunctionSpec] = []


def define(
    name: str,
    params: str,
    build: Callable[..., Expression],
    returns: str,
    doc: str,
    *,
    variadic: bool = False,
    aggregate: bool = False,
    window_only: bool = False,
    registry: Registry | None = None,
    fields: dict[str, str] | None = None,
    list_width: Callable[[dict[str, Any]], int] | None = None,
    validate: Callable[[dict[str, Any], dict[str, ArgInfo]], None] | None = None,
    over: str | None = None,
) -> None:
    """Declare one Daft-backed function (into `registry` when given, else BUILTINS); see
    FunctionSpec for `fields` (struct results), `list_width`, `validate` and `over`
    (aggregates need PARTITION BY when used as windows)."""
    spec = FunctionSpec(
        name=name,
        params=tuple(parse_param(p) for p in params.split()) if params else (),
        build=build,
        doc=doc,
        returns=returns,
        runs_as="daft",
        variadic=variadic,
        aggregate=aggregate,
        window_only=window_only,
        fields=dict(fields or {}),
        list_width=list_width,
        validate=validate,
        over=over or ("PARTITION BY" if aggregate else None),
    )
    if registry is not None:
        registry.add(spec)
    else:
        BUILTINS.append(spec)


def register(registry: Registry) -> None:
    """Add the built-in functions to `registry`."""
    for spec in BUILTINS:
        registry.add(spec)


def _concat(args: list[Expression]) -> Expression:
    return reduce(F.concat, [a.cast(daft.DataType.string()) for a in args])


# --- strings -------------------------------------------------------------------------------
define("lower", "text:string", lambda text: text.lower(), "string", "Lowercase.")
define("upper", "text:string", lambda text: text.upper(), "string", "Uppercase.")
define("length", "text:string", lambda text: text.length(), "uint64", "Length in characters.")
define("length_bytes", "text:string", lambda text: text.length_bytes(), "uint64",
       "Length in UTF-8 bytes.")
define("trim", "text:string", lambda text: text.strip(), "string",
       "Strip leading and trailing whitespace.")
define("ltrim", "text:string", lambda text: text.lstrip(), "string",
       "Strip leading whitespace.")
define("rtrim", "text:string", lambda text: text.rstrip(), "string",
       "Strip trailing whitespace.")
define("replace", "text:string search:string replacement:string",
       lambda text, search, replacement: F.replace(text, search, replacement), "string",
       "Replace every occurrence of `search`.")
define("contains", "text:string needle:string", lambda text, needle: F.contains(text, needle),
       "bool", "True when `needle` occurs in `text`.")
define("starts_with", "text:string prefix:string", lambda text, prefix: text.startswith(prefix),
       "bool", "True when `text` starts with `prefix`.")
define("ends_with", "text:string suffix:string", lambda text, suffix: text.endswith(suffix),
       "bool", "True when `text` ends with `suffix`.")
define("substring", "text:string start:integer length:integer[0..]=None",
       lambda text, start, length: F.substr(text, start - 1, length), "string",
       "Substring from 1-based `start`, `length` characters (to the end when omitted).")
define("left", "text:string n:integer", lambda text, n: F.left(text, n), "string",
       "The first `n` characters.")
define("right", "text:string n:integer", lambda text, n: F.right(text, n), "string",
       "The last `n` characters.")
define("reverse", "text:string", lambda text: F.reverse(text), "string", "Reverse a string.")
define("split", "text:string sep:string", lambda text, sep: F.split(text, sep), "list[string]",
       "Split on a separator.")
define("concat", "first:any", lambda *args: _concat(list(args)), "string",
       "Concatenate values as strings.", variadic=True)
define("regexp_matches", "text:string pattern:string",
       lambda text, pattern: F.regexp(text, pattern), "bool",
       "True when the regular expression matches anywhere in `text`.")
define("regexp_extract", "text:string pattern:string index:integer[0..]=0",
       lambda text, pattern, index: F.regexp_extract(text, pattern, index), "string",
       "The `index`-th capture group of the first match.")
define("regexp_extract_all", "text:string pattern:string index:integer[0..]=0",
       lambda text, pattern, index: F.regexp_extract_all(text, pattern, index), "list[string]",
       "The `index`-th capture group of every match.")
define("regexp_replace", "text:string pattern:string replacement:string",
       lambda text, pattern, replacement: F.regexp_replace(text, pattern, replacement), "string",
       "Replace every match of the regular expression.")
define("regexp_split", "text:string pattern:string",
       lambda text, pattern: F.regexp_split(text, pattern), "list[string]",
       "Split on a regular expression.")
define("count_matches", "text:string patterns:any whole_words:bool=False case_sensitive:bool=True",
       lambda text, patterns, whole_words, case_sensitive: F.count_matches(
           text, patterns, whole_words=whole_words, case_sensitive=case_sensitive),
       "uint64", "Count occurrences of any of `patterns` (a string or list of strings).")
define("normalize",
       "text:string remove_punct:bool=False lowercase:bool=False nfd_unicode:bool=False "
       "white_space:bool=False",
       lambda text, **opts: F.normalize(text, **opts), "string",
       "Daft's text normalisation (punctuation, case, NFD, whitespace).")

# --- hashing and signatures ---------------------------------------------------------------
define("hash", "value:any seed:integer[0..]=0 "
       "algorithm:string{xxhash|xxhash32|xxhash64|xxhash3_64|murmurhash3|sha1}='xxhash3_64'",
       lambda value, seed, algorithm: F.hash(value, seed=seed, hash_function=algorithm), "uint64",
       "64-bit hash of any value with the chosen algorithm.")
# `minhash` itself is mdfql's kernel (functions/kernels.py); Daft's stays reachable to compare.
define("daft_minhash",
       "text:string num_hashes:integer[1..65536]=112 ngram_size:integer[1..]=5 "
       "seed:integer[0..]=1 hash_function:string{murmurhash3|xxhash|xxhash3_64|sha1}='murmurhash3'",
       lambda text, **opts: F.minhash(text, **opts), "list[uint32]",
       "Daft's built-in MinHash over space-separated word n-grams (normalise the text first).",
       list_width=lambda o: o["num_hashes"])

# --- urls -----------------------------------------------------------------------------------
define("parse_url", "url:string", lambda url: F.parse_url(url), "struct",
       "Parse a URL into its parts (NULL parts when absent; NULL for an unparseable URL).",
       fields={"scheme": "e.g. 'https'", "username": "user name before '@'",
               "password": "password before '@'", "host": "host name, e.g. 'example.com'",
               "port": "port number (uint16), NULL for the scheme's default",
               "path": "path, e.g. '/a/b'", "query": "query string after '?'",
               "fragment": "fragment after '#'"})
define("url_host", "url:string", lambda url: F.get(F.parse_url(url), "host"), "string",
       "The host of a URL.")

# --- nulls, numbers -------------------------------------------------------------------------
define("coalesce", "first:any", lambda *args: F.coalesce(*args), "any",
       "The first non-null argument.", variadic=True)
define("ifnull", "value:any fallback:any", lambda value, fallback: F.coalesce(value, fallback),
       "any", "`fallback` when `value` is null.")
define("abs", "x:numeric", lambda x: x.abs(), "numeric", "Absolute value.")
define("round", "x:numeric decimals:integer[0..]=0", lambda x, decimals: F.round(x, decimals),
       "numeric", "Round to `decimals` places.")
define("floor", "x:numeric", lambda x: x.floor(), "numeric", "Round down.")
define("ceil", "x:numeric", lambda x: x.ceil(), "numeric", "Round up.")
define("sqrt", "x:numeric", lambda x: x.sqrt(), "float64", "Square root.")
define("ln", "x:numeric", lambda x: x.ln(), "float64", "Natural logarithm.")
define("log10", "x:numeric", lambda x: x.log10(), "float64", "Base-10 logarithm.")
define("greatest", "first:any", lambda *args: F.columns_max(*args), "any",
       "The largest argument.", variadic=True)
define("least", "first:any", lambda *args: F.columns_min(*args), "any",
       "The smallest argument.", variadic=True)

# --- lists and structs ----------------------------------------------------------------------
define("list_length", "items:list", lambda items: F.list_count(items, "all"), "uint64",
       "Number of elements of a list.")
define("list_contains", "items:list value:any",
       lambda items, value: F.list_contains(items, value), "bool",
       "True when the list contains `value`.")
define("list_join", "items:list sep:string", lambda items, sep: F.list_join(items, sep), "string",
       "Join a list of strings.")
define("list_sort", "items:list", lambda items: F.list_sort(items), "list", "Sort a list.")
define("list_distinct", "items:list", lambda items: F.list_distinct(items), "list",
       "Distinct elements of a list.")
define("struct_extract", "value:struct field:string!", lambda value, field: F.get(value, field),
       "any", "A field of a struct (same as `value.field`).")

# --- dates ----------------------------------------------------------------------------------
define("year", "ts:temporal", lambda ts: ts.year(), "int32", "Year of a date or timestamp.")
define("month", "ts:temporal", lambda ts: ts.month(), "uint32", "Month (1-12).")
define("day", "ts:temporal", lambda ts: ts.day(), "uint32", "Day of month.")
define("date_trunc", "unit:string{second|minute|hour|day|week}! ts:temporal",
       lambda unit, ts: F.date_trunc(f"1 {unit}", ts), "timestamp",
       "Truncate a timestamp to the start of its second, minute, hour, day or week.")

# --- aggregates -----------------------------------------------------------------------------
_AGGREGATES: dict[str, tuple[Callable[[Expression], Expression], str, str]] = {
    "sum": (lambda x: x.sum(), "numeric", "Sum."),
    "avg": (lambda x: x.mean(), "float64", "Mean."),
    "mean": (lambda x: x.mean(), "float64", "Mean."),
    "min": (lambda x: x.min(), "any", "Minimum."),
    "max": (lambda x: x.max(), "any", "Maximum."),
    "any_value": (lambda x: x.any_value(), "any", "Any one value of the group."),
    "stddev": (lambda x: x.stddev(), "float64", "Standard deviation."),
    "list": (lambda x: F.list_agg(x), "list", "All values of the group as a list."),
    "approx_count_distinct": (lambda x: x.approx_count_distinct(), "uint64",
                              "HyperLogLog distinct count."),
    "bool_and": (lambda x: x.bool_and(), "bool", "True when every value is true."),
    "bool_or": (lambda x: x.bool_or(), "bool", "True when any value is true."),
}
# what the aggregated values must be; the others take any type
_AGGREGATE_INPUTS = {"sum": "numeric", "avg": "numeric", "mean": "numeric",
                     "stddev": "numeric", "bool_and": "bool", "bool_or": "bool"}
for _name, (_build, _returns, _doc) in _AGGREGATES.items():
    define(_name, f"x:{_AGGREGATE_INPUTS.get(_name, 'any')}", _build, _returns, _doc,
           aggregate=True)
define("count", "x:any", lambda x: x.count(), "uint64",
       "Count non-null values; `count(*)` counts rows; `count(DISTINCT x)` distinct values.",
       aggregate=True)
define("count_distinct", "x:any", lambda x: x.count_distinct(), "uint64",
       "Count distinct non-null values.", aggregate=True)
define("string_agg", "x:string sep:string=''", lambda x, sep: F.string_agg(x, sep), "string",
       "Concatenate the group's strings.", aggregate=True)

# --- window-only functions ------------------------------------------------------------------
define("row_number", "", lambda: F.row_number(), "uint64",
       "1, 2, 3, ... within the window partition, in window order.", window_only=True,
       over="ORDER BY")
define("rank", "", lambda: F.rank(), "uint64", "Rank with gaps.", window_only=True,
       over="ORDER BY")
define("dense_rank", "", lambda: F.dense_rank(), "uint64", "Rank without gaps.",
       window_only=True, over="ORDER BY")


def _shift(fn: Callable[..., Expression]) -> Callable[..., Expression]:
    def build(x: Expression, offset: int, default: Any) -> Expression:
        return fn(x, offset, None if default is None else daft.lit(default))

    return build


define("lag", "x:any offset:integer[0..]=1 default:any=None", _shift(F.lag), "any",
       "The value `offset` rows before, in window order.", window_only=True,
       over="PARTITION BY and ORDER BY")
define("lead", "x:any offset:integer[0..]=1 default:any=None", _shift(F.lead), "any",
       "The value `offset` rows after, in window order.", window_only=True,
       over="PARTITION BY and ORDER BY")
