"""image_quality against the same formulas in numpy over Pillow's own pixels
(tests/image_reference.py), on scikit-image's real photos and generated images.

Decodes: JPEG goes through libjpeg-turbo with Pillow's settings (ISLOW IDCT, fancy upsampling),
so its RGB pixels are Pillow's and JPEG is compared as tightly as the lossless formats (PNG,
BMP, TIFF, PPM, lossless WebP, GIF without transparency), to 1e-9 relative. Lossy WebP is
decoded by the `image` crate's own VP8 decoder, whose chroma upsampling differs from libwebp's
by a grey level here and there: compared with a loose tolerance and marked as such."""

from __future__ import annotations

import io
import math

import daft
import numpy as np
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native
from mdfql.metrics import failures, reset_failures

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("skimage.data", reason="pip install scikit-image")
import image_reference as ref  # noqa: E402

from mdfql.demo.images import photos, sample_images  # noqa: E402

FIELDS = ("blockiness", "compression_ratio", "compression_artifacts", "sharpness", "entropy",
          "brightness", "contrast", "saturation", "colorfulness", "color_cast", "noise",
          "border_variance")


def _encode(img: Image.Image, fmt: str, **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def _generated() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:67, 0:93]
    return [Image.fromarray(rng.integers(0, 256, (41, 57, 3), dtype=np.uint8)),
            Image.fromarray(np.dstack([x * 2, y * 3, 255 - x]).astype(np.uint8)),
            Image.new("RGB", (30, 20), (10, 200, 90)), Image.new("L", (3, 3), 7),
            Image.fromarray(rng.integers(0, 256, (2, 9), dtype=np.uint8)),
            Image.fromarray(rng.integers(0, 256, (1, 1, 3), dtype=np.uint8))]


@pytest.fixture(scope="module")
def exact() -> list[bytes]:
    """Images whose decode is Pillow's bit for bit: every photo as JPEG (qualities, chroma
    subsamplings, grey, CMYK, progressive) and in the lossless formats and modes."""
    out = []
    for img in photos().values():
        small = img.resize((img.width // 2 + 3, img.height // 2 + 1))
        out += [_encode(img, "JPEG", quality=90), _encode(small, "JPEG", quality=20),
                _encode(small, "JPEG", quality=75, subsampling=0, progressive=True),
                _encode(small, "PNG")]
    cat = photos()["chelsea"].resize((150, 100))
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        src = cat.convert("L").convert("I;16") if mode == "I;16" else cat.convert(mode)
        out.append(_encode(src, "PNG"))
    out += [_encode(cat.convert("L"), "JPEG"), _encode(cat.convert("CMYK"), "JPEG"),
            _encode(cat, "BMP"), _encode(cat.convert("P"), "BMP"), _encode(cat, "TIFF"),
            _encode(cat, "PPM"), _encode(cat.convert("L"), "PPM"),
            _encode(cat, "WEBP", lossless=True), _encode(cat, "GIF")]
    out += [_encode(img, "PNG") for img in _generated()]
    return out


def _quality(images: list[bytes | None]) -> tuple[list, list]:
    out = _native.image_quality(pa.array(images, pa.binary()))
    return out.field("value").to_pylist(), out.field("error").to_pylist()


def _assert_close(got: dict, want: dict, rel: float, abs_: float, what: str) -> None:
    assert set(got) == set(FIELDS)
    for f in FIELDS:
        assert math.isclose(got[f], want[f], rel_tol=rel, abs_tol=abs_), (what, f, got[f],
                                                                           want[f])


def test_every_signal_equals_the_numpy_formula_on_pillows_pixels(exact: list[bytes]) -> None:
    values, errors = _quality(exact)
    for i, (data, got, err) in enumerate(zip(exact, values, errors)):
        assert err is None
        _assert_close(got, ref.quality(data), 1e-9, 1e-12, f"image {i}")


def test_lossy_webp_is_close() -> None:
    """libwebp (Pillow) and the image crate's VP8 decoder differ by rounding in chroma
    upsampling: the signals agree to a few percent, not bit for bit."""
    data = [_encode(img, "WEBP", quality=80) for img in list(photos().values())[:5]]
    values, errors = _quality(data)
    for d, got, err in zip(data, values, errors):
        assert err is None
        want = ref.quality(d)
        for f in ("brightness", "contrast", "entropy", "saturation", "compression_ratio"):
            assert math.isclose(got[f], want[f], rel_tol=0.03, abs_tol=0.01), (f, got, want)


def test_blockiness_rises_as_jpeg_quality_falls() -> None:
    coffee = photos()["coffee"]
    blocky = [_quality([_encode(coffee, "JPEG", quality=q)])[0][0]["blockiness"]
              for q in (95, 50, 10, 3)]
    assert blocky == sorted(blocky) and blocky[-1] > 0.3 > blocky[0]
    # the same photo, lossless, has no block structure
    assert _quality([_encode(coffee, "PNG")])[0][0]["blockiness"] < 0.05


def test_the_sample_never_crashes_and_its_bad_files_are_counted() -> None:
    reset_failures()
    rows = sample_images()
    df = daft.from_pydict({"img": [r.data for r in rows]})
    got = mdfql.sql("SELECT image_quality(img) AS q FROM t", t=df).to_pylist()
    bad = {"corrupt", "truncated", "zero_byte", "bomb"}
    for r, g in zip(rows, got):
        assert (g["q"] is None) == (r.category in bad), r.file
    counted = sum(n for (stage, _), n in failures().items() if stage == "image_quality")
    assert counted == sum(r.category in bad for r in rows)
    kinds = {kind for (stage, kind) in failures() if stage == "image_quality"}
    assert {"empty", "too many pixels", "unknown image format"} <= kinds
