"""`COPY (query) TO 'dir' (FORMAT parquet|jsonl|webdataset [, OVERWRITE])`: a query's rows as
files (WebDataset tar shards: `mdfql.sinks.webdataset`).

A COPY never deletes a file it did not write. Its files are written into a staging folder beside
the target (`.<name>.mdfql-staging-<run>`) and moved in only when the statement commits (see
`StagedFiles`); the names of the files a COPY wrote are kept beside the folder, in
`.<name>.mdfql-copy.json` (not inside it, where `read_parquet('dir')` would read it). A later
COPY to the same folder replaces those files and keeps any other. A folder that holds files no
COPY wrote is refused unless the statement says OVERWRITE (then its files are kept and the new
ones are added).

Daft's writers do the work in parallel. Its JSON writer already writes JSON Lines (one object per
line, newlines inside strings escaped), under `.json` names which are renamed `.jsonl`; binary
columns, which it cannot write, go out as base64 text.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from daft import DataType, col
from daft.dataframe import DataFrame

from mdfql.metrics import operator_metrics
from mdfql.sinks.catalog import SinkError
from mdfql.sinks.iceberg import WriteResult

FileFormat = Literal["parquet", "jsonl", "webdataset"]
FileMode = Literal["replace", "append"]
_SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl", "webdataset": ".tar"}


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _json_unwritable(t: pa.DataType) -> bool:
    """Whether Daft's JSON writer rejects type `t` (binary, duration, extension), nested or not."""
    if _is_binary(t) or pa.types.is_duration(t) or isinstance(t, pa.BaseExtensionType):
        return True
    return any(_json_unwritable(t.field(i).type) for i in range(t.num_fields))


def _json_ready(df: DataFrame) -> DataFrame:
    """`df` with top-level binary columns as base64 text, which JSON can carry.

    Other types Daft cannot write as JSON raise a SinkError naming the column.
    """
    encoded = {}
    for f in df.schema().to_pyarrow_schema():
        if _is_binary(f.type):
            encoded[f.name] = col(f.name).encode("base64").cast(DataType.string())
        elif _json_unwritable(f.type):
            raise SinkError(
                f"column {f.name!r} of type {df.schema()[f.name].dtype} cannot be written as JSON",
                hint=f"cast {f.name!r} to text in the query, or COPY to FORMAT parquet",
            )
    return df.with_columns(encoded) if encoded else df


def _count_rows(fs: pafs.FileSystem, paths: list[str], fmt: FileFormat) -> int:
    """Rows in the files just written: Parquet footers, or JSON Lines newlines."""
    rows = 0
    for path in paths:
        if fmt == "parquet":
            with fs.open_input_file(path) as f:
                rows += pq.ParquetFile(f).metadata.num_rows
        else:
            with fs.open_input_stream(path) as f:
                while chunk := f.read(1 << 20):
                    rows += chunk.count(b"\n")
    return rows


@dataclass(frozen=True)
class Folder:
    """A COPY target: its filesystem, its path there, and the URI Daft writes to."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @classmethod
    def of(cls, target: str) -> Folder:
        if "://" not in target:  # Daft turns relative folders into file:// URIs it cannot open
            target = str(Path(target).expanduser().resolve())
        fs, path = pafs.FileSystem.from_uri(target if "://" in target else f"file://{target}")
        return cls(fs, path.rstrip("/") or "/", target.rstrip("/") or "/")

    def sibling(self, name: str) -> Folder:
        """A path beside this folder (staging folder, record of what COPY wrote)."""
        parent, base = posixpath.split(self.path)
        uri_parent = self.uri[: len(self.uri) - len(base)].rstrip("/")
        return Folder(self.fs, posixpath.join(parent, f".{base}.{name}"),
                      f"{uri_parent}/.{base}.{name}")

    def remove(self) -> None:
        """Delete this folder and what it holds, if it exists (only for staging folders)."""
        if self.fs.get_file_info(self.path).type != pafs.FileType.NotFound:
            self.fs.delete_dir(self.path)

    def files(self) -> list[str] | None:
        """Names of the entries directly inside (files and folders), or None when the folder
        does not exist."""
        info = self.fs.get_file_info(self.path)
        if info.type == pafs.FileType.NotFound:
            return None
        if info.type != pafs.FileType.Directory:
            raise SinkError(f"COPY target {self.uri} exists and is not a directory",
                            hint="COPY writes a folder of files: choose a folder path")
        selector = pafs.FileSelector(self.path)
        return sorted(posixpath.basename(i.path) for i in self.fs.get_file_info(selector))


def _record(folder: Folder) -> dict | None:
    """What earlier COPYs to `folder` recorded beside it: {"files": [...], "created": bool}."""
    record = folder.sibling("mdfql-copy.json")
    if folder.fs.get_file_info(record.path).type != pafs.FileType.File:
        return None
    with folder.fs.open_input_stream(record.path) as f:
        return json.loads(f.read())


def owned_files(folder: Folder) -> list[str]:
    """The files earlier COPYs wrote into `folder` (and did not remove since)."""
    record = _record(folder)
    return list(record["files"]) if record is not None else []


def _created_by_copy(folder: Folder, present: list[str] | None) -> bool:
    """Whether the folder is COPY's own: it was new or empty when a COPY first wrote to it."""
    record = _record(folder)
    return bool(record["created"]) if record is not None else not present


