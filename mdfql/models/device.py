"""Device and precision of a model, chosen when it loads (on the worker that runs it), and the
GPU request a model function makes at plan time."""

from __future__ import annotations

import sys
from typing import Any

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def pick_device(requested: str) -> str:
    """'auto': the first GPU when this worker has one, else the CPU; 'cuda' without a GPU
    is an error rather than a silent slowdown."""
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise RuntimeError("device := 'cuda' but this worker sees no GPU "
                           "(use device := 'auto' to fall back to the CPU)")
    return "cpu"


def pick_precision(device: str, precision: str, gpu: str = "fp16") -> str:
    """'auto': `gpu` on a GPU (tensor cores: fp16 for the image towers, bf16 for the text
    classifiers, as FineWeb-Edu ran its classifier), fp32 on the CPU (exact results)."""
    if precision == "auto":
        return gpu if device == "cuda" else "fp32"
    return precision


def torch_dtype(precision: str) -> Any:
    """The torch dtype of 'fp32', 'fp16' or 'bf16'."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def visible_gpus() -> int:
    """GPUs the plan may request per model worker: Ray's cluster GPUs when Ray runs here, else
    this machine's (a request no node can satisfy would hang a Ray run, see notes/daft.md)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return int(ray.cluster_resources().get("GPU", 0))
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


def gpu_request(device: str) -> float:
    """The `gpus` resource hint of a model worker for `device := ...`."""
    if device == "cpu":
        return 0
    return 1 if device == "cuda" or visible_gpus() > 0 else 0
