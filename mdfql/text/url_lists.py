"""Where the URL filter's lists come from.

By default, the real lists RefinedWeb's URL filter is built from, as the `datatrove` wheel (a
dependency of mdfql) ships them in its `assets/` folder; they are read from there at run time,
never copied into mdfql:

- `url_filterblacklists*.tar.gz`: the UT1 blocklist (RefinedWeb's categories: adult, phishing,
  dating, gambling, filehosting, ddos, agressif, chat, mixed_adult, arjel) merged into one
  `domains` and one `urls` member (about 4.56 million domains and 19,600 URLs). The UT1
  blacklists are by Université Toulouse 1 Capitole (https://dsi.ut-capitole.fr/blacklists/),
  licensed CC BY-SA 4.0.
- `banned_subwords.txt`, `banned_words.txt`, `soft_banned_words.txt`: the strict (substring),
  hard (whole word) and soft (two or more words) banned URL words.

The quality sources RefinedWeb excludes (Wikipedia, arXiv, ...; 16 domains from the paper) are
bundled with mdfql (`mdfql/data/url_filter/quality_sources.txt`).

A user's own lists: a UT1 directory (one sub-directory per category with `domains` and `urls`
files, as in UT1's `blacklists/`), a directory or `.tar.gz` holding merged `domains`/`urls`
(datatrove's layout), and a word-list directory (mdfql's or datatrove's file names).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

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

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "url_filter"
QUALITY_SOURCES = BUNDLED_DIR / "quality_sources.txt"

# A word list's file name in a word-list directory: mdfql's name first, then datatrove's.
WORD_FILES: dict[str, tuple[str, ...]] = {
    "strict_words": ("strict_words.txt", "banned_subwords.txt"),
    "hard_words": ("hard_words.txt", "banned_words.txt"),
    "soft_words": ("soft_words.txt", "soft_banned_words.txt"),
}
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")

# One list file: a path, or (archive, member) for a file inside a tar archive.
Source = tuple[str, str | None]
# List name (see `mdfql._native.UrlFilter.from_files`) -> its files.
Sources = dict[str, list[Source]]

HOW_TO_GET = (
    "mdfql's default URL lists (the UT1 blocklist and RefinedWeb's banned URL words) are read "
    "from the datatrove package, a dependency of mdfql: `pip install 'datatrove>=0.10,<0.11'`. "
    "Or point MDFQL_URL_BLOCKLIST (or url_score's `blocklist`) at a UT1 `blacklists/` directory "
    "from https://dsi.ut-capitole.fr/blacklists/ and MDFQL_URL_WORDS (`words`) at a directory "
    "of word lists."
)


class UrlListsNotFound(FileNotFoundError):
    """The default lists (datatrove's assets) or a configured list location is missing."""


def datatrove_assets() -> Path:
    """The `assets/` folder of the installed datatrove package, found without importing it
    (importing datatrove would run its package code just to locate data files)."""
    spec = importlib.util.find_spec("datatrove")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        assets = Path(root) / "assets"
        if assets.is_dir():
            return assets
    where = f" (datatrove at {roots[0]} has no assets/ folder)" if roots else ""
    raise UrlListsNotFound(f"URL lists not found{where}. {HOW_TO_GET}")


def default_blocklist() -> Path:
    """datatrove's UT1 tarball (the newest, should a wheel ever ship more than one)."""
    assets = datatrove_assets()
    found = sorted(assets.glob("url_filterblacklists*.tar.gz"))
    if not found:
        raise UrlListsNotFound(f"no url_filterblacklists*.tar.gz in {assets}. {HOW_TO_GET}")
    return found[-1]


def blocklist_sources(location: Path | None) -> Sources:
    """The `domains` and `urls` files of a blocklist: datatrove's tarball when `location` is
    None, else a `.tar.gz` or directory in datatrove's merged layout, or a UT1 directory (only
    RefinedWeb's categories are read; a category without a file just adds nothing)."""
    path = location if location is not None else default_blocklist()
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        return {"domains": [(str(path), "domains")], "urls": [(str(path), "urls")]}
    if not path.is_dir():
        raise UrlListsNotFound(f"URL blocklist not found: {path} (a UT1 directory or .tar.gz)")
    if (path / "domains").is_file() or (path / "urls").is_file():
        folders = [path]
    else:
        folders = [path / category for category in REFINEDWEB_CATEGORIES]
    return {
        name: [(str(f / name), None) for f in folders if (f / name).is_file()]
        for name in ("domains", "urls")
    }


def word_sources(location: Path | None) -> Sources:
    """The three banned-word lists and the quality sources: datatrove's word lists when
    `location` is None, else that directory's (a missing file is an empty list). The quality
    sources are mdfql's bundled list unless the directory has its own `quality_sources.txt`."""
    folder = location if location is not None else datatrove_assets()
    if not folder.is_dir():
        raise UrlListsNotFound(f"URL word-list directory not found: {folder}")
    sources: Sources = {}
    for name, candidates in WORD_FILES.items():
        found = next((folder / c for c in candidates if (folder / c).is_file()), None)
        sources[name] = [(str(found), None)] if found else []
    own_quality = folder / "quality_sources.txt"
    quality = own_quality if own_quality.is_file() else QUALITY_SOURCES
    sources["excluded_domains"] = [(str(quality), None)]
    return sources
