"""The bundled synthetic crawl: determinism, category mix, WARC validity, planted URL verdicts."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from mdfql.demo.sample import N_GARBAGE_HEADERS, SAMPLE_CATEGORIES, SampleStats, write_sample  # noqa: E402
from mdfql.text import load_url_filter  # noqa: E402

N = 2000


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleStats, float]:
    path = tmp_path_factory.mktemp("sample") / "sample.warc.gz"
    t0 = time.process_time()  # CPU time: wall time depends on machine load
    stats = write_sample(path, N, seed=0)
    return stats, time.process_time() - t0


def _read(path: Path) -> tuple[list[tuple[str, str, str | None, bytes]], Exception | None]:
    """(type, uri, http status line, payload) per record, and the error that stopped reading."""
    out = []
    try:
        with path.open("rb") as f:
            for rec in ArchiveIterator(f):
                status = rec.http_headers.statusline if rec.http_headers else None
                out.append(
                    (
                        rec.rec_type,
                        rec.rec_headers.get_header("WARC-Target-URI"),
                        status,
                        rec.content_stream().read(),
                    )
                )
    except Exception as e:  # noqa: BLE001 - the planted truncated record may fail in several ways
        return out, e
    return out, None


def test_deterministic(tmp_path: Path) -> None:
    # Same file name: the warcinfo record names its file.
    a, b, c = (tmp_path / d / "sample.warc.gz" for d in "abc")
    for p in (a, b, c):
        p.parent.mkdir()
    write_sample(a, 300, seed=7)
    write_sample(b, 300, seed=7)
    write_sample(c, 300, seed=8)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1]
    assert digest[0] != digest[2]


def test_counts_and_speed(sample: tuple[SampleStats, float]) -> None:
    stats, seconds = sample
    assert set(stats.counts) == set(SAMPLE_CATEGORIES)
    assert stats.response_records == N
    assert all(n >= 1 for n in stats.counts.values())
    assert stats.counts["malformed"] == N_GARBAGE_HEADERS + 1
    assert 0.5 <= stats.counts["clean"] / N <= 0.6
    assert 0.15 * N < stats.request_records < 0.35 * N
    assert stats.total_records == 1 + stats.request_records + N
    all_urls = [u for urls in stats.urls.values() for u in urls]
    assert len(all_urls) == len(set(all_urls)) == N
    assert seconds < 3, f"generation took {seconds:.1f}s of CPU"


def test_readable_except_planted(sample: tuple[SampleStats, float]) -> None:
    stats, _ = sample
    records, error = _read(stats.path)
    malformed = stats.urls["malformed"]
    # Everything up to the final, truncated record parses; that one must not read back whole.
    assert len(records) >= stats.total_records - 1
    if len(records) == stats.total_records:
        assert error is None
        last = records[-1]
        assert last[1] == malformed[-1]
        assert len(last[3]) < 4096  # its Content-Length promised 4 KiB more than exists
    types = [r[0] for r in records[: stats.total_records - 1]]
    assert types[0] == "warcinfo"
    assert types.count("request") == stats.request_records
    assert types.count("response") == N - 1
    by_uri = {r[1]: r for r in records if r[0] == "response"}
    for url in malformed[:-1]:  # garbage HTTP header block: no HTTP/1.x status line
        status = by_uri[url][2]
        assert not (status or "").startswith(("200", "404", "301"))
    for url in stats.urls["non_200"]:
        assert by_uri[url][2].split()[0] in {"404", "301"}
    for cat in set(SAMPLE_CATEGORIES) - {"malformed", "non_200"}:
        assert all(by_uri[u][2] == "200 OK" for u in stats.urls[cat]), cat


def test_payload_kinds(sample: tuple[SampleStats, float]) -> None:
    stats, _ = sample
    records, _ = _read(stats.path)
    body = {r[1]: r[3] for r in records if r[0] == "response"}
    clean = {body[u] for u in stats.urls["clean"]}
    assert all(body[u] in clean for u in stats.urls["exact_duplicate"])
    assert not any(body[u] in clean for u in stats.urls["near_duplicate"])
    kinds = {body[u][:4] for u in stats.urls["non_html"]}
    assert {b"%PDF", b"\xff\xd8\xff\xe0"} <= kinds
    for u in stats.urls["charset"]:
        with pytest.raises(UnicodeDecodeError):
            body[u].decode("utf-8")
    words = [len(body[u].split()) for u in stats.urls["clean"]]
    assert min(words) > 150 and sorted(words)[len(words) // 2] > 300
    assert max(len(body[u]) for u in stats.urls["short"]) < 300


def test_default_url_filter_blocks_exactly_planted(sample: tuple[SampleStats, float]) -> None:
    stats, _ = sample
    urls = [u for us in stats.urls.values() for u in us]
    reasons = load_url_filter().reasons(pa.array(urls, pa.string())).to_pylist()
    blocked = {u for u, r in zip(urls, reasons, strict=True) if r is not None}
    planted = set(stats.urls["spam_url"] + stats.urls["blocklisted"] + stats.urls["quality_source"])
    assert blocked == planted
    by_url = dict(zip(urls, reasons, strict=True))
    assert all(by_url[u].startswith("quality_source:") for u in stats.urls["quality_source"])
    assert {by_url[u].split(":")[0] for u in stats.urls["spam_url"]} == {
        "strict_word",
        "hard_word",
        "soft_words",
    }
    assert {by_url[u].split(":")[0] for u in stats.urls["blocklisted"]} == {"domain", "url"}


# ---- crawl-sized samples (--page-kb) -------------------------------------------------------
KB = 30
N_CRAWL = 200


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return write_sample(tmp_path_factory.mktemp("crawl") / "crawl.warc.gz", N_CRAWL, page_kb=KB)


def test_gzip_members_match_warcio(tmp_path: Path) -> None:
    # The small sample's bytes are pinned by its users: at level 9 the per-record writer must
    # reproduce warcio's own gzip output exactly; at level 1 it must still read back the same.
    from warcio.warcwriter import WARCWriter

    from mdfql.demo.sample import _GzipMembers

    def write(out, gzip: bool) -> None:
        writer = WARCWriter(out, gzip=gzip)
        for i in range(3):
            writer.write_record(
                writer.create_warc_record(
                    f"https://example.com/{i}",
                    "resource",
                    payload=io.BytesIO(b"<p>hello</p>" * (i + 1) * 500),
                    warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:{i}>", "WARC-Date": "2024"},
                )
            )

    ref, nine, one = io.BytesIO(), io.BytesIO(), io.BytesIO()
    write(ref, True)
    write(_GzipMembers(nine, 9), False)
    write(_GzipMembers(one, 1), False)
    assert nine.getvalue() == ref.getvalue()
    assert one.getvalue() != ref.getvalue()
    payloads = [[r.content_stream().read() for r in ArchiveIterator(io.BytesIO(b.getvalue()))]
                for b in (ref, one)]
    assert payloads[0] == payloads[1] and len(payloads[0]) == 3


def test_crawl_deterministic(tmp_path: Path) -> None:
    a, b, c = (tmp_path / d / "crawl.warc.gz" for d in "abc")
    for p in (a, b, c):
        p.parent.mkdir()
    write_sample(a, 150, seed=3, page_kb=10)
    write_sample(b, 150, seed=3, page_kb=10)
    write_sample(c, 150, seed=4, page_kb=10)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]


def test_crawl_keeps_the_category_mix(crawl: SampleStats, tmp_path: Path) -> None:
    small = write_sample(tmp_path / "small.warc.gz", N_CRAWL)
    assert crawl.counts == small.counts
    assert crawl.response_records == N_CRAWL
    all_urls = [u for urls in crawl.urls.values() for u in urls]
    assert len(set(all_urls)) == N_CRAWL
    assert 0.15 * N_CRAWL < crawl.request_records < 0.35 * N_CRAWL


def test_crawl_page_sizes(crawl: SampleStats) -> None:
    records, _ = _read(crawl.path)
    html = [r[3] for r in records if r[0] == "response" and r[3].lstrip().startswith(b"<!DOCTYPE")]
    assert len(html) > 0.9 * N_CRAWL
    sizes = sorted(len(b) for b in html)
    # Log-normal sizes around KB KiB, clipped to a quarter and four times that.
    assert KB * 1024 / 4 <= sizes[0] and sizes[-1] <= 4 * KB * 1024 + 1024
    assert 0.7 * KB * 1024 < sizes[len(sizes) // 2] < 1.2 * KB * 1024
    assert sizes[-1] > 1.5 * KB * 1024  # a tail of heavy pages, not one fixed size
    # Markup, not text, makes the bulk: the article is a few KB inside tens of KB of page.
    assert all(b.count(b"<script>") >= 2 and b"<style>" in b for b in html)


def test_markup_is_ascii() -> None:
    # Pages in windows-1252 or Shift_JIS get the same markup: it must encode in every charset.
    import random

    from mdfql.demo.markup import Markup

    m = Markup(random.Random(0))
    pools = (m.meta, m.css, m.js, m.nav, m.svg, m.foot, m.pixels)
    assert all(block.isascii() for pool in pools for block in pool)


def test_crawl_payloads(crawl: SampleStats) -> None:
    records, _ = _read(crawl.path)
    body = {r[1]: r[3] for r in records if r[0] == "response"}
    clean = {body[u] for u in crawl.urls["clean"]}
    assert all(body[u] in clean for u in crawl.urls["exact_duplicate"])
    assert not any(body[u] in clean for u in crawl.urls["near_duplicate"])
    for u in crawl.urls["charset"]:
        with pytest.raises(UnicodeDecodeError):
            body[u].decode("utf-8")
    assert {body[u][:4] for u in crawl.urls["non_html"]} >= {b"%PDF"}


def test_crawl_url_filter_blocks_exactly_planted(crawl: SampleStats) -> None:
    # URLs carry a serial number instead of being checked against every earlier URL; it must
    # not change any verdict.
    urls = [u for us in crawl.urls.values() for u in us]
    reasons = load_url_filter().reasons(pa.array(urls, pa.string())).to_pylist()
    blocked = {u for u, r in zip(urls, reasons, strict=True) if r is not None}
    assert blocked == set(
        crawl.urls["spam_url"] + crawl.urls["blocklisted"] + crawl.urls["quality_source"]
    )


def test_crawl_readable_by_read_warc(crawl: SampleStats) -> None:
    from mdfql.io.warc import read_warc

    rows = read_warc(str(crawl.path)).select("url", "status", "html").to_pylist()
    got = {r["url"]: r for r in rows}
    # Every well-formed response reads back (the planted malformed ones are counted failures).
    malformed = set(crawl.urls["malformed"])
    assert set(got) - malformed == {u for us in crawl.urls.values() for u in us} - malformed
    for u in crawl.urls["clean"]:
        assert got[u]["status"] == 200 and len(got[u]["html"]) > KB * 1024 / 4


def test_crawl_memory_is_flat(tmp_path: Path) -> None:
    # Pages stream to the file: three times the records must not mean three times the memory
    # (beyond the clean-page pool duplicates copy from, which fills within the first few
    # hundred pages).
    import tracemalloc

    write_sample(tmp_path / "warm.warc.gz", 150, page_kb=2)  # imports and caches, once
    peaks = []
    for n in (300, 900):
        tracemalloc.start()
        write_sample(tmp_path / f"m{n}.warc.gz", n, page_kb=2, keep_urls=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0], peaks


def test_cli_sample_slice(tmp_path: Path) -> None:
    from mdfql.cli import main

    whole, part = tmp_path / "crawl.warc.gz", tmp_path / "slice.warc.gz"
    assert main(["sample", "--records", "400", "--page-kb", "6", "--out", str(whole)]) == 0
    args = ["sample", "--records", "400", "--page-kb", "6", "--slice", "2", "--out", str(part)]
    assert main(args) == 0
    # The slice is the same crawl at half the records: what write_sample gives for 200.
    ref = write_sample(tmp_path / "ref" / "slice.warc.gz", 200, page_kb=6)
    assert part.read_bytes() == ref.path.read_bytes() != whole.read_bytes()
    # Mistakes are one-line errors, not tracebacks.
    assert main(["sample", "--records", "10", "--page-kb", "6", "--out", str(part)]) == 1
    assert main(["sample", "--slice", "0", "--out", str(part)]) == 1
    assert main(["sample", "--page-kb", "0", "--out", str(part)]) == 1
