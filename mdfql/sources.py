"""Table functions: the sources a pipeline reads (`FROM read_warc('crawl/*.warc.gz')`).

They live in their own registry of `FunctionSpec`s whose builders return lazy Daft DataFrames;
all their arguments are literals known at plan time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import daft

from mdfql.functions.builtins import parse_param
from mdfql.functions.registry import FunctionSpec, Registry
from mdfql.io.inputs import SourceInput, register

_SOURCES = Registry()


def source_registry() -> Registry:
    """The process-wide table-function catalog."""
    return _SOURCES


def define_source(name: str, params: str, build: Callable[..., daft.DataFrame], doc: str,
                  registry: Registry | None = None, with_options: bool = False) -> None:
    """Add a table function; every parameter is a literal. Its builder is called with the
    script's options too (`options=`) when `with_options` (e.g. to pick the Iceberg catalog)."""
    specs = []
    for text in params.split():
        p = parse_param(text)
        specs.append(type(p)(p.name, p.dtype, p.default, const=True))

    def call(options: dict[str, Any], **kwargs: Any) -> daft.DataFrame:
        return build(**kwargs, options=options) if with_options else build(**kwargs)

    (registry or _SOURCES).add(
        FunctionSpec(name, tuple(specs), call, doc, "table", runs_as="daft")
    )


def _read_warc(paths: str | list[str], options: dict[str, Any]) -> daft.DataFrame:
    from mdfql.io.warc import read_warc

    return read_warc(paths, limit=options.get("limit"))


def _commoncrawl(crawl: str, files: int, base_url: str | None,
                 options: dict[str, Any]) -> daft.DataFrame:
    from mdfql.io.warc import commoncrawl

    return commoncrawl(crawl, files=files, base_url=base_url, limit=options.get("limit"))


def _read_images(paths: str | list[str], extensions: str | None) -> daft.DataFrame:
    from mdfql.io.images import read_images

    return read_images(paths, extensions)


def _read_webdataset(paths: str | list[str], columns: str | None) -> daft.DataFrame:
    from mdfql.io.webdataset import read_webdataset

    return read_webdataset(paths, columns)


def in_folder(pattern: str, ext: str) -> str:
    """A folder (a local directory, or any path ending in '/') as the glob of the `ext` files
    anywhere under it, as a Hugging Face dataset folder holds its Parquet shards
    (`data/train-00000-of-00004.parquet`); anything else as given."""
    if pattern.endswith("/") or ("://" not in pattern and Path(pattern).expanduser().is_dir()):
        return pattern.rstrip("/") + f"/**/*.{ext}"
    return pattern


def _files(kind: str, reader: Callable[[Any], daft.DataFrame],
           ext: str | None = None) -> Callable[..., daft.DataFrame]:
    """A Daft file reader that tells a recording compiler its patterns (probed when a run
    starts: a file that is missing, unreadable or not of `kind` fails before any write); with
    `ext`, a folder stands for the `ext` files under it."""

    def read(paths: str | list[str]) -> daft.DataFrame:
        patterns = (paths,) if isinstance(paths, str) else tuple(paths)
        if ext is not None:
            patterns = tuple(in_folder(p, ext) for p in patterns)
        register(SourceInput(kind, patterns))
        return reader(list(patterns))

    return read


def _read_hf(repo: str, split: str) -> daft.DataFrame:
    """A Hugging Face dataset: a local folder in the Hub layout, or `org/name` on the Hub."""
    local = Path(repo).expanduser()
    if local.is_dir():
        for ext, reader in (("parquet", daft.read_parquet), ("jsonl", daft.read_json),
                            ("json", daft.read_json)):
            files = sorted(
                str(p) for p in local.rglob(f"*.{ext}")
                if split in p.relative_to(local).as_posix().split("/")[-1].split("-")[0]
                or split in p.relative_to(local).parts[:-1]
            )
            if files:
                return reader(files)
        raise FileNotFoundError(f"no {split!r} split (parquet or jsonl files) under {local}")
    return daft.read_parquet(f"hf://datasets/{repo}/**/{split}*/*.parquet")


define_source(
    "read_warc", "paths:any", _read_warc,
    "WARC/ARC files (local glob, s3:// glob or https:// URL): one row per HTTP response with "
    "record_id, url, warc_date, status, content_type, charset, html (decoded), warc_path.",
    with_options=True,
)
define_source(
    "commoncrawl", "crawl:string files:integer=1 base_url:string=None", _commoncrawl,
    "The first `files` WARC files of a Common Crawl snapshot (e.g. 'CC-MAIN-2024-51'), read like "
    "read_warc; base_url (or MDFQL_COMMONCRAWL_BASE) points at a mirror.",
    with_options=True,
)
define_source(
    "read_images", "paths:any extensions:string=None", _read_images,
    "Image files (local glob, s3:// glob, https:// URL; 'dir/' for all files under it): one row "
    "per file with path, image (the file's bytes, never re-encoded) and size_bytes. "
    "extensions: a comma list ('jpg,png'), '*' for every file, 'pillow' for all Pillow reads; "
    "default jpg/jpeg/png/webp/gif/tif/tiff/bmp/ppm/pgm/... (case-insensitive). "
    "An unreadable file is a failed row of read_images, counted with its reason.",
)
define_source(
    "read_webdataset", "paths:any columns:string=None", _read_webdataset,
    "WebDataset tar shards (local glob, s3:// glob, https:// URL; plain or gzip): one row per "
    "sample with key (its __key__), shard (the shard's path) and one Binary column per member "
    "extension in columns ('jpg,txt,json'; text decodes with CAST(txt AS VARCHAR)). Without "
    "columns they are learned from the first shard's first 16 samples' headers when the query "
    "compiles. A truncated or corrupt shard keeps the samples before the damage and counts the "
    "failure.",
)
define_source(
    "read_parquet", "paths:any", _files("parquet", daft.read_parquet, "parquet"),
    "Parquet files (glob or list; local, s3://, https://); a folder (or a path ending in '/') "
    "reads the .parquet files under it, e.g. a Hugging Face dataset folder of shards.",
)
define_source(
    "read_jsonl", "paths:any", _files("json", daft.read_json),
    "JSON Lines files (glob or list).",
)
define_source(
    "read_hf", "repo:string split:string='train'", _read_hf,
    "A Hugging Face dataset split: 'org/name' on the Hub, or a local folder in the Hub layout.",
)
