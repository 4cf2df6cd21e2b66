"""The real default URL lists (datatrove's UT1 blocklist and banned URL words) against datatrove's
own URLFilter: on every URL in ../shared/data (page URLs and the links inside the real pages and
WARC records) and on domains drawn from the UT1 blocklist itself.

    python -m pytest tests/test_url_filter_real.py -s   # prints the agreement figures
"""

from __future__ import annotations

import html
import random
import re
import zlib
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from mdfql._native import read_url_list
from mdfql.text import UrlFilter, load_url_filter
from mdfql.text.url_lists import blocklist_sources

# datatrove 0.10.1 reads tldextract's deprecated `registered_domain` on every URL
pytestmark = pytest.mark.filterwarnings(
    "ignore:The 'registered_domain' property is deprecated:DeprecationWarning"
)

N_DOMAINS = 3000
SEED = 7
MIN_AGREEMENT = 0.999
URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>()\\\[\]{}|^`]+")


def _gunzip(data: bytes) -> bytes:
    """Every gzip member's bytes, up to the first damage (the broken WARC samples have some)."""
    out = []
    while data[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(31)
        try:
            out.append(d.decompress(data))
        except zlib.error:
            break
        data = d.unused_data
    return b"".join(out) if out else data


@pytest.fixture(scope="module")
def real_urls(shared_data: Path) -> list[str]:
    """Every http(s) URL written in the shared WARC samples and extraction-eval pages (entities
    decoded first, so `&amp;` is `&` and `&quot;` ends a URL)."""
    urls: set[str] = set()
    for folder in ("warc-samples", "extraction-eval"):
        for path in sorted((shared_data / folder).rglob("*")):
            if path.is_file():
                text = html.unescape(_gunzip(path.read_bytes()).decode("utf-8", "replace"))
                urls.update(URL_IN_TEXT.findall(text))
    assert len(urls) > 10_000
    return sorted(urls)


@pytest.fixture(scope="module")
def ours() -> UrlFilter:
    with pytest.MonkeyPatch.context() as mp:  # the defaults, whatever this shell configured
        mp.delenv("MDFQL_URL_BLOCKLIST", raising=False)
        mp.delenv("MDFQL_URL_WORDS", raising=False)
        return load_url_filter()


@pytest.fixture(scope="module")
def datatrove(tmp_path_factory: pytest.TempPathFactory):
    """datatrove's URLFilter with its integrated lists, extracted and parsed by its own code (into
    a scratch folder instead of the user's Hugging Face cache)."""
    pytest.importorskip("datatrove", reason="datatrove not installed: agreement check skipped")
    pytest.importorskip("tldextract", reason="tldextract (datatrove's URLFilter dep) missing")
    pytest.importorskip("ahocorasick", reason="pyahocorasick (datatrove's URLFilter dep) missing")
    import datatrove.pipeline.filters.url_filter as dt
    from tldextract import TLDExtract

    cache = tmp_path_factory.mktemp("datatrove-assets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dt, "cached_assets_path", lambda **_: str(cache))
        filt = dt.URLFilter()
        filt.tldextractor = TLDExtract(suffix_list_urls=())  # bundled suffix list, no network
        filt.download_data()
    return filt


def _datatrove_keeps(filt, urls: list[str]) -> list[bool]:
    from datatrove.data import Document

    return [filt.filter(Document(text="", id=u, metadata={"url": u})) is True for u in urls]


def _our_reasons(filt: UrlFilter, urls: list[str]) -> list[str | None]:
    # FineWeb's form of the filter: datatrove's URLFilter has no quality-source exclusion
    return filt.reasons(pa.array(urls, pa.large_string()), quality_sources=False).to_pylist()


@pytest.fixture(scope="module")
def blocklisted() -> list[str]:
    """A seeded draw of domains from the real UT1 blocklist."""
    domains = read_url_list(*blocklist_sources(None)["domains"][0])
    picks = random.Random(SEED).sample(range(len(domains)), N_DOMAINS)
    return [domains[i].as_py() for i in picks]


def _is_ip(domain: str) -> bool:
    return domain.rsplit(".", 1)[-1].isdigit()


def test_defaults_are_datatrove_s_lists(ours: UrlFilter, datatrove) -> None:
    counts = ours.counts
    # datatrove's word sets come out of its own parsing (`normalize`, "#" comments dropped)
    assert counts["hard_words"] == len(datatrove.banned_words - {""})
    assert counts["soft_words"] == len(datatrove.soft_banned_words - {""})
    assert counts["strict_words"] == len(datatrove.banned_subwords - {""})
    assert counts["domains"] == len(datatrove.block_listed_domains - {""}) > 4_000_000
    assert counts["urls"] == len(datatrove.block_listed_url - {""}) > 10_000
    assert counts["excluded_domains"] == 16
    assert ours is load_url_filter()  # one load per process


def test_every_blocklisted_domain_is_caught(ours: UrlFilter, blocklisted: list[str]) -> None:
    urls, hosts = [], []
    for d in blocklisted:
        forms = [f"http://{d}/", f"https://{d}/some/page.html?q=1"]
        if not _is_ip(d):  # an IP literal has no subdomains
            forms += [f"https://www.{d}/index.php", f"http://a.b.{d.upper()}:8080/x"]
        urls += forms
        hosts += [d.lower()] * len(forms)
    reasons = _our_reasons(ours, urls)
    missed = [u for u, r in zip(urls, reasons, strict=True) if not (r or "").startswith("domain:")]
    assert missed == []
    # the matched entry is the domain itself or a listed parent of it
    for host, r in zip(hosts, reasons, strict=True):
        matched = r.removeprefix("domain:")
        assert host == matched or host.endswith("." + matched), (host, r)


def _why_we_are_stricter(url: str, reason: str | None, datatrove) -> str | None:
    """The deliberate difference behind a URL we drop and datatrove keeps, if it is one."""
    kind, _, value = (reason or "").partition(":")
    if kind == "unparseable":
        return "no host (datatrove tokenises any string)"
    if kind in ("hard_word", "soft_words", "strict_word") and not _datatrove_keeps(
        datatrove, [url.lower()]
    )[0]:
        return "word in another case (datatrove matches words case-sensitively)"
    if kind == "domain" and _is_ip(value):
        return "listed IP literal (tldextract finds no registered domain in an IP)"
    if kind == "domain":
        return "under a listed name that is no registered domain (datatrove: registered or full)"
    if kind == "url":
        return "listed URL (datatrove compares the URL, scheme included, with schemeless entries)"
    return None


def test_agreement_with_datatrove(
    ours: UrlFilter, datatrove, real_urls: list[str], blocklisted: list[str]
) -> None:
    listed = [f"http://{d}/page/{i}" for i, d in enumerate(blocklisted)]
    urls = real_urls + listed
    reasons = _our_reasons(ours, urls)
    their_keep = _datatrove_keeps(datatrove, urls)
    differ = [(u, r, k) for u, r, k in zip(urls, reasons, their_keep, strict=True)
              if (r is None) != k]
    agreement = 1 - len(differ) / len(urls)
    why = Counter(_why_we_are_stricter(u, r, datatrove) if k else "datatrove stricter"
                  for u, r, k in differ)
    print(f"\nagreement with datatrove's URLFilter: {agreement:.5f} on {len(urls):,} URLs "
          f"({len(real_urls):,} real, {len(listed):,} blocklisted domains); "
          f"{len(differ)} differ:")
    for reason, n in why.most_common():
        print(f"  {n:4d}  {reason}")
    assert agreement >= MIN_AGREEMENT
    # every difference is one of the deliberate ones, where we drop what datatrove keeps
    assert None not in why and "datatrove stricter" not in why, [
        (u, r) for u, r, k in differ if not k or _why_we_are_stricter(u, r, datatrove) is None
    ]


def test_subdomains_of_listed_entries(
    ours: UrlFilter, datatrove, blocklisted: list[str]
) -> None:
    """A subdomain of a listed name: we block every one. datatrove compares only the registered
    domain and the full host, so it misses subdomains of listed names that are no registered
    domain themselves (most of UT1's: `x.tumblr.com`, `x.blogspot.com.br`, ...), and only
    those: a listed registered domain covers its subdomains there too."""
    names = [d for d in blocklisted if not _is_ip(d)]
    urls = [f"https://www.{d}/x" for d in names]
    assert all(r is not None for r in _our_reasons(ours, urls))
    their_keep = _datatrove_keeps(datatrove, urls)
    print(f"\nwww. subdomains of {len(urls):,} listed names: datatrove keeps {sum(their_keep):,}, "
          "mdfql keeps 0")
    registered = [datatrove.tldextractor(d).top_domain_under_public_suffix == d for d in names]
    assert not any(k and r for k, r in zip(their_keep, registered, strict=True))
