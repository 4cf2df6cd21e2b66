"""SigLIP image towers through transformers, loaded once per process and configuration."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mdfql.models import device as devices
from mdfql.models.cache import ModelCache
from mdfql.models.images import Preprocess, batch_pixels, normalize
from mdfql.models.weights import MissingWeights, hub_failure, local_path, looks_local

# transformers' resample codes (PIL's) -> the names `images` knows
_RESAMPLE = {2: "bilinear", 3: "bicubic"}


@dataclass
class Siglip:
    """A loaded SigLIP vision tower and its preprocessing."""

    model: Any
    preprocess: Preprocess
    device: str
    dtype: Any
    image_batches: int = 0
    image_rows: int = 0

    def embed_images(self, values: Sequence[Any], stage: str) -> tuple[np.ndarray, list[int]]:
        """L2-normalised pooled image embeddings (float32) of the rows that decode."""
        import torch

        batch, rows = batch_pixels(values, self.preprocess, stage)
        if not rows:
            return np.empty((0, 0), np.float32), rows
        x = normalize(batch, self.preprocess, self.device, self.dtype)
        with torch.inference_mode():
            pooled = self.model(pixel_values=x).pooler_output
        self.image_batches += 1
        self.image_rows += len(rows)
        return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy(), rows


def processor_config(source: str, cache_dir: str | None, image_size: int) -> Preprocess:
    """The preprocessing in the model's `preprocessor_config.json` (SigLIP's defaults where
    it has none): convert to RGB, resize to a fixed size, rescale, normalise."""
    cfg: dict[str, Any] = {}
    try:
        if looks_local(source):
            path = local_path(source, "siglip model") / "preprocessor_config.json"
            cfg = json.loads(path.read_text()) if path.exists() else {}
        else:
            from huggingface_hub import hf_hub_download
            cfg = json.loads(open(hf_hub_download(source, "preprocessor_config.json",
                                                  cache_dir=cache_dir)).read())
    except MissingWeights:
        raise
    except Exception:  # no processor file: the defaults below
        cfg = {}
    size = cfg.get("size") or {}
    interpolation = _RESAMPLE.get(int(cfg.get("resample", 3)))
    if interpolation is None or cfg.get("do_rescale") is False \
            or cfg.get("do_normalize") is False:
        raise MissingWeights(f"siglip model {source}: preprocessing {cfg} is not supported "
                             "(bicubic or bilinear resize, rescale and normalise)", hint=None)
    return Preprocess((int(size.get("height", image_size)), int(size.get("width", image_size))),
                      tuple(cfg.get("image_mean", (0.5, 0.5, 0.5))),
                      tuple(cfg.get("image_std", (0.5, 0.5, 0.5))),
                      interpolation, "squash", rgb_first=True)


def load_siglip(model: str, cache_dir: str | None, device: str, precision: str) -> Siglip:
    """The SigLIP tower `model` (a hub id or a `save_pretrained` folder), once per process."""
    return CACHE.get((model, cache_dir, device, precision))


def loaded() -> dict[tuple[str, str | None, str, str], Siglip]:
    """The towers this process has loaded (tests read their counters)."""
    return CACHE.loaded()


def _load(model: str, cache_dir: str | None, device: str, precision: str) -> Siglip:
    try:
        from transformers import SiglipVisionModel
    except ImportError:
        raise MissingWeights("siglip_embed needs transformers and torch",
                             hint="pip install 'mdfql[models]'") from None
    source = str(local_path(model, "siglip model")) if looks_local(model) else model
    where = devices.pick_device(device)
    chosen = devices.pick_precision(where, precision)
    dtype = devices.torch_dtype(chosen)
    try:
        tower = SiglipVisionModel.from_pretrained(source, cache_dir=cache_dir, dtype=dtype,
                                                  local_files_only=looks_local(model))
    except OSError as e:  # not in the cache and not downloadable
        raise hub_failure("siglip model", model, cache_dir, e) from None
    spec = processor_config(source, cache_dir, int(tower.config.image_size))
    return Siglip(tower.to(where).eval(), spec, where, dtype)


CACHE: ModelCache[tuple[str, str | None, str, str], Siglip] = ModelCache(lambda key: _load(*key))
