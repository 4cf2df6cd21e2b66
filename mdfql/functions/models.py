"""Model functions: CLIP and SigLIP embeddings, the CLIP image-text score, scoring heads over
embeddings, NudeNet's body-part detector (nsfw_detect, nudity_score: ONNX) and transformers
text classifiers (`edu_score`, `hf_classify`). Each runs as a stateful Daft class UDF: the
model loads once per worker (on its GPU when it has one, else the CPU), batches go through it
whole, and torch, open_clip, transformers and onnxruntime are imported only there (the
`models` extra), never when mdfql is imported.

A model's forward pass runs once per row however many functions of a query read it:
`clip_embed` and `clip_embed_text` are shared calls (see `mdfql.functions.sharing`) and
`clip_score` is built on them, so `clip_score(image, caption)`, `clip_embed(image)` and
`aesthetic_score(clip_embed(image))` in one query share one image-tower pass; likewise
`nsfw_detect` and `nudity_score` of the same arguments share one detector pass, and
`edu_score(text).score` in WHERE and `edu_score(text).int_score` in SELECT one forward pass."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import daft
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from daft import DataType, Expression

from mdfql.functions.builtins import parse_param
from mdfql.functions.kernels import PIXEL_CAP_DOC, PIXEL_CAP_SETTING
from mdfql.functions.registry import ArgInfo, FunctionSpec, Registry, Resources
from mdfql.functions.sharing import shared
from mdfql.models.device import DEVICES, PRECISIONS, gpu_request
from mdfql.models.text import config_labels
from mdfql.models.weights import check_local, check_transformers_model

EMBEDDING = DataType.list(DataType.float32())
# Rows per model call when batch_size is not given: a GPU wants big batches, a CPU worker
# gains nothing past a few dozen and holds less decoded pixels at once.
GPU_BATCH, CPU_BATCH = 256, 32
# A text classifier's batch holds this many forward passes of batch_size texts: it is sorted
# by token count first, so each pass pads to a length near its own texts'.
SORT_WINDOW = 8
EDU_MODEL = "HuggingFaceFW/fineweb-edu-classifier"
EDU_TYPE = DataType.struct({"score": DataType.float64(), "int_score": DataType.int64()})
EDU_FIELDS = {"score": "the regression output (the classifier's logit), about 0..5",
              "int_score": "round(clamp(score, 0, 5)), Python's round (half to even) as "
                           "the model card computes it; FineWeb-Edu keeps int_score >= 3"}
CLASSIFY_TYPE = DataType.struct({"label": DataType.string(), "score": DataType.float64()})
CLASSIFY_FIELDS = {"label": "the top label (config.id2label), or the label := asked for",
                   "score": "its softmax probability (sigmoid for a multi-label model, the "
                            "raw output for a 1-label regression model)"}

_RUNTIME = (f"device:string{{{'|'.join(DEVICES)}}}='auto' "
            f"precision:string{{{'|'.join(PRECISIONS)}}}='auto' batch_size:integer[1..]=None "
            "cache_dir:string=None")
_CLIP = "model:string='ViT-L-14' pretrained:string='openai' " + _RUNTIME


def _runtime_doc(gpu_precision: str) -> str:
    return (" device := 'auto' (a GPU when the worker has one, else the CPU), 'cpu' or "
            f"'cuda'; precision := 'auto' ({gpu_precision} on a GPU, fp32 on the CPU), "
            "'fp32', 'fp16' or 'bf16'; batch_size: rows per forward pass (256 on a GPU, 32 "
            "on a CPU); cache_dir: the Hugging Face hub cache (default HF_HOME / "
            "HF_HUB_CACHE). Missing weights are an error naming what was looked for.")


_RUNTIME_DOC = _runtime_doc("fp16")
_CLIP_DOC = (" model: an open_clip model name or a model config JSON file (open_clip's "
             "format); pretrained: an open_clip tag ('openai', 'laion2b_s32b_b82k', ...), a "
             "checkpoint file (a state dict), or a hub repo ORG/REPO of open_clip weights; "
             "'random': randomly initialised weights (tests, benchmarks).")

_NUDENET = ("weights:string=None threshold:numeric[0..1]=0.25 nms_threshold:numeric[0..1]=0.45 "
            "size:integer[32..]=320 device:string{auto|cpu|cuda}='auto' "
            "batch_size:integer[1..]=None max_pixels:integer[1..]=None")
_NUDENET_DOC = (" weights: a NudeNet ONNX detector file (default: 320n.onnx inside the "
                "installed nudenet package; none installed is an error at check time); "
                "threshold: the lowest score kept (exclusive); nms_threshold: the IoU above "
                "which a lower-scoring box is dropped (any class); size: the square input "
                "side (320; 640 for NudeNet's 640m.onnx); device := 'auto' (onnxruntime's "
                "CUDA provider when it has one, else the CPU), 'cpu' or 'cuda'; batch_size: "
                "images per run (256 on a GPU, 32 on a CPU). Images as NudeNet reads files: "
                "EXIF orientation applied, boxes in the upright image's pixels. Undecodable "
                "images: NULL and a counted failure. " + PIXEL_CAP_DOC)

# --- the model workers (one instance per worker; `__init__` loads) --------------------------
def _embedding_array(n: int, rows: list[int], emb: np.ndarray) -> pa.Array:
    """A list<float32> column of `n` rows holding `emb[k]` at row `rows[k]`, NULL elsewhere."""
    arrow_type = EMBEDDING.to_arrow_dtype()
    if not rows:
        return pa.nulls(n, arrow_type)
    mask = None
    if len(rows) < n:
        full = np.zeros((n, emb.shape[1]), np.float32)
        full[rows] = emb
        emb, mask = full, np.ones(n, bool)
        mask[rows] = False
    return pa.FixedSizeListArray.from_arrays(
        pa.array(emb.reshape(-1), pa.float32()), emb.shape[1],
        mask=None if mask is None else pa.array(mask)).cast(arrow_type)


def _cells(series: daft.Series) -> list[Any]:
    """A batch's images: bytes, or arrays for a decoded (Daft Image) column."""
    return series.to_pylist()


