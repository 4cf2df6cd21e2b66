"""Image functions over encoded bytes: `image_info` (headers only) and `image_quality` (one
decode a row) in Rust (`native/src/images/`), and Daft's own image built-ins where they already
do the job (`decode_image`, `resize_image`, `image_to_tensor`)."""

from __future__ import annotations

import daft.functions as F
from daft import DataType

from mdfql import _native
from mdfql.functions.builtins import define
from mdfql.functions.kernels import (
    IMAGE_HASH_PARAMS,
    PIXEL_CAP_DOC,
    PIXEL_CAP_SETTING,
    counting_failures,
    kernel,
)
from mdfql.functions.registry import Registry

INFO_FIELDS = {
    "width": "width in pixels, as Pillow's Image.size (TIFF: after its orientation, as Pillow)",
    "height": "height in pixels, as Pillow's Image.size",
    "format": "Pillow's Image.format, sniffed from the bytes: JPEG, PNG, GIF, WEBP, BMP, TIFF, "
              "PPM (never from a file name)",
    "mode": "Pillow's Image.mode: 1, L, LA, P, RGB, RGBA, CMYK, I;16, I, F, ...",
    "orientation": "EXIF orientation tag (1-8) as stored, NULL without one (not applied)",
    "frames": "Pillow's n_frames: animation frames (GIF, APNG, WebP), IFDs (TIFF), else 1",
    "size_bytes": "length of the encoded image",
}
INFO_TYPE = DataType.struct({
    "width": DataType.int64(), "height": DataType.int64(), "format": DataType.string(),
    "mode": DataType.string(), "orientation": DataType.int64(), "frames": DataType.int64(),
    "size_bytes": DataType.int64()})

QUALITY_FIELDS = {
    "blockiness": "JPEG 8x8 blockiness 0..1: 1 - I/B (0 if B <= I), B the mean |grey "
                  "difference| across 8x8 block boundaries, I the mean of the other neighbour "
                  "pairs (Wang, Sheikh & Bovik, ICIP 2002)",
    "compression_ratio": "ideal raw size (width x height x channels of the mode) / file size",
    "compression_artifacts": "mega-data-factory's score with true blockiness: clamp(0.6 "
                             "blockiness + 0.4 (1 - min(2 / compression_ratio, 1)), 0, 1)",
    "sharpness": "variance of the 3x3 Laplacian [0 1 0; 1 -4 1; 0 1 0] of the grey image "
                 "(interior pixels)",
    "entropy": "Shannon entropy of the grey 256-bin histogram, bits (0..8)",
    "brightness": "mean grey / 255",
    "contrast": "std of grey / 255 (RMS contrast)",
    "saturation": "mean HSV saturation (max - min) / max of R, G, B",
    "colorfulness": "Hasler & Suesstrunk (2003): sqrt(var rg + var yb) + 0.3 sqrt(mean rg^2 + "
                    "mean yb^2), rg = R - G, yb = (R + G)/2 - B (15 slightly ... 109 "
                    "extremely colourful)",
    "color_cast": "D / (D + M) in 0..1: the equivalent-circle cast factor K = D/M (Xu et al. "
                  "2008) on the rg/yb axes, D = |mean chroma|, M = chroma spread",
    "noise": "Immerkaer (1996) noise sigma: sqrt(pi/2) / (6 (W-2)(H-2)) sum |grey * [1 -2 1; "
             "-2 4 -2; 1 -2 1]|, grey levels",
    "border_variance": "variance of the grey one-pixel frame (low: flat padding, letterbox)",
}
QUALITY_TYPE = DataType.struct({name: DataType.float64() for name in QUALITY_FIELDS})

FAILURES_DOC = ("Zero-byte, unknown-format, truncated or undecodable images: NULL and a "
                "counted row failure with its reason. ")


def register(registry: Registry) -> None:
    """Add the image functions to `registry`."""
    kernel("image_info", IMAGE_HASH_PARAMS,
           counting_failures("image_info", _native.image_info, "value"), INFO_TYPE,
           "Header facts of encoded image bytes, read without decoding pixels (Pillow's "
           "Image.open, at a fraction of its cost): width and height equal to Pillow's. "
           + FAILURES_DOC + "Only the header is read: a truncated body is found by the "
           "functions that decode (image_quality, phash). " + PIXEL_CAP_DOC,
           registry=registry, fields=INFO_FIELDS, settings=PIXEL_CAP_SETTING)
    kernel("image_quality", IMAGE_HASH_PARAMS,
           counting_failures("image_quality", _native.image_quality, "value"), QUALITY_TYPE,
           "Technical-quality signals of encoded image bytes (Z-Image / mega-data-factory "
           "profiling), one decode a row: Pillow's RGB pixels (JPEG through libjpeg-turbo with "
           "Pillow's settings) and Pillow's grey (L = (19595 R + 38470 G + 7471 B + 2^15) >> "
           "16). EXIF orientation is not applied. " + FAILURES_DOC + PIXEL_CAP_DOC,
           registry=registry, fields=QUALITY_FIELDS, settings=PIXEL_CAP_SETTING)
    # Daft's built-ins do these already: mdfql only names them in SQL.
    define("decode_image", "image:binary mode:string{L|LA|RGB|RGBA}='RGB'",
           lambda image, mode: F.decode_image(image, on_error="null", mode=mode), "image",
           "Daft's decode_image: encoded bytes to a Daft image in `mode`. Undecodable bytes "
           "are NULL (Daft logs them; count them with image_info or image_quality).",
           registry=registry)
    define("resize_image", "image:image width:integer[1..] height:integer[1..]",
           lambda image, width, height: F.resize(image, width, height), "image",
           "Daft's resize of a decoded image (decode_image) to width x height.",
           registry=registry)
    define("image_to_tensor", "image:image", F.image_to_tensor, "tensor",
           "Daft's image_to_tensor: a decoded image as a uint8 height x width x channels "
           "tensor.", registry=registry)
