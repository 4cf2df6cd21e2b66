"""Hostile input: peak memory and wall per case, failures counted per reason, good records kept.

Generates one small WARC per hostile case (the hostile record between two good pages), one
hostile-input WARC holding every case between good pages, an image set and 100 MB documents,
then runs each case in its own child process through the step it attacks:
- WARC cases: `SELECT url, extract_text(html, url), html_title(html) FROM read_warc(...)`;
- image cases: `phash` and `dhash` over [good, hostile, good];
- document cases: one text kernel over [good, 100 MB document, good].
Per case it prints the child's peak RSS (wait4's ru_maxrss), wall time, the rows kept, whether
every good row came out whole (and a sane result's text is right), the failures counted by
(stage, reason), and whether a PanicException (or any other exception, or a crash) got out.
Targets (issue 9): every case within 2 GiB, zero PanicExceptions, no crash, every good record
kept, every bad one counted. `--sample` also runs the bundled sample (`mdfql sample`'s planted
bad records) through the same read + extract step. Not a test: it prints figures.

    python benchmarks/hostile.py [--quick] [--sample] [--only CASE ...] [--dir DIR]

`--quick` makes every big case 16x smaller (a 64 MiB bomb instead of 1 GiB, a 6 MB document
instead of 100 MB). A child past `--rss-cap-gb` or `--timeout` is killed and reported so.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_GIB = 2.0
_MARK = "HOSTILE_RESULT "
_MIB = 1 << 20

SENTENCE = ("The river that runs through the old town was the subject of a long study by the "
            "local historical society, which published its findings this spring. ")
GOOD_PHRASE = "historical society"


def _good_html(i: int) -> bytes:
    paras = "".join(f"<p>Paragraph {k} of page {i}. {SENTENCE * 3}</p>" for k in range(6))
    return (f"<html><head><title>Good page {i}</title></head><body><article>"
            f"<h1>Good page {i}</h1>{paras}</article></body></html>").encode()


# --- writing WARC records ------------------------------------------------------------------------
def _member(out: io.BufferedWriter, parts: Iterable[bytes]) -> None:
    """One gzip member holding the concatenated `parts`, compressed as they come."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    for part in parts:
        out.write(comp.compress(part))
    out.write(comp.flush())


def _record(url: str, http_head: bytes, body: Iterable[bytes], body_len: int,
            declared: int | None = None) -> Iterator[bytes]:
    """A WARC response record's bytes: header, HTTP head, body (streamed), record end."""
    length = len(http_head) + body_len if declared is None else declared
    yield (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{abs(hash(url)):032x}>"
           f"\r\nWARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
           f"Content-Type: application/http; msgtype=response\r\nContent-Length: {length}\r\n\r\n"
           ).encode()
    yield http_head
    yield from body
    yield b"\r\n\r\n"


def _http_head(content_type: str = "text/html; charset=utf-8", extra: str = "",
               length: int | None = None) -> bytes:
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{cl}{extra}\r\n".encode()


def _good_record(i: int) -> Iterator[bytes]:
    body = _good_html(i)
    return _record(f"http://good.test/{i}", _http_head(length=len(body)), [body], len(body))


def _repeat(block: bytes, total: int) -> Iterator[bytes]:
    while total > 0:
        yield block[:total]
        total -= len(block)


def _compressed(kind: str, block: bytes, total: int) -> bytes:
    """`total` bytes of `block` repeated, Content-Encoded as `kind`, in memory (small)."""
    if kind == "br":
        import brotli

        comp = brotli.Compressor(quality=5)
        return b"".join(comp.process(b) for b in _repeat(block, total)) + comp.finish()
    wbits = {"gzip": 31, "deflate": 15}[kind]
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(z.compress(b) for b in _repeat(block, total)) + z.flush()