class ClipImages:
    """open_clip image tower of one configuration."""

    def __init__(self, key: Any, stage: str):
        from mdfql.models.clip import load_clip

        self.clip, self.stage = load_clip(key), stage

    def run(self, images: daft.Series) -> pa.Array:
        values = _cells(images)
        emb, rows = self.clip.embed_images(values, self.stage)
        return _embedding_array(len(values), rows, emb)


class ClipTexts:
    """open_clip text tower of one configuration."""

    def __init__(self, key: Any, stage: str):
        from mdfql.models.clip import load_clip

        self.clip, self.stage = load_clip(key), stage

    def run(self, texts: daft.Series) -> pa.Array:
        values = texts.to_pylist()
        rows = [i for i, t in enumerate(values) if t is not None]
        emb = self.clip.embed_texts([values[i] for i in rows]) if rows else \
            np.empty((0, 0), np.float32)
        return _embedding_array(len(values), rows, emb)


class SiglipImages:
    """SigLIP image tower of one configuration."""

    def __init__(self, key: tuple[str, str | None, str, str], stage: str):
        from mdfql.models.siglip import load_siglip

        self.siglip, self.stage = load_siglip(*key), stage

    def run(self, images: daft.Series) -> pa.Array:
        values = _cells(images)
        emb, rows = self.siglip.embed_images(values, self.stage)
        return _embedding_array(len(values), rows, emb)


def embedding_matrix(arr: pa.Array) -> tuple[np.ndarray, list[int]]:
    """The non-NULL embeddings of a list column as an (n, width) float32 matrix and their rows
    (a row of another width than the first is an error: mixed models)."""
    if pa.types.is_fixed_size_list(arr.type):
        arr = arr.cast(pa.large_list(arr.type.value_type))
    rows = np.flatnonzero(pc.is_valid(arr).to_numpy(zero_copy_only=False)).tolist()
    if not rows:
        return np.empty((0, 0), np.float32), rows
    valid = arr.filter(pc.is_valid(arr))
    lengths = pc.list_value_length(valid).to_numpy()
    if (lengths != lengths[0]).any():
        raise ValueError("embeddings of different widths in one column")
    flat = valid.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(len(rows), int(lengths[0])), rows


