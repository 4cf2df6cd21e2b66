"""Straightforward Pillow/numpy implementations of `image_info` and `image_quality`: the
references the tests compare the Rust kernels with and the benchmark races them against."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image


def info(data: bytes, exif: bool = True) -> dict:
    """image_info's struct as Pillow reads the header (Image.open, n_frames, getexif; without
    `exif` the orientation is left out, None)."""
    with Image.open(io.BytesIO(data)) as im:
        head = {"width": im.size[0], "height": im.size[1], "format": im.format,
                "mode": im.mode, "frames": getattr(im, "n_frames", 1)}
        orientation = None
        try:  # PNG's getexif() reads the chunks after the image data: a truncated body fails
            if exif:
                orientation = im.getexif().get(0x0112)
        except OSError:
            pass
    return {**head, "orientation": orientation, "size_bytes": len(data)}


def _block_means(g: np.ndarray) -> tuple[float, float]:
    """Mean |difference| of neighbour pairs across 8x8 block boundaries, and of the others."""
    h, w = g.shape
    dh = np.abs(np.diff(g, axis=1))
    dv = np.abs(np.diff(g, axis=0))
    bh = np.arange(w - 1) % 8 == 7
    bv = np.arange(h - 1) % 8 == 7
    across = [dh[:, bh], dv[bv, :]]
    inside = [dh[:, ~bh], dv[~bv, :]]

    def mean(parts: list[np.ndarray]) -> float:
        n = sum(p.size for p in parts)
        return sum(float(p.sum()) for p in parts) / n if n else 0.0

    return mean(across), mean(inside)


def quality(data: bytes) -> dict:
    """image_quality's struct from Pillow's convert("RGB") and convert("L") pixels, each
    signal by its formula (see native/src/images/quality.rs)."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int64)
        g = np.asarray(im.convert("L"), dtype=np.int64)
        channels = len(im.getbands())
    h, w = g.shape
    b, i = _block_means(g)
    blockiness = max(0.0, (b - i) / b) if b > 0 else 0.0
    ratio = w * h * channels / len(data)
    artifacts = min(max(0.6 * blockiness + 0.4 * (1 - min(2 / ratio, 1.0)), 0.0), 1.0)
    c = g[1:-1, 1:-1]
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * c
    hist = np.bincount(g.ravel(), minlength=256)
    p = hist[hist > 0] / g.size
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1), 0.0)
    r, gg, bb = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - gg, 0.5 * (r + gg) - bb
    spread = math.sqrt(rg.var() + yb.var())
    offset = math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])
    conv = sum(kernel[dy, dx] * g[dy:h - 2 + dy, dx:w - 2 + dx]
               for dy in range(3) for dx in range(3))
    interior = (w - 2) * (h - 2)
    frame = [g[0, :]] + ([g[-1, :]] if h > 1 else []) + [g[1:-1, 0]] + \
        ([g[1:-1, -1]] if w > 1 else [])
    return {
        "blockiness": blockiness,
        "compression_ratio": ratio,
        "compression_artifacts": artifacts,
        "sharpness": float(lap.var()) if lap.size else 0.0,
        "entropy": float(-(p * np.log2(p)).sum()),
        "brightness": float(g.mean()) / 255,
        "contrast": float(g.std()) / 255,
        "saturation": float(sat.mean()),
        "colorfulness": spread + 0.3 * offset,
        "color_cast": offset / (offset + spread) if offset + spread > 0 else 0.0,
        "noise": math.sqrt(math.pi / 2) * float(np.abs(conv).sum()) / (6 * interior)
        if interior > 0 else 0.0,
        "border_variance": float(np.concatenate(frame).var()),
    }
