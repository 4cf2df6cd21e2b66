"""Small generated WARC files for tests: good HTML responses and ones whose HTTP is broken."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

GOOD_BODY = b"<html><head><title>Page %d</title></head><body><p>Text of page %d.</p></body></html>"


def _record(url: str, payload: bytes, date: str = "2024-03-01T00:00:00Z") -> bytes:
    """One WARC response record (its HTTP message as given, valid or not)."""
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    return head + payload + b"\r\n\r\n"


def write_warc(path: Path, good: int, broken: int = 0) -> Path:
    """A gzip-per-record WARC of `good` HTML responses and `broken` ones whose HTTP message
    does not parse (each a counted parse_http failure)."""
    with open(path, "wb") as out:
        for i in range(good + broken):
            if i < good:
                body = GOOD_BODY % (i, i)
                payload = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                payload = b"garbage that is no HTTP status line\r\n\r\n"
            out.write(gzip.compress(_record(f"https://site.example/p{i}", payload)))
    return path


def write_pages(path: Path, pages: list[tuple[str, str, str]]) -> Path:
    """A gzip-per-record WARC of HTTP 200 HTML responses, one per (url, WARC-Date, html)."""
    with open(path, "wb") as out:
        for url, date, html in pages:
            body = html.encode()
            payload = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            out.write(gzip.compress(_record(url, payload, date)))
    return path