class HeadScores:
    """A scoring head over embeddings (CPU: a few small matrix products)."""

    def __init__(self, name: str, weights: str, cache_dir: str | None):
        from mdfql.models.heads import load_head

        self.head = load_head(name, weights, cache_dir)

    def run(self, embedding: daft.Series) -> pa.Array:
        arr = embedding.to_arrow()
        matrix, rows = embedding_matrix(arr)
        out = np.full(len(arr), np.nan, np.float32)
        if rows:
            out[rows] = self.head.score(matrix)
        mask = np.ones(len(arr), bool)
        mask[rows] = False
        return pa.array(out, pa.float32(), mask=mask)


BOX = DataType.struct({"x": DataType.int32(), "y": DataType.int32(), "w": DataType.int32(),
                       "h": DataType.int32()})
DETECTIONS = DataType.list(DataType.struct({"label": DataType.string(),
                                            "score": DataType.float32(), "box": BOX}))


class NudeNetDetections:
    """NudeNet's ONNX detector (onnxruntime): one session per process and configuration."""

    def __init__(self, key: Any, threshold: float, nms_threshold: float, max_pixels: int):
        from mdfql.models.nudenet import load_detector

        self.detector = load_detector(key)
        self.options = (threshold, nms_threshold, max_pixels)

    def run(self, images: daft.Series) -> pa.Array:
        found = self.detector.detect(_cells(images), *self.options, stage="nsfw_detect")
        rows = [None if d is None else
                [{"label": x.label, "score": x.score,
                  "box": dict(zip("xywh", x.box))} for x in d] for d in found]
        return pa.array(rows, DETECTIONS.to_arrow_dtype())


