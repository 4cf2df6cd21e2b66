"""`read_warc`: WARC/ARC archives -> a lazy Daft DataFrame of decoded HTTP responses.

Archives are read with warcio (one generator UDF call per file); the HTTP payloads are then
parsed and decoded to text in one Rust batch kernel (`_native.parse_http_responses`).

Web archives are full of defects. A defect costs only the records it touches: it is counted in
`mdfql.metrics` and the reader resynchronises at the next record it can find (the next gzip
member, or the next WARC/ARC header line in an uncompressed file).
"""

from __future__ import annotations

import gzip
import os
import re
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from contextlib import closing
from datetime import datetime, timezone
from functools import reduce
from typing import BinaryIO

import daft
import pyarrow as pa
from daft import DataType, Series, col
from warcio.archiveiterator import ArchiveIterator

from mdfql import _native
from mdfql.metrics import record_failure

STAGE_READ = "read_warc"
STAGE_PARSE = "parse_http"
COMMONCRAWL_BASE = "https://data.commoncrawl.org"

_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
# Where an uncompressed record may start: a WARC version line (anywhere: a record cut short is
# directly followed by the next one) or, at a line start, an ARC v1 header line
# ("URL IP-address Archive-date(12+ digits) ...").
_PLAIN_RECORD_START = re.compile(rb"WARC/1\.[01]\r?\n|(?m:^)[A-Za-z][\w+.-]*:\S* \S+ \d{12,} ")
_CRAWL_NAME = re.compile(r"CC-MAIN-\d{4}-\d{2}")

_RECORD_DTYPE = DataType.struct(
    {
        "record_id": DataType.string(),
        "url": DataType.string(),
        "warc_date": DataType.timestamp("us", "UTC"),
        "warc_path": DataType.string(),
        "payload": DataType.binary(),
    }
)
_HTTP_DTYPE = DataType.struct(
    {
        "status": DataType.int32(),
        "content_type": DataType.string(),
        "charset": DataType.string(),
        "html": DataType.string(),
        "error": DataType.string(),
    }
)
OUTPUT_COLUMNS = (
    "record_id",
    "url",
    "warc_date",
    "status",
    "content_type",
    "charset",
    "html",
    "warc_path",
)


def read_warc(paths: str | list[str], *, max_bytes: int = 10_000_000) -> daft.DataFrame:
    """Lazily read the HTTP responses of WARC/ARC files (plain or gzip) into a DataFrame.

    `paths`: local paths or `s3://` URIs (globs allowed), or `http(s)://` URLs (one file each).
    Columns: record_id, url, warc_date (timestamp[us, UTC]), status, content_type, charset,
    html (body decoded to text, at most `max_bytes` input bytes), warc_path.
    Records that cannot be read or parsed are skipped and counted in `mdfql.metrics`.
    """
    records = (
        _list_files(paths)
        .select(_read_records(col("path")))
        .where(
            col("payload").not_null()  # a file without responses still yields one all-null row
        )
    )
    parsed = records.select(
        "record_id",
        "url",
        "warc_date",
        "warc_path",
        _parse_http(col("payload"), col("url"), max_bytes),
    )
    return parsed.where(col("error").is_null()).select(*OUTPUT_COLUMNS)


def commoncrawl(crawl: str, files: int = 1, base_url: str | None = None) -> daft.DataFrame:
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
    with closing(_open(f"{base}/crawl-data/{crawl}/warc.paths.gz", 0)) as raw:
        with gzip.GzipFile(fileobj=raw) as listing:
            warc_paths = []
            for line in listing:
                if line.strip():
                    warc_paths.append(line.decode().strip())
                if len(warc_paths) == files:
                    break
    if not warc_paths:
        raise ValueError(f"the listing of {crawl} under {base} is empty")
    return read_warc([f"{base}/{p}" for p in warc_paths])


