"""The files a run's sources read: recorded while compiling, listed and probed when a run starts.

Listing a glob and opening a file's first bytes are metadata operations, not reads of its data:
the executor does both for every source before any statement runs (`resolve`), so a pattern that
matches no file, a missing or unreadable file, a 404/403 URL or a file that is not the format the
source reads is an error at the source's place in the SQL before anything is written. Compiling
only records the sources (`recording`); it lists nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass

from mdfql.errors import MdfqlError, Span
from mdfql.io.streams import URL_PREFIXES
from mdfql.io.streams import local_path as _local

HEAD_BYTES = 4096
# Remote files probed when a run starts (in parallel); a remote file past these that cannot be
# read is found while it is read, and fails the statement before its commit (see budget.py).
REMOTE_PROBES = 64
PROBE_THREADS = 8
PROBE_TIMEOUT_S = 30

# gzip, bzip2 and xz magic numbers: a compressed tar is checked when it is read.
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
# An ARC v1 record line: URL, IP, 14-digit date, MIME type, length.
_ARC_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*:\S* \S+ \d{14} ")


@dataclass(frozen=True)
class InputFile:
    """One file a source reads, as its reader opens it, with what identifies its version."""

    path: str
    size: int | None = None
    mtime_ns: int | None = None

    def identity(self) -> str:
        """Path (absolute when local), size and modification time: what makes a re-run read
        'the same input'."""
        local = _local(self.path)
        path = os.path.abspath(local) if local is not None else self.path
        return f"{path}|{self.size}|{self.mtime_ns}"


class InputError(Exception):
    """A pattern or file that cannot be read."""


@dataclass(eq=False)
class SourceInput:
    """The inputs of one source of the SQL, e.g. `read_warc('crawl/*.warc.gz')`.

    `kind` says how its files are checked: "warc", "parquet", "json", "image", "tar", or
    "table" (an Iceberg snapshot: `files` is filled when it is recorded and nothing is checked).
    `extensions`: only files whose name ends in one of them (lowercase, without the dot;
    compared case-insensitively) are the source's (None: every file the patterns match).
    `probe_limit`: probe at most that many files (None: every local file and the first
    REMOTE_PROBES remote ones), for sources that count an unreadable file as a failed row.
    A "table" that an earlier statement of the script writes is read `after_write`: its
    snapshot is pinned as each statement reading it starts (`mdfql.sinks.written`).
    `files` is filled when a run resolves the patterns; `skipped` names the patterns that
    matched nothing under `on_missing_input = 'skip'`. `counts_rows`: its reader counts rows
    and failures per file (`metrics.file_counts`), so the error budget applies. The compiler
    sets `label` (the call as written) and `span` (where it is).
    """

    kind: str
    patterns: tuple[str, ...]
    files: list[InputFile] | None = None
    skipped: tuple[str, ...] = ()
    counts_rows: bool = False
    extensions: tuple[str, ...] | None = None
    probe_limit: int | None = None
    after_write: bool = False
    label: str = ""
    span: Span | None = None

    def located(self, label: str, span: Span | None) -> SourceInput:
        self.label, self.span = label, span
        return self

    def accepts(self, path: str) -> bool:
        """Whether a listed file is one of the source's (its extension, see `extensions`)."""
        if self.extensions is None or path.startswith(URL_PREFIXES):
            return True  # (a URL is named one by one: it is meant whatever it ends in)
        name = path.rsplit("/", 1)[-1].lower()
        return "." in name and name.rsplit(".", 1)[1] in self.extensions

    def listed(self) -> list[InputFile]:
        """The files to read: those the run resolved, else the patterns listed now (URLs as
        given, local and s3 globs expanded and sorted, kept where `accepts`); a pattern that
        matches none raises FileNotFoundError."""
        if self.files is not None:
            return self.files
        files: list[InputFile] = []
        for pattern in self.patterns:
            matches = [f for f in list_pattern(pattern) if self.accepts(f.path)]
            if not matches:
                raise FileNotFoundError(f"{self._name()}: no file matches '{pattern}'")
            files.extend(matches)
        return files

    def error(self, message: str, hint: str | None = None) -> MdfqlError:
        return MdfqlError(f"{self._name()}: {message}", self.span, hint)

    def _name(self) -> str:
        """The reader as the SQL calls it (its kind before the compiler labels it)."""
        return self.label.split("(", 1)[0] if self.label else self.kind


_recorded: ContextVar[list[SourceInput] | None] = ContextVar("mdfql_inputs", default=None)


@contextlib.contextmanager
def recording() -> Iterator[list[SourceInput]]:
    """Collect the sources that readers `register` while the block builds their DataFrames."""
    found: list[SourceInput] = []
    token = _recorded.set(found)
    try:
        yield found
    finally:
        _recorded.reset(token)


def register(source: SourceInput) -> SourceInput:
    """Called by a reader when it builds a DataFrame: tells a recording compiler what it reads."""
    found = _recorded.get()
    if found is not None:
        found.append(source)
    return source