# --- the cases -----------------------------------------------------------------------------------
@dataclass
class Case:
    """One hostile input and what must come of it."""

    name: str
    kind: str  # "warc", "image" or "doc"
    what: str
    # (stage, reason) pairs that must each be counted at least once
    counted: tuple[tuple[str, str], ...] = ()
    # for a sane result: a phrase the hostile row's text must contain
    sane: str | None = None
    # warc: writes the hostile record(s) into a gzip-member WARC; a plain WARC when `plain`
    write: Callable[[io.BufferedWriter, int], None] | None = None
    plain: bool = False
    # a WARC cut short after the good records: bytes kept of the hostile tail
    truncate: Callable[[bytes], bytes] | None = None
    # image / doc: the hostile value, and the kernel (doc) or options
    make: Callable[[int], bytes | str] | None = None
    sql: str = ""
    expect_null: bool = True  # image/doc: the hostile row's result is NULL


def _nested(scale: int) -> bytes:
    depth = 100_000
    return (b"<html><body>" + b"<div>" * depth + f"<p>{SENTENCE * 4}</p>".encode()
            + b"</div>" * depth + b"</body></html>")


def _attrs(scale: int) -> bytes:
    n = 1_000_000
    return (b"<html><body><article><p " + b"a=1 " * n + b">" + (SENTENCE * 4).encode()
            + b"</p></article></body></html>")


def _classes(scale: int) -> bytes:
    n = 1_000_000
    return (b"<html><body><div " + b'class="c" ' * n + b"><p>" + (SENTENCE * 4).encode()
            + b"</p></div></body></html>")


def _page(text: str) -> str:
    return (f"<html><head><title>A page</title></head><body><article><p>{text}</p><p>{text}</p>"
            "</article></body></html>")


def _write_body(url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                extra: str = "") -> Callable[[io.BufferedWriter, int], None]:
    def write(out: io.BufferedWriter, scale: int) -> None:
        _member(out, _record(url, _http_head(content_type, extra, len(body)), [body], len(body)))
    return write


def _write_big_html(out: io.BufferedWriter, scale: int) -> None:
    size = (100 * 1000 * 1000) // scale
    block = f"<div><p>{SENTENCE * 20}</p></div>\n".encode()
    body = [b"<html><body>", *_repeat(block, size), b"</body></html>"]
    n = sum(map(len, body))
    _member(out, _record("http://hostile.test/html_100mb", _http_head(length=n), body, n))


