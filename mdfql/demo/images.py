"""A deterministic image-text sample: scikit-image's bundled photos (real photographs shipped in
its wheel, no download) and generated images, in the LAION layout (url, caption, image bytes,
metadata) as a Parquet table plus one file per image.

What it holds (`IMAGE_CATEGORIES`): the photos as JPEG; generated images (gradients, noise,
flat colour, 8x8 blocks, stripes); crops, resizes and JPEG re-encodes at several qualities of
the photos (near duplicates); byte-identical copies under other URLs (exact duplicates); the
same photo in every format mdfql reads (PNG, WebP lossy/lossless, GIF, BMP, TIFF, PPM, PGM,
animated GIF and WebP); small, large and extreme-aspect images; corrupt, truncated and
zero-byte files; two decompression bombs (a PNG whose header claims 100,000 x 100,000 pixels,
and a real 1-bit 20,000 x 20,000 PNG of ~50 KB that decodes to 400 megapixels); and files whose
extension lies about their format. Captions are in English, German, French, Spanish, Italian,
Chinese, Japanese and Russian, with some too short or empty. Everything derives from `seed`,
so the output is byte-identical for a given seed (about 3 MB).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

IMAGE_CATEGORIES: dict[str, str] = {
    "photo": "scikit-image's real photos, JPEG quality 90, longest side <= 512",
    "generated": "synthetic PNGs: gradients, noise, flat colour, 8x8 blocks, stripes",
    "crop": "crops of the photos (near duplicates)",
    "resize": "down- and upscaled photos (near duplicates)",
    "reencode": "a photo re-encoded as JPEG at qualities 95, 75, 50, 20 and 5 (blockiness)",
    "exact_duplicate": "byte-identical copies of photos under other URLs",
    "format": "one photo as PNG, WebP (lossy, lossless), GIF, BMP, TIFF, PPM, PGM; animated "
              "GIF and WebP; an EXIF-rotated JPEG",
    "small": "8x8 and 16x16 thumbnails",
    "large": "a 2048 x 1536 upscale",
    "extreme_aspect": "2000 x 20 and 16 x 1200 banners",
    "corrupt": "random bytes, a JPEG with its entropy-coded data overwritten, HTML saved as .jpg",
    "truncated": "a JPEG and a PNG cut in half",
    "zero_byte": "an empty file",
    "bomb": "PNGs claiming 100,000 x 100,000 (tiny) and 20,000 x 20,000 (real, ~50 KB) pixels",
    "wrong_extension": "PNG bytes named .jpg, JPEG named .png, WebP named .gif",
}

# The photos used (all bundled with scikit-image; `data.*()` reads them from its package).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "immunohistochemistry",
          "hubble_deep_field", "moon", "page", "text", "clock", "retina", "cat")

# Subject words per photo, for captions.
SUBJECTS = {
    "astronaut": "astronaut", "coffee": "cup of coffee", "chelsea": "cat", "rocket": "rocket",
    "camera": "photographer", "coins": "coins", "immunohistochemistry": "tissue sample",
    "hubble_deep_field": "galaxies", "moon": "moon surface", "page": "printed page",
    "text": "handwritten text", "clock": "clock", "retina": "retina", "cat": "cat",
}

CAPTIONS: dict[str, Callable[[str], str]] = {
    "en": lambda s: f"A photo of a {s}, high resolution",
    "de": lambda s: f"Ein Foto: {s} in hoher Auflösung",
    "fr": lambda s: f"Une photographie : {s}, haute résolution",
    "es": lambda s: f"Una fotografía de {s} en alta resolución",
    "it": lambda s: f"Una fotografia di {s} ad alta risoluzione",
    "zh": lambda s: f"一张高清照片：{s}",
    "ja": lambda s: f"高解像度の写真：{s}",
    "ru": lambda s: f"Фотография высокого разрешения: {s}",
}


@dataclass(frozen=True)
class SampleImage:
    """One row of the sample."""

    key: str
    category: str
    file: str  # file name, extension as a crawler would have saved it
    data: bytes
    caption: str
    language: str

    @property
    def url(self) -> str:
        return f"https://images.example.org/{self.category}/{self.file}"


def _encode(img, fmt: str, **opts) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def photos() -> dict[str, object]:
    """The photos as PIL RGB images, longest side at most 512."""
    from PIL import Image
    from skimage import data

    out = {}
    for name in PHOTOS:
        arr = getattr(data, name)()
        img = Image.fromarray(arr).convert("RGB")
        img.thumbnail((512, 512), Image.Resampling.LANCZOS)
        out[name] = img
    return out


def _generated(rng: np.random.Generator) -> Iterator[tuple[str, object]]:
    from PIL import Image

    y, x = np.mgrid[0:192, 0:256]
    yield "gradient", Image.fromarray(np.dstack([x, y, 255 - x]).astype(np.uint8))
    yield "noise", Image.fromarray(rng.integers(0, 256, (160, 240, 3), dtype=np.uint8))
    yield "flat", Image.new("RGB", (200, 150), (200, 120, 40))
    blocks = rng.integers(0, 256, (24, 32), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    yield "blocks", Image.fromarray(blocks)
    yield "stripes", Image.fromarray(((x // 6) % 2 * 255).astype(np.uint8))


def _bomb_header() -> bytes:
    """A PNG whose IHDR (valid CRC) claims 100,000 x 100,000 RGB pixels, with a few bytes of
    IDAT: 70 bytes on disk, 30 GB if a decoder believed it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(
        b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _bomb_real(side: int = 20_000) -> bytes:
    """A genuine decompression bomb: a valid 1-bit grey PNG of side x side black pixels (about
    50 KB: deflate squeezes the zero rows ~1000x) that decodes to side^2 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    comp = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(
        b"IEND", b"")


def sample_images(seed: int = 0) -> list[SampleImage]:
    """Every row of the sample, in a fixed order."""
    from PIL import Image

    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    langs = list(CAPTIONS)
    rows: list[SampleImage] = []

    def add(category: str, name: str, ext: str, data: bytes, subject: str,
            caption: str | None = None, lang: str | None = None) -> None:
        lang = lang or rnd.choice(langs)
        key = f"{len(rows):05d}"
        rows.append(SampleImage(key, category, f"{key}_{name}.{ext}", data,
                                caption if caption is not None else CAPTIONS[lang](subject),
                                lang))

    pics = photos()
    jpegs = {}
    for name, img in pics.items():
        jpegs[name] = _encode(img, "JPEG", quality=90)
        add("photo", name, "jpg", jpegs[name], SUBJECTS[name])
    for name, img in _generated(rng):
        add("generated", name, "png", _encode(img, "PNG"), f"{name} pattern", lang="en")
    for name in PHOTOS[:6]:
        img = pics[name]
        w, h = img.size
        crop = img.crop((w // 8, h // 10, w - w // 6, h - h // 12))
        add("crop", name, "jpg", _encode(crop, "JPEG", quality=90), SUBJECTS[name])
        add("resize", name, "jpg", _encode(img.resize((w // 2, h // 2)), "JPEG", quality=90),
            SUBJECTS[name])
        add("resize", name, "jpg", _encode(img.resize((w * 3 // 2, h * 3 // 2)), "JPEG",
                                           quality=90), SUBJECTS[name])
    for q in (95, 75, 50, 20, 5):
        add("reencode", f"coffee_q{q}", "jpg", _encode(pics["coffee"], "JPEG", quality=q),
            SUBJECTS["coffee"])
    for name in PHOTOS[:4]:
        add("exact_duplicate", name, "jpg", jpegs[name], SUBJECTS[name])
    cat = pics["chelsea"].resize((226, 150))  # small: the lossless formats store it raw
    formats = [("png", "PNG", {}), ("webp", "WEBP", {"quality": 80}),
               ("webp", "WEBP", {"lossless": True}), ("gif", "GIF", {}), ("bmp", "BMP", {}),
               ("tiff", "TIFF", {}), ("ppm", "PPM", {})]
    for ext, fmt, opts in formats:
        add("format", f"chelsea_{fmt.lower()}", ext, _encode(cat, fmt, **opts), "cat")
    add("format", "chelsea_pgm", "pgm", _encode(cat.convert("L"), "PPM"), "cat")
    frames = [cat.rotate(a) for a in (0, 8, 16, 24)]
    for ext, fmt in (("gif", "GIF"), ("webp", "WEBP")):
        add("format", f"chelsea_animated_{ext}", ext,
            _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                    loop=0), "cat")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    add("format", "chelsea_exif_rotated", "jpg", _encode(cat, "JPEG", quality=90, exif=exif),
        "cat")
    for side in (8, 16):
        add("small", f"astronaut_{side}px", "png", _encode(pics["astronaut"].resize((side, side)),
                                                          "PNG"), "astronaut")
    add("large", "coffee_2048", "jpg", _encode(pics["coffee"].resize((2048, 1536)), "JPEG",
                                              quality=80), SUBJECTS["coffee"])
    add("extreme_aspect", "banner_wide", "jpg",
        _encode(pics["rocket"].resize((2000, 20)), "JPEG", quality=85), "rocket")
    add("extreme_aspect", "banner_tall", "png",
        _encode(pics["rocket"].resize((16, 1200)), "PNG"), "rocket")
    add("corrupt", "random_bytes", "jpg", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "noise")
    broken = bytearray(jpegs["astronaut"])
    start = broken.index(b"\xff\xda") + 200
    broken[start:start + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    add("corrupt", "astronaut_scrambled", "jpg", bytes(broken), SUBJECTS["astronaut"])
    add("corrupt", "not_an_image", "jpg", b"<html><body>404 Not Found</body></html>\n",
        "error page", lang="en")
    add("truncated", "coffee_half", "jpg", jpegs["coffee"][: len(jpegs["coffee"]) // 2],
        SUBJECTS["coffee"])
    png = _encode(pics["rocket"], "PNG")
    add("truncated", "rocket_half", "png", png[: len(png) // 2], "rocket")
    add("zero_byte", "empty", "jpg", b"", "nothing")
    add("bomb", "claims_100000px", "png", _bomb_header(), "bomb", lang="en")
    add("bomb", "real_20000px", "png", _bomb_real(), "bomb", lang="en")
    add("wrong_extension", "png_as_jpg", "jpg", _encode(pics["camera"], "PNG"), "photographer")
    add("wrong_extension", "jpeg_as_png", "png", jpegs["clock"], "clock")
    add("wrong_extension", "webp_as_gif", "gif", _encode(pics["cat"], "WEBP"), "cat")
    # captions LAION's filters drop: too short (< 5 characters), empty, markup
    short = [("ok", "en"), ("", "en"), ("<b>Click here</b> http://spam.example", "en")]
    for i, (caption, lang) in enumerate(short):
        name = PHOTOS[7 + i]
        add("photo", f"{name}_badcaption", "jpg", _encode(pics[name], "JPEG", quality=85),
            SUBJECTS[name], caption=caption, lang=lang)
    return rows


def _dimensions(data: bytes) -> tuple[int | None, int | None]:
    """Pillow's size of decodable images (the metadata a LAION row carries), else None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.size[0] * img.size[1] > Image.MAX_IMAGE_PIXELS:
                return None, None
            img.load()
            return img.size
    except Exception:  # noqa: BLE001 - anything Pillow refuses has no metadata
        return None, None


@dataclass(frozen=True)
class ImageSampleStats:
    rows: int
    n_bytes: int
    counts: dict[str, int]


def write_image_sample(out_dir: str | Path, seed: int = 0) -> ImageSampleStats:
    """Write `out_dir/images/<file>` for every row and `out_dir/image_text.parquet` (columns
    key, url, caption, language, category, file, image, width, height)."""
    out = Path(out_dir)
    files = out / "images"
    files.mkdir(parents=True, exist_ok=True)
    rows = sample_images(seed)
    for r in rows:
        (files / r.file).write_bytes(r.data)
    sizes = [_dimensions(r.data) for r in rows]
    table = pa.table({
        "key": [r.key for r in rows],
        "url": [r.url for r in rows],
        "caption": [r.caption for r in rows],
        "language": [r.language for r in rows],
        "category": [r.category for r in rows],
        "file": [r.file for r in rows],
        "image": pa.array([r.data for r in rows], pa.binary()),
        "width": pa.array([w for w, _ in sizes], pa.int64()),
        "height": pa.array([h for _, h in sizes], pa.int64()),
    })
    pq.write_table(table, out / "image_text.parquet", compression="zstd")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.category] = counts.get(r.category, 0) + 1
    return ImageSampleStats(len(rows), sum(len(r.data) for r in rows), counts)
