"""phash / dhash kernels against the imagehash package on real photos (scikit-image's sample
images) encoded as PNG, WebP, BMP and JPEG, resized, cropped, grey, palette and with alpha, plus
JPEGs that stress the decoder (every chroma subsampling, progressive, restart markers, CMYK,
untransformed RGB, extreme qualities, odd and tiny sizes): bit-identical on every image;
undecodable images counted."""

from __future__ import annotations

import io

import daft
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native
from mdfql.metrics import failures, reset_failures

imagehash = pytest.importorskip("imagehash", reason="pip install imagehash")
skdata = pytest.importorskip("skimage.data", reason="pip install scikit-image")
Image = pytest.importorskip("PIL.Image")

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "immunohistochemistry",
          "hubble_deep_field", "page", "moon", "text", "coins", "horse", "clock")


def _encode(img: Image.Image, fmt: str, **opts: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


@pytest.fixture(scope="module")
def encoded() -> list[bytes]:
    """Every photo as PNG and JPEG (two qualities), plus variants: downscaled, upscaled, odd-size
    crops, RGBA with alpha, palette, grey, and a tiny thumbnail."""
    out = []
    for name in PHOTOS:
        arr = getattr(skdata, name)()
        if arr.dtype != "uint8":  # horse is boolean
            arr = (arr.astype("uint8") * 255)
        img = Image.fromarray(arr)
        w, h = img.size
        variants = [
            img,
            img.resize((w // 3, h // 3)),
            img.resize((w * 5 // 4, h * 5 // 4)),
            img.crop((w // 7, h // 9, w - w // 5, h - 3)),
            img.resize((37, 23)),
            img.convert("L"),
        ]
        for v in variants:
            out.append(_encode(v, "PNG"))
            out.append(_encode(v.convert("RGB") if v.mode not in ("L", "RGB") else v, "JPEG",
                               quality=90))
        rgb = img.convert("RGB")
        out.append(_encode(rgb, "JPEG", quality=60, subsampling=2))
        out.append(_encode(rgb.convert("RGBA"), "PNG"))
        out.append(_encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))
        out.append(_encode(rgb, "WEBP", lossless=True))
        out.append(_encode(rgb, "BMP"))
    return out


@pytest.fixture(scope="module")
def stress_jpegs() -> list[bytes]:
    """JPEG encoder settings that take different decoder paths: 4:4:4, 4:2:2 and 4:2:0 chroma
    (fancy upsampling), baseline and progressive, restart markers, optimised Huffman tables,
    grey, CMYK (Adobe-inverted), RGB without YCbCr transform, quality 5 (clipping) and 100, at
    odd sizes down to the 1-2 pixel chroma widths where upsampling takes its edge cases. (1x1 and
    2x2 are left out: their 32x32 upscale has exactly tied DCT coefficients, so phash's bits
    there follow scipy's FFT rounding noise, for PNG as for JPEG.)"""
    out = []
    for name in ("astronaut", "coffee", "chelsea", "immunohistochemistry", "camera"):
        arr = getattr(skdata, name)()
        rgb = Image.fromarray(arr).convert("RGB")
        w, h = rgb.size
        sizes = [rgb, rgb.resize((333, 217)), rgb.crop((w // 5, h // 7, w // 5 + 101, h // 7 + 67)),
                 rgb.resize((17, 9)), rgb.resize((3, 5)), rgb.resize((4, 4)), rgb.resize((2, 6))]
        for img in sizes:
            for sub in (0, 1, 2):
                out.append(_encode(img, "JPEG", quality=85, subsampling=sub))
                out.append(_encode(img, "JPEG", quality=85, subsampling=sub, progressive=True))
        mid = sizes[1]
        out += [
            _encode(mid, "JPEG", quality=5),
            _encode(mid, "JPEG", quality=100, subsampling=0),
            _encode(mid, "JPEG", quality=75, optimize=True, progressive=True, subsampling=1),
            _encode(mid, "JPEG", restart_marker_blocks=3),
            _encode(mid, "JPEG", restart_marker_rows=1, progressive=True),
            _encode(mid, "JPEG", keep_rgb=True),
            _encode(mid.convert("L"), "JPEG", quality=80),
            _encode(mid.convert("L"), "JPEG", quality=80, progressive=True),
            _encode(mid.convert("CMYK"), "JPEG", quality=90),
            _encode(rgb.convert("CMYK"), "JPEG", quality=70, progressive=True),
        ]
    return out


def _reference(data: bytes, fn: object) -> int:
    return int(str(fn(Image.open(io.BytesIO(data)))), 16)  # type: ignore[operator]


def _assert_identical(images: list[bytes], name: str) -> list[int]:
    out = getattr(_native, name)(pa.array(images, pa.large_binary()))
    assert out.field("error").null_count == len(images)
    got = out.field("hash").to_pylist()
    expected = [_reference(b, getattr(imagehash, name)) for b in images]
    diff = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not diff, f"{len(diff)} of {len(images)} {name} hashes differ, first at {diff[:5]}"
    return got


@pytest.mark.parametrize("name", ["phash", "dhash"])
def test_bit_identical_to_imagehash(encoded: list[bytes], name: str) -> None:
    """Identical on every image: JPEGs are decoded by libjpeg-turbo's code with Pillow's
    settings, so even near-tie bits agree."""
    assert sum(b[:2] == b"\xff\xd8" for b in encoded) >= 98
    got = _assert_identical(encoded, name)
    assert len(set(got)) > len(PHOTOS)  # the hashes tell the photos apart


@pytest.mark.parametrize("name", ["phash", "dhash"])
def test_bit_identical_on_decoder_stress_jpegs(stress_jpegs: list[bytes], name: str) -> None:
    modes = {Image.open(io.BytesIO(b)).mode for b in stress_jpegs}
    assert modes == {"RGB", "L", "CMYK"}
    _assert_identical(stress_jpegs, name)


def test_hex_matches_imagehash_string(encoded: list[bytes]) -> None:
    h = _native.phash(pa.array(encoded[:1], pa.binary())).field("hash")[0].as_py()
    assert format(h, "016x") == str(imagehash.phash(Image.open(io.BytesIO(encoded[0]))))


def test_corrupt_images_are_null_and_counted(encoded: list[bytes]) -> None:
    reset_failures()
    good = encoded[0]
    df = daft.from_pydict({"img": [good, b"not an image", good[: len(good) // 3], None]})
    rows = mdfql.sql("SELECT phash(img) AS p, dhash(img) AS d FROM t", t=df).to_pylist()
    assert rows[0]["p"] == _reference(good, imagehash.phash)
    assert rows[0]["d"] == _reference(good, imagehash.dhash)
    assert all(r["p"] is None and r["d"] is None for r in rows[1:])
    counts = failures()
    assert sum(n for (stage, _), n in counts.items() if stage == "phash") == 2
    assert sum(n for (stage, _), n in counts.items() if stage == "dhash") == 2
