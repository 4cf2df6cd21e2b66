"""`read_webdataset`: WebDataset tar shards -> a lazy Daft DataFrame, one row per sample.

A sample is the run of consecutive tar members sharing a key: member `dir/0001.jpg` has key
`dir/0001` and extension `jpg` (everything after the first dot of the file name, lowercased, so
`0001.seg.png` is extension `seg.png`), as the `webdataset` library reads them. Each row holds
`key` (webdataset's `__key__`), `shard` (its `__url__`) and one Binary column per extension asked
for: the member's
bytes as stored (text members decode in SQL: `CAST(txt AS VARCHAR)`), NULL where the sample has
no such member. Members of other extensions are skipped unread.

Each shard is one scan task, read as a stream (local, s3://, http(s)://; plain, gzip, bz2 or xz
tar) into batches of at most BATCH_SAMPLES samples or about BATCH_BYTES bytes. A shard that is
truncated or corrupt keeps the samples before the damage; the sample the damage hit is a failed
row of stage `read_webdataset`, counted with its reason, and the rest of the shard is lost (a tar
has no index to resynchronise on).

The columns are known when the query is compiled: from `columns := 'jpg,txt,json'`, which reads
nothing; without it, from the tar headers of the first INFER_SAMPLES samples of the first shard,
read at compile time, as `read_parquet` reads a Parquet footer to learn its schema: a bounded
read of metadata at the head of one file, never the data the run processes.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import closing

import daft
import pyarrow as pa
from daft.daft import PyPushdowns, PyRecordBatch, ScanTask
from daft.logical.schema import Schema
from daft.recordbatch import RecordBatch

from mdfql.io.inputs import SourceInput, display_path, list_pattern, register
from mdfql.io.scan import PulledScan
from mdfql.io.streams import open_stream
from mdfql.metrics import record_failure, record_file_done, record_rows_read

STAGE = "read_webdataset"
SCAN_NAME = "WebDatasetScan"
KEY = "key"  # the sample's `__key__` (SELECT * hides names that start with "__")
SHARD = "shard"  # the shard it came from (webdataset's `__url__`)
BATCH_SAMPLES = 256
BATCH_BYTES = 8 << 20
INFER_SAMPLES = 16


class DamagedTar(Exception):
    """A tar header that is not one, or the stream ending where a header should be, at byte
    `offset` of the tar."""

    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.offset = offset


# What a damaged shard raises while it is read (tar headers, gzip/bz2/xz streams, short reads).
_DAMAGE = (DamagedTar, tarfile.TarError, EOFError, zlib.error, OSError)


class _CheckedInfo(tarfile.TarInfo):
    """Python's tarfile ends a stream quietly at a garbled or truncated header, or at the end
    of the data without the end-of-archive blocks: here each of those is damage."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> tarfile.TarInfo:
        try:
            return super().fromtarfile(tar)
        except tarfile.EOFHeaderError:
            raise  # the end-of-archive blocks: the normal end
        except tarfile.EmptyHeaderError:
            reason = "empty file" if tar.offset == 0 else \
                "the data ends without the end-of-archive blocks"
            raise DamagedTar(reason, tar.offset) from None
        except (tarfile.TruncatedHeaderError, tarfile.InvalidHeaderError) as e:
            raise DamagedTar(f"bad tar header ({e})", tar.offset) from None


def split_member(name: str) -> tuple[str, str] | None:
    """(key, extension) of a tar member name, or None for a name without an extension."""
    folder, base = posixpath.split(name)
    stem, dot, ext = base.partition(".")
    if not dot or not stem or not ext:
        return None
    return posixpath.join(folder, stem), ext.lower()


def parse_columns(spec: str) -> tuple[str, ...]:
    """'jpg, TXT,.json' -> ('jpg', 'txt', 'json'); refuses an empty or repeated one."""
    columns = tuple(c.strip().lstrip(".").lower() for c in spec.split(","))
    if not columns or any(not c for c in columns):
        raise ValueError(f"columns must be a comma list of extensions like 'jpg,txt', "
                         f"got {spec!r}")
    if len(set(columns)) != len(columns) or {KEY, SHARD} & set(columns):
        raise ValueError(f"columns must name each extension once (and not {KEY}/{SHARD}), "
                         f"got {spec!r}")
    return columns


def arrow_schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([(KEY, pa.large_string()), (SHARD, pa.large_string())]
                     + [(c, pa.large_binary()) for c in columns])


def read_webdataset(paths: str | list[str], columns: str | None = None) -> daft.DataFrame:
    """Lazily read WebDataset shards (local/s3 globs, http(s) URLs): one row per sample."""
    patterns = [paths] if isinstance(paths, str) else list(paths)
    if not patterns:
        raise ValueError("read_webdataset needs at least one path")
    exts = parse_columns(columns) if columns is not None else infer_columns(patterns)
    source = register(SourceInput("tar", tuple(patterns), counts_rows=True))
    return _TarScan(source, exts).read()


