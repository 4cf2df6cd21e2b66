"""RefinedWeb URL filter: each rule, host handling, and loading lists from files and archives.

The real default lists and the agreement with datatrove are in test_url_filter_real.py.
"""

from __future__ import annotations

import importlib.util
import io
import os
import tarfile
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402

from mdfql._native import read_url_list  # noqa: E402
from mdfql.text import REFINEDWEB_CATEGORIES, UrlFilter, load_url_filter  # noqa: E402
from mdfql.text.url_lists import UrlListsNotFound  # noqa: E402

# datatrove 0.10.1 reads tldextract's deprecated `registered_domain` on every URL
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'registered_domain' property is deprecated:DeprecationWarning"
)

# Fictitious lists in UT1's directory layout with mdfql's word-list names (tests only).
DEMO = Path(__file__).resolve().parent / "data" / "url_filter_demo"

# Reserved TLDs (.example, .test) keep the names fictitious; datatrove cannot see them (they are
# not public suffixes), so the agreement check also uses made-up names under real suffixes.
DOMAINS = [
    "bad.example",
    "Evil.TEST",
    "xn--bcher-kva.example",
    "203.0.113.7",
    "cams.test",
    "mdfql-blocked.com",
    "Mdfql-Evil.co.uk",
    "xn--mdfql-bcher-zhb.net",
]
URLS = ["shady.example/path/page.html", "http://other.example/x?y=1"]
STRICT = ["pornhub", "xvideos"]
HARD = ["porn", "xxx", "viagra"]
SOFT = ["hot", "girls", "sexy", "dating", "free"]
EXCLUDED = ["en.wikipedia.org", "arxiv.org", "github.com"]


@pytest.fixture(scope="module")
def filt() -> UrlFilter:
    return UrlFilter(DOMAINS, URLS, STRICT, HARD, SOFT, EXCLUDED)


def reasons(f: UrlFilter, urls: list[str | None], **kw: bool) -> list[str | None]:
    return f.reasons(pa.array(urls, pa.string()), **kw).to_pylist()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://bad.example/", "domain:bad.example"),
        ("https://deep.sub.bad.example/a", "domain:bad.example"),
        ("HTTPS://WWW.BAD.EXAMPLE/Path", "domain:bad.example"),
        ("http://bad.example:8080/x", "domain:bad.example"),
        ("http://user:secret@bad.example/x", "domain:bad.example"),
        ("bad.example/no/scheme", "domain:bad.example"),
        ("//bad.example/protocol-relative", "domain:bad.example"),
        ("http://bad.example./trailing-dot", "domain:bad.example"),
        ("http://www.evil.test/", "domain:evil.test"),
        ("http://bücher.example/", "domain:xn--bcher-kva.example"),
        ("http://www.xn--bcher-kva.example/", "domain:xn--bcher-kva.example"),
        ("http://203.0.113.7/login", "domain:203.0.113.7"),
        ("https://notbad.example/", None),
        ("https://bad.example.org/", None),
        ("https://en.wikipedia.org/wiki/Rust", "quality_source:en.wikipedia.org"),
        ("https://EN.Wikipedia.org/wiki/Rust", "quality_source:en.wikipedia.org"),
        ("https://de.wikipedia.org/wiki/Rust", None),
        ("https://gist.github.com/u/1", "quality_source:github.com"),
        ("http://shady.example/path/page.html", "url"),
        ("https://SHADY.example:443/path/page.html#frag", "url"),
        ("http://shady.example/path/other.html", None),
        ("http://other.example/x?y=1", "url"),
        ("http://site.example/free-porn-today", "hard_word:porn"),
        ("http://site.example/FREE-PORN-today", "hard_word:porn"),
        ("http://site.example/pornography-law-review", None),
        ("http://site.example/buy_viagra.php", "hard_word:viagra"),
        ("http://site.example/hot-weather", None),
        ("http://site.example/hot/girls", "soft_words:hot,girls"),
        ("http://site.example/hot-hot-hot", None),
        ("http://site.example/watch?v=x-videos", "strict_word:xvideos"),
        ("http://site.example/porn.hub/1", "hard_word:porn"),
        ("http://cams.test.site.example/", None),
        ("http:///missing-host", "unparseable"),
        ("http://a..b/", "unparseable"),
        ("http://host:port/", "unparseable"),
        ("", "unparseable"),
        (None, "unparseable"),
        ("https://www.example.com/a-perfectly-normal-article", None),
    ],
)
def test_rules(filt: UrlFilter, url: str | None, reason: str | None) -> None:
    assert reasons(filt, [url]) == [reason]


