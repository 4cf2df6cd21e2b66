"""Load RefinedWeb's URL filter (UT1 blocklist + banned URL words + excluded quality sources).

The lists are read by Rust (`UrlFilter.from_files`, no Python string per entry) once per
process and list location, and compiled into the `UrlFilter` whose `reasons`/`scores` methods
run over pyarrow string arrays with the GIL released.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from pathlib import Path

from mdfql._native import UrlFilter
from mdfql.text.url_lists import (
    REFINEDWEB_CATEGORIES,
    Sources,
    blocklist_sources,
    word_sources,
)

__all__ = ["REFINEDWEB_CATEGORIES", "UrlFilter", "load_url_filter"]

# The lists whose emptiness means the filter silently does less than the user asked for (an
# empty `urls` list is common: many UT1 categories have none).
MUST_NOT_BE_EMPTY = ("domains", "strict_words", "hard_words", "soft_words", "excluded_domains")

# One load at a time: Daft runs UDFs in threads, and the real lists take seconds and ~160 MB.
_LOCK = threading.Lock()


def _resolve(given: str | Path | None, env: str) -> Path | None:
    value = given or os.environ.get(env)
    return Path(value).expanduser().resolve() if value else None


def _warn_empty(filt: UrlFilter, sources: Sources) -> None:
    counts = filt.counts
    for name in MUST_NOT_BE_EMPTY:
        if counts[name] == 0:
            files = ", ".join(p if m is None else f"{p}:{m}" for p, m in sources[name]) or "none"
            warnings.warn(
                f"URL filter: the {name} list is empty (files: {files}), so url_score blocks "
                f"nothing by {name.replace('_', ' ')}; check MDFQL_URL_BLOCKLIST / "
                "MDFQL_URL_WORDS or the blocklist/words options",
                UserWarning,
                stacklevel=3,
            )


@functools.lru_cache(maxsize=4)
def _load(blocklist: Path | None, words: Path | None) -> UrlFilter:
    sources = {**blocklist_sources(blocklist), **word_sources(words)}
    filt = UrlFilter.from_files(sources)
    _warn_empty(filt, sources)
    return filt


def load_url_filter(
    blocklist_dir: str | Path | None = None,
    words_dir: str | Path | None = None,
) -> UrlFilter:
    """The URL filter for a blocklist and a word-list directory, loaded once per process.

    By default (both None, and `$MDFQL_URL_BLOCKLIST` / `$MDFQL_URL_WORDS` unset) these are the
    real RefinedWeb lists, read from the installed datatrove package's assets: the UT1 blocklist
    (Université Toulouse 1 Capitole, https://dsi.ut-capitole.fr/blacklists/, CC BY-SA 4.0;
    RefinedWeb's categories: adult, phishing, dating, gambling, filehosting, ddos, agressif,
    chat, mixed_adult, arjel) and the strict/hard/soft banned URL words; plus the 16 quality
    sources RefinedWeb excludes, bundled with mdfql. Without datatrove this raises
    `UrlListsNotFound` saying how to get the lists.

    `blocklist_dir`: a UT1 directory (category sub-directories with `domains` and `urls` files;
    only RefinedWeb's categories are read) or a directory or `.tar.gz` with merged `domains` and
    `urls` files. `words_dir`: `strict_words.txt`, `hard_words.txt`, `soft_words.txt` (or
    datatrove's names) and optionally `quality_sources.txt`. A list that comes out empty is
    warned about. Whether the quality sources are applied is chosen per call
    (`reasons(urls, quality_sources=False)`), so RefinedWeb and FineWeb share one loaded filter.
    """
    blocklist = _resolve(blocklist_dir, "MDFQL_URL_BLOCKLIST")
    words = _resolve(words_dir, "MDFQL_URL_WORDS")
    with _LOCK:
        return _load(blocklist, words)