class TextScores:
    """A transformers sequence classifier: edu_score's or hf_classify's struct per text."""

    def __init__(self, key: tuple[str, str | None, str, str], kind: str, label: str | None,
                 batch_size: int):
        from mdfql.models.text import load_classifier
        from mdfql.models.weights import MissingWeights

        self.classifier = load_classifier(*key)
        self.kind, self.batch_size = kind, batch_size
        labels = self.classifier.labels
        if kind == "edu_score" and len(labels) != 1:
            raise MissingWeights(f"edu_score: model {key[0]} has {len(labels)} outputs, not "
                                 "FineWeb-Edu's one regression output (use hf_classify)",
                                 hint=None)
        if label is not None and label not in labels:
            raise MissingWeights(f"hf_classify: model {key[0]} has no label {label!r} (its "
                                 f"labels: {', '.join(labels)})", hint=None)
        self.label = None if label is None else labels.index(label)

    def run(self, texts: daft.Series) -> pa.Array:
        values = texts.to_pylist()
        rows = [i for i, t in enumerate(values) if t is not None]
        logits = self.classifier.logits([values[i] for i in rows], self.batch_size)
        nulls = np.ones(len(values), bool)
        nulls[rows] = False
        if self.kind == "edu_score":
            return _edu_result(len(values), rows, logits[:, 0].astype(np.float64), nulls)
        return self._classified(len(values), rows, logits, nulls)

    def _classified(self, n: int, rows: list[int], logits: np.ndarray, nulls: np.ndarray
                    ) -> pa.Array:
        """{label, score}: the top (or asked-for) label and its probability."""
        x = logits.astype(np.float64)
        problem = self.classifier.problem_type
        if problem == "multi_label_classification":
            probs = 1 / (1 + np.exp(-x))
        elif problem == "regression":
            probs = x
        else:  # softmax, shifted by the row maximum so exp cannot overflow
            e = np.exp(x - x.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        pick = (np.full(len(rows), self.label, np.int64) if self.label is not None
                else probs.argmax(axis=1))
        labels = np.empty(n, object)
        labels[rows] = np.asarray(self.classifier.labels, object)[pick]
        scores = np.zeros(n)
        scores[rows] = probs[np.arange(len(rows)), pick]
        return _struct(CLASSIFY_TYPE, [labels, scores], [nulls, nulls], nulls)


def _edu_result(n: int, rows: list[int], score: np.ndarray, nulls: np.ndarray) -> pa.Array:
    """{score, int_score} with int_score = round(clamp(score, 0, 5)), rounding half to even
    as the model card's Python round does; a NaN score (a numeric failure) has no int_score."""
    scores = np.zeros(n)
    scores[rows] = score
    ints = np.rint(np.clip(np.nan_to_num(scores, nan=0.0), 0, 5)).astype(np.int64)
    return _struct(EDU_TYPE, [scores, ints], [nulls, nulls | np.isnan(scores)], nulls)


def _struct(dtype: DataType, values: list[np.ndarray], masks: list[np.ndarray],
            nulls: np.ndarray) -> pa.Array:
    """A struct column of Daft type `dtype` from its fields' values and NULL masks."""
    fields = list(dtype.to_arrow_dtype())
    return pa.StructArray.from_arrays(
        [pa.array(v, f.type, mask=m) for f, v, m in zip(fields, values, masks)],
        fields=fields, mask=pa.array(nulls))


@functools.cache
def _worker(cls: type, args: tuple[Any, ...], return_dtype: DataType, gpus: float,
            batch_size: int) -> Any:
    """One Daft class instance per configuration, so identical calls are one expression
    (Daft evaluates an expression repeated in a projection once)."""
    method = daft.method.batch(cls.run, return_dtype=return_dtype, batch_size=batch_size)
    wrapped = type(cls.__name__, (cls,), {"run": method, "__module__": cls.__module__})
    # In-process (no UDF subprocess; max_concurrency would start one): torch releases the
    # GIL in its kernels as Pillow does while decoding, and instances in one process share
    # the loaded model (the loaders' per-process cache).
    return daft.cls(wrapped, gpus=gpus, use_process=False)(*args)


def _tower(cls: type, args: tuple[Any, ...], column: Expression, device: str,
           batch_size: int | None) -> Expression:
    gpus = gpu_request(device)
    size = batch_size or (GPU_BATCH if gpus else CPU_BATCH)
    return _worker(cls, args, EMBEDDING, gpus, size).run(column)


def _clip_key(model: str, pretrained: str | None, device: str, precision: str,
              cache_dir: str | None) -> Any:
    from mdfql.models.clip import ClipKey

    return ClipKey(model, pretrained, cache_dir, device, precision)


def clip_embed(image: Expression, model: str, pretrained: str | None, device: str,
               precision: str, batch_size: int | None, cache_dir: str | None) -> Expression:
    key = _clip_key(model, pretrained, device, precision, cache_dir)
    return shared(("clip_embed", repr(image), key, batch_size),
                  lambda: _tower(ClipImages, (key, "clip_embed"), image, device, batch_size))


def clip_embed_text(text: Expression, model: str, pretrained: str | None, device: str,
                    precision: str, batch_size: int | None, cache_dir: str | None
                    ) -> Expression:
    key = _clip_key(model, pretrained, device, precision, cache_dir)
    return shared(("clip_embed_text", repr(text), key, batch_size),
                  lambda: _tower(ClipTexts, (key, "clip_embed_text"), text, device,
                                 batch_size))


@daft.func.batch(return_dtype=DataType.float64())
def _cosine(a: daft.Series, b: daft.Series) -> pa.Array:
    """Row-wise cosine of two embedding columns (NULL where either is NULL)."""
    left, lrows = embedding_matrix(a.to_arrow())
    right, rrows = embedding_matrix(b.to_arrow())
    out = np.full(len(a), np.nan)
    both = sorted(set(lrows) & set(rrows))
    if both:
        li = np.searchsorted(lrows, both)
        ri = np.searchsorted(rrows, both)
        x, y = left[li].astype(np.float64), right[ri].astype(np.float64)
        out[both] = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    mask = np.ones(len(a), bool)
    mask[both] = False
    return pa.array(out, mask=mask)


def clip_score(image: Expression, text: Expression, model: str, pretrained: str | None,
               device: str, precision: str, batch_size: int | None, cache_dir: str | None
               ) -> Expression:
    options = (model, pretrained, device, precision, batch_size, cache_dir)
    return _cosine(clip_embed(image, *options), clip_embed_text(text, *options))


def siglip_embed(image: Expression, model: str, device: str, precision: str,
                 batch_size: int | None, cache_dir: str | None) -> Expression:
    key = (model, cache_dir, device, precision)
    return shared(("siglip_embed", repr(image), key, batch_size),
                  lambda: _tower(SiglipImages, (key, "siglip_embed"), image, device,
                                 batch_size))


def _text_scores(kind: str, text: Expression, key: tuple[str, str | None, str, str],
                 label: str | None, device: str, batch_size: int | None, returns: DataType
                 ) -> Expression:
    gpus = gpu_request(device)
    size = batch_size or (GPU_BATCH if gpus else CPU_BATCH)
    return shared((kind, repr(text), key, label, batch_size),
                  lambda: _worker(TextScores, (key, kind, label, size), returns, gpus,
                                  size * SORT_WINDOW).run(text))


def edu_score(text: Expression, model: str, device: str, precision: str,
              batch_size: int | None, cache_dir: str | None) -> Expression:
    key = (model, cache_dir, device, precision)
    return _text_scores("edu_score", text, key, None, device, batch_size, EDU_TYPE)


def hf_classify(text: Expression, model: str, label: str | None, device: str, precision: str,
                batch_size: int | None, cache_dir: str | None) -> Expression:
    key = (model, cache_dir, device, precision)
    return _text_scores("hf_classify", text, key, label, device, batch_size, CLASSIFY_TYPE)


def _head(name: str) -> Callable[..., Expression]:
    def build(embedding: Expression, weights: str, cache_dir: str | None) -> Expression:
        worker = _worker(HeadScores, (name, weights, cache_dir), DataType.float32(), 0, 1024)
        return worker.run(embedding)

    return build


def _detector_key(weights: str | None, size: int, device: str) -> Any:
    from mdfql.models.nudenet import DetectorKey, bundled_weights

    path = weights if weights is not None else str(bundled_weights())
    return DetectorKey(os.path.abspath(os.path.expanduser(path)), size, device)


def nsfw_detect(image: Expression, weights: str | None, threshold: float,
                nms_threshold: float, size: int, device: str, batch_size: int | None,
                max_pixels: int) -> Expression:
    from mdfql.models.nudenet import cuda_available

    key = _detector_key(weights, size, device)
    # a GPU only where onnxruntime can use one (onnxruntime-gpu), whatever torch sees
    gpus = gpu_request(device) if cuda_available() else 0
    rows = batch_size or (GPU_BATCH if gpus else CPU_BATCH)
    args = (key, threshold, nms_threshold, max_pixels)
    return shared(("nsfw_detect", repr(image), *args, rows),
                  lambda: _worker(NudeNetDetections, args, DETECTIONS, gpus, rows).run(image))


@daft.func.batch(return_dtype=DataType.float32())
def _nudity(detections: daft.Series) -> pa.Array:
    """The best score of a nudity class among each row's detections (0 without one)."""
    from mdfql.models.nudenet import NUDITY

    arr = detections.to_arrow()
    if pa.types.is_large_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    out = np.zeros(len(arr), np.float32)
    parts = pc.list_flatten(arr)
    if len(parts):
        owner = pc.list_parent_indices(arr).to_numpy()
        nude = pc.is_in(parts.field("label"), pa.array(NUDITY)).to_numpy(zero_copy_only=False)
        scores = parts.field("score").to_numpy(zero_copy_only=False)
        np.maximum.at(out, owner[nude], scores[nude])
    return pa.array(out, mask=pc.is_null(arr).to_numpy(zero_copy_only=False))


def nudity_score(image: Expression, **options: Any) -> Expression:
    return _nudity(nsfw_detect(image, **options))


# --- plan-time checks -----------------------------------------------------------------------
def _check_clip(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
    check_local(options["model"], "clip model config")
    check_local(options["pretrained"], "clip weights")
    check_local(options["cache_dir"], "cache_dir")


def _check_siglip(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
    check_local(options["model"], "siglip model")
    check_local(options["cache_dir"], "cache_dir")


def _check_text(kind: str) -> Callable[[dict[str, Any], dict[str, ArgInfo]], None]:
    def check(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
        check_local(options["cache_dir"], "cache_dir")
        model = options["model"]
        config = check_transformers_model(model, f"{kind} model", options["cache_dir"])
        if config is None:  # on the hub, not cached: the workers check it when it loads
            return
        labels = config_labels(config)
        if kind == "edu_score" and len(labels) != 1:
            raise ValueError(f"model {model} has {len(labels)} outputs, not FineWeb-Edu's one "
                             "regression output (use hf_classify)")
        label = options.get("label")
        if label is not None and label not in labels:
            raise ValueError(f"model {model} has no label {label!r} (its labels: "
                             f"{', '.join(labels)})")

    return check


def _check_head(name: str, source: str) -> Callable[[dict[str, Any], dict[str, ArgInfo]], None]:
    def check(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
        if options["weights"] is None:
            raise ValueError(f"needs weights := 'a local file or ORG/REPO/FILE on the hub' "
                             f"({source})")
        check_local(options["weights"], f"{name}_score weights")
        check_local(options["cache_dir"], "cache_dir")

    return check


def _check_nudenet(options: dict[str, Any], args: dict[str, ArgInfo]) -> None:
    from mdfql.models.nudenet import bundled_weights

    if importlib.util.find_spec("onnxruntime") is None:
        raise ValueError("needs onnxruntime: pip install 'mdfql[models]'")
    if options["weights"] is None and bundled_weights() is None:
        raise ValueError("needs weights := '/path/to/320n.onnx' (NudeNet's detector), or the "
                         "nudenet package, whose wheel ships it: pip install nudenet")
    check_local(options["weights"], "nsfw_detect weights")
    if options["size"] % 32:
        raise ValueError(f"size must be a multiple of 32 (the detector's stride), got "
                         f"{options['size']}")


# --- declarations ---------------------------------------------------------------------------
def _spec(name: str, params: str, build: Callable[..., Expression], returns: DataType,
          doc: str, validate: Callable[[dict[str, Any], dict[str, ArgInfo]], None],
          gpus: float | None = None, settings: dict[str, str] | None = None,
          fields: dict[str, str] | None = None) -> FunctionSpec:
    # No static GPU request: each call asks for one (gpu_request) only where the worker or
    # the Ray cluster has GPUs, so a CPU-only cluster runs the models on CPUs instead of
    # failing check_cluster's up-front resource check.
    return FunctionSpec(name=name, params=tuple(parse_param(p) for p in params.split()),
                        build=build, doc=doc, returns=str(returns), runs_as="class",
                        resources=Resources(gpus=gpus), dtype=returns, validate=validate,
                        settings=settings or {}, fields=dict(fields or {}))


_HEAD_SOURCES = {
    "aesthetic": ("LAION aesthetic predictor v2: the MLP 768 -> 1024 -> 128 -> 64 -> 16 -> 1 "
                  "with dropouts and no activations over L2-normalised CLIP ViT-L/14 image "
                  "embeddings, about 1..10 (higher: more aesthetic); LAION's "
                  "sac+logos+ava1-l14-linearMSE.pth loads as is",
                  "sac+logos+ava1-l14-linearMSE.pth"),
    "nsfw": ("LAION's CLIP-based NSFW detector: MLP 768 -> 64 -> 512 -> 256 -> 1 (ReLU), "
             "sigmoid: the probability the image is NSFW (LAION drops >= 0.5); its Keras "
             "weights converted to a state dict (see mdfql/models/heads.py)",
             "LAION CLIP-based-NSFW-Detector, converted"),
    "watermark": ("Watermark probability: MLP D -> 256 (ReLU, dropout 0.1) -> 1, sigmoid, over "
                  "L2-normalised image embeddings. mdfql's architecture: real weights (trained "
                  "on the same CLIP model's embeddings) must be supplied", "trained weights"),
    "aigc": ("AI-generated-image probability: MLP D -> 256 (ReLU, dropout 0.1) -> 1, sigmoid, "
             "over L2-normalised image embeddings. mdfql's architecture: real weights (trained "
             "on the same CLIP model's embeddings) must be supplied", "trained weights"),
}


def register(registry: Registry) -> None:
    """Add the model functions to `registry`."""
    registry.add(_spec(
        "clip_embed", "image:image " + _CLIP, clip_embed, EMBEDDING,
        "CLIP image embedding (open_clip), L2-normalised, float32: image bytes (any format "
        "Pillow reads) or a decoded image column; undecodable images are NULL and counted "
        "failures. Preprocessing equals open_clip's eval transform." + _CLIP_DOC
        + _RUNTIME_DOC, _check_clip))
    registry.add(_spec(
        "clip_embed_text", "text:string " + _CLIP, clip_embed_text, EMBEDDING,
        "CLIP text embedding (open_clip's tokenizer and text tower), L2-normalised, float32."
        + _CLIP_DOC + _RUNTIME_DOC, _check_clip))
    registry.add(_spec(
        "clip_score", "image:image text:string " + _CLIP, clip_score, DataType.float64(),
        "Cosine similarity of the CLIP image and text embeddings (LAION-5B keeps >= 0.28 with "
        "ViT-B/32; DataComp ranks by it with ViT-L/14). Shares the towers' passes with "
        "clip_embed / clip_embed_text of the same arguments in the query." + _CLIP_DOC
        + _RUNTIME_DOC, _check_clip))
    registry.add(_spec(
        "siglip_embed", "image:image model:string='google/siglip-so400m-patch14-384' "
        + _RUNTIME, siglip_embed, EMBEDDING,
        "SigLIP image embedding (transformers' SiglipVisionModel pooled output), "
        "L2-normalised, float32. model: a hub id or a save_pretrained folder; preprocessing "
        "from its preprocessor_config.json (convert RGB, resize, rescale, normalise)."
        + _RUNTIME_DOC, _check_siglip))
    registry.add(_spec(
        "nsfw_detect", "image:image " + _NUDENET, nsfw_detect, DETECTIONS,
        "NudeNet's body-part detector (YOLOv8, ONNX, run by onnxruntime): a list of "
        "{label, score, box {x, y, w, h}} per image, best score first, equal to "
        "nudenet.NudeDetector().detect(path) (same labels, scores, whole-pixel boxes). Labels: "
        "FACE_FEMALE, FACE_MALE and, each _EXPOSED or _COVERED, FEMALE_BREAST, "
        "FEMALE_GENITALIA, BUTTOCKS, ANUS, FEET, BELLY, ARMPITS (MALE_BREAST and "
        "MALE_GENITALIA only _EXPOSED); an empty list when nothing scores above threshold."
        + _NUDENET_DOC, _check_nudenet, settings=PIXEL_CAP_SETTING))
    registry.add(_spec(
        "nudity_score", "image:image " + _NUDENET, nudity_score, DataType.float32(),
        "The best nsfw_detect score of an exposed-nudity class (FEMALE_BREAST_EXPOSED, "
        "FEMALE_GENITALIA_EXPOSED, MALE_GENITALIA_EXPOSED, BUTTOCKS_EXPOSED, ANUS_EXPOSED; "
        "not exposed belly, feet, armpits or male chest), 0 when the image has none above "
        "threshold. Shares one detector pass with nsfw_detect of the same arguments in the "
        "query." + _NUDENET_DOC, _check_nudenet, settings=PIXEL_CAP_SETTING))
    for name, (doc, source) in _HEAD_SOURCES.items():
        registry.add(_spec(
            f"{name}_score", "embedding:list weights:string=None cache_dir:string=None",
            _head(name), DataType.float32(),
            doc + ". weights: a state dict file (.pt/.pth/.bin/.safetensors) or a hub file "
            "ORG/REPO/FILE; NULL rows stay NULL.", _check_head(name, source), gpus=None))
    registry.add(_spec(
        "edu_score", f"text:string model:string='{EDU_MODEL}' " + _RUNTIME, edu_score,
        EDU_TYPE,
        "FineWeb-Edu's educational-value classifier: {score, int_score}, int_score = "
        "round(clamp(score, 0, 5)) (FineWeb-Edu keeps int_score >= 3). Follows the model "
        "card: the tokenizer's truncation to its model_max_length (512) and padding to the "
        "longest text of each forward pass (texts sorted by token count first), "
        "logits.squeeze(-1); NULL text gives NULL. model: a hub id or a save_pretrained "
        "folder of a 1-output AutoModelForSequenceClassification." + _runtime_doc("bf16"),
        _check_text("edu_score"), fields=EDU_FIELDS))
    registry.add(_spec(
        "hf_classify", "text:string model:string! label:string=None " + _RUNTIME,
        hf_classify, CLASSIFY_TYPE,
        "Any transformers sequence classifier (AutoModelForSequenceClassification): {label, "
        "score}, the top label of config.id2label and its softmax probability (sigmoid per "
        "label for a multi_label_classification model; the raw output for a 1-output "
        "regression model). label := 'NAME': that label's score instead of the top one "
        "(a threshold on one class). Tokenized and batched as edu_score; NULL text gives "
        "NULL. model: a hub id or a save_pretrained folder." + _runtime_doc("bf16"),
        _check_text("hf_classify"), fields=CLASSIFY_FIELDS))