def test_scores_match_reasons(filt: UrlFilter) -> None:
    urls = ["https://bad.example/", "https://ok.example/", None, "http://x.example/xxx"]
    scores = filt.scores(pa.array(urls, pa.large_string()))
    assert scores.type == pa.float64()
    assert scores.to_pylist() == [1.0, 0.0, 1.0, 1.0]
    kept = [u for u, s in zip(urls, scores.to_pylist(), strict=True) if s < 0.5]
    assert kept == [u for u, r in zip(urls, reasons(filt, urls), strict=True) if r is None]


def test_soft_threshold() -> None:
    one = UrlFilter([], [], [], [], SOFT, [], soft_word_threshold=1)
    three = UrlFilter([], [], [], [], SOFT, [], soft_word_threshold=3)
    urls = ["http://x.example/hot", "http://x.example/hot-girls", "http://x.example/hot-sexy-girls"]
    assert [r is not None for r in reasons(one, urls)] == [True, True, True]
    assert [r is not None for r in reasons(three, urls)] == [False, False, True]


def test_quality_sources_are_chosen_per_call(filt: UrlFilter) -> None:
    # RefinedWeb excludes the curated sources, FineWeb's URL filter does not; the other rules stay.
    urls = ["https://en.wikipedia.org/wiki/Bread", "https://en.wikipedia.org/wiki/porn"]
    assert reasons(filt, urls) == ["quality_source:en.wikipedia.org"] * 2
    assert reasons(filt, urls, quality_sources=False) == [None, "hard_word:porn"]
    scores = filt.scores(pa.array(urls), quality_sources=False).to_pylist()
    assert scores == [0.0, 1.0]


def _entries(path: Path) -> list[str]:
    return [d for d in path.read_text().splitlines() if d and not d.startswith("#")]


def test_ut1_directory_layout() -> None:
    f = load_url_filter(DEMO, DEMO)
    assert f is load_url_filter(DEMO, DEMO)  # loaded once per process
    counts = f.counts
    assert counts["domains"] == sum(len(_entries(DEMO / c / "domains"))
                                    for c in REFINEDWEB_CATEGORIES)
    assert counts["hard_words"] == len(_entries(DEMO / "hard_words.txt"))
    for category in REFINEDWEB_CATEGORIES:
        domain = _entries(DEMO / category / "domains")[0]
        assert reasons(f, [f"http://www.{domain}/"]) == [f"domain:{domain}"]
        for url in _entries(DEMO / category / "urls"):
            assert reasons(f, [f"https://{url}"])[0] in ("url", f"domain:{url.split('/')[0]}")
    # no quality_sources.txt in the word-list folder: mdfql's bundled 16 apply
    assert counts["excluded_domains"] == 16
    assert reasons(f, ["https://arxiv.org/abs/1"]) == ["quality_source:arxiv.org"]


def test_directories_env_and_empty_list_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bl" / "gambling").mkdir(parents=True)
    (tmp_path / "bl" / "gambling" / "domains").write_text("# UT1 header\nspin.example\n")
    (tmp_path / "bl" / "press").mkdir()  # not a RefinedWeb category: ignored
    (tmp_path / "bl" / "press" / "domains").write_text("news.example\n")
    (tmp_path / "words").mkdir()
    (tmp_path / "words" / "banned_words.txt").write_text("# datatrove's name\nJackpot\n")
    (tmp_path / "words" / "quality_sources.txt").write_text("# own list\nnews.example\n")
    monkeypatch.setenv("MDFQL_URL_BLOCKLIST", str(tmp_path / "bl"))
    monkeypatch.setenv("MDFQL_URL_WORDS", str(tmp_path / "words"))
    with pytest.warns(UserWarning) as caught:
        f = load_url_filter()
    warned = sorted(str(w.message).split(" list ")[0] for w in caught)
    assert warned == ["URL filter: the soft_words", "URL filter: the strict_words"]
    urls = [
        "https://a.spin.example/",
        "https://news.example/",
        "https://x.example/jackpot",
        "https://en.wikipedia.org/",
    ]
    assert reasons(f, urls) == [
        "domain:spin.example", "quality_source:news.example", "hard_word:jackpot", None,
    ]
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match="the domains list is empty"):
        load_url_filter(tmp_path / "empty", DEMO)
    with pytest.raises(FileNotFoundError, match="blocklist not found"):
        load_url_filter(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="word-list directory not found"):
        load_url_filter(tmp_path / "bl", tmp_path / "missing")


