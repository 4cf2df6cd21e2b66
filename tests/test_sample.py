"""The bundled synthetic crawl: determinism, category mix, WARC validity, planted URL verdicts."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from mdfql.sample import N_GARBAGE_HEADERS, SAMPLE_CATEGORIES, SampleStats, write_sample  # noqa: E402
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
