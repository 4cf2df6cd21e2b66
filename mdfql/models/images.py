"""Decode and preprocess a batch of images for a vision tower.

Per image only what must be per image runs: Pillow decodes and resizes (both release the GIL,
so a thread pool runs them on every core the worker has), straight into one uint8 batch
array. The float work (scale to [0, 1], subtract the mean, divide by the std) runs once per
batch in torch, on the model's device, after the uint8 batch is moved there (4x less to copy
than floats). Results equal open_clip's eval transform (Resize shortest edge, CenterCrop,
convert RGB, ToTensor, Normalize) and transformers' SigLIP processor (convert RGB, resize to a
fixed size, rescale, normalize): the same Pillow calls on the same pixels, the same float32
operations in the same order (transformers rescales by multiplying by 1/255: equal to
float32 rounding).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from mdfql.metrics import record_failure

# Pillow's own decompression-bomb threshold (it warns above this and refuses at twice it).
MAX_PIXELS = 89_478_485
_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
             "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


@dataclass(frozen=True)
class Preprocess:
    """How a tower wants its pixels: `size` (height, width); `resize` 'shortest' (shortest
    edge to the size, then centre crop: open_clip) or 'squash' (straight to the size:
    SigLIP); `rgb_first`: convert to RGB before resizing (transformers) or after cropping
    (open_clip); `scale` multiplies the 0..255 values (1/255)."""

    size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bicubic"
    resize: str = "shortest"
    rgb_first: bool = False


class BadImage(Exception):
    """An image that cannot go into the batch; its text is the failure reason."""


def open_image(value: Any) -> Image.Image:
    """A Pillow image from encoded bytes or a decoded HxW[xC] uint8 array (Daft's Image)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) == 0:
            raise BadImage("empty")
        try:
            im = Image.open(io.BytesIO(value))
        except Exception:
            raise BadImage("undecodable") from None
        if im.width * im.height > MAX_PIXELS:
            raise BadImage("too_many_pixels")
        return im
    array = np.asarray(value)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise BadImage("unsupported_array")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def _shortest_edge(im: Image.Image, spec: Preprocess, resample: int) -> Image.Image:
    """torchvision's Resize(shortest edge) then CenterCrop on a Pillow image, call for call.
    (Resizing only the kept box is faster but rounds some pixels differently.)"""
    from torchvision.transforms import functional as F

    out_h, out_w = spec.size
    w, h = im.size
    short = min(out_h, out_w)
    if w <= h:
        new_w, new_h = short, int(short * h / w)
    else:
        new_w, new_h = int(short * w / h), short
    if (new_w, new_h) != im.size:
        im = im.resize((new_w, new_h), resample)
    return F.center_crop(im, [out_h, out_w])


def pixels(value: Any, spec: Preprocess) -> np.ndarray:
    """One image as the tower's uint8 HxWx3 pixels (raises BadImage)."""
    im = open_image(value)
    resample = _RESAMPLE[spec.interpolation]
    try:
        if spec.rgb_first and im.mode != "RGB":
            im = im.convert("RGB")
        if spec.resize == "squash":
            im = im.resize((spec.size[1], spec.size[0]), resample)
        else:
            im = _shortest_edge(im, spec, resample)
        if im.mode != "RGB":
            im = im.convert("RGB")
        return np.asarray(im)
    except BadImage:
        raise
    except Exception:  # truncated data, a bad frame: Pillow fails while decoding
        raise BadImage("undecodable") from None


@cache
def _pool() -> ThreadPoolExecutor:
    from mdfql.threads import process_cpus

    return ThreadPoolExecutor(max(1, min(process_cpus()[0], os.cpu_count() or 1)),
                              thread_name_prefix="mdfql-images")


def batch_pixels(values: Sequence[Any], spec: Preprocess, stage: str
                 ) -> tuple[np.ndarray, list[int]]:
    """The images of a batch as one (n, H, W, 3) uint8 array and the row index of each: rows
    that are NULL are skipped, rows that fail are counted failures of `stage` (by reason)."""
    h, w = spec.size

    def one(i: int) -> tuple[int, np.ndarray | str | None]:
        if values[i] is None:
            return i, None
        try:
            return i, pixels(values[i], spec)
        except BadImage as e:
            return i, str(e)

    done = list(_pool().map(one, range(len(values)))) if len(values) > 1 else \
        [one(i) for i in range(len(values))]
    rows = [i for i, p in done if isinstance(p, np.ndarray)]
    out = np.empty((len(rows), h, w, 3), np.uint8)
    k = 0
    for i, p in done:
        if isinstance(p, str):
            record_failure(stage, f"row {i}", p)
        elif p is not None:
            out[k] = p
            k += 1
    return out, rows


def normalize(batch: np.ndarray, spec: Preprocess, device: str, dtype: Any) -> Any:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) model input: ToTensor's x / 255 then Normalize's
    (x - mean) / std in float32 (as torchvision does them), then cast to the model's dtype."""
    import torch

    x = torch.from_numpy(batch).to(device, non_blocking=True).permute(0, 3, 1, 2)
    x = x.to(torch.float32).div(255)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return x.sub(mean).div(std).to(dtype).contiguous()
