"""Small scoring heads over image embeddings, each a fixed architecture whose weights come
from a file (a PyTorch state dict `.pt`/`.pth`/`.bin`, or `.safetensors`).

Every head L2-normalises its input first (as LAION's code does before its predictors), so it
takes `clip_embed(...)` output or raw tower features alike. Layers are an `nn.Sequential`
named `layers`, so the keys of a state dict are `layers.<index>.weight` / `.bias` (a leading
`module.` or no `layers.` prefix is accepted too):

- aesthetic (LAION aesthetic predictor v2, `sac+logos+ava1-l14-linearMSE.pth` loads as is):
  Linear(D, 1024), Dropout(0.2), Linear(1024, 128), Dropout(0.2), Linear(128, 64),
  Dropout(0.1), Linear(64, 16), Linear(16, 1); no activations; a score of about 1..10.
- nsfw (LAION CLIP-based NSFW detector, ViT-L/14): Linear(D, 64), ReLU, Linear(64, 512), ReLU,
  Linear(512, 256), ReLU, Linear(256, 1), sigmoid. LAION ships it as a Keras model: convert
  its Dense kernels (transposed) into these keys; its input Normalization layer, when kept,
  goes in the optional `norm.mean` / `norm.var` entries (x - mean) / sqrt(var).
- watermark, aigc (mdfql's choice, no canonical LAION head): Linear(D, 256), ReLU,
  Dropout(0.1), Linear(256, 1), sigmoid: a probability. Real weights must be supplied (trained
  on the embeddings of the same CLIP model); there are no default weights.
D, the embedding width, is read from the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mdfql.models.cache import ModelCache
from mdfql.models.weights import MissingWeights, weights_file


@dataclass(frozen=True)
class HeadArch:
    """Layers after the input ('linear:N', 'relu', 'dropout:p') and the output function."""

    layers: tuple[str, ...]
    output: str  # 'identity' or 'sigmoid'


HEADS: dict[str, HeadArch] = {
    "aesthetic": HeadArch(("linear:1024", "dropout:0.2", "linear:128", "dropout:0.2",
                           "linear:64", "dropout:0.1", "linear:16", "linear:1"), "identity"),
    "nsfw": HeadArch(("linear:64", "relu", "linear:512", "relu", "linear:256", "relu",
                      "linear:1"), "sigmoid"),
    "watermark": HeadArch(("linear:256", "relu", "dropout:0.1", "linear:1"), "sigmoid"),
    "aigc": HeadArch(("linear:256", "relu", "dropout:0.1", "linear:1"), "sigmoid"),
}


def build(arch: HeadArch, width: int) -> Any:
    """An untrained head of `arch` over `width`-wide embeddings (a torch module)."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    width_in = width
    for layer in arch.layers:
        kind, _, arg = layer.partition(":")
        if kind == "linear":
            layers.append(nn.Linear(width_in, int(arg)))
            width_in = int(arg)
        elif kind == "relu":
            layers.append(nn.ReLU())
        else:
            layers.append(nn.Dropout(float(arg)))
    module = nn.Module()
    module.layers = nn.Sequential(*layers)
    module.register_buffer("norm_mean", torch.zeros(width))
    module.register_buffer("norm_var", torch.ones(width))
    return module


def _state_dict(path: Path) -> dict[str, Any]:
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key in ("norm.mean", "norm.var"):
            out[key.replace(".", "_")] = value
        else:
            out[key if key.startswith("layers.") else f"layers.{key}"] = value
    return out


@dataclass
class Head:
    """A loaded head, on the CPU (a few hundred kFLOPs a row)."""

    name: str
    module: Any
    output: str
    width: int

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """One float32 score per row of (n, width) embeddings."""
        import torch

        if embeddings.shape[1] != self.width:
            raise ValueError(f"{self.name}_score: its weights take {self.width}-wide "
                             f"embeddings, got {embeddings.shape[1]}-wide ones (use the CLIP "
                             "model the head was trained on)")
        x = torch.nn.functional.normalize(torch.tensor(embeddings, dtype=torch.float32), dim=-1)
        with torch.inference_mode():
            x = (x - self.module.norm_mean) / self.module.norm_var.sqrt()
            y = self.module.layers(x)[:, 0]
            y = torch.sigmoid(y) if self.output == "sigmoid" else y
        return y.numpy().astype(np.float32)


def load_head(name: str, weights: str, cache_dir: str | None = None) -> Head:
    """Head `name` with `weights` (a local file or a hub file ORG/REPO/FILE), once per
    process."""
    return CACHE.get((name, weights, cache_dir))


def _load(name: str, weights: str, cache_dir: str | None) -> Head:
    what = f"{name}_score"
    path = weights_file(weights, what, cache_dir)
    try:
        state = _state_dict(path)
        first = state["layers.0.weight"]
    except Exception as e:
        raise MissingWeights(f"{what}: cannot read head weights from {path} "
                             f"({type(e).__name__}: {e})", hint=None) from None
    arch = HEADS[name]
    module = build(arch, int(first.shape[1]))
    missing = {"norm_mean", "norm_var"}
    try:
        result = module.load_state_dict(state, strict=False)
        wrong = [k for k in result.missing_keys if k not in missing] + result.unexpected_keys
        if wrong:
            raise RuntimeError("keys " + ", ".join(wrong[:6]))
    except RuntimeError as e:
        raise MissingWeights(f"{what}: the weights in {path} do not fit its architecture "
                             f"({str(e).splitlines()[0][:300]})",
                             hint="see `mdfql functions` for the layers it expects") from None
    return Head(name, module.eval(), arch.output, int(first.shape[1]))


CACHE: ModelCache[tuple[str, str, str | None], Head] = ModelCache(lambda key: _load(*key))