def infer_columns(patterns: list[str]) -> tuple[str, ...]:
    """The extensions of the first INFER_SAMPLES samples of the first shard, in order met."""
    files = list_pattern(patterns[0])
    if not files:
        raise FileNotFoundError(f"no file matches '{patterns[0]}' (to learn the columns from; "
                                "or give them: columns := 'jpg,txt')")
    found: dict[str, None] = {}
    keys: set[str] = set()
    try:
        with closing(open_stream(files[0].path)) as raw, \
                tarfile.open(fileobj=raw, mode="r|*", tarinfo=_CheckedInfo) as tar:
            for member in tar:
                parts = split_member(member.name) if member.isfile() else None
                if parts is None:
                    continue
                if parts[0] not in keys and len(keys) == INFER_SAMPLES:
                    break
                keys.add(parts[0])
                found.setdefault(parts[1])
    except _DAMAGE as e:
        if not found:
            raise ValueError(f"cannot learn the columns from {display_path(files[0].path)}: "
                             f"{e}; give them: columns := 'jpg,txt'") from None
    if not found:
        raise ValueError(f"{display_path(files[0].path)} holds no sample to learn the columns "
                         "from; give them: columns := 'jpg,txt'")
    return tuple(found)


class _TarScan(PulledScan):
    """One scan task per shard, each a stream of bounded batches of samples."""

    def __init__(self, source: SourceInput, columns: tuple[str, ...]):
        super().__init__(SCAN_NAME, Schema.from_pyarrow_schema(arrow_schema(columns)))
        self._source = source
        self._columns = columns

    def multiline_display(self) -> list[str]:
        return [self.display_name(), f"Paths = {list(self._source.patterns)}",
                f"Columns = {list(self._columns)}"]

    def to_scan_tasks(self, pushdowns: PyPushdowns) -> Iterator[ScanTask]:
        for file in self._source.listed():
            yield self.task(read_shard, (file.path, self._columns), pushdowns,
                            size_bytes=file.size)


def samples(stream, wanted: frozenset[str]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) of each sample of a tar stream, members not `wanted` unread.
    A damaged stream raises (one of _DAMAGE) after the samples before the damage."""
    key: str | None = None
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=stream, mode="r|*", tarinfo=_CheckedInfo) as tar:
        for member in tar:
            parts = split_member(member.name) if member.isfile() else None
            if parts is None:
                continue
            if parts[0] != key:
                if key is not None:
                    yield key, members
                key, members = parts[0], {}
            if parts[1] in wanted:
                data = tar.extractfile(member)
                members[parts[1]] = data.read() if data is not None else b""
                if len(members[parts[1]]) != member.size:
                    raise tarfile.ReadError("unexpected end of data")
    if key is not None:
        yield key, members


def read_shard(path: str, columns: tuple[str, ...], batch_samples: int = BATCH_SAMPLES,
               batch_bytes: int = BATCH_BYTES) -> Iterator[PyRecordBatch]:
    """Scan task body: one shard's samples in bounded batches, rows and failures counted."""
    shown = display_path(path)
    rows: list[tuple[str, dict[str, bytes]]] = []
    size = delivered = failed = 0
    try:
        with closing(open_stream(path)) as raw:
            try:
                for sample in samples(raw, frozenset(columns)):
                    rows.append(sample)
                    size += sum(len(v) for v in sample[1].values())
                    if len(rows) >= batch_samples or size >= batch_bytes:
                        delivered += len(rows)
                        record_rows_read(path, delivered, records=delivered, failed=0)
                        yield _batch(rows, shown, columns)
                        rows, size = [], 0
            except _DAMAGE as e:
                failed = 1
                where = f"{shown} at byte {e.offset}" if isinstance(e, DamagedTar) else shown
                record_failure(STAGE, f"{where}, after {delivered + len(rows)} sample(s)",
                               f"truncated or corrupt tar: {_reason(e)}")
    except OSError as e:  # it could not be opened at all
        failed = 1
        record_failure(STAGE, shown, f"cannot read the shard: {_reason(e)}")
    delivered += len(rows)
    record_rows_read(path, delivered, records=delivered + failed, failed=failed)
    if rows:
        yield _batch(rows, shown, columns)
    record_file_done(path)


def _reason(error: BaseException) -> str:
    text = str(error).lower() or type(error).__name__
    return text[:200]


def _batch(rows: list[tuple[str, dict[str, bytes]]], shown: str,
           columns: tuple[str, ...]) -> PyRecordBatch:
    arrays = [pa.array([k for k, _ in rows], pa.large_string()),
              pa.array([shown] * len(rows), pa.large_string())]
    arrays += [pa.array([m.get(c) for _, m in rows], pa.large_binary()) for c in columns]
    table = pa.Table.from_arrays(arrays, schema=arrow_schema(columns))
    return RecordBatch.from_arrow_table(table)._recordbatch
