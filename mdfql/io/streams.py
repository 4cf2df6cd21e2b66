"""Byte streams over the places mdfql reads files from: local paths, s3:// URIs, http(s):// URLs.

Readers that parse a format themselves (WARC, tar shards) stream a file through these; readers of
whole small files (images) use Daft's own IO (`url download`) instead."""

from __future__ import annotations

import urllib.request
from typing import BinaryIO

URL_PREFIXES = ("http://", "https://")
_BLOCK = 1 << 20
TIMEOUT_S = 60


def local_path(path: str) -> str | None:
    """The local filesystem path of `path`, or None for a remote one (s3://, http(s)://)."""
    if path.startswith(URL_PREFIXES) or ("://" in path and not path.startswith("file://")):
        return None
    return path.removeprefix("file://")


def open_stream(path: str, offset: int = 0) -> BinaryIO:
    """Open a local path, s3:// URI or http(s):// URL as a byte stream positioned at `offset`."""
    if path.startswith(URL_PREFIXES):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = urllib.request.urlopen(urllib.request.Request(path, headers=headers),
                                          timeout=TIMEOUT_S)
        if offset and response.status != 206:
            _skip(response, offset)  # the server ignored the range
        return response
    local = local_path(path)
    if local is None:
        from pyarrow import fs

        filesystem, key = fs.FileSystem.from_uri(path)
        stream = filesystem.open_input_file(key)  # random access: resyncing may seek back
        stream.seek(offset)
        return stream
    handle = open(local, "rb")
    handle.seek(offset)
    return handle


def _skip(stream: BinaryIO, count: int) -> None:
    while count > 0:
        block = stream.read(min(count, _BLOCK))
        if not block:
            return
        count -= len(block)