def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_merged_archive_layout(tmp_path: Path) -> None:
    """datatrove's layout: one tarball with merged `domains` and `urls` members."""
    archive = _tar_gz(tmp_path / "lists.tar.gz", {
        "urls": b"shady.example/path/page.html\n",
        "domains": b"bad.example\nEvil.TEST\n\xe9vil.example\n",  # a Latin-1 stray
    })
    f = load_url_filter(archive, DEMO)
    assert f.counts["domains"] == 2 and f.counts["urls"] == 1
    got = reasons(f, ["https://x.evil.test/", "http://shady.example/path/page.html"])
    assert got == ["domain:evil.test", "url"]
    assert read_url_list(archive, "urls").to_pylist() == ["shady.example/path/page.html"]
    with pytest.raises(FileNotFoundError, match="not found in archive"):
        read_url_list(archive, "missing")
    with pytest.raises(OSError, match="cannot read archive"):
        UrlFilter.from_files({"domains": [(str(_corrupt(tmp_path)), "domains")]})
    with pytest.raises(ValueError, match="unknown URL list"):
        UrlFilter.from_files({"domain": []})


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.tar.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    return path


def test_without_datatrove_the_error_says_how_to_get_the_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datatrove" else real(name, *a))
    with pytest.raises(UrlListsNotFound, match="pip install") as err:
        load_url_filter(DEMO)  # the word lists default to datatrove's
    assert "MDFQL_URL_BLOCKLIST" in str(err.value) and "ut-capitole.fr" in str(err.value)


# ---- where we deliberately differ from datatrove ------------------------------------------


def _datatrove_filter():
    pytest.importorskip("datatrove", reason="datatrove not installed: agreement check skipped")
    pytest.importorskip("tldextract", reason="tldextract (datatrove's URLFilter dep) missing")
    pytest.importorskip("ahocorasick", reason="pyahocorasick (datatrove's URLFilter dep) missing")
    from datatrove.pipeline.filters.url_filter import URLFilter
    from tldextract import TLDExtract

    # datatrove reads blocklist entries as given; it lowercases nothing, so lowercase them here.
    dt = URLFilter(
        extra_domains=[d.lower() for d in DOMAINS + EXCLUDED],
        extra_urls=URLS,
        banned_words=HARD,
        banned_subwords=STRICT,
        soft_banned_words=SOFT,
        use_integrated_lists=False,
    )
    dt.tldextractor = TLDExtract(suffix_list_urls=())  # bundled suffix snapshot, no network
    return dt


def test_stricter_than_datatrove_on_case_and_hosts(filt: UrlFilter) -> None:
    """Where we deliberately differ: datatrove matches words case-sensitively, and compares hosts
    only as registered domain or full host, in the URL's own spelling."""
    dt = _datatrove_filter()
    from datatrove.data import Document

    urls = [
        "http://site.example/FREE-PORN",
        "http://mdfql-bücher.net/",
        "http://bad.example/",
        "http://a.b.mdfql-blocked.com.x/",
    ]
    ours = reasons(filt, urls)
    assert ours == ["hard_word:porn", "domain:xn--mdfql-bcher-zhb.net", "domain:bad.example", None]
    theirs = [dt.filter(Document(text="", id=u, metadata={"url": u})) for u in urls]
    assert theirs == [True, True, True, True]
