"""download(url, ...) against a local HTTP server (this machine has no internet): bodies, 404,
timeout, connection refused, retries, bounded concurrency; every failure a counted row."""

from __future__ import annotations

import daft
import pytest
from image_files import closed_port, encode, photo, serve

from mdfql import MdfqlError, Session
from mdfql.functions.download import fetch

QUERY = ("SELECT url, d.bytes AS body, d.status AS status, d.error AS error FROM "
         "(SELECT url, download(url{opts}) AS d FROM pages)")


def _download(urls: list[str | None], opts: str = "") -> list[dict]:
    pages = daft.from_pydict({"url": urls})
    return Session().sql(QUERY.format(opts=opts), pages=pages).to_pylist()


@pytest.fixture
def site(tmp_path):
    (tmp_path / "a.jpg").write_bytes(encode(photo("astronaut"), "jpg"))
    (tmp_path / "b.png").write_bytes(encode(photo("camera"), "png"))
    with serve(tmp_path) as (base, handler):
        yield tmp_path, base, handler


def test_results_and_reasons(site, warehouse):
    folder, base, _ = site
    urls = [f"{base}/a.jpg", f"{base}/b.png", f"{base}/missing.jpg", f"{base}/slow/3/a.jpg",
            f"http://127.0.0.1:{closed_port()}/x.jpg", "ftp://example.com/x.jpg", None]
    rows = {r["url"]: r for r in _download(urls, ", timeout := 0.5, retries := 0")}
    assert rows[urls[0]]["body"] == (folder / "a.jpg").read_bytes()
    assert rows[urls[1]]["body"] == (folder / "b.png").read_bytes()
    assert [rows[u]["status"] for u in urls[:3]] == [200, 200, 404]
    assert [rows[u]["error"] for u in urls] == [None, None, "http 404", "timeout",
                                                "connection refused", "invalid url", None]
    assert all(rows[u]["body"] is None for u in urls[2:])


def test_failures_are_counted_rows_of_a_run(site, warehouse, tmp_path):
    _, base, _ = site
    (tmp_path / "urls.jsonl").write_text(
        "".join(f'{{"url": "{base}/{name}"}}\n' for name in ("a.jpg", "nope.jpg", "b.png")))
    summary = Session().run(
        f"COPY (SELECT url, download(url, retries := 0).status AS status "
        f"FROM read_jsonl('{tmp_path}/urls.jsonl')) TO '{tmp_path}/out'")
    assert summary.writes[0].rows_written == 3  # the failed row is kept, with its reason
    assert summary.failures == {("download", "http 404"): 1}


def test_retries_transient_errors_only(site):
    _, base, handler = site
    got = fetch(f"{base}/flaky/a.jpg", timeout=5, retries=2, max_bytes=1 << 20,
                user_agent="test")
    assert (got.status, got.error) == (200, None)
    assert handler.requests["/flaky/a.jpg"] == 2  # 503, then the body
    missing = fetch(f"{base}/missing.jpg", timeout=5, retries=3, max_bytes=1 << 20,
                    user_agent="test")
    assert missing.error == "http 404" and handler.requests["/missing.jpg"] == 1
    fetch(f"{base}/slow/1/a.jpg", timeout=0.2, retries=2, max_bytes=1 << 20, user_agent="t")
    assert handler.requests["/slow/1/a.jpg"] == 3  # a timeout is retried


def test_too_large_and_bounded_concurrency(site):
    _, base, handler = site
    urls = [f"{base}/slow/0.2/b.png?{i}" for i in range(12)]
    rows = _download(urls, ", concurrency := 3, max_bytes := 100")
    assert {r["error"] for r in rows} == {"too large"}
    assert 1 <= handler.most_in_flight <= 3


def test_options_are_checked_when_compiling():
    pages = daft.from_pydict({"url": ["http://x/"]})
    for bad in ("retries := -1", "timeout := 0", "concurrency := 0", "max_bytes := 'big'"):
        with pytest.raises(MdfqlError, match="download"):
            Session().sql(f"SELECT download(url, {bad}) FROM pages", pages=pages)
