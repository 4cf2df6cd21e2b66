"""read_warc / commoncrawl over real (warcio test suite) and synthetic archives.

Expectations on the shared samples come from reading them with warcio directly (its own
dechunking and decompression), not from mdfql's reader.
"""

import os

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import functools
import gzip
import http.server
import io
import threading
import uuid
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from mdfql import _native, metrics
from mdfql.io.warc import OUTPUT_COLUMNS, commoncrawl, read_warc


@pytest.fixture
def samples(shared_data: Path) -> Path:
    """The good and broken real WARC/ARC files of ../shared/data."""
    return shared_data / "warc-samples"


# (rows, {url: (status, content_type, charset)}) per good sample, checked with warcio directly.
GOOD = {
    "example.warc": (1, {"http://example.com/": (200, "text/html", "utf-8")}),
    "example.warc.gz": (1, {"http://example.com/": (200, "text/html", "utf-8")}),
    "example.arc": (1, {"http://example.com/": (200, "text/html", "utf-8")}),
    "example.arc.gz": (1, {"http://example.com/": (200, "text/html", "utf-8")}),
    "example-iana.org-chunked.warc": (1, {"http://www.iana.org/": (200, "text/html", "utf-8")}),
    "example-wget-bad-target-uri.warc.gz": (
        1,
        {"http://example.com/": (200, "text/html", "utf-8")},
    ),
    "example-space-in-url.arc": (
        1,
        {
            "http://example.com/index.cfm?FuseAction=Email&EmailTitle=Examples%20From%20The%20Live"
            "%20Web&IsPopUp=False": (200, "text/html", "utf-8")
        },
    ),
    "post-test.warc.gz": (
        3,
        {
            "http://httpbin.org/post": (200, "application/json", "utf-8"),
            "http://httpbin.org/post?foo=bar": (200, "application/json", "utf-8"),
        },
    ),
    # No response records: requests only, resource records, warcinfo.
    "example-digest.warc": (0, {}),
    "example-resource.warc.gz": (0, {}),
    "example-space-in-target-uri.warc.gz": (0, {}),
}


@pytest.fixture(autouse=True)
def _clean_metrics():
    metrics.reset_failures()
    yield
    metrics.reset_failures()


def _rows(paths, **options) -> list[dict]:
    data = read_warc(paths, **options).to_pydict()
    return [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _warcio_bodies(stream) -> dict[tuple[str, str], bytes]:
    """Decoded (dechunked, decompressed) bodies of HTTP responses by (url, date), by warcio."""
    bodies = {}
    for record in ArchiveIterator(stream, arc2warc=True):
        if record.rec_type == "response" and record.http_headers is not None:
            key = (
                record.rec_headers.get_header("WARC-Target-URI"),
                record.rec_headers.get_header("WARC-Date"),
            )
            bodies[key] = record.content_stream().read()
    return bodies


def _key(row: dict) -> tuple[str, str]:
    return row["url"], row["warc_date"].strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_samples(samples, name):
    expected_rows, expected = GOOD[name]
    rows = _rows(str(samples / name))
    assert len(rows) == expected_rows
    assert metrics.failure_total() == 0
    assert {r["url"] for r in rows} == set(expected)
    with open(samples / name, "rb") as fh:
        bodies = _warcio_bodies(fh)
    for row in rows:
        assert list(row) == list(OUTPUT_COLUMNS)
        assert (row["status"], row["content_type"], row["charset"]) == expected[row["url"]]
        assert row["warc_path"] == str(samples / name)
        assert row["warc_date"].tzinfo is not None
        assert row["record_id"].startswith("urn:uuid:")
        assert row["html"] == bodies[_key(row)].decode(row["charset"])


def test_glob_reads_every_sample_lazily(samples):
    df = read_warc(str(samples / "*"))
    assert df.column_names == list(OUTPUT_COLUMNS)
    assert metrics.failure_total() == 0  # nothing has run yet
    rows = df.to_pydict()
    # 11 good responses + 2 recovered from the single-gzip-stream ".bad" file + 1 from the
    # non-chunked one; the broken records of the other files are counted, not returned.
    assert len(rows["url"]) == sum(n for n, _ in GOOD.values()) + 3
    assert metrics.failure_total() == 8


def test_single_gzip_stream_files_are_recovered(samples):
    # Both files are one gzip stream over many records (not one member per record); warcio
    # stops after the first record. Decompressed as a whole, they are valid WARCs.
    for name, urls in {
        "example-bad.warc.gz.bad": {
            "http://example.com?example=1": (200, "utf-8"),
            "http://www.iana.org/domains/example": (302, "windows-1252"),
        },
        "example-bad-non-chunked.warc.gz": {"http://example.com/": (200, "utf-8")},
    }.items():
        metrics.reset_failures()
        bodies = _warcio_bodies(io.BytesIO(gzip.decompress((samples / name).read_bytes())))
        rows = _rows(str(samples / name))
        assert len(rows) == len(bodies) == len(urls)
        assert {r["url"]: (r["status"], r["charset"]) for r in rows} == urls
        for row in rows:
            assert row["html"] == bodies[_key(row)].decode(row["charset"])
        assert metrics.failures() == {("read_warc", "gzip stream spans several records"): 1}


def test_broken_samples_are_counted_not_fatal(samples):
    # Content-Length 2 bytes short: the gzip body is cut (HTTP Content-Length 606 > 604 read).
    assert _rows(str(samples / "example-trunc.warc")) == []
    assert metrics.failures() == {("read_warc", "truncated record"): 1}

    # The response body sits in a second gzip member, which is no record header (a record
    # never continues into the next member).
    metrics.reset_failures()
    assert _rows(str(samples / "example-wrong-chunks.warc.gz")) == []
    assert metrics.failures() == {
        ("read_warc", "truncated record"): 1,
        ("read_warc", "not a WARC/ARC record"): 1,
    }

    # Three ARC records with lengths -1, 1 and "abc": none holds an HTTP response.
    metrics.reset_failures()
    assert _rows(str(samples / "bad.arc")) == []
    assert metrics.failures() == {
        ("read_warc", "response record without HTTP headers"): 2,
        ("parse_http", "empty response"): 1,
    }


def _response(url: str, body: bytes, headers: list[tuple[str, str]]) -> tuple:
    return url, body, StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")


def _write_warc(path: Path, responses, gzip_members: bool = True) -> Path:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gzip_members)
        for url, body, http_headers in responses:
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http_headers
            )
            writer.write_record(record)
    return path