def list_pattern(pattern: str) -> list[InputFile]:
    """The files `pattern` names, sorted: a URL as given, a local or s3 glob expanded.

    Nothing matching is an empty list; a listing that fails otherwise raises InputError.
    """
    from daft.daft import io_glob
    from daft.exceptions import DaftCoreException

    if pattern.startswith(URL_PREFIXES):
        return [InputFile(pattern)]
    try:
        entries = io_glob(pattern)
    except FileNotFoundError:
        return []
    except (OSError, ValueError, RuntimeError, DaftCoreException) as e:
        raise InputError(f"cannot list '{pattern}': {e}") from None
    files = []
    for entry in sorted(entries, key=lambda e: e["path"]):
        if entry.get("type", "File") != "File":
            continue
        local = _local(entry["path"])
        try:
            mtime = os.stat(local).st_mtime_ns if local is not None else None
        except OSError:
            mtime = None  # vanished or unreadable: the probe says which
        files.append(InputFile(entry["path"], entry.get("size"), mtime))
    return files


def read_head(path: str, n: int = HEAD_BYTES) -> bytes:
    """The first `n` bytes of a local path, s3:// URI or http(s):// URL; InputError says why not."""
    if path.startswith(URL_PREFIXES):
        request = urllib.request.Request(path, headers={"Range": f"bytes=0-{n - 1}"})
        try:
            with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:
                return response.read(n)
        except urllib.error.HTTPError as e:
            raise InputError(f"HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise InputError(f"cannot connect ({reason})") from None
    local = _local(path)
    try:
        if local is None:
            from pyarrow import fs

            filesystem, key = fs.FileSystem.from_uri(path)
            with filesystem.open_input_stream(key) as stream:
                return stream.read(n)
        with open(local, "rb") as handle:
            return handle.read(n)
    except IsADirectoryError:
        raise InputError("it is a directory") from None
    except OSError as e:
        raise InputError((e.strerror or str(e)).lower()) from None


def _looks_like_archive(data: bytes) -> bool:
    start = data.lstrip(b"\r\n\t ")
    return start.startswith((b"WARC/", b"filedesc://")) or _ARC_LINE.match(start) is not None


def sniff(head: bytes, kind: str) -> str | None:
    """Why a file starting with `head` is not of `kind`, or None when it may be."""
    if kind == "warc":
        if not head:
            return None  # an empty archive: no records
        data = head
        if head[:2] == b"\x1f\x8b":
            try:
                data = zlib.decompressobj(31).decompress(head)
            except zlib.error:
                return None  # a damaged first member: the reader skips it and counts it
            if not data:
                return None
        if _looks_like_archive(data):
            return None
        return f"not a WARC or ARC file (it starts with {data[:32]!r})"
    if kind == "tar" and head and not head.startswith(_COMPRESSED) \
            and head[257:262] != b"ustar":
        return f"not a tar file (it starts with {head[:16]!r})"
    if kind == "parquet" and not head.startswith(b"PAR1"):
        return f"not a Parquet file (it starts with {head[:16]!r})"
    return None


def probe(path: str, kind: str) -> str | None:
    """Why the file at `path` cannot be read as `kind`, or None when its first bytes look right."""
    try:
        head = read_head(path)
    except InputError as e:
        return str(e)
    return sniff(head, kind)


def display_path(path: str) -> str:
    return path.removeprefix("file://")


def _missing_hint(pattern: str) -> str:
    where = "" if pattern.startswith(("/", "s3://")) or "://" in pattern \
        else f" (relative paths start at {os.getcwd()})"
    return f"check the path{where}; SET on_missing_input = 'skip' if it may be empty"


def _nothing_matches(source: SourceInput, pattern: str, listed: int) -> str:
    if not listed or source.extensions is None:
        return f"no file matches '{pattern}'"
    shown = ", ".join(source.extensions[:8]) + (", ..." if len(source.extensions) > 8 else "")
    return f"none of the {listed} file(s) matching '{pattern}' ends in .{{{shown}}}"


def resolve(sources: Iterable[SourceInput], on_missing: str = "error") -> None:
    """List each source's patterns into its `files` and probe them; the first problem is raised
    as an MdfqlError at the source. `on_missing` "skip" lets a pattern match nothing."""
    for source in sources:
        if source.kind == "table":
            continue
        files: list[InputFile] = []
        skipped: list[str] = []
        for pattern in source.patterns:
            try:
                matched = list_pattern(pattern)
            except InputError as e:
                raise source.error(str(e)) from None
            listed = len(matched)
            matched = [f for f in matched if source.accepts(f.path)]
            if not matched:
                if on_missing != "skip":
                    raise source.error(_nothing_matches(source, pattern, listed),
                                       _missing_hint(pattern))
                skipped.append(pattern)
            files.extend(matched)
        source.files, source.skipped = files, tuple(skipped)
        _probe_all(source, files)


def _probe_all(source: SourceInput, files: list[InputFile]) -> None:
    local = [f for f in files if _local(f.path) is not None]
    remote = [f for f in files if _local(f.path) is None][:REMOTE_PROBES]
    checked = (local + remote)[:source.probe_limit]
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        problems = list(pool.map(lambda f: probe(f.path, source.kind), checked))
    for file, problem in zip(checked, problems):
        if problem is not None:
            raise source.error(
                f"cannot read {display_path(file.path)}: {problem}",
                "nothing was written; fix the file or leave it out of the pattern",
            )


def unmatched(sources: Iterable[SourceInput]) -> list[tuple[SourceInput, str]]:
    """Local patterns that match no file now (for `check`'s warnings; remote ones are not
    listed: checking reads nothing over the network)."""
    found = []
    for source in sources:
        if source.kind == "table":
            continue
        for pattern in source.patterns:
            if _local(pattern) is None:
                continue
            try:
                if not any(source.accepts(f.path) for f in list_pattern(pattern)):
                    found.append((source, pattern))
            except InputError:
                found.append((source, pattern))
    return found
