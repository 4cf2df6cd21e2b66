"""`read_warc`: WARC/ARC archives -> a lazy Daft DataFrame of decoded HTTP responses.

Each archive is one Daft scan task, so files are read in parallel. Rust
(`_native.WarcBatches`) reads it as a stream of bounded Arrow batches, parsing the HTTP
responses and decoding their bodies to text in the same pass: memory follows the batch size,
not the file size. Local files are read by Rust directly; s3:// and http(s):// files are fed
to it from a Python stream.

Web archives are full of defects. A defect costs only the records it touches: it is counted in
`mdfql.metrics` and the reader resynchronises at the next record it can find (the next gzip
member, or the next WARC/ARC header line in uncompressed data).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from contextlib import closing

import daft
import pyarrow as pa
from daft import Series, col
from daft.daft import PyPushdowns, PyRecordBatch, ScanTask
from daft.logical.schema import Schema
from daft.recordbatch import RecordBatch

from mdfql import _native
from mdfql.io.inputs import SourceInput, register
from mdfql.io.scan import PulledScan
from mdfql.io.streams import open_stream
from mdfql.metrics import record_failure, record_file_done, record_rows_read

STAGE_READ = "read_warc"
SCAN_NAME = "WarcScan"  # how Daft names the scan in its stats (its rows we count ourselves)
STAGE_PARSE = "parse_http"
COMMONCRAWL_BASE = "https://data.commoncrawl.org"

_CRAWL_NAME = re.compile(r"CC-MAIN-\d{4}-\d{2}")

# The columns `_native.WarcBatches` yields. Strings are large: a batch of html may pass 2 GiB.
_ARROW_SCHEMA = pa.schema(
    [
        ("record_id", pa.large_string()),
        ("url", pa.large_string()),
        ("warc_date", pa.timestamp("us", tz="UTC")),
        ("status", pa.int32()),
        ("content_type", pa.large_string()),
        ("charset", pa.large_string()),
        ("html", pa.large_string()),
        ("warc_path", pa.large_string()),
    ]
)
OUTPUT_COLUMNS = tuple(_ARROW_SCHEMA.names)
# HTTP bytes per batch. Daft queues a few batches between each pair of operators, so this
# sets most of a streaming run's working set: fineweb.sql on 290 MB of 28 KB pages held a
# plateau of 777 MiB with 8 MiB batches, 618 MiB with 2 MiB and 590 MiB with 1 MiB.
BATCH_BYTES = 2 << 20


def read_warc(
    paths: str | list[str],
    *,
    max_bytes: int = 10_000_000,
    batch_records: int = 1024,
    batch_bytes: int = BATCH_BYTES,
    limit: int | None = None,
) -> daft.DataFrame:
    """Lazily read the HTTP responses of WARC/ARC files (plain or gzip) into a DataFrame.

    `paths`: local paths or `s3://` URIs (globs allowed), or `http(s)://` URLs (one file each).
    Columns: record_id, url, warc_date (timestamp[us, UTC]), status, content_type, charset,
    html (body decoded to text, at most `max_bytes` input bytes), warc_path.
    Records that cannot be read or parsed are skipped and counted in `mdfql.metrics`.
    Batches hold at most `batch_records` records or about `batch_bytes` bytes of HTTP messages.
    `limit`: each file is read only until it gave that many responses (a trial run).
    A compiler recording inputs (`mdfql.io.inputs.recording`) learns the patterns; when a run
    resolved them, exactly those files are read.
    """
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise ValueError("read_warc needs at least one path")
    if limit is not None:
        batch_records = max(1, min(batch_records, limit))
    source = register(SourceInput("warc", tuple(paths), counts_rows=True))
    df = _WarcScan(source, (max_bytes, batch_records, batch_bytes, limit)).read()
    # Rows whose HTTP message did not parse come with a null status (counted as failures).
    return df.where(col("status").not_null())


def commoncrawl(crawl: str, files: int = 1, base_url: str | None = None,
                limit: int | None = None) -> daft.DataFrame:
    """Lazily read the first `files` WARC files of a Common Crawl crawl (e.g. "CC-MAIN-2024-10").

    The listing `crawl-data/{crawl}/warc.paths.gz` is fetched now (it is small); the WARC files
    are read when the DataFrame runs. `base_url` (or env MDFQL_COMMONCRAWL_BASE) replaces
    https://data.commoncrawl.org, e.g. with "s3://commoncrawl".
    """
    if not _CRAWL_NAME.fullmatch(crawl):
        raise ValueError(
            f"crawl must look like CC-MAIN-YYYY-WW (e.g. CC-MAIN-2024-10), got {crawl!r}"
        )
    if files < 1:
        raise ValueError(f"files must be at least 1, got {files}")
    base = (base_url or os.environ.get("MDFQL_COMMONCRAWL_BASE") or COMMONCRAWL_BASE).rstrip("/")
    with closing(open_stream(f"{base}/crawl-data/{crawl}/warc.paths.gz", 0)) as raw:
        with gzip.GzipFile(fileobj=raw) as listing:
            warc_paths = []
            for line in listing:
                if line.strip():
                    warc_paths.append(line.decode().strip())
                if len(warc_paths) == files:
                    break
    if not warc_paths:
        raise ValueError(f"the listing of {crawl} under {base} is empty")
    return read_warc([f"{base}/{p}" for p in warc_paths], limit=limit)


class _WarcScan(PulledScan):
    """Daft scan over WARC/ARC files: one task per file, each a stream of Arrow batches.

    A Python scan task's factory function is a plain generator that Daft pulls from as it
    consumes, so batches are read only as fast as the plan uses them (the async
    `daft.io.source.DataSource` path buffers a task's batches without bound in 0.7).
    """

    def __init__(self, source: SourceInput, options: tuple[int, int, int, int | None]):
        super().__init__(SCAN_NAME, Schema.from_pyarrow_schema(_ARROW_SCHEMA))
        self._source = source
        self._options = options

    def multiline_display(self) -> list[str]:
        return [self.display_name(), f"Paths = {list(self._source.patterns)}"]

    def to_scan_tasks(self, pushdowns: PyPushdowns) -> Iterator[ScanTask]:
        for file in self._source.listed():
            yield self.task(_read_file, (file.path, *self._options), pushdowns,
                            size_bytes=file.size)


def _read_file(
    path: str, max_bytes: int, batch_records: int, batch_bytes: int, limit: int | None = None
) -> Iterator[PyRecordBatch]:
    """Scan task body: the record batches of one archive, its rows and failures counted as they
    come (per file: the error budget), until `limit` responses when given."""
    local = None if path.startswith(("http://", "https://", "s3://")) else path.removeprefix(
        "file://"
    )
    batches = _native.WarcBatches(
        local or path,
        path,
        local_path=local,
        open_at=None if local else lambda offset: open_stream(path, offset),
        max_bytes=max_bytes,
        batch_records=batch_records,
        batch_bytes=batch_bytes,
    )
    try:
        yield from _batches(path, batches, limit)
    finally:
        record_file_done(path)  # (progress bars) also when a limit stopped it early


def _batches(path: str, batches: Iterator, limit: int | None) -> Iterator[PyRecordBatch]:
    """`_read_file`'s batches as Daft record batches, rows and failures counted."""
    delivered = records = failed = responses = 0
    for columns, failures in batches:
        unread = 0
        for stage, source, reason in failures:
            record_failure(stage, source, reason)
            unread += stage == STAGE_READ
        rows = len(columns[0])
        delivered += rows
        records += rows + unread
        failed += len(failures)
        responses += rows - (len(failures) - unread)  # unparsed rows come with a null status
        record_rows_read(path, delivered, records=records, failed=failed)
        if rows:
            # Column by column: an Arrow record batch is released as a whole, so a plan that
            # keeps only url/status (a Parquet writer's buffer) would keep every batch's html.
            yield RecordBatch.from_pydict(
                {name: Series.from_arrow(c, name=name) for name, c in zip(OUTPUT_COLUMNS, columns)}
            )._recordbatch
        if limit is not None and responses >= limit:
            return
