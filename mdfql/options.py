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
    Option("limit", _positive_int, None, "Read at most this many rows from each source."),
    Option("batch_rows", _positive_int, None,
           "Rows per batch flowing through the plan (Daft's morsel size; default Daft's own, "
           "131,072): peak memory is about batch_rows x row width x the operators in flight, "
           "so lower it for wide rows (whole HTML pages, long signatures)."),
    Option("threads", _positive_int, None,
           "Threads of mdfql's Rust kernels in this process (default: the CPUs it was given: "
           "a Ray worker's CPU allotment, else its affinity mask and cgroup quota)."),
    Option("work_dir", str, None,
           "Where relational stages spill their input (Parquet, one folder per run, kept); "
           "default: a temporary directory removed after the run. On Ray: a path every node "
           "sees."),
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