def _list_files(paths: str | list[str]) -> daft.DataFrame:
    """One row (`path`) per archive; local and s3 globs are expanded when the plan runs."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise ValueError("read_warc needs at least one path")
    urls = [p for p in paths if p.startswith(("http://", "https://"))]
    frames = [daft.from_glob_path(p).select("path") for p in paths if p not in urls]
    if urls:
        frames.append(daft.from_pydict({"path": urls}))
    return reduce(lambda a, b: a.concat(b), frames)


# In-process UDFs: failures are counted in this process's `mdfql.metrics` registry.
@daft.func(return_dtype=_RECORD_DTYPE, unnest=True, use_process=False)
def _read_records(path: str) -> Iterator[dict]:
    """Daft generator UDF: one struct per HTTP response record of the archive at `path`."""
    yield from iter_response_records(path)


@daft.func.batch(return_dtype=_HTTP_DTYPE, unnest=True, use_process=False)
def _parse_http(payload: Series, url: Series, max_bytes: int) -> pa.Array:
    """Daft batch UDF: parse raw HTTP responses in Rust, counting the rows that fail."""
    parsed = _native.parse_http_responses(payload.to_arrow(), max_bytes=max_bytes)
    errors = parsed.field("error")
    if errors.null_count < len(errors):
        for row_url, error in zip(url.to_pylist(), errors.to_pylist(), strict=True):
            if error is not None:
                # Errors read "<kind>: <detail>"; counts are keyed by the kind only.
                record_failure(STAGE_PARSE, row_url, error.partition(":")[0])
    return parsed


def iter_response_records(path: str) -> Iterator[dict]:
    """Yield {record_id, url, warc_date, warc_path, payload} per HTTP response in an archive.

    `payload` is the raw HTTP message (status line, headers, body still chunked/compressed).
    Never raises for bad data: failures are counted and reading resumes at the next record.
    """
    gzip_base = None  # set when the whole file is one gzip stream instead of one per record
    pos, skip, resyncing = 0, 0, False
    while True:
        failure = yield from _read_span(path, gzip_base, pos, skip)
        if failure is None:
            return
        fail_pos, reason, records_read = failure
        if gzip_base is None and "non-chunked gzip" in reason:
            # Valid data, wrongly compressed: read it as one gzip stream from the start of this
            # span, skipping the records already read from it.
            record_failure(STAGE_READ, path, "gzip stream spans several records")
            gzip_base, pos, skip = pos, 0, records_read
            continue
        # A resync candidate that fails at once was a false match, not a new failure.
        if records_read or not resyncing:
            record_failure(STAGE_READ, f"{path}@{fail_pos}", reason)
        next_pos = _next_record_start(path, gzip_base, fail_pos + 1)
        if next_pos is None:
            return
        pos, skip, resyncing = next_pos, 0, True


def _read_span(
    path: str, gzip_base: int | None, pos: int, skip: int
) -> Generator[dict, None, tuple[int, str, int] | None]:
    """Read records from `pos` until the end (returns None) or a failure, returned as
    (offset of the failing record, reason, number of records read)."""
    display_path = path.removeprefix("file://")
    seen = 0
    try:
        stream = _open_at(path, gzip_base, pos)
    except Exception as e:  # an unreadable file is one counted failure
        return pos, _reason(e), 0
    with closing(stream):
        it = ArchiveIterator(_ReadOnly(stream), arc2warc=True)
        try:
            for record in it:
                seen += 1
                if seen <= skip:
                    continue
                row, problem, http_complete = _response_row(record, display_path)
                # Consume the record's tail now, so that a record cut short (its data ends, or
                # the next record header is not where its length says) is known before the row
                # is emitted. It is kept only if its HTTP message is whole anyway.
                warnings_before = it.err_count
                it.read_to_end()
                cut_short = (
                    getattr(record.raw_stream, "limit", 0) > 0 or it.err_count > warnings_before
                )
                if row is not None and cut_short and not http_complete:
                    problem = "truncated record"
                offset = pos + it.member_info[0]
                if problem:
                    record_failure(STAGE_READ, f"{path}@{offset}", problem)
                elif row is not None:
                    if record.rec_headers.total_len == 0:
                        # An ARC record (warcio counts no header bytes for converted ARC
                        # records, and > 0 for any WARC header): warcio gave it a random id;
                        # derive a stable one from the file name and offset.
                        name = display_path.rsplit("/", 1)[-1]
                        row["record_id"] = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}#{offset}").urn
                    yield row
        except Exception as e:  # any error inside an archive is a data defect
            return pos + it.offset, _reason(e), seen
    return None


def _response_row(record, warc_path: str) -> tuple[dict | None, str | None, bool]:
    """The output row of an HTTP response record (None for other records) or why it is bad,
    and whether the body is as long as its HTTP Content-Length says."""
    if record.rec_type != "response":
        return None, None, False
    url = record.rec_headers.get_header("WARC-Target-URI")
    headers = record.http_headers
    if headers is None:
        # Responses of other protocols (dns:, whois:) legitimately carry no HTTP headers.
        if url and url.startswith(("http://", "https://")):
            return None, "response record without HTTP headers", False
        return None, None, False
    body = record.raw_stream.read()
    declared = (headers.get_header("Content-Length") or "").strip()
    http_complete = declared.isdigit() and len(body) >= int(declared)
    row = {
        "record_id": (record.rec_headers.get_header("WARC-Record-ID") or "").strip("<>") or None,
        "url": url,
        "warc_date": _parse_date(record.rec_headers.get_header("WARC-Date")),
        "warc_path": warc_path,
        # The raw HTTP message: warcio parsed the headers off the stream, so they are
        # re-serialised; the body stays as sent (chunked/compressed) for the Rust parser.
        "payload": headers.to_bytes() + body,
    }
    return row, None, http_complete


def _parse_date(value: str | None) -> datetime | None:
    """WARC-Date (ISO 8601, normally UTC with "Z") as an aware datetime; None if malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _reason(error: Exception) -> str:
    """A short failure category: exception type and the first clause of its message."""
    lines = str(error).strip().splitlines()
    first = lines[0].split(",")[0].strip()[:120] if lines else ""
    # warcio puts its real message on a later line for some errors.
    if not first and len(lines) > 1:
        first = lines[1].strip()[:120]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class _ReadOnly:
    """Hides seek/tell, so that warcio counts record offsets from where the stream was opened."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)


def _open(path: str, offset: int) -> BinaryIO:
    """Open a local path, s3:// URI or http(s):// URL as a byte stream positioned at `offset`."""
    if path.startswith(("http://", "https://")):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = urllib.request.urlopen(urllib.request.Request(path, headers=headers), timeout=60)
        if offset and response.status != 206:
            _skip(response, offset)  # the server ignored the range
        return response
    if path.startswith("s3://"):
        from pyarrow import fs

        filesystem, key = fs.FileSystem.from_uri(path)
        stream = filesystem.open_input_stream(key, buffer_size=_BLOCK)
        _skip(stream, offset)
        return stream
    handle = open(path.removeprefix("file://"), "rb")
    handle.seek(offset)
    return handle