FRENCH = "Le café était fermé; nous sommes allés à l'hôtel près de la rivière, où l'été est doux."
JAPANESE = "日本語のウェブページです。東京は日本の首都であり、多くの人々が住んでいます。"


def test_non_utf8_bodies_decode(tmp_path):
    gzipped = gzip.compress(f"<p>{FRENCH}</p>".encode())
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(gzipped), gzipped)
    responses = [
        _response(
            "http://a.test/declared-1252",
            f"<p>{FRENCH}</p>".encode("cp1252"),
            [("Content-Type", "text/html; charset=windows-1252")],
        ),
        _response(
            "http://a.test/undeclared-1252",
            f"<p>{FRENCH}</p>".encode("cp1252"),
            [("Content-Type", "text/html")],
        ),
        _response(
            "http://a.test/meta-sjis",
            f'<meta charset="shift_jis"><p>{JAPANESE}</p>'.encode("shift_jis"),
            [("Content-Type", "text/html")],
        ),
        _response(
            "http://a.test/undeclared-sjis",
            f"<p>{JAPANESE}</p>".encode("shift_jis"),
            [("Content-Type", "text/html")],
        ),
        _response(
            "http://a.test/chunked-gzip",
            chunked,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Transfer-Encoding", "chunked"),
                ("Content-Encoding", "gzip"),
            ],
        ),
    ]
    rows = {r["url"]: r for r in _rows(str(_write_warc(tmp_path / "enc.warc.gz", responses)))}
    assert metrics.failure_total() == 0
    expected = {
        "http://a.test/declared-1252": ("windows-1252", f"<p>{FRENCH}</p>"),
        "http://a.test/undeclared-1252": ("windows-1252", f"<p>{FRENCH}</p>"),
        "http://a.test/meta-sjis": ("shift_jis", f'<meta charset="shift_jis"><p>{JAPANESE}</p>'),
        "http://a.test/undeclared-sjis": ("shift_jis", f"<p>{JAPANESE}</p>"),
        "http://a.test/chunked-gzip": ("utf-8", f"<p>{FRENCH}</p>"),
    }
    assert {u: (r["charset"], r["html"]) for u, r in rows.items()} == expected


