"""Split a gzip-per-record WARC file into several, at record boundaries (a multi-file crawl
for resume tests and benchmarks: every part is itself a WARC file)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_BLOCK = 1 << 20


def members(handle: BinaryIO) -> Iterator[bytes]:
    """The gzip members of a stream, as their compressed bytes (one WARC record each), read a
    block at a time. A member cut short at the end comes last, as it is."""
    buffer = b""
    while True:
        inflater, pos = zlib.decompressobj(31), 0
        while not inflater.eof:
            if pos == len(buffer):
                block = handle.read(_BLOCK)
                if not block:
                    if buffer:
                        yield buffer  # cut short: the reader counts it
                    return
                buffer += block
            chunk = buffer[pos:]
            inflater.decompress(chunk, 1 << 16)  # bounded output: only the boundary matters
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, 1 << 16)
            pos = len(buffer) - len(inflater.unused_data)
        yield buffer[:pos]
        buffer = buffer[pos:]


def split_warc(path: str | Path, parts: int, out_dir: str | Path) -> list[Path]:
    """Write `path`'s records into `parts` files of about equal size under `out_dir`
    (`part-00.warc.gz`, ...), in order; returns their paths."""
    total = Path(path).stat().st_size
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    written = 0
    part: BinaryIO | None = None
    with open(path, "rb") as source:
        for record in members(source):
            if part is None or (written >= total * len(paths) / parts and len(paths) < parts):
                if part is not None:
                    part.close()
                paths.append(out / f"part-{len(paths):02d}.warc.gz")
                part = open(paths[-1], "wb")  # noqa: SIM115 (closed when the next part opens)
            part.write(record)
            written += len(record)
    if part is not None:
        part.close()
    return paths