def _open_at(path: str, gzip_base: int | None, pos: int) -> BinaryIO:
    """Open at `pos`: a raw byte offset, or with `gzip_base` an offset into the data
    decompressed from the gzip stream starting at raw offset `gzip_base`."""
    if gzip_base is None:
        return _open(path, pos)
    stream = gzip.GzipFile(fileobj=_open(path, gzip_base), mode="rb")
    _skip(stream, pos)
    return stream


def _skip(stream: BinaryIO, count: int) -> None:
    while count > 0:
        block = stream.read(min(count, _BLOCK))
        if not block:
            return
        count -= len(block)


def _next_record_start(path: str, gzip_base: int | None, pos: int) -> int | None:
    """Offset at or after `pos` where a record may start (None if none): the next gzip member
    in a per-record gzip file, else the next WARC/ARC header line."""
    try:
        with closing(_open(path, 0)) as head:
            per_record_gzip = gzip_base is None and head.read(2) == _GZIP_MAGIC[:2]
        stream = _open_at(path, gzip_base, pos)
    except Exception:  # cannot reopen: nothing more to read
        return None

    def find(buf: bytes) -> int:
        if per_record_gzip:
            return buf.find(_GZIP_MAGIC)
        match = _PLAIN_RECORD_START.search(buf)
        return match.start() if match else -1

    with closing(stream):
        carry, base = b"", pos
        while True:
            try:
                block = stream.read(_BLOCK)
            except Exception:  # unreadable from here on
                return None
            if not block:
                return None
            buf = carry + block
            hit = find(buf)
            if hit >= 0:
                return base + hit
            # Keep a tail so that a marker split across two blocks is still found.
            carry = buf[-256:]
            base += len(buf) - len(carry)
