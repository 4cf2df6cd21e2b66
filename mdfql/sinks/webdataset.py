"""`COPY (query) TO 'dir' (FORMAT webdataset [, KEY 'col'] [, SHARD_SIZE n])`: tar shards.

Each row is one sample: column `KEY` (default `key`, what `read_webdataset` gives) is its
`__key__`, every other column a member `<key>.<column>`. Binary values are written as they are
(an image's original bytes), text as UTF-8, other values as JSON; a NULL is no member. Shards
`shard-000000.tar`, ... hold `SHARD_SIZE` samples each, written one after another as the rows
stream in (a batch at a time), into COPY's staging folder (see `files.py`).

A row whose key is NULL, empty, a path that climbs out of the shard (`..`, a leading '/'), holds
a dot in its last part (a reader would split the key there), or repeats a key of its shard is
a failed row of stage `copy_webdataset`, counted with its reason, and not written.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from daft.dataframe import DataFrame

from mdfql.metrics import record_failure

STAGE = "copy_webdataset"
DEFAULT_KEY = "key"
DEFAULT_SHARD_SIZE = 10_000
SHARD_NAME = "shard-{:06d}.tar"


def key_problem(key: Any) -> str | None:
    """Why `key` cannot be a sample's `__key__`, or None when it can."""
    if key is None or key == "":
        return "the key is NULL or empty"
    if key.startswith("/") or ".." in key.split("/") or key.endswith("/"):
        return "the key is not a relative path inside the shard"
    if "." in key.rsplit("/", 1)[-1]:
        return "the key holds a '.' in its last part (readers split the key there)"
    return None


def _member(value: Any, kind: pa.DataType) -> bytes | None:
    if value is None:
        return None
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
            or pa.types.is_fixed_size_binary(kind):
        return bytes(value)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return value.encode()
    return json.dumps(value, default=str, ensure_ascii=False).encode()


class _Shards:
    """Tar shards written in turn under `folder`, `shard_size` samples each."""

    def __init__(self, fs: pafs.FileSystem, folder: str, shard_size: int):
        self.fs, self.folder, self.shard_size = fs, folder, shard_size
        self.names: list[str] = []
        self._stream: Any = None
        self._tar: tarfile.TarFile | None = None
        self._keys: set[str] = set()

    def add(self, key: str, members: list[tuple[str, bytes]]) -> str | None:
        """Write one sample; the reason when its key repeats one of the shard's."""
        if self._tar is None or len(self._keys) >= self.shard_size:
            self._open()
        if key in self._keys:
            return "the key repeats one of its shard's"
        self._keys.add(key)
        assert self._tar is not None
        for ext, data in members:
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mode = len(data), 0o644  # mtime 0: the same rows, the same bytes
            self._tar.addfile(info, io.BytesIO(data))
        return None

    def _open(self) -> None:
        self.close()
        name = SHARD_NAME.format(len(self.names))
        self.fs.create_dir(self.folder, recursive=True)
        self._stream = self.fs.open_output_stream(posixpath.join(self.folder, name))
        self._tar = tarfile.open(fileobj=self._stream, mode="w|")
        self.names.append(name)
        self._keys = set()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._stream.close()
            self._tar = self._stream = None


def _rows(batch: pa.RecordBatch, key: str) -> Iterator[tuple[Any, list[tuple[str, bytes]]]]:
    columns = [(name, batch.column(name).to_pylist(), batch.schema.field(name).type)
               for name in batch.schema.names if name != key]
    keys = batch.column(key).to_pylist()
    for i, k in enumerate(keys):
        members = [(name, data) for name, values, kind in columns
                   if (data := _member(values[i], kind)) is not None]
        yield (None if k is None else str(k)), members


def write_shards(df: DataFrame, fs: pafs.FileSystem, folder: str, target: str,
                 key: str = DEFAULT_KEY, shard_size: int = DEFAULT_SHARD_SIZE
                 ) -> tuple[list[str], int]:
    """Write `df`'s rows as shards under `folder` (COPY's staging folder for `target`);
    returns the shard names and the samples written."""
    shards = _Shards(fs, folder, shard_size)
    written = 0
    try:
        for batch in df.to_arrow_iter():
            for k, members in _rows(batch, key):
                problem = key_problem(k) or shards.add(k, members)
                if problem is not None:
                    record_failure(STAGE, f"{target}: key {k!r}", problem)
                else:
                    written += 1
    finally:
        shards.close()
    return shards.names, written
