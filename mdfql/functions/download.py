"""`download(url, ...)`: img2dataset-style fetching of http(s) URLs, one result struct a row.

Each row gets `{bytes, status, error}`: the body (NULL on failure), the last HTTP status (NULL
when no response came) and why it failed (NULL on success). A failed row is counted (stage
`download`, by reason: `http 404`, `timeout`, `connection refused`, `too large`, ...), never an
error of the run. Timeouts, connection errors, HTTP 429 and 5xx are retried `retries` times,
with a short doubling pause; other 4xx are not.

A batch's URLs are fetched by one thread pool per worker process of `concurrency` threads, shared
by every batch the process runs at once, so `concurrency` bounds the requests in flight per
process however many batches Daft runs in parallel; each body is read up to `max_bytes`.

Daft's built-in `url_download(on_error='null')` gives a NULL without the status or the reason, so
it is not used here (read_images uses it, where the reason can be found by reading again).
"""

from __future__ import annotations

import functools
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
from daft import DataType

from mdfql.functions.kernels import kernel
from mdfql.functions.registry import Registry
from mdfql.metrics import record_failure

STAGE = "download"
USER_AGENT = "mdfql-download/0.1 (img2dataset-style; +https://github.com/mdfql)"
RESULT = DataType.struct({"bytes": DataType.binary(), "status": DataType.int32(),
                          "error": DataType.string()})
FIELDS = {"bytes": "the response body (NULL when the download failed)",
          "status": "the last HTTP status (NULL when no response came)",
          "error": "why it failed (NULL on success): 'http 404', 'timeout', "
                   "'connection refused', 'too large', 'cannot connect', 'invalid url'"}
_RETRIED_STATUS = (429, 500, 502, 503, 504)
_BACKOFF_S = 0.1


@dataclass(frozen=True)
class Fetched:
    """One URL's outcome: body, last status, reason it failed, detail for the log."""

    body: bytes | None
    status: int | None
    error: str | None
    detail: str = ""


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """This process's pool of `threads` fetchers (shared by all the batches it runs)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="mdfql-download")


def fetch_once(url: str, timeout: float, max_bytes: int, user_agent: str) -> Fetched:
    """One GET of `url`; never raises."""
    if not url.startswith(("http://", "https://")):
        return Fetched(None, None, "invalid url", "only http(s) URLs are downloaded")
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                return Fetched(None, response.status, "too large", f"over {max_bytes} bytes")
            return Fetched(body, response.status, None)
    except urllib.error.HTTPError as e:
        return Fetched(None, e.code, f"http {e.code}", str(e.reason))
    except urllib.error.URLError as e:
        return _network_error(e.reason)
    except (TimeoutError, OSError, ValueError) as e:
        return _network_error(e)


def _network_error(reason: object) -> Fetched:
    if isinstance(reason, TimeoutError):
        return Fetched(None, None, "timeout", str(reason))
    if isinstance(reason, ConnectionRefusedError):
        return Fetched(None, None, "connection refused", str(reason))
    if isinstance(reason, socket.gaierror):
        return Fetched(None, None, "cannot resolve host", str(reason))
    if isinstance(reason, ValueError):
        return Fetched(None, None, "invalid url", str(reason))
    return Fetched(None, None, "cannot connect", str(reason))


def fetch(url: str, timeout: float, retries: int, max_bytes: int, user_agent: str) -> Fetched:
    """GET `url`, retrying what may pass (timeouts, connection errors, 429, 5xx)."""
    for attempt in range(retries + 1):
        got = fetch_once(url, timeout, max_bytes, user_agent)
        transient = got.error is not None and got.error not in ("invalid url", "too large") and (
            got.status is None or got.status in _RETRIED_STATUS)
        if not transient or attempt == retries:
            return got
        time.sleep(_BACKOFF_S * 2 ** attempt)
    raise AssertionError("unreachable")


def download_batch(urls: pa.Array, timeout: float = 10.0, retries: int = 2,
                   concurrency: int = 16, max_bytes: int = 50_000_000,
                   user_agent: str = USER_AGENT) -> pa.Array:
    """The `download` result struct of each URL of a batch (NULL URL: NULL result)."""
    values = urls.to_pylist()
    todo = [(i, u) for i, u in enumerate(values) if u is not None]
    results = _pool(concurrency).map(
        lambda item: fetch(item[1], timeout, retries, max_bytes, user_agent), todo)
    rows: list[dict | None] = [None] * len(values)
    for (i, url), got in zip(todo, results):
        if got.error is not None:
            record_failure(STAGE, f"{url} ({got.detail})" if got.detail else url, got.error)
        rows[i] = {"bytes": got.body, "status": got.status, "error": got.error}
    return pa.array(rows, RESULT.to_arrow_dtype())


def register(registry: Registry) -> None:
    """Add `download` to `registry`."""
    kernel(
        "download",
        "url:string timeout:numeric[0.001..3600]=10.0 retries:integer[0..10]=2 "
        "concurrency:integer[1..1024]=16 max_bytes:integer[1..]=50000000 "
        "user_agent:string=None",
        download_batch, RESULT,
        "Fetch http(s) URLs img2dataset-style: {bytes, status, error} per row, failures "
        "counted by reason (stage download), never errors. timeout: seconds per attempt; "
        "retries: extra attempts after a timeout, connection error, HTTP 429 or 5xx; "
        "concurrency: requests in flight per worker process; max_bytes: larger bodies fail "
        "as 'too large'; user_agent: the User-Agent header (NULL: mdfql's). A batch UDF over "
        "a thread pool: Daft's url_download(on_error='null') would give no status or reason.",
        runs_as="python", registry=registry, fields=FIELDS, max_row_bytes=None,
    )
