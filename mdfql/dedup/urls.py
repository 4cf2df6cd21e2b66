"""URL normalisation as a Daft expression, for URL-level deduplication and anti joins."""

from __future__ import annotations

from functools import reduce

import daft
import daft.functions as F
from daft import Expression


def normalize_url(url: Expression) -> Expression:
    """`scheme://host[:port]/path[?query]` with scheme and host lowercased, default ports,
    user info and the fragment dropped, a trailing slash removed from non-root paths, empty
    queries dropped and query parameters sorted. Strings that do not parse as absolute URLs
    are only trimmed and lowercased, so they still compare equal to themselves."""
    parts = F.parse_url(url)
    port = F.get(parts, "port")  # the parser already drops a scheme's default port
    path = F.coalesce(F.get(parts, "path"), daft.lit("/"))
    path = F.when(path.length() > 1, F.regexp_replace(path, "/+$", "")).otherwise(path)
    path = F.when(path == "", daft.lit("/")).otherwise(path)
    query = F.list_join(F.list_sort(F.list_filter(F.split(F.get(parts, "query"), "&"),
                                                  daft.element() != "")), "&")
    normal = reduce(F.concat, [
        F.get(parts, "scheme"), daft.lit("://"), F.get(parts, "host"),
        F.when(port.not_null(), F.concat(daft.lit(":"), port.cast(daft.DataType.string())))
        .otherwise(daft.lit("")),
        path,
        F.when(query.not_null() & (query != ""), F.concat(daft.lit("?"), query))
        .otherwise(daft.lit("")),
    ])
    parsed = F.get(parts, "scheme").not_null() & F.get(parts, "host").not_null()
    return F.when(parsed, normal).otherwise(url.strip().lower())
