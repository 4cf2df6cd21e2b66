"""Load RefinedWeb's URL filter (UT1 blocklists + banned URL words + excluded quality sources).

The lists are read here once per directory pair and compiled into the Rust `UrlFilter`, whose
`reasons`/`scores` methods run over pyarrow string arrays with the GIL released.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from mdfql._native import UrlFilter

# The UT1 categories RefinedWeb blocks (Penedo et al. 2023, section G.1).
REFINEDWEB_CATEGORIES: tuple[str, ...] = (
    "adult",
    "phishing",
    "dating",
    "gambling",
    "filehosting",
    "ddos",
    "agressif",
    "chat",
    "mixed_adult",
    "arjel",
)

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "data" / "url_filter"
DEFAULT_BLOCKLIST_DIR = DEFAULT_DIR / "blocklist"


def _read_list(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a list file; a missing file is an empty list."""
    if not path.is_file():
        return []
    # UT1 files are mostly ASCII with a few Latin-1 strays; undecodable bytes only spoil their line.
    with path.open(encoding="utf-8", errors="replace") as f:
        stripped = (line.strip() for line in f)
        return [line for line in stripped if line and not line.startswith("#")]


@functools.lru_cache(maxsize=8)
def _load(blocklist_dir: Path, words_dir: Path, quality_sources: bool) -> UrlFilter:
    if not blocklist_dir.is_dir():
        raise FileNotFoundError(f"URL blocklist directory not found: {blocklist_dir}")
    if not words_dir.is_dir():
        raise FileNotFoundError(f"URL word-list directory not found: {words_dir}")
    domains: list[str] = []
    urls: list[str] = []
    for category in REFINEDWEB_CATEGORIES:
        domains += _read_list(blocklist_dir / category / "domains")
        urls += _read_list(blocklist_dir / category / "urls")
    return UrlFilter(
        domains,
        urls,
        _read_list(words_dir / "strict_words.txt"),
        _read_list(words_dir / "hard_words.txt"),
        _read_list(words_dir / "soft_words.txt"),
        _read_list(words_dir / "quality_sources.txt") if quality_sources else [],
    )


def load_url_filter(
    blocklist_dir: str | Path | None = None,
    words_dir: str | Path | None = None,
    quality_sources: bool = True,
) -> UrlFilter:
    """Build (or reuse) the URL filter for a UT1-format blocklist and a word-list directory.

    `blocklist_dir` holds one sub-directory per UT1 category, each with `domains` and `urls`
    files; only RefinedWeb's categories are read. `words_dir` holds `strict_words.txt`,
    `hard_words.txt`, `soft_words.txt` and `quality_sources.txt`. When omitted they default to
    `$MDFQL_URL_BLOCKLIST` / `$MDFQL_URL_WORDS`, then to the small lists bundled with mdfql.
    `quality_sources=False` keeps the curated sources (Wikipedia, arXiv, ...): RefinedWeb
    excludes them, FineWeb's URL filter does not. Filters are cached per (resolved) directory
    pair and option, since the real UT1 list takes seconds to load.
    """
    blocklist = blocklist_dir or os.environ.get("MDFQL_URL_BLOCKLIST") or DEFAULT_BLOCKLIST_DIR
    words = words_dir or os.environ.get("MDFQL_URL_WORDS") or DEFAULT_DIR
    return _load(Path(blocklist).expanduser().resolve(), Path(words).expanduser().resolve(),
                 quality_sources)