def check_target(target: str, overwrite: bool) -> None:
    """Refuse a folder holding files no COPY wrote, unless it is COPY's own folder or
    `overwrite` (checked before any write)."""
    folder = Folder.of(target)
    present = folder.files()
    if not present:
        return
    owned = set(owned_files(folder))
    foreign = [f for f in present if f not in owned]
    if foreign and not overwrite and not _created_by_copy(folder, present):
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3
                                          else "")
        raise SinkError(
            f"COPY refuses to write into {folder.uri}: it holds {len(foreign)} file(s) or "
            f"folder(s) that no COPY wrote ({shown})",
            hint="COPY to a new or empty folder, or add OVERWRITE to write into it anyway "
                 "(its files are kept; only files an earlier COPY wrote there are replaced)",
        )


@dataclass
class StagedFiles:
    """A COPY whose files are written in the staging folder, not yet moved into the target."""

    target: Folder
    staging: Folder
    names: list[str]
    fmt: FileFormat
    mode: FileMode
    overwrite: bool
    rows: int
    metrics: tuple[dict, ...] = field(default=())

    def commit(self) -> WriteResult:
        """Move the files in; then drop the files an earlier COPY wrote there (mode replace)."""
        check_target(self.target.uri, self.overwrite)  # it may have changed while writing
        fs, before = self.target.fs, owned_files(self.target)
        present = self.target.files()
        created = _created_by_copy(self.target, present)
        if present is None and isinstance(fs, pafs.LocalFileSystem):
            fs.move(self.staging.path, self.target.path)  # one rename: all files at once
        else:
            fs.create_dir(self.target.path, recursive=True)
            for name in self.names:
                fs.move(posixpath.join(self.staging.path, name),
                        posixpath.join(self.target.path, name))
            self.staging.remove()
        kept = [n for n in before if n in (present or []) and n not in self.names] \
            if self.mode == "append" else []
        record = self.target.sibling("mdfql-copy.json")
        with fs.open_output_stream(record.path) as f:
            f.write(json.dumps({"format": self.fmt, "files": kept + self.names,
                                "created": created}).encode())
        if self.mode == "replace":
            for name in set(before) & set(present or []):
                if name not in self.names:
                    fs.delete_file(posixpath.join(self.target.path, name))
        return WriteResult(ident=self.target.uri, rows_written=self.rows, snapshot_id=None,
                           mode=self.mode, metrics=self.metrics)

    def discard(self) -> None:
        """Remove the staging folder (the target was not touched)."""
        self.staging.remove()


def stage_files(df: DataFrame, target: str, fmt: FileFormat, mode: FileMode = "replace",
                overwrite: bool = False, run_id: str = "run",
                options: dict[str, Any] | None = None) -> StagedFiles:
    """Write `df` as Parquet, JSON Lines or WebDataset files into a staging folder beside
    `target`; `options` are the format's (webdataset: key, shard_size).

    Nothing in `target` changes until `commit`. `replace` then drops the files an earlier COPY
    wrote there, `append` keeps them; a folder holding other files needs `overwrite`.
    """
    if fmt not in _SUFFIX:
        raise SinkError(f"unknown COPY format {fmt!r}",
                        hint="use FORMAT parquet, FORMAT jsonl or FORMAT webdataset")
    if mode not in ("replace", "append"):
        raise SinkError(f"unknown COPY mode {mode!r}", hint="use replace or append")
    check_target(target, overwrite)
    folder = Folder.of(target)
    staging = folder.sibling(f"mdfql-staging-{run_id}")
    fs = folder.fs
    if fmt == "webdataset":
        return _stage_shards(df, folder, staging, mode, overwrite, options or {})
    try:
        if fmt == "parquet":
            written = df.write_parquet(staging.uri, write_mode="overwrite")
        else:
            written = _json_ready(df).write_json(staging.uri, write_mode="overwrite")
    except BaseException:
        staging.remove()  # ours alone: named after this run
        raise
    # Daft names its own files; a folder with no rows gets none (it may not exist).
    if fs.get_file_info(staging.path).type == pafs.FileType.NotFound:
        fs.create_dir(staging.path, recursive=True)
    names = staging.files() or []
    if fmt == "jsonl":
        renamed = []
        for name in names:
            if name.endswith(".json"):
                fs.move(posixpath.join(staging.path, name),
                        posixpath.join(staging.path, name[: -len(".json")] + ".jsonl"))
                name = name[: -len(".json")] + ".jsonl"
            renamed.append(name)
        names = renamed
    rows = _count_rows(fs, [posixpath.join(staging.path, n) for n in names], fmt)
    return StagedFiles(folder, staging, names, fmt, mode, overwrite, rows,
                       operator_metrics(written))


def _stage_shards(df: DataFrame, folder: Folder, staging: Folder, mode: FileMode,
                  overwrite: bool, options: dict[str, Any]) -> StagedFiles:
    from mdfql.sinks.webdataset import write_shards

    try:
        names, rows = write_shards(df, staging.fs, staging.path, folder.uri, **options)
        if not names:
            staging.fs.create_dir(staging.path, recursive=True)
    except BaseException:
        staging.remove()
        raise
    return StagedFiles(folder, staging, names, "webdataset", mode, overwrite, rows)


def write_files(df: DataFrame, target: str, fmt: FileFormat, mode: FileMode = "replace",
                overwrite: bool = False, options: dict[str, Any] | None = None) -> WriteResult:
    """Write `df` under folder `target` and commit at once (see `stage_files`)."""
    return stage_files(df, target, fmt, mode, overwrite, options=options).commit()
