"""Split a gzip-per-record WARC file into several, at record boundaries (a multi-file crawl
for resume tests and benchmarks: every part is itself a valid WARC file)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

_BLOCK = 1 << 20


def members(path: str | Path) -> Iterator[bytes]:
    """The gzip members of `path`, as their compressed bytes (one WARC record each)."""
    with open(path, "rb") as handle:
        data = handle.read()
    start = 0
    while start < len(data):
        inflater = zlib.decompressobj(31)
        pos = start
        while not inflater.eof:
            chunk = data[pos:pos + _BLOCK]
            if not chunk:
                raise ValueError(f"{path}: gzip member at byte {start} is cut short")
            inflater.decompress(chunk)
            pos += len(chunk) - len(inflater.unused_data)
        yield data[start:pos]
        start = pos


def split_warc(path: str | Path, parts: int, out_dir: str | Path) -> list[Path]:
    """Write `path`'s records into `parts` files of about equal size under `out_dir`
    (`part-00.warc.gz`, ...), in order; returns their paths."""
    records = list(members(path))
    total = sum(len(r) for r in records)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, written, index = [], 0, 0
    handle = None
    for record in records:
        if handle is None or (written >= total * (index / parts) and index < parts):
            if handle is not None:
                handle.close()
            paths.append(out / f"part-{index:02d}.warc.gz")
            handle = open(paths[-1], "wb")
            index += 1
        handle.write(record)
        written += len(record)
    if handle is not None:
        handle.close()
    return paths