def _write_member_bomb(out: io.BufferedWriter, scale: int) -> None:
    # Not a record at all: one member inflating to 1 GiB of zeros.
    _member(out, _repeat(bytes(_MIB), (1 << 30) // scale))


def _write_body_1gb(out: io.BufferedWriter, scale: int) -> None:
    n = (1 << 30) // scale
    _member(out, _record("http://hostile.test/body_1gb", _http_head(length=n),
                         _repeat(b"<p>" + b"a" * (_MIB - 8) + b"</p>\n", n), n))


def _write_encoding_bomb(kind: str) -> Callable[[io.BufferedWriter, int], None]:
    def write(out: io.BufferedWriter, scale: int) -> None:
        body = _compressed(kind, b"<p>" + b"a" * (_MIB - 8) + b"</p>\n", (1 << 30) // scale)
        head = _http_head(extra=f"Content-Encoding: {kind}\r\n", length=len(body))
        _member(out, _record(f"http://hostile.test/{kind}_bomb", head, [body], len(body)))
    return write


def _write_chunked_many(out: io.BufferedWriter, scale: int) -> None:
    # 10 M one-byte chunks: the body streams through the de-chunker to max_bytes.
    n = 10_000_000 // scale
    alphabet = b"".join(b"1\r\n" + bytes([c]) + b"\r\n" for c in range(97, 123))
    body = [*_repeat(alphabet * 1000, n * 6), b"0\r\n\r\n"]
    head = _http_head(extra="Transfer-Encoding: chunked\r\n")
    _member(out, _record("http://hostile.test/chunked_many", head, body, n * 6 + 5))


FRENCH = ("Le café de la gare était fermé; nous sommes allés à l'hôtel près de la rivière, "
          "où l'on mange très bien et où l'été est doux. ")
WIDE_TEXT = f"Grüße aus Köln. {SENTENCE * 3}"


def _wide(codec: str) -> bytes:
    return _page(WIDE_TEXT).encode(codec)


CONTROL_TEXT = ("Null\x00 bytes\x01 and\x07 other\x1b control\x7f characters\x85 in a page "
                "that is otherwise plain\x0c text. ") * 4


def _jpeg_claiming(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 30, 200)).save(buf, "JPEG", quality=50)
    b = bytearray(buf.getvalue())
    sof = b.index(b"\xff\xc0")
    b[sof + 5:sof + 9] = struct.pack(">HH", h, w)
    return bytes(b)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def _png_claiming(w: int, h: int, real_rows: int = 0) -> bytes:
    """A PNG whose header says `w` x `h` (grey); `real_rows` rows of zero pixel data follow."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    z = zlib.compressobj(9)
    row = bytes(w + 1)
    data = b"".join(z.compress(row) for _ in range(real_rows)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def _gif_claiming(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    b = bytearray(buf.getvalue())
    b[6:10] = struct.pack("<HH", w, h)
    return bytes(b)


def _good_jpeg(i: int) -> bytes:
    from PIL import Image

    img = Image.linear_gradient("L").resize((64 + i, 48)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _big_text(scale: int) -> str:
    return (SENTENCE * ((100 * 1000 * 1000 // scale) // len(SENTENCE) + 1))


DOC_KERNELS = ("quality_signals", "rpv2_signals", "gopher_quality_ok", "gopher_repetition_ok",
               "fineweb_quality_ok", "c4_quality", "refinedweb_line_corrections", "pii_mask",
               "normalize_for_dedup", "fingerprint", "minhash", "lang_id", "url_score",
               "html_title")


def _cases() -> list[Case]:
    cases = [
        Case("html_100mb", "warc", "a 100 MB page (read_warc cuts it to max_bytes, "
             "extract_text refuses it)", counted=(("extract_text", "too_large"),),
             write=_write_big_html),
        Case("nested_100k", "warc", "<div> nested 100,000 deep", sane=GOOD_PHRASE,
             write=lambda out, s: _write_body("http://hostile.test/nested", _nested(s))(out, s)),
        Case("attrs_1m", "warc", "one element with 10^6 attributes", sane=GOOD_PHRASE,
             write=lambda out, s: _write_body("http://hostile.test/attrs", _attrs(s))(out, s)),
        Case("class_1m", "warc", "one element with 10^6 class attributes (8 MB: over "
             "extract_text's 5 MB)", counted=(("extract_text", "too_large"),),
             write=lambda out, s: _write_body("http://hostile.test/classes", _classes(s))(out, s)),
        Case("class_1m_raised_cap", "doc", "extract_text(max_bytes := 20000000) on 10^6 class "
             "attributes", sane=GOOD_PHRASE, expect_null=False,
             make=lambda s: _classes(s).decode(), sql="extract_text(text, max_bytes := 20000000)"),
        Case("utf16be_nobom", "warc", "UTF-16BE without BOM, declared utf-8", sane="Grüße aus Köln",
             write=_write_body("http://hostile.test/utf16be", _wide("utf-16-be"))),
        Case("utf16le_nobom", "warc", "UTF-16LE without BOM, no charset", sane="Grüße aus Köln",
             write=_write_body("http://hostile.test/utf16le", _wide("utf-16-le"), "text/html")),
        Case("utf32_nobom", "warc", "UTF-32LE without BOM, no charset", sane="Grüße aus Köln",
             write=_write_body("http://hostile.test/utf32", _wide("utf-32-le"), "text/html")),
        Case("lying_utf8", "warc", "windows-1252 bytes declared utf-8", sane="café de la gare",
             write=_write_body("http://hostile.test/lying-utf8", _page(FRENCH).encode("cp1252"))),
        Case("lying_latin1", "warc", "UTF-8 bytes declared iso-8859-1", sane="café de la gare",
             write=_write_body("http://hostile.test/lying-latin1", _page(FRENCH).encode(),
                               "text/html; charset=iso-8859-1")),
        Case("controls", "warc", "NULs and other control characters in the page",
             sane="Null bytes and other control characters in a page",
             write=_write_body("http://hostile.test/controls", _page(CONTROL_TEXT).encode())),
        Case("member_bomb", "warc", "a gzip member of 1 GiB of zeros between records",
             counted=(("read_warc", "not a WARC/ARC record"),), write=_write_member_bomb),
        Case("body_1gb", "warc", "a response with a 1 GiB body (max_bytes 10 MB)",
             counted=(("extract_text", "too_large"),), write=_write_body_1gb),
        Case("gzip_bomb", "warc", "Content-Encoding: gzip inflating to 1 GiB",
             counted=(("extract_text", "too_large"),), write=_write_encoding_bomb("gzip")),
        Case("deflate_bomb", "warc", "Content-Encoding: deflate inflating to 1 GiB",
             counted=(("extract_text", "too_large"),), write=_write_encoding_bomb("deflate")),
        Case("br_bomb", "warc", "Content-Encoding: br inflating to 1 GiB",
             counted=(("extract_text", "too_large"),), write=_write_encoding_bomb("br")),
        Case("chunked_many", "warc", "10 M one-byte chunks (60 MB)",
             sane="abcdefghijklmnopqrstuvwxyz", write=_write_chunked_many),
        Case("cut_mid_record", "warc", "a plain WARC cut in the middle of its last record",
             counted=(("read_warc", "truncated record"),), plain=True,
             write=lambda out, s: out.write(b"".join(_good_record(99))),
             truncate=lambda tail: tail[: len(tail) // 2]),
        Case("cut_mid_member", "warc", "a gzip WARC cut in the middle of its last member",
             counted=(("read_warc", "truncated record"),),
             write=lambda out, s: _member(out, _good_record(99)),
             truncate=lambda tail: tail[: len(tail) // 2]),
        Case("jpeg_65500", "image", "a JPEG whose header claims 65500x65500",
             counted=(("phash", "too many pixels"), ("dhash", "too many pixels")),
             make=lambda s: _jpeg_claiming(65500, 65500)),
        Case("png_100k", "image", "a PNG whose header claims 100000x100000",
             counted=(("phash", "too many pixels"), ("dhash", "too many pixels")),
             make=lambda s: _png_claiming(100_000, 100_000)),
        Case("png_20k_zeros", "image", "a real 20000x20000 PNG of zeros (400 MP)",
             counted=(("phash", "too many pixels"), ("dhash", "too many pixels")),
             make=lambda s: _png_claiming(20_000, 20_000, 20_000 // s)),
        Case("gif_65535", "image", "a GIF whose screen claims 65535x65535",
             counted=(("phash", "too many pixels"), ("dhash", "too many pixels")),
             make=lambda s: _gif_claiming(65535, 65535)),
        Case("jpeg_cut", "image", "a JPEG cut in half",
             counted=(("phash", "undecodable"), ("dhash", "undecodable")),
             make=lambda s: _good_jpeg(50)[:300]),
        Case("extract_100mb", "doc", "extract_text(max_bytes := 300000000) on 2 x 100 MB of HTML",
             sane=GOOD_PHRASE, expect_null=False,
             make=lambda s: _page(_big_text(s)),
             sql="extract_text(text, max_bytes := 300000000)"),
    ]
    for k in DOC_KERNELS:
        if k == "html_title":  # no size cap: a bounded scan
            cases.append(Case(f"doc_100mb_{k}", "doc", f"{k} on a 100 MB page", sane="A page",
                              expect_null=False, make=lambda s: _page(_big_text(s)),
                              sql=f"{k}(text)"))
        else:
            cases.append(Case(f"doc_100mb_{k}", "doc", f"{k} on a 100 MB document",
                              counted=((k, "too_large"),), make=_big_text, sql=f"{k}(text)"))
    return cases


CASES = {c.name: c for c in _cases()}


# --- files ---------------------------------------------------------------------------------------
def _warc_path(case: Case, root: Path, scale: int) -> Path:
    path = root / f"{case.name}-{scale}.warc{'' if case.plain else '.gz'}"
    if path.exists():
        return path
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as out:
        for i in (0, 1):
            good = b"".join(_good_record(i))
            out.write(good if case.plain else _gz(good))
        start = out.tell()
        assert case.write is not None
        case.write(out, scale)
        if case.truncate is None:
            last = b"".join(_good_record(2))
            out.write(last if case.plain else _gz(last))
    if case.truncate is not None:
        data = tmp.read_bytes()
        tmp.write_bytes(data[:start] + case.truncate(data[start:]))
    tmp.rename(path)
    return path


def _gz(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def _all_in_one(root: Path, scale: int) -> tuple[Path, int]:
    """Every WARC case's hostile record between good pages, in one file ending in a member cut
    short; returns it and how many good pages it holds whole."""
    path = root / f"hostile-all-{scale}.warc.gz"
    goods = 1 + sum(c.kind == "warc" and not c.plain and c.truncate is None
                    for c in CASES.values())
    if path.exists():
        return path, goods
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as out:
        i = 100
        for case in CASES.values():
            if case.kind != "warc" or case.plain or case.truncate is not None:
                continue
            out.write(_gz(b"".join(_good_record(i))))
            assert case.write is not None
            case.write(out, scale)
            i += 1
        out.write(_gz(b"".join(_good_record(i))))
        last = _gz(b"".join(_good_record(i + 1)))
        out.write(last[: len(last) // 2])  # cut mid-member
    tmp.rename(path)
    return path, goods


# --- the child: one case ---------------------------------------------------------------------
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text_ok(text: str | None) -> bool:
    """Text without control characters (tab, newline and carriage return allowed)."""
    return text is not None and _CONTROL.search(text) is None


def _run_warc(path: str, sane: str | None, rows: list[dict] | None = None) -> dict:
    """read_warc + extract_text + html_title over `path` (rows, when given, receives them)."""
    import mdfql

    q = (f"SELECT url, extract_text(html, url) AS text, html_title(html) AS title "
         f"FROM read_warc('{path}')")
    got = mdfql.sql(q).to_pylist()
    if rows is not None:
        rows.extend(got)
    rows = got
    good = [r for r in rows if r["url"].startswith("http://good.test/")]
    hostile = [r for r in rows if not r["url"].startswith("http://good.test/")]
    out = {
        "rows": len(rows),
        "good_kept": sum(GOOD_PHRASE in (r["text"] or "") for r in good),
        "controls_in_text": sum(not _text_ok(r["text"]) for r in rows if r["text"] is not None),
    }
    if sane is not None:
        out["sane"] = bool(hostile) and all(sane in (r["text"] or "") for r in hostile)
    return out


def _run_table(values: list, columns: dict[str, str]) -> list[dict]:
    """`SELECT id, <columns> FROM t` over a table of `values` (column `text`), by id."""
    import daft

    import mdfql

    df = daft.from_pydict({"id": list(range(len(values))), "text": values})
    select = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    return mdfql.sql(f"SELECT id, {select} FROM t ORDER BY id", t=df).to_pylist()


def _null(value: object) -> bool:
    """NULL, or a struct of NULLs (what a struct kernel makes of a NULL input)."""
    return value is None or (isinstance(value, dict) and all(v is None for v in value.values()))


def _run_doc(case: Case, scale: int) -> dict:
    """A text kernel over [good, hostile, good]: the hostile row is NULL and counted when it is
    over the kernel's size cap, else (and for a sane-result case) a real result."""
    try:
        from mdfql.functions.guard import MAX_ROW_BYTES
    except ImportError:  # a build from before the row cap (comparing builds)
        MAX_ROW_BYTES = 1 << 62

    assert case.make is not None
    hostile_value = case.make(scale)
    good = _page(SENTENCE * 5)
    rows = _run_table([good, hostile_value, good], {"out": case.sql})
    hostile = rows[1]["out"]
    out: dict = {"rows": len(rows), "good_expected": 2,
                 "good_kept": sum(not _null(r["out"]) for r in (rows[0], rows[2]))}
    if case.sane is not None:
        out["sane"] = isinstance(hostile, str) and case.sane in hostile and _text_ok(hostile)
    elif len(hostile_value.encode()) > MAX_ROW_BYTES:
        out["sane"] = _null(hostile)
    else:  # under the cap (--quick): computed like any row
        out["sane"] = not _null(hostile)
        out["under_cap"] = True
    return out


def _run_images(case: Case, scale: int) -> dict:
    assert case.make is not None
    rows = _run_table([_good_jpeg(0), case.make(scale), _good_jpeg(1)],
                      {"p": "phash(text)", "d": "dhash(text)"})
    return {"rows": len(rows), "good_expected": 2,
            "good_kept": sum(r["p"] is not None and r["d"] is not None for r in (rows[0], rows[2])),
            "sane": rows[1]["p"] is None and rows[1]["d"] is None}


def child(name: str, root: Path, scale: int) -> int:
    """Run one case in this (fresh) process; print its result as one JSON line."""
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    import logging

    logging.getLogger("mdfql").setLevel(logging.ERROR)  # one warning per failed row otherwise
    from mdfql import metrics

    t0 = time.perf_counter()
    result: dict = {}
    with metrics.collecting() as tally:
        try:
            if name == "sample":
                result = _run_sample(root)
            elif name == "all_in_one":
                path, goods = _all_in_one(root, scale)
                result = _run_warc(str(path), None) | {"good_expected": goods}
            else:
                case = CASES[name]
                if case.kind == "warc":
                    result = _run_warc(str(_warc_path(case, root, scale)), case.sane)
                    result["good_expected"] = 2 if case.truncate else 3
                elif case.kind == "image":
                    result = _run_images(case, scale)
                else:
                    result = _run_doc(case, scale)
        except BaseException as exc:  # what a user would have seen: the point of the benchmark
            result = {"exception": f"{type(exc).__name__}: {str(exc)[:200]}"}
        result["failures"] = {f"{s}/{r}": n for (s, r), n in sorted(tally.get().items())}
    result["run_s"] = time.perf_counter() - t0
    result["hwm_mib"] = _hwm_kib() / 1024
    print(_MARK + json.dumps(result), flush=True)
    return 0


def _sample(root: Path) -> Path:
    """The bundled sample (`mdfql sample`'s defaults) under `root`, with a JSON file beside it
    naming its good response URLs and how many bad records it has planted."""
    from mdfql.demo.sample import write_sample

    path = root / "sample.warc.gz"
    stats = write_sample(path)
    good = sorted(u for c, urls in stats.urls.items() if c != "malformed" for u in urls)
    (root / "sample.json").write_text(json.dumps({"good": good,
                                                  "bad": stats.counts["malformed"]}))
    return path


def prepare(name: str, root: Path, scale: int) -> None:
    """Write a case's input files before its child runs (so that its figures are the step's)."""
    if name == "sample":
        _sample(root)
    elif name == "all_in_one":
        _all_in_one(root, scale)
    elif CASES[name].kind == "warc":
        _warc_path(CASES[name], root, scale)


def _run_sample(root: Path) -> dict:
    """The bundled sample: every response but the planted malformed ones read, those counted."""
    planted = json.loads((root / "sample.json").read_text())
    rows: list[dict] = []
    out = _run_warc(str(root / "sample.warc.gz"), None, rows)
    out["good_kept"] = len(set(planted["good"]) & {r["url"] for r in rows})
    out["good_expected"] = len(planted["good"])
    out["bad_planted"] = planted["bad"]
    return out


# --- the parent ------------------------------------------------------------------------------
@dataclass
class Outcome:
    name: str
    status: str = "ok"
    wall_s: float = 0.0
    peak_mib: float = 0.0
    result: dict = field(default_factory=dict)


def _status_kib(pid: int | str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS:")


def _hwm_kib() -> int:
    """This process's own peak RSS. ru_maxrss is not: Linux carries the parent's RSS at fork
    over exec into it (the parent here stays small, generation runs in its own process)."""
    return _status_kib("self", "VmHWM:")


def run_case(name: str, root: Path, scale: int, rss_cap_gb: float, timeout: float) -> Outcome:
    cmd = [sys.executable, __file__, "--child", name, "--dir", str(root), "--scale", str(scale)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True)
    killed: list[str] = []
    done = threading.Event()

    def watch() -> None:
        # Not proc.poll(): it would reap the child before wait4 reads its usage.
        while not done.wait(0.05):
            if _rss_kib(proc.pid) > rss_cap_gb * (1 << 20):
                killed.append("rss cap")
            elif time.perf_counter() - t0 > timeout:
                killed.append("timeout")
            if killed:
                os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stdout_chunks.append(proc.stdout.read()), daemon=True)
    err_chunks: list[str] = []
    err_reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    err_reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    err_reader.join()
    out = Outcome(name, wall_s=time.perf_counter() - t0, peak_mib=usage.ru_maxrss / 1024)
    lines = [ln for ln in "".join(stdout_chunks).splitlines() if ln.startswith(_MARK)]
    if killed:
        out.status = killed[0]
    elif proc.returncode != 0:
        out.status = f"exit {proc.returncode}"
        out.result = {"stderr": "".join(err_chunks)[-300:]}
    if lines:
        out.result = json.loads(lines[-1][len(_MARK):])
    return out


def verdict(case: Case | None, o: Outcome) -> str:
    """Whether the case met its targets: within 2 GiB, no exception, good kept, bad counted."""
    r = o.result
    problems = []
    if o.status != "ok":
        problems.append(o.status)
    if "exception" in r:
        problems.append("exception")
    if max(o.peak_mib, r.get("hwm_mib", 0)) > TARGET_GIB * 1024:
        problems.append("over 2 GiB")
    if r.get("controls_in_text"):
        problems.append("control chars")
    fails = r.get("failures", {})
    if r.get("good_kept") != r.get("good_expected"):
        problems.append("good lost")
    reads = sum(n for k, n in fails.items() if k.split("/")[0] in ("read_warc", "parse_http"))
    if "bad_planted" in r and reads != r["bad_planted"]:
        problems.append(f"{reads} read failures for {r['bad_planted']} planted")
    if case is not None:
        counted = () if r.get("under_cap") else case.counted
        problems += [f"{s}/{why} not counted" for s, why in counted if f"{s}/{why}" not in fails]
        if not counted and fails:
            problems.append("unexpected failures")
        if r.get("sane") is False:
            problems.append("wrong result")
    return "PASS" if not problems else "FAIL: " + ", ".join(problems)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    ap.add_argument("--quick", action="store_true", help="big cases 16x smaller")
    ap.add_argument("--sample", action="store_true", help="also run the bundled sample")
    ap.add_argument("--dir", type=Path, help="where generated inputs go (kept; default: temp)")
    ap.add_argument("--rss-cap-gb", type=float, default=4.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.dir, args.scale)
    if args.prepare:
        prepare(args.prepare, args.dir, args.scale)
        return 0
    scale = 16 if args.quick else 1
    names = args.only or [*CASES, "all_in_one"]
    if args.sample:
        names.append("sample")
    with tempfile.TemporaryDirectory(prefix="mdfql-hostile-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"{'case':36} {'peak MiB':>9} {'hwm MiB':>8} {'wall s':>7} {'step s':>7} "
              f"{'rows':>5} {'good':>9}  verdict  failures counted (stage/reason: n)")
        failed = 0
        for name in names:
            # In a process of its own: the parent's RSS at fork counts in each child's ru_maxrss.
            subprocess.run([sys.executable, __file__, "--prepare", name, "--dir", str(root),
                            "--scale", str(scale)], check=True, cwd=ROOT)
            o = run_case(name, root, scale, args.rss_cap_gb, args.timeout)
            v = verdict(CASES.get(name), o)
            failed += v != "PASS"
            r = o.result
            fails = ", ".join(f"{k}: {n}" for k, n in r.get("failures", {}).items())
            extra = r.get("exception") or r.get("stderr") or ""
            if name == "sample":
                extra = f"(planted bad records: {r.get('bad_planted')})"
            good = f"{r.get('good_kept', '-')}/{r.get('good_expected', '-')}"
            step = f"{r['run_s']:7.1f}" if "run_s" in r else f"{'-':>7}"
            hwm = f"{r['hwm_mib']:8.0f}" if "hwm_mib" in r else f"{'-':>8}"
            print(f"{name:36} {o.peak_mib:9.0f} {hwm} {o.wall_s:7.1f} {step} "
                  f"{r.get('rows', '-'):>5} {good:>9}  {v}  {fails} {extra}".rstrip(), flush=True)
        print(f"{len(names) - failed}/{len(names)} cases met the targets (<= {TARGET_GIB:g} GiB, "
              "no exception or crash, good rows kept, bad rows counted)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
