"""open_clip models, loaded once per process and configuration (the image and text functions
of one model share it), with the counters tests read to see how many forward passes ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mdfql.models import device as devices
from mdfql.models.cache import ModelCache
from mdfql.models.images import Preprocess, batch_pixels, normalize
from mdfql.models.weights import MissingWeights, hub_failure, local_path, looks_local

RANDOM = "random"  # pretrained := 'random': randomly initialised weights (tests, benchmarks)


@dataclass(frozen=True)
class ClipKey:
    """What identifies a loaded model: architecture, weights, cache, device and precision."""

    model: str
    pretrained: str | None
    cache_dir: str | None = None
    device: str = "auto"
    precision: str = "auto"


@dataclass
class Clip:
    """A loaded open_clip model with its tokenizer and preprocessing."""

    model: Any
    tokenizer: Any
    preprocess: Preprocess | None  # None: a transform `images` does not cover (open_clip's)
    transform: Any
    device: str
    dtype: Any
    image_batches: int = 0
    image_rows: int = 0
    text_batches: int = 0
    text_rows: int = 0

    def embed_images(self, values: Sequence[Any], stage: str) -> tuple[np.ndarray, list[int]]:
        """L2-normalised image embeddings (float32) of the rows that decode, and their rows."""
        import torch

        if self.preprocess is not None:
            batch, rows = batch_pixels(values, self.preprocess, stage)
            if not rows:
                return np.empty((0, 0), np.float32), rows
            x = normalize(batch, self.preprocess, self.device, self.dtype)
        else:
            x, rows = self._transformed(values, stage)
            if not rows:
                return np.empty((0, 0), np.float32), rows
        with torch.inference_mode():
            features = self.model.encode_image(x)
        self.image_batches += 1
        self.image_rows += len(rows)
        return _unit(features), rows

    def _transformed(self, values: Sequence[Any], stage: str) -> tuple[Any, list[int]]:
        """open_clip's own per-image transform, for configurations `images` does not cover."""
        import torch

        from mdfql.metrics import record_failure
        from mdfql.models.images import BadImage, open_image

        tensors, rows = [], []
        for i, value in enumerate(values):
            if value is None:
                continue
            try:
                tensors.append(self.transform(open_image(value)))
                rows.append(i)
            except BadImage as e:
                record_failure(stage, f"row {i}", str(e))
            except Exception:
                record_failure(stage, f"row {i}", "undecodable")
        if not rows:
            return None, rows
        return torch.stack(tensors).to(self.device, self.dtype), rows

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """L2-normalised text embeddings (float32), one per text."""
        import torch

        tokens = self.tokenizer(texts).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_text(tokens)
        self.text_batches += 1
        self.text_rows += len(texts)
        return _unit(features)


def _unit(features: Any) -> np.ndarray:
    """Rows scaled to unit length in float32 (also under fp16: the norm is summed in fp32)."""
    import torch

    return torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy()


def load_clip(key: ClipKey) -> Clip:
    """The model for `key`, loaded on first use in this process."""
    return CACHE.get(key)


def loaded() -> dict[ClipKey, Clip]:
    """The models this process has loaded (tests read their counters)."""
    return CACHE.loaded()


def model_name(model: str) -> str:
    """open_clip's name for `model`: a built-in name or schema ('hf-hub:', 'local-dir:') as
    is, a model config JSON file registered under its file name."""
    if model.startswith(("hf-hub:", "local-dir:")) or not looks_local(model):
        return model
    import open_clip

    path = local_path(model, "clip model config")
    open_clip.add_model_config(path)
    return path.stem


def _checkpoint(name: str, pretrained: str | None, cache_dir: str | None
                ) -> tuple[str | None, dict[str, Any]]:
    """The file (or open_clip tag, once its file is in the cache) to load and the options the
    tag implies (its QuickGELU); None: random weights (pretrained := 'random')."""
    import open_clip

    what = f"clip model {name}"
    if pretrained in (None, RANDOM) or name.startswith(("hf-hub:", "local-dir:")):
        return None, {}
    if looks_local(pretrained):
        return str(local_path(pretrained, what)), {}
    tag = open_clip.get_pretrained_cfg(name, pretrained)
    if tag:
        try:
            open_clip.download_pretrained(tag, cache_dir=cache_dir)
        except Exception as e:
            raise hub_failure(what, pretrained, cache_dir, e) from None
        return pretrained, {"force_quick_gelu": bool(tag.get("quick_gelu"))}
    if "/" in pretrained:
        try:
            return open_clip.pretrained.download_pretrained_from_hf(
                pretrained.removeprefix("hf-hub:"), cache_dir=cache_dir), {}
        except Exception as e:
            raise hub_failure(what, pretrained, cache_dir, e) from None
    tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
    raise MissingWeights(f"{what}: pretrained '{pretrained}' is not a file, a hub repo "
                         f"(ORG/REPO) or one of its open_clip tags ({tags})", hint=None)


def _preprocess(cfg: dict[str, Any]) -> Preprocess | None:
    """The batched equivalent of open_clip's eval transform for `cfg`, where there is one."""
    size = cfg["size"] if isinstance(cfg["size"], (tuple, list)) else (cfg["size"],) * 2
    square_shortest = cfg["resize_mode"] == "shortest" and size[0] == size[1]
    if not (square_shortest or cfg["resize_mode"] == "squash") \
            or cfg["interpolation"] not in ("bicubic", "bilinear"):
        return None
    return Preprocess((int(size[0]), int(size[1])), tuple(cfg["mean"]), tuple(cfg["std"]),
                      cfg["interpolation"], cfg["resize_mode"])


def _load(key: ClipKey) -> Clip:
    try:
        import open_clip
    except ImportError:
        raise MissingWeights("clip functions need open_clip and torch",
                             hint="pip install 'mdfql[models]'") from None
    name = model_name(key.model)
    if name not in open_clip.list_models() and not name.startswith(("hf-hub:", "local-dir:")):
        raise MissingWeights(f"unknown clip model '{key.model}'",
                             hint="an open_clip model name (open_clip.list_models()) or a "
                                  "model config JSON file") from None
    checkpoint, options = _checkpoint(name, key.pretrained, key.cache_dir)
    device = devices.pick_device(key.device)
    precision = devices.pick_precision(device, key.precision)
    try:
        model = open_clip.create_model(name, pretrained=checkpoint, cache_dir=key.cache_dir,
                                       device=device, precision=precision, **options)
        tokenizer = open_clip.get_tokenizer(name, cache_dir=key.cache_dir)
    except (FileNotFoundError, OSError) as e:  # a hub config or tokenizer not in the cache
        raise hub_failure(f"clip model {name}", key.model, key.cache_dir, e) from None
    except RuntimeError as e:  # a checkpoint that does not fit the architecture
        first = str(e).strip().splitlines()[0][:300]
        raise MissingWeights(f"clip model {name}: cannot load weights "
                             f"{key.pretrained!r}: {first}", hint=None) from None
    model.eval()
    cfg = dict(model.visual.preprocess_cfg)
    from open_clip.transform import PreprocessCfg, image_transform_v2

    transform = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    return Clip(model, tokenizer, _preprocess(cfg), transform, device,
                devices.torch_dtype(precision))


CACHE: ModelCache[ClipKey, Clip] = ModelCache(_load)
