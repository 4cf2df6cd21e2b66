"""NudeNet's exposed/covered body-part detector (a YOLOv8 ONNX model, `320n.onnx` in the
`nudenet` wheel), run by onnxruntime with mdfql's own pre- and postprocessing.

Results equal `nudenet.NudeDetector().detect(path)`: the same input tensor bit for bit and the
same decoding of the output. What NudeNet does, restated:

- input: the image as RGB pixels (EXIF orientation applied, as OpenCV's imread does), padded
  with black on the right and bottom to a square of its longest side, resized to size x size
  with OpenCV's INTER_LINEAR (its 8-bit fixed-point arithmetic, reproduced in `_resize`), in
  B, G, R channel order (NudeNet's two channel swaps), as float32 x * float32(1 / 255), NCHW;
- output: (batch, 4 + 18, anchors): centre x, centre y, width, height in input pixels, then a
  score per class. An anchor's class is its best-scoring one; anchors scoring above the
  threshold become boxes scaled back by side / size and clipped to the image as NudeNet clips
  them (x and y into the image, then w, h cut at the right and bottom edges); class-agnostic
  greedy NMS (IoU > 0.45 with a kept, higher-scoring box suppresses, ties in anchor order, as
  OpenCV's NMSBoxes); boxes truncated to whole pixels.

The session loads once per process and configuration (`load_detector`); `loaded()` exposes the
counters tests read.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mdfql.metrics import record_failure
from mdfql.models.cache import ModelCache
from mdfql.models.weights import MissingWeights, local_path

# The model's classes, in its output order (NudeNet's label list).
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
    "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
    "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
# The exposed classes that make an image nude (nudity_score): not the exposed belly, feet,
# armpits or male chest NudeNet also detects.
NUDITY = ("FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED",
          "BUTTOCKS_EXPOSED", "ANUS_EXPOSED")
DEFAULT_FILE = "320n.onnx"
_SCALE = np.float32(1 / 255)
# OpenCV's INTER_LINEAR weights for 8-bit images are integers summing to 2^11.
_COEF_SCALE = np.float32(2048)


def bundled_weights() -> Path | None:
    """NudeNet's own detector inside the installed `nudenet` package (found without importing
    it: that would import OpenCV), or None when it is not installed."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_FILE
    return path if path.is_file() else None


class BadImage(Exception):
    """An image that cannot be detected on; its text is the failure reason."""


def open_image(value: Any, max_pixels: int) -> Any:
    """A Pillow image, upright, from encoded bytes (refused above `max_pixels` before the
    pixels are decoded) or a decoded HxW[xC] uint8 array (Daft's Image)."""
    from PIL import Image, ImageOps

    if not isinstance(value, (bytes, bytearray, memoryview)):
        from mdfql.models.images import BadImage as ArrayProblem
        from mdfql.models.images import open_image as from_array

        try:
            return from_array(value)
        except ArrayProblem as e:
            raise BadImage(str(e)) from None
    if len(value) == 0:
        raise BadImage("empty")
    try:
        im = Image.open(io.BytesIO(value))
    except Image.DecompressionBombError:
        raise BadImage("too many pixels") from None
    except Exception:
        raise BadImage("undecodable") from None
    if im.width * im.height > max_pixels:
        raise BadImage("too many pixels")
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # truncated data, a bad frame: Pillow fails while decoding
        raise BadImage("undecodable") from None


