"""`read_images`: image files -> a lazy Daft DataFrame of `path`, `image`, `size_bytes`.

The bytes are the file's, never decoded or re-encoded: decoding is the image functions' job.
Files are chosen by extension (case-insensitive) from the run's listing of the patterns (local
globs, s3:// globs, http(s):// URLs). A scan of that listing yields batches of paths holding at
most BATCH_BYTES of (listed) file bytes, and Daft's built-in `download(on_error='null')` reads
them (local, S3, HTTP: Daft's IO, its connection pool and retries), so memory follows the batch,
not the number of files. A file that cannot be read is a failed row of stage `read_images`,
counted with its reason (found by reading the file's first byte again), and left out.

Why not `daft.from_glob_path(...)` before the download: it lists the patterns again when the plan
runs, so it would read files the run did not resolve and probe, it keeps every file whatever its
extension, and its batches are not bounded by bytes. (Daft's download cannot run inside a
Python scan task: it starts a runtime within Daft's own.)
"""

from __future__ import annotations

from collections.abc import Iterator

import daft
import pyarrow as pa
import pyarrow.compute as pc
from daft import Series, col
from daft.daft import PyPushdowns, PyRecordBatch, ScanTask
from daft.logical.schema import Schema
from daft.recordbatch import RecordBatch

from mdfql.io.inputs import (
    InputError,
    SourceInput,
    display_path,
    read_head,
    register,
)
from mdfql.io.scan import PulledScan
from mdfql.metrics import record_failure

STAGE = "read_images"
SCAN_NAME = "ImageScan"
# What Pillow reads that image datasets hold; `extensions := 'pillow'` takes all Pillow knows.
DEFAULT_EXTENSIONS = ("jpg", "jpeg", "jpe", "jfif", "png", "apng", "webp", "gif", "tif", "tiff",
                      "bmp", "dib", "ppm", "pgm", "pbm", "pnm", "ico", "tga", "jp2", "j2k",
                      "avif", "qoi")
TASK_FILES = 1024
TASK_BYTES = 64 << 20
BATCH_BYTES = 8 << 20
BATCH_FILES = 256
# Files probed before a run: an unreadable image is a failed row, not a failed run, so the
# probe only catches a pattern whose files cannot be read at all (permissions, a dead host).
PROBES = 16

LISTING_SCHEMA = pa.schema([("path", pa.large_string()), ("url", pa.large_string())])


def image_extensions(spec: str | None) -> tuple[str, ...] | None:
    """The extensions `read_images(..., extensions := spec)` takes: None -> the default list,
    '*' -> every file (None), 'pillow' -> every extension Pillow registers, else a comma list
    ('jpg,png' or '.JPG, .png')."""
    if spec is None:
        return DEFAULT_EXTENSIONS
    spec = spec.strip()
    if spec == "*":
        return None
    if spec.lower() == "pillow":
        from PIL import Image

        return tuple(sorted({e.lstrip(".").lower() for e in Image.registered_extensions()}))
    found = tuple(e.strip().lstrip(".").lower() for e in spec.split(",") if e.strip())
    if not found or any(not e or "/" in e or "*" in e for e in found):
        raise ValueError(f"extensions must be a comma list like 'jpg,png', '*' or 'pillow', "
                         f"got {spec!r}")
    return found


def read_images(paths: str | list[str], extensions: str | None = None) -> daft.DataFrame:
    """Lazily read image files (local/s3 globs, http(s) URLs; a folder ending in '/' means all
    files under it) as rows path, image (the file's bytes), size_bytes."""
    patterns = [paths] if isinstance(paths, str) else list(paths)
    if not patterns:
        raise ValueError("read_images needs at least one path")
    patterns = [p + "**" if p.endswith("/") else p for p in patterns]
    source = register(SourceInput("image", tuple(patterns), extensions=image_extensions(extensions),
                                  probe_limit=PROBES))
    files = _ImageScan(source).read()
    fetched = files.with_column("image", col("url").download(on_error="null"))
    read = fetched.where(_readable(col("path"), col("url"), col("image").is_null()))
    return read.select(col("path"), col("image"),
                       col("image").length().cast(daft.DataType.int64()).alias("size_bytes"))


class _ImageScan(PulledScan):
    """The listing of the files, one task per group of files, in batches of bounded bytes."""

    def __init__(self, source: SourceInput):
        super().__init__(SCAN_NAME, Schema.from_pyarrow_schema(LISTING_SCHEMA))
        self._source = source

    def multiline_display(self) -> list[str]:
        return [self.display_name(), f"Paths = {list(self._source.patterns)}"]

    def to_scan_tasks(self, pushdowns: PyPushdowns) -> Iterator[ScanTask]:
        for group in groups(self._source.listed(), TASK_FILES, TASK_BYTES):
            yield self.task(listing_batches, (tuple((f.path, f.size) for f in group),),
                            pushdowns, num_rows=len(group))


def groups(files: list, max_files: int, max_bytes: int) -> Iterator[list]:
    """Consecutive runs of `files` (anything with a `.size`, or (path, size) pairs) of at most
    `max_files` items and about `max_bytes` bytes (at least one item each)."""
    group: list = []
    size = 0
    for f in files:
        n = (f.size if hasattr(f, "size") else f[1]) or 0
        if group and (len(group) >= max_files or size + n > max_bytes):
            yield group
            group, size = [], 0
        group.append(f)
        size += n
    if group:
        yield group


def listing_batches(files: tuple[tuple[str, int | None], ...],
                    batch_bytes: int = BATCH_BYTES) -> Iterator[PyRecordBatch]:
    """Scan task body: the files as (path shown, url, listed size) rows, in batches whose files
    hold about `batch_bytes` (what one batch's download holds in memory)."""
    for batch in groups(list(files), BATCH_FILES, batch_bytes):
        yield RecordBatch.from_pydict({
            "path": [display_path(p) for p, _ in batch],
            "url": [p for p, _ in batch],
        })._recordbatch


@daft.func.batch(return_dtype=daft.DataType.bool())
def _readable(path: Series, url: Series, missing: Series) -> pa.Array:
    """True for the files that were read; each one that was not is counted with its reason."""
    flags = missing.to_arrow()
    for i in pc.indices_nonzero(flags).to_pylist():
        shown, where = path.to_arrow()[i].as_py(), url.to_arrow()[i].as_py()
        record_failure(STAGE, shown, _why_unreadable(where))
    return pc.invert(flags)


def _why_unreadable(path: str) -> str:
    """The reason a download failed, from reading the file's first byte again."""
    try:
        read_head(path, 1)
    except InputError as e:
        return f"cannot read the file: {e}"
    return "cannot read the file (it failed to download, then read on a second try)"
