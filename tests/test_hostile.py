"""Hostile input (issue 9, item 5): wide and lying charsets, control characters, decompression
bombs, truncated files, image bombs, huge and deep HTML, panicking kernels. Each case must end
in a sane result or a counted row failure, with the good rows around it kept.

Figures (peak memory and time per case at full size) come from benchmarks/hostile.py.
"""

import os

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import io
import random
import struct
import zlib
from pathlib import Path

import daft
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native, metrics
from mdfql.functions import guard
from mdfql.functions.kernels import kernel
from mdfql.functions.registry import Registry
from mdfql.io.warc import read_warc

FRENCH = ("Le café de la gare était fermé; nous sommes allés à l'hôtel près de la rivière, où "
          "l'on mange très bien et où l'été est doux.")
TEXT = ("The river that runs through the old town was the subject of a long study by the local "
        "historical society, which published its findings this spring.")
CONTROLS = {*map(chr, range(32)), *map(chr, range(0x7F, 0xA0))} - {"\t", "\n", "\r"}


@pytest.fixture(autouse=True)
def _clean_metrics():
    metrics.reset_failures()
    yield
    metrics.reset_failures()


def _gz(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def _record(url: str, body: bytes, headers: str = "Content-Type: text/html; charset=utf-8\r\n",
            declared: int | None = None) -> bytes:
    http = f"HTTP/1.1 200 OK\r\n{headers}\r\n".encode() + body
    length = len(http) if declared is None else declared
    return (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{abs(hash(url)):x}>\r\n"
            f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {length}\r\n"
            f"\r\n").encode() + http + b"\r\n\r\n"


def _page(text: str) -> str:
    return f"<html><body><article><p>{text}</p><p>{text}</p></article></body></html>"


def _good(i: int) -> bytes:
    return _record(f"http://good.test/{i}", _page(f"{TEXT} Page {i}.").encode())


def _warc(path: Path, *records: bytes, plain: bool = False) -> str:
    path.write_bytes(b"".join(r if plain else _gz(r) for r in records))
    return str(path)


def _texts(path: str) -> dict[str, str | None]:
    q = f"SELECT url, extract_text(html, url) AS text FROM read_warc('{path}')"
    return {r["url"]: r["text"] for r in mdfql.sql(q).to_pylist()}


def test_wide_and_lying_charsets_are_decoded(tmp_path):
    wide, french = _page(f"Grüße aus Köln. {TEXT}"), _page(FRENCH)
    cases = {  # name: (body, Content-Type, charset read, html)
        "utf16be": (wide.encode("utf-16-be"), "text/html; charset=utf-8", "utf-16be", wide),
        "utf16le": (wide.encode("utf-16-le"), "text/html", "utf-16le", wide),
        "utf32le": (wide.encode("utf-32-le"), "text/html", "utf-32le", wide),
        "utf32-bom": (wide.encode("utf-32"), "text/html", "utf-32le", wide),  # an LE BOM
        "cp1252-as-utf8": (french.encode("cp1252"), "text/html; charset=utf-8", "windows-1252",
                           french),
        "utf8-as-latin1": (french.encode(), "text/html; charset=iso-8859-1", "utf-8", french),
    }
    records = [_good(0)] + [
        _record(f"http://hostile.test/{name}", body, f"Content-Type: {ctype}\r\n")
        for name, (body, ctype, _, _) in cases.items()
    ] + [_good(1)]
    path = _warc(tmp_path / "charsets.warc.gz", *records)
    rows = {r["url"]: r for r in read_warc(path).to_pylist()}
    for name, (_, _, charset, html) in cases.items():
        row = rows[f"http://hostile.test/{name}"]
        assert (row["charset"], row["html"]) == (charset, html), name
    texts = _texts(path)
    assert all(texts[f"http://good.test/{i}"] for i in (0, 1))
    assert "Grüße aus Köln" in texts["http://hostile.test/utf16be"]
    assert metrics.failure_total() == 0


def test_control_characters_never_reach_curated_text(tmp_path):
    dirty = ("Null\x00 bytes\x01 and\x07 other\x1b control\x7f characters\x85 in a page that is "
             "otherwise plain\x0c text, long enough to be kept by the extractor. ")
    path = _warc(tmp_path / "controls.warc.gz", _good(0),
                 _record("http://hostile.test/controls", _page(dirty * 3).encode()), _good(1))
    [html] = [r["html"] for r in read_warc(path).to_pylist() if "hostile" in r["url"]]
    assert not CONTROLS & set(html)
    text = _texts(path)["http://hostile.test/controls"]
    assert text is not None and not CONTROLS & set(text)
    assert "Null bytes and other control characters in a page that is otherwise plain text" in text
    # HTML that did not come through read_warc (e.g. a Parquet column), and `&#1;` references.
    df = daft.from_pydict({"html": [_page(dirty + "&#1;&#x7f;end."), "<title>T\x00itle</title>"]})
    rows = mdfql.sql("SELECT extract_text(html) AS t, html_title(html) AS title FROM d",
                     d=df).to_pylist()
    assert rows[0]["t"].endswith("text, long enough to be kept by the extractor. end.")
    assert not CONTROLS & set(rows[0]["t"])
    assert rows[1]["title"] == "Title"


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_peer_extractors_get_the_same_control_policy(engine):
    pytest.importorskip(engine)
    dirty = f"<html><body><article><p>{TEXT}\x00 With a NUL\x01 and a bell\x07.</p>" \
            f"<p>{TEXT}</p></article></body></html>"
    df = daft.from_pydict({"html": [dirty]})
    [row] = mdfql.sql(f"SELECT extract_text(html, engine := '{engine}') AS t FROM d",
                      d=df).to_pylist()
    assert row["t"] is not None and "With a NUL and a bell." in row["t"]
    assert not CONTROLS & set(row["t"])


def _bomb(encoding: str, size: int) -> bytes:
    block = b"<p>" + b"a" * 65529 + b"</p>\n"
    if encoding == "br":
        brotli = pytest.importorskip("brotli")
        comp = brotli.Compressor(quality=5)
        return b"".join(comp.process(block) for _ in range(size // len(block))) + comp.finish()
    z = zlib.compressobj(9, zlib.DEFLATED, {"gzip": 31, "deflate": 15}[encoding])
    return b"".join(z.compress(block) for _ in range(size // len(block))) + z.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_content_encoding_bombs_inflate_to_max_bytes_only(tmp_path, encoding):
    bomb = _bomb(encoding, 64 << 20)  # 64 MiB of markup in well under 1 MiB
    assert len(bomb) < 1 << 20
    path = _warc(tmp_path / "bomb.warc.gz", _good(0),
                 _record("http://hostile.test/bomb", bomb,
                         f"Content-Type: text/html\r\nContent-Encoding: {encoding}\r\n"),
                 _good(1))
    rows = {r["url"]: r for r in read_warc(path, max_bytes=100_000).to_pylist()}
    html = rows["http://hostile.test/bomb"]["html"]
    assert len(html) == 100_000 and html.startswith("<p>aaaa")
    texts = _texts(path)  # max_bytes 10 MB: over extract_text's 5 MB, a counted failure
    assert texts["http://hostile.test/bomb"] is None
    assert all(texts[f"http://good.test/{i}"] for i in (0, 1))
    assert metrics.failures() == {("extract_text", "too_large"): 1}


def test_truncated_files_keep_the_records_before_the_cut(tmp_path):
    last = _gz(_good(2))
    cut_member = tmp_path / "cut-member.warc.gz"
    cut_member.write_bytes(_gz(_good(0)) + _gz(_good(1)) + last[: len(last) // 2])
    plain_last = _good(2)
    cut_record = tmp_path / "cut-record.warc"
    cut_record.write_bytes(_good(0) + _good(1) + plain_last[: len(plain_last) // 2])
    one_stream = tmp_path / "cut-stream.warc.gz"  # one gzip stream over all records
    # (pages that compress alike, so that 5/6 of the stream holds the first two whole)
    noise = [random.Random(i).randbytes(3000).hex() for i in range(3)]
    noisy = [_record(f"http://good.test/{i}", _page(f"{TEXT} {n}").encode())
             for i, n in enumerate(noise)]
    whole = _gz(b"".join(noisy))
    one_stream.write_bytes(whole[: len(whole) * 5 // 6])
    for path, reason in [(cut_member, "truncated record"), (cut_record, "truncated record"),
                         (one_stream, "truncated record")]:
        metrics.reset_failures()
        texts = _texts(str(path))
        assert sorted(texts) == ["http://good.test/0", "http://good.test/1"], path.name
        assert all(texts.values())
        spans = {("read_warc", "gzip stream spans several records"): 1} \
            if path == one_stream else {}
        assert metrics.failures() == {("read_warc", reason): 1, **spans}, path.name


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _jpeg_claiming(w: int, h: int) -> bytes:
    b = bytearray(_jpeg((8, 8)))
    sof = b.index(b"\xff\xc0")
    b[sof + 5:sof + 9] = struct.pack(">HH", h, w)
    return bytes(b)


def _png_claiming(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 9))
            + chunk(b"IEND", b""))


def test_decompression_bomb_images_are_refused_before_decoding():
    pytest.importorskip("PIL")
    good = _jpeg()
    bombs = [_jpeg_claiming(65500, 65500), _png_claiming(100_000, 100_000)]
    assert len(bombs[0]) < 1000
    df = daft.from_pydict({"img": [good, *bombs, good]})
    rows = mdfql.sql("SELECT phash(img) AS p, dhash(img) AS d FROM t", t=df).to_pylist()
    assert rows[0]["p"] is not None and rows[0] == rows[3]
    assert all(r["p"] is None and r["d"] is None for r in rows[1:3])
    assert metrics.failures() == {("phash", "too many pixels"): 2,
                                  ("dhash", "too many pixels"): 2}
    # The cap is an option: 64x48 = 3072 pixels pass a cap of 3072 and fail one of 3071.
    metrics.reset_failures()
    df = daft.from_pydict({"img": [good]})
    q = "SELECT phash(img, max_pixels := {}) AS p FROM t"
    assert mdfql.sql(q.format(3072), t=df).to_pylist()[0]["p"] == rows[0]["p"]
    assert mdfql.sql(q.format(3071), t=df).to_pylist()[0]["p"] is None
    assert metrics.failures() == {("phash", "too many pixels"): 1}


def test_deep_and_attribute_heavy_html_extracts(tmp_path):
    deep = "<div>" * 100_000 + f"<p>{TEXT}</p>" + "</div>" * 100_000
    attrs = f"<article><p {'a=1 ' * 1_000_000}>{TEXT}</p></article>"
    classes = f"<div {'class=c ' * 1_000_000}><p>{TEXT}</p></div>"  # 8 MB
    path = _warc(tmp_path / "markup.warc.gz", _good(0),
                 *[_record(f"http://hostile.test/{n}", h.encode())
                   for n, h in [("deep", deep), ("attrs", attrs), ("classes", classes)]],
                 _good(1))
    texts = _texts(path)
    assert len(texts) == 5
    assert texts.pop("http://hostile.test/classes") is None  # over extract_text's 5 MB
    assert all(TEXT in (t or "") for t in texts.values())
    assert metrics.failures() == {("extract_text", "too_large"): 1}
    [row] = _native.extract_text(pa.array([classes]), max_bytes=10_000_000).to_pylist()
    assert TEXT in row["text"]


def test_oversized_rows_are_refused_and_counted():
    arr = pa.array(["short", "x" * 100, None, "y" * 10], pa.large_string())
    [out], refused = guard.refuse_oversized("quality_signals", [arr], 50)
    assert out.to_pylist() == ["short", None, None, "y" * 10]
    assert metrics.failures() == {("quality_signals", "too_large"): 1}
    # A kernel mapping NULL to a value still gives NULL for the refused row.
    scores = guard.null_where(pa.array([0.0, 1.0, 1.0, 0.0]), refused)
    assert scores.to_pylist() == [0.0, None, 1.0, 0.0]
    assert guard.refuse_oversized("k", [arr], None) == ([arr], None)


def _panicky(texts: pa.Array) -> pa.Array:
    """A stand-in for a Rust kernel whose batch panics on one hostile row (`_native` raises
    KernelPanic for a panic anywhere in a batch; see arrow_io.rs's tests)."""
    values = texts.to_pylist()
    if "PANIC" in values:
        raise _native.KernelPanic("row is hostile")
    return pa.array([None if v is None else len(v) for v in values], pa.int64())


def test_a_panicking_row_is_one_counted_failure_not_a_failed_batch():
    registry = Registry()
    kernel("panicky_len", "text:string", _panicky, daft.DataType.int64(), "test kernel",
           registry=registry)
    spec = registry.get("panicky_len")
    df = daft.from_pydict({"t": ["ab", "PANIC", "abcd", None, "PANIC", "x"]})
    out = df.select(spec.build(text=daft.col("t")).alias("n")).to_pydict()["n"]
    assert out == [2, None, 4, None, None, 1]
    assert metrics.failures() == {("panicky_len", "panic"): 2}


def test_other_errors_are_not_swallowed():
    def broken(texts: pa.Array) -> pa.Array:
        raise ValueError("a real bug in the wrapper, not a panic")

    with pytest.raises(ValueError, match="real bug"):
        guard.call_guarded("broken", broken, [pa.array(["a"])], {}, pa.int64())


@pytest.mark.slow
def test_100_mb_documents_are_bounded():
    big = TEXT * (100_000_000 // len(TEXT))
    html = _page(big)
    df = daft.from_pydict({"text": [TEXT, big, TEXT], "html": [_page(TEXT), html, _page(TEXT)]})
    rows = mdfql.sql(
        "SELECT quality_signals(text).n_words AS words, minhash(text) AS sig, "
        "extract_text(html) AS default_cap, "
        "extract_text(html, max_bytes := 300000000) AS raised_cap FROM t", t=df).to_pylist()
    assert [r["words"] is None for r in rows] == [False, True, False]
    assert rows[1]["sig"] is None and rows[0]["sig"] is not None
    assert rows[1]["default_cap"] is None
    assert rows[1]["raised_cap"].startswith(TEXT) and len(rows[1]["raised_cap"]) > 99_000_000
    assert metrics.failures() == {("quality_signals", "too_large"): 1,
                                  ("minhash", "too_large"): 1,
                                  ("extract_text", "too_large"): 1}


@pytest.mark.slow
def test_a_one_gib_body_and_a_one_gib_member_are_read_around(tmp_path):
    body = b"<p>" + b"a" * ((1 << 20) - 8) + b"</p>\n"
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    head = _record("http://hostile.test/1gib", b"", "Content-Type: text/html\r\n",
                   declared=len(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n") + (1 << 30))
    member = (z.compress(head[:-4]) + b"".join(z.compress(body) for _ in range(1024))
              + z.compress(b"\r\n\r\n") + z.flush())
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    zeros = b"".join(z.compress(bytes(1 << 20)) for _ in range(1024)) + z.flush()
    path = tmp_path / "big.warc.gz"
    path.write_bytes(_gz(_good(0)) + member + zeros + _gz(_good(1)))
    rows = {r["url"]: r for r in read_warc(str(path)).to_pylist()}
    assert sorted(rows) == ["http://good.test/0", "http://good.test/1", "http://hostile.test/1gib"]
    assert len(rows["http://hostile.test/1gib"]["html"]) == 10_000_000
    assert metrics.failures() == {("read_warc", "not a WARC/ARC record"): 1}