def _taps(src: int, dst: int, clamp_edges: bool) -> tuple[np.ndarray, ...]:
    """OpenCV's INTER_LINEAR source indices and 11-bit weights for one axis: the source
    position (d + 0.5) * src / dst - 0.5 in float32, its floor and fraction, each weight
    rounded (half to even) from float32. Horizontally OpenCV clamps a position outside the
    image to the edge pixel with weights (1, 0); vertically it keeps the fraction and clamps
    only the row indices."""
    pos = ((np.arange(dst) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = (pos - first).astype(np.float32)
    if clamp_edges:
        outside = (first < 0) | (first >= src - 1)
        frac[outside] = 0
        first = np.clip(first, 0, src - 1)
    w0 = np.rint((np.float32(1) - frac) * _COEF_SCALE).astype(np.int32)
    w1 = np.rint(frac * _COEF_SCALE).astype(np.int32)
    return np.clip(first, 0, src - 1), np.clip(first + 1, 0, src - 1), w0, w1


def _resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image padded with black to a square of its longest side (right, bottom), resized
    to size x size exactly as OpenCV's 8-bit INTER_LINEAR does on x86 (its vector path:
    horizontal sums of pixel x weight, then each row >> 4, times its weight, >> 16, the two
    added, rounded >> 2). Only the rows and columns the resize reads are gathered: the padded
    square itself is never built."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    if side == size:  # NudeNet (cv2.dnn.blobFromImage) does not resize then
        out = np.zeros((size, size, 3), np.uint8)
        out[:h, :w] = rgb
        return out
    x0, x1, a0, a1 = _taps(side, size, clamp_edges=True)
    y0, y1, b0, b1 = _taps(side, size, clamp_edges=False)

    def rows(ys: np.ndarray) -> np.ndarray:
        """Horizontally resized rows `ys` of the padded square (int32 sums)."""
        picked = rgb[np.minimum(ys, h - 1)].astype(np.int32)
        picked[ys >= h] = 0

        def cols(xs: np.ndarray) -> np.ndarray:
            part = picked[:, np.minimum(xs, w - 1)]
            part[:, xs >= w] = 0
            return part

        return cols(x0) * a0[None, :, None] + cols(x1) * a1[None, :, None]

    top = ((rows(y0) >> 4) * b0[:, None, None]) >> 16
    bottom = ((rows(y1) >> 4) * b1[:, None, None]) >> 16
    return np.clip((top + bottom + 2) >> 2, 0, 255).astype(np.uint8)


def model_input(im: Any, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as the detector's (3, size, size) float32 input and its (width, height)."""
    try:
        rgb = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except Exception:
        raise BadImage("undecodable") from None
    square = _resize(rgb, size)
    bgr = square[:, :, ::-1].transpose(2, 0, 1)
    return bgr.astype(np.float32) * _SCALE, (rgb.shape[1], rgb.shape[0])


@dataclass(frozen=True)
class Detection:
    """One detected part: its class, score and box in the image's pixels."""

    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, w, h


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x, y, w, h) box with each of `others` (OpenCV's
    rectangle overlap: no +1 pixel; two empty boxes overlap fully)."""
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2])
    bottom = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3])
    inter = np.where((right > left) & (bottom > top), (right - left) * (bottom - top), 0.0)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    eps = np.finfo(np.float64).eps
    return np.where(union > eps, inter / np.maximum(union, eps), 1.0)


def decode(output: np.ndarray, width: int, height: int, size: int, threshold: float,
           nms_threshold: float) -> list[Detection]:
    """One image's detections from its (4 + classes, anchors) output."""
    anchors = output.T
    scores = anchors[:, 4:]
    best = scores.max(axis=1)
    keep = np.flatnonzero(best > threshold)
    if keep.size == 0:
        return []
    classes = scores[keep].argmax(axis=1)
    best = best[keep]
    cx, cy, w, h = (anchors[keep, i] for i in range(4))
    # in float32 and in NudeNet's order, so the truncated pixels are its pixels
    side = max(width, height)
    x = (cx - w / 2) * side / size
    y = (cy - h / 2) * side / size
    w = w * side / size
    h = h * side / size
    x = np.clip(x, 0, width)
    y = np.clip(y, 0, height)
    w = np.minimum(w, np.float32(width) - x)
    h = np.minimum(h, np.float32(height) - y)
    boxes = np.stack([x, y, w, h], axis=1).astype(np.float64)
    order = np.argsort(-best, kind="stable")
    kept: list[int] = []
    for i in order:
        if not kept or (_iou(boxes[i], boxes[kept]) <= nms_threshold).all():
            kept.append(int(i))
    return [Detection(LABELS[classes[i]], float(best[i]),
                      tuple(int(v) for v in boxes[i])) for i in kept]


@dataclass(frozen=True)
class DetectorKey:
    """What identifies a loaded detector: its ONNX file (absolute), input size and device."""

    weights: str
    size: int = 320
    device: str = "auto"


def providers(device: str) -> list[str]:
    """onnxruntime execution providers for `device := ...`: CUDA when asked for or, for
    'auto', when this onnxruntime build has it (onnxruntime-gpu), else the CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError("device := 'cuda' but onnxruntime has no CUDA provider here "
                           "(pip install onnxruntime-gpu, or device := 'auto')")
    if device != "cpu" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def cuda_available() -> bool:
    """Whether onnxruntime here can run on a GPU (the plan asks for one only then)."""
    try:
        import onnxruntime
    except ImportError:
        return False
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@dataclass
class Detector:
    """A loaded ONNX session with its input name and the counters tests read."""

    session: Any
    input_name: str
    size: int
    batches: int = 0
    rows: int = 0

    def detect(self, values: Sequence[Any], threshold: float, nms_threshold: float,
               max_pixels: int, stage: str) -> list[list[Detection] | None]:
        """Each row's detections; None for NULL rows and for rows that fail (counted
        failures of `stage`, by reason)."""
        from mdfql.models.images import _pool

        def prepare(i: int) -> tuple[np.ndarray, tuple[int, int]] | str | None:
            if values[i] is None:
                return None
            try:
                return model_input(open_image(values[i], max_pixels), self.size)
            except BadImage as e:
                return str(e)

        # Pillow's decoding and numpy's gathers release the GIL: one thread per CPU
        prepared = list(_pool().map(prepare, range(len(values)))) if len(values) > 1 else \
            [prepare(i) for i in range(len(values))]
        out: list[list[Detection] | None] = [None] * len(values)
        rows = [i for i, p in enumerate(prepared) if isinstance(p, tuple)]
        for i, p in enumerate(prepared):
            if isinstance(p, str):
                record_failure(stage, f"row {i}", p)
        if not rows:
            return out
        batch = np.stack([prepared[i][0] for i in rows])
        (output,) = self.session.run(None, {self.input_name: batch})
        self.batches += 1
        self.rows += len(rows)
        for k, i in enumerate(rows):
            width, height = prepared[i][1]
            out[i] = decode(output[k], width, height, self.size, threshold, nms_threshold)
        return out


def load_detector(key: DetectorKey) -> Detector:
    """The detector for `key`, loaded on first use in this process."""
    return CACHE.get(key)


def loaded() -> dict[DetectorKey, Detector]:
    """The detectors this process has loaded (tests read their counters)."""
    return CACHE.loaded()


def _load(key: DetectorKey) -> Detector:
    try:
        import onnxruntime
    except ImportError:
        raise MissingWeights("nsfw_detect needs onnxruntime",
                             hint="pip install 'mdfql[models]'") from None
    from mdfql import threads

    path = local_path(key.weights, "nsfw_detect weights")
    options = onnxruntime.SessionOptions()
    # the worker's CPUs (SET threads, MDFQL_THREADS, Ray's grant), not the whole machine
    options.intra_op_num_threads = threads.decide()[0]
    options.inter_op_num_threads = 1
    chosen = providers(key.device)
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=chosen)
    except Exception as e:  # not an ONNX file, a corrupt one
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise MissingWeights(f"nsfw_detect weights {path}: cannot load: {first}",
                             hint=None) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    width = outputs[0].shape[1] if len(outputs[0].shape) == 3 else None
    if len(inputs) != 1 or (isinstance(width, int) and width != 4 + len(LABELS)):
        raise MissingWeights(f"nsfw_detect weights {path}: not NudeNet's detector (one image "
                             f"input, 4 + {len(LABELS)} outputs per anchor)", hint=None)
    return Detector(session, inputs[0].name, key.size)


CACHE: ModelCache[DetectorKey, Detector] = ModelCache(_load)
