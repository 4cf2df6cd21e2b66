"""Options a pipeline sets with `SET key = value` (and the CLI with flags), with their docs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mdfql.errors import MdfqlError, Span, did_you_mean


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).lower()
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


def _positive_int(value: Any) -> int:
    n = int(value)
    if n <= 0:
        raise ValueError("must be a positive integer")
    return n


def _fraction(value: Any) -> float:
    x = float(value)
    if not 0.0 <= x <= 1.0:  # NaN fails both comparisons
        raise ValueError("must be a number from 0 to 1")
    return x


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError("must be true or false")
    return text in ("true", "1")


FUNNEL_MODES = ("counts", "detail", "off")


def _funnel(value: Any) -> str:
    """A funnel mode: true is 'counts', false 'off'."""
    if isinstance(value, bool):
        return "counts" if value else "off"
    text = str(value).lower()
    text = {"true": "counts", "1": "counts", "on": "counts", "false": "off", "0": "off"
            }.get(text, text)
    if text not in FUNNEL_MODES:
        raise ValueError("must be 'counts' (true), 'detail' or false")
    return text


@dataclass(frozen=True)
class Option:
    """One settable option: key, parser/validator, default and doc."""

    key: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str


OPTIONS: dict[str, Option] = {o.key: o for o in [
    Option("runner", _choice("native", "ray"), "native",
           "Where the plan runs: the embedded native runner or a Ray cluster."),
    Option("ray.address", str, None,
           "Ray cluster address; unset starts a local Ray for the run and stops it after."),
    Option("catalog.uri", str, None,
           "Iceberg catalog URI: sqlite:///... (embedded SQL catalog) or http(s):// (REST)."),
    Option("catalog.warehouse", str, None, "Iceberg warehouse location (default ./warehouse)."),
    Option("catalog.name", str, None, "Iceberg catalog name."),
    Option("catalog.kind", _choice("sql", "rest"), None, "Iceberg catalog kind."),
    Option("seed", int, 0, "Seed for randomised functions (sampling, hashing seeds)."),
    Option("limit", _positive_int, None,
           "Read at most this many rows from each source (a trial run): tables are then "
           "written to the scratch namespace, COPY to '<dir>.limit', never over real output."),
    Option("scratch_namespace", str, "scratch",
           "Namespace of the tables a run with a limit writes instead of the real ones "
           "(ns.table becomes <scratch_namespace>.ns_table)."),
    Option("on_missing_input", _choice("error", "skip"), "error",
           "A read_warc/commoncrawl pattern that matches no file: an error before anything is "
           "written, or 'skip' (the source reads no rows from it; a CREATE OR REPLACE whose "
           "result is then empty keeps the table, an INSERT appends nothing)."),
    Option("max_failed_fraction", _fraction, 0.05,
           "Error budget: when more than this fraction of a source's records fail to read or "
           "parse, the statement is aborted before its commit (nothing written)."),
    Option("batch_rows", _positive_int, None,
           "Rows per batch flowing through the plan (Daft's morsel size; default Daft's own, "
           "131,072): peak memory is about batch_rows x row width x the operators in flight, "
           "so lower it for wide rows (whole HTML pages, long signatures)."),
    Option("threads", _positive_int, None,
           "Threads of mdfql's Rust kernels in this process (default: the CPUs it was given: "
           "a Ray worker's CPU allotment, else its affinity mask and cgroup quota)."),
    Option("funnel", _funnel, "counts",
           "What the run summary's funnel holds: 'counts' (true), the rows each WHERE "
           "conjunct, HAVING, QUALIFY and DISTINCT ON keeps, counted by Daft's operator stats; "
           "'detail' adds sampled signal values and example rows per step (a batch UDF per "
           "filter: slower; `mdfql run --report` and rejects turn it on, and counts on Ray "
           "take this way); false compiles plain filters (Daft may then push them into "
           "scans). Set before the views it should count."),
    Option("rejects", str, None,
           "Iceberg table ('ns.table') that gets the rows the counted filters dropped: the "
           "statement, view and first failing predicate, url/record_id/text previews and the "
           "whole row as JSON, tagged with the run id; appended only when the run's own writes "
           "committed. Set before the views whose rejects it should keep."),
    Option("work_dir", str, None,
           "Where relational stages spill their input (Parquet, one folder per run, kept); "
           "default: a temporary directory removed after the run. On Ray: a path every node "
           "sees."),
    Option("max_image_pixels", _positive_int, 89_478_485,
           "Decompression-bomb cap of the image functions (image_info, image_quality, phash, "
           "dhash): an image whose header claims more pixels is refused before decoding, a "
           "NULL result and a counted 'too many pixels' failure (Pillow's MAX_IMAGE_PIXELS); a "
           "call's own max_pixels := n wins."),
    Option("history_table", str, "mdfql.runs",
           "The Iceberg table of the run's catalog where every run appends its record (status, "
           "inputs, counts, sinks, timings; `mdfql runs`, `mdfql report`); 'off' keeps none."),
]}


def parse_option(key: str, value: Any, span: Span | None = None) -> Any:
    """Validate one option, raising a positioned error with a suggestion when it is wrong."""
    opt = OPTIONS.get(key.lower())
    if opt is None:
        raise MdfqlError(f"unknown option '{key}'", span, did_you_mean(key, OPTIONS))
    try:
        return opt.parse(value)
    except (TypeError, ValueError) as e:
        raise MdfqlError(f"option '{key}' {e}", span) from None


def option_value(options: dict[str, Any], key: str) -> Any:
    """The value of option `key` in `options` (a script's SET values), else its default."""
    value = options.get(key)
    return OPTIONS[key].default if value is None else value
