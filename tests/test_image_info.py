"""image_info against Pillow's Image.open (size, format, mode, n_frames, EXIF orientation) on
scikit-image's real photos in every format and mode Pillow writes, animations, EXIF-rotated
files and the bundled image sample; failures (zero bytes, unknown format, broken headers,
decompression bombs) are NULL and counted, never a crash; the pixel cap follows
`SET max_image_pixels` and a call's own max_pixels."""

from __future__ import annotations

import io

import daft
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native
from mdfql.metrics import failures, reset_failures

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("skimage.data", reason="pip install scikit-image")
import image_reference as ref  # noqa: E402

from mdfql.demo.images import photos, sample_images  # noqa: E402

MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "PA")
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "PPM")


def _encode(img: Image.Image, fmt: str, **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    """Two photos (one odd-sized) in every mode each format can store; animations; EXIF
    orientations; progressive and CMYK JPEGs; top-down BMP; WebP with alpha."""
    pics = photos()
    out = []
    for img in (pics["astronaut"], pics["coffee"].resize((123, 77))):
        for fmt in FORMATS:
            for mode in MODES:
                src = img.convert("L").convert("I;16") if mode == "I;16" else img.convert(mode)
                try:
                    out.append(_encode(src, fmt))
                except (OSError, ValueError):  # a mode the format cannot store
                    continue
    cat = pics["chelsea"].resize((90, 60))
    frames = [cat.rotate(a) for a in (0, 10, 20, 30, 40)]
    for fmt in ("GIF", "WEBP", "PNG", "TIFF"):
        out.append(_encode(frames[0], fmt, save_all=True, append_images=frames[1:]))
    for orientation in (1, 3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
            out.append(_encode(cat, fmt, exif=exif))
    alpha = cat.convert("RGBA")
    alpha.putalpha(120)
    out += [_encode(alpha, "WEBP", lossless=True), _encode(alpha, "WEBP", quality=70),
            _encode(cat, "JPEG", progressive=True), _encode(cat, "JPEG", subsampling=0),
            _encode(cat.convert("CMYK"), "JPEG"), _encode(cat.convert("P"), "BMP"),
            _encode(cat.convert("I;16"), "TIFF"), _encode(cat, "TIFF", compression="jpeg"),
            _encode(cat, "TIFF", compression="tiff_lzw"), _encode(cat, "PNG", optimize=True)]
    return out


def _info(images: list[bytes | None], **opts: int) -> tuple[list, list]:
    out = _native.image_info(pa.array(images, pa.binary()), **opts)
    return out.field("value").to_pylist(), out.field("error").to_pylist()


def test_every_field_equals_pillows(corpus: list[bytes]) -> None:
    assert len(corpus) > 80
    values, errors = _info(corpus)
    for data, got, err in zip(corpus, values, errors):
        assert err is None
        assert got == ref.info(data)


def test_the_image_sample_equals_pillow_and_its_bad_files_fail() -> None:
    rows = sample_images()
    values, errors = _info([r.data for r in rows])
    for r, got, err in zip(rows, values, errors):
        if r.category in ("zero_byte", "bomb") or r.category == "corrupt" and \
                r.file.endswith(("random_bytes.jpg", "not_an_image.jpg")):
            assert got is None and err is not None, r.file
            continue
        assert err is None, (r.file, err)  # truncated and scrambled bodies: headers intact
        assert got == ref.info(r.data), r.file
    by_file = {r.file.split("_", 1)[1]: e for r, e in zip(rows, errors)}
    assert by_file["empty.jpg"] == "empty: zero bytes"
    assert by_file["random_bytes.jpg"] == "unknown image format"
    assert by_file["claims_100000px.png"].startswith("too many pixels: 100000x100000")
    assert by_file["real_20000px.png"].startswith("too many pixels: 20000x20000")


@pytest.mark.parametrize("cut", [1, 5, 11, 20, 30])
def test_truncated_headers_are_errors_not_crashes(corpus: list[bytes], cut: int) -> None:
    heads = [data[:cut] for data in corpus]
    values, errors = _info(heads)
    for data, got, err in zip(heads, values, errors):
        assert (got is None) == (err is not None)
        assert err is None or err.split(":")[0] in ("truncated", "undecodable", "empty",
                                                     "unknown image format"), err
        try:
            want = ref.info(data)
        except (OSError, ValueError, SyntaxError):  # Pillow needs more of this header
            continue
        if got is not None:  # a header that fits in `cut` bytes must still read as Pillow's
            assert (got["width"], got["height"]) == (want["width"], want["height"])


def test_failures_are_null_and_counted_in_sql(corpus: list[bytes]) -> None:
    reset_failures()
    bomb = next(r.data for r in sample_images() if r.category == "bomb")
    df = daft.from_pydict({"img": [corpus[0], b"", b"GIF89a", bomb, b"\x00" * 50, None]})
    rows = mdfql.sql("SELECT image_info(img) AS i FROM t", t=df).to_pylist()
    assert rows[0]["i"]["width"] == ref.info(corpus[0])["width"]
    assert [r["i"] for r in rows[1:]] == [None] * 5
    counts = {kind: n for (stage, kind), n in failures().items() if stage == "image_info"}
    assert counts == {"empty": 1, "truncated": 1, "too many pixels": 1,
                      "unknown image format": 1}


def test_the_pixel_cap_is_the_set_option_unless_the_call_gives_one() -> None:
    small = _encode(Image.new("RGB", (10, 10)), "PNG")  # 100 pixels
    df = daft.from_pydict({"img": [small]})
    script = ("SET max_image_pixels = {cap};\n"
              "SELECT image_info(img) AS a, image_info(img, max_pixels := 100) AS b, "
              "phash(img) AS p FROM t")
    for cap, refused in ((99, True), (100, False)):
        row = mdfql.Session().sql(script.format(cap=cap), t=df).to_pylist()[0]
        assert (row["a"] is None) == refused and (row["p"] is None) == refused
        assert row["b"]["width"] == 10


def test_the_option_is_validated() -> None:
    with pytest.raises(mdfql.MdfqlError, match="max_image_pixels"):
        mdfql.Session().sql("SET max_image_pixels = 0;\nSELECT 1 AS x")