def _two_good_around(tmp_path: Path, junk: bytes, gzip_members: bool) -> Path:
    suffix = ".warc.gz" if gzip_members else ".warc"
    first = _write_warc(
        tmp_path / f"first{suffix}",
        [_response("http://a.test/1", b"<p>one</p>", [("Content-Type", "text/html")])],
        gzip_members,
    )
    second = _write_warc(
        tmp_path / f"second{suffix}",
        [_response("http://a.test/2", b"<p>two</p>", [("Content-Type", "text/html")])],
        gzip_members,
    )
    joined = tmp_path / f"joined{suffix}"
    joined.write_bytes(first.read_bytes() + junk + second.read_bytes())
    return joined


@pytest.mark.parametrize(
    ("junk", "gzip_members"),
    [
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200, True),  # bad gzip member
        (b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\nHTTP/1.1 2", False),
        (b"WARC/1.0\r\nContent-Length: abc\r\n\r\n" + b"junk\r\n" * 20 + b"\r\n", False),
    ],
)
def test_resync_after_a_bad_record(tmp_path, junk, gzip_members):
    path = _two_good_around(tmp_path, junk, gzip_members)
    rows = _rows(str(path))
    assert [(r["url"], r["html"]) for r in rows] == [
        ("http://a.test/1", "<p>one</p>"),
        ("http://a.test/2", "<p>two</p>"),
    ]
    assert metrics.failure_total() >= 1
    assert {stage for stage, _ in metrics.failures()} == {"read_warc"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_commoncrawl_over_http(http_root, monkeypatch):
    root, base = http_root
    crawl = "CC-MAIN-2024-10"
    names = [f"crawl-data/{crawl}/segments/1/warc/part-{i}.warc.gz" for i in range(3)]
    for i, name in enumerate(names[:2]):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        _write_warc(
            root / name,
            [
                _response(f"http://cc.test/{i}/{j}", f"<p>{i}-{j}</p>".encode(), [])
                for j in range(i + 2)
            ],
        )
    (root / f"crawl-data/{crawl}/warc.paths.gz").write_bytes(
        gzip.compress("\n".join(names).encode() + b"\n")
    )
    monkeypatch.setenv("MDFQL_COMMONCRAWL_BASE", base)
    data = commoncrawl(crawl, files=2).to_pydict()
    assert sorted(data["url"]) == [
        "http://cc.test/0/0",
        "http://cc.test/0/1",
        "http://cc.test/1/0",
        "http://cc.test/1/1",
        "http://cc.test/1/2",
    ]
    assert set(data["warc_path"]) == {f"{base}/{n}" for n in names[:2]}
    assert metrics.failure_total() == 0
    # An explicit base_url wins over the environment; one file only.
    monkeypatch.setenv("MDFQL_COMMONCRAWL_BASE", "http://127.0.0.1:9")
    assert len(commoncrawl(crawl, base_url=base).to_pydict()["url"]) == 2


def test_http_urls_resync_and_mix_with_local_paths(http_root, tmp_path):
    root, base = http_root
    junk = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200
    served = _two_good_around(root, junk, gzip_members=True)
    local = _write_warc(
        tmp_path / "local.warc",
        [_response("http://a.test/3", b"<p>three</p>", [])],
        gzip_members=False,
    )
    rows = _rows([f"{base}/{served.name}", str(local)])
    assert sorted(r["url"] for r in rows) == [
        "http://a.test/1",
        "http://a.test/2",
        "http://a.test/3",
    ]
    assert {r["warc_path"] for r in rows} == {f"{base}/{served.name}", str(local)}
    assert metrics.failure_total() == 1


@pytest.mark.parametrize("crawl", ["CC-MAIN-24-10", "cc-main-2024-10", "CC-MAIN-2024-10/x", ""])
def test_commoncrawl_rejects_bad_crawl_names(crawl):
    with pytest.raises(ValueError, match="CC-MAIN-YYYY-WW"):
        commoncrawl(crawl)


def test_metrics_registry():
    metrics.record_failure("s", "file-a", "r1")
    metrics.record_failure("s", "file-b", "r1")
    metrics.record_failure("t", "file-a", "r2")
    assert metrics.failures() == {("s", "r1"): 2, ("t", "r2"): 1}
    assert metrics.failure_total() == 3
    metrics.reset_failures()
    assert metrics.failures() == {} and metrics.failure_total() == 0


def test_arc_record_ids_are_stable(samples):
    path = str(samples / "example.arc.gz")
    assert _rows(path)[0]["record_id"] == _rows(path)[0]["record_id"]


def _page(i: int, size: int = 2000) -> bytes:
    return f"<p>page {i}</p>".encode().ljust(size, b".")


def test_body_is_cut_to_max_bytes_and_the_next_record_read(tmp_path):
    big = b"<html>" + b"x" * 5_000_000
    path = _write_warc(
        tmp_path / "big.warc.gz",
        [
            _response("http://a.test/big", big, [("Content-Type", "text/html")]),
            _response("http://a.test/next", b"<p>next</p>", [("Content-Type", "text/html")]),
        ],
    )
    rows = _rows(str(path), max_bytes=1000)
    assert [(r["url"], r["html"]) for r in rows] == [
        ("http://a.test/big", big[:1000].decode()),
        ("http://a.test/next", "<p>next</p>"),
    ]
    assert metrics.failure_total() == 0


def test_inflate_bomb_between_two_good_records(tmp_path):
    # One gzip member inflating to 1 GiB of zeros (about 1 MB on disk): the reader looks for a
    # header in its first bytes only, counts it and finds the next member.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 24)
    bomb = b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()
    path = _two_good_around(tmp_path, bomb, gzip_members=True)
    rows = _rows(str(path))
    assert [r["url"] for r in rows] == ["http://a.test/1", "http://a.test/2"]
    assert metrics.failures() == {("read_warc", "not a WARC/ARC record"): 1}


def test_one_file_streams_as_many_batches(tmp_path):
    n = 50
    path = _write_warc(
        tmp_path / "many.warc.gz",
        [_response(f"http://a.test/{i}", _page(i), [("Content-Type", "text/html")])
         for i in range(n)],
    )
    batches = list(_native.WarcBatches(str(path), str(path), local_path=str(path), batch_records=7))
    assert [len(columns[0]) for columns, _ in batches] == [7] * 7 + [1]
    assert all(columns[6].type == pa.large_string() for columns, _ in batches)
    # Through Daft: several partitions come out of the one scan task, none lost.
    df = read_warc(str(path), batch_records=7)
    parts = [p.to_pydict() for p in df.iter_partitions()]
    assert len(parts) > 1
    urls = [u for p in parts for u in p["url"]]
    assert sorted(urls) == sorted(f"http://a.test/{i}" for i in range(n))


def test_bytes_budget_closes_batches(tmp_path):
    path = _write_warc(
        tmp_path / "b.warc",
        [_response(f"http://a.test/{i}", _page(i, 10_000), []) for i in range(20)],
        gzip_members=False,
    )
    sizes = [len(columns[0]) for columns, _ in
             _native.WarcBatches(str(path), str(path), local_path=str(path), batch_bytes=30_000)]
    assert sum(sizes) == 20 and max(sizes) == 3


def test_arc_records_read_with_offsets_as_ids(samples):
    rows = _rows([str(samples / "example.arc"), str(samples / "example.arc.gz")])
    assert len(rows) == 2
    # ARC records carry no id: it is derived from the file name and the record's offset.
    with open(samples / "example.arc", "rb") as fh:
        offset = fh.read().index(b"http://example.com/ 93.184")
    ids = {r["warc_path"].rsplit("/", 1)[-1]: r["record_id"] for r in rows}
    assert ids["example.arc"] == uuid.uuid5(uuid.NAMESPACE_URL, f"example.arc#{offset}").urn
    assert ids["example.arc.gz"].startswith("urn:uuid:")


def test_parse_http_responses_returns_large_strings():
    out = _native.parse_http_responses(pa.array([b"HTTP/1.1 200 OK\r\n\r\nhi", b"junk"]))
    assert out.type.field("html").type == pa.large_string()
    assert out.field("html").to_pylist() == ["hi", None]


@pytest.mark.slow
def test_a_batch_past_2_gib_of_html(tmp_path):
    # 33 bodies of 64 MiB in one batch: 2.06 GiB of html, past i32 offsets (about 7 GB RAM).
    body = b"a" * (64 << 20)
    path = _write_warc(
        tmp_path / "huge.warc",
        [_response(f"http://a.test/{i}", body, []) for i in range(33)],
        gzip_members=False,
    )
    del body
    batches = _native.WarcBatches(
        str(path), str(path), local_path=str(path), max_bytes=64 << 20, batch_bytes=4 << 30
    )
    columns, failures = next(batches)
    html = columns[OUTPUT_COLUMNS.index("html")]
    assert failures == [] and len(html) == 33
    assert html.type == pa.large_string()
    assert pc.sum(pc.binary_length(html)).as_py() == 33 << 26 > 2**31
