"""Selection by rank: the rank windows `percent_rank()`, `cume_dist()`, `ntile(n)` (each a
relational stage over spilled keys, see `mdfql.dedup.ranking`) and the quantile aggregates
`quantile_cont`, `median`, `approx_quantile` (Daft's exact and DDSketch percentiles)."""

from __future__ import annotations

from dataclasses import dataclass

import daft.functions as F
from daft import DataType

from mdfql.functions.builtins import define, parse_param
from mdfql.functions.registry import Registry, relational


@dataclass(frozen=True)
class RankWindow:
    """The `build` of a rank window spec: the compiler turns `f() OVER (PARTITION BY ...
    ORDER BY ...)` into a stage computing `function` (`mdfql.dedup.ranking.rank_values`)."""

    function: str
    dtype: DataType
    kind: str = "window, a stage over spilled keys"


_RANKS = {
    "percent_rank": ("", DataType.float64(), "double",
                     "(rank - 1) / (rows in the partition - 1), in window order: 0 for the "
                     "first peers, 1 for the last; 0 in a one-row partition."),
    "cume_dist": ("", DataType.float64(), "double",
                  "Share of the partition's rows ordered before the row or its peers "
                  "(rows <= current / rows), in (0, 1]."),
    "ntile": ("n:integer[1..]!", DataType.int64(), "bigint",
              "Bucket 1..n in window order, bucket sizes differing by at most one with the "
              "first buckets larger (as Postgres and DuckDB); peers on a bucket boundary are "
              "split in input order."),
}
_STAGE = (" Runs as a stage: the rows spill once, the ranks are computed from row ids, "
          "partition keys and order values alone (~24 bytes a row plus the keys), then the "
          "rows stream on, so a global `OVER (ORDER BY ...)` never gathers whole rows.")


def register(registry: Registry) -> None:
    """Add the rank windows and quantile aggregates to `registry`."""
    for name, (params, dtype, returns, doc) in _RANKS.items():
        relational(name, RankWindow(name, dtype),
                   tuple(parse_param(p) for p in params.split()), doc + _STAGE, returns,
                   registry)
    define("quantile_cont", "x:numeric q:numeric[0..1]!",
           lambda x, q: F.percentile(x.cast(DataType.float64()), q), "double",
           "The exact `q` quantile of the non-NULL values, interpolated between the two "
           "nearest ranks (DuckDB's quantile_cont, Postgres' percentile_cont); NULL when "
           "there are none. Holds the group's values while it aggregates.",
           aggregate=True, registry=registry)
    define("median", "x:numeric", lambda x: F.percentile(x.cast(DataType.float64()), 0.5),
           "double", "quantile_cont(x, 0.5).", aggregate=True, registry=registry)
    define("approx_quantile", "x:numeric q:numeric[0..1]!",
           lambda x, q: F.approx_percentiles(x.cast(DataType.float64()), q), "double",
           "The approximate `q` quantile of the non-NULL values from a DDSketch (relative "
           "error <= 1%, mergeable, fixed memory per group); NULL when there are none.",
           aggregate=True, registry=registry)
