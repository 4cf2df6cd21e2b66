"""clip_embed throughput on one GPU: ViT-L/14, fp16, including JPEG decode and preprocessing.

Self-contained: generates its own JPEGs (crops of scikit-image's photos, ~640x450, quality 85)
and uses randomly initialised ViT-L/14 weights (pretrained := 'random': no download; speed is
the same as with real weights). Runs `SELECT clip_embed(image, model := 'ViT-L-14', ...)` on
Daft's native runner, warm (the model loads on a first small query), and prints images/s.
`--baseline` also times the plain open_clip loop (per-image Pillow + transform, fp16 model).
Target: >= 2,000 images/s on one H200.

    python benchmarks/clip_gpu.py [--images 8192] [--batch 256] [--baseline]
    python benchmarks/clip_gpu.py --device cpu --images 64      # smoke test without a GPU
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from clip_cpu import make_jpegs, mdfql_embed


def plain_loop_fp16(images: list[bytes], batch: int, device: str) -> float:
    """images/s of the plain loop: Pillow + open_clip transform per image, fp16 encode."""
    import io

    import open_clip
    import torch
    from PIL import Image

    model = open_clip.create_model("ViT-L-14", precision="fp16" if device == "cuda" else "fp32",
                                   device=device).eval()
    preprocess = open_clip.image_transform(224, is_train=False)
    dtype = torch.float16 if device == "cuda" else torch.float32
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.stack([preprocess(Image.open(io.BytesIO(b))) for b in images[i:i + batch]])
            model.encode_image(x.to(device, dtype), normalize=True).float().cpu()
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--baseline", action="store_true", help="also time the plain loop")
    args = ap.parse_args()
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no GPU visible: run with --device cpu for a smoke test")
    unique = make_jpegs(min(args.images, 1024))
    images = [unique[i % len(unique)] for i in range(args.images)]
    precision = "fp16" if args.device == "cuda" else "fp32"
    warm = mdfql_embed("ViT-L-14", None, images[: min(len(images), args.batch)], args.batch,
                       args.device, precision)
    start = time.perf_counter()
    emb = mdfql_embed("ViT-L-14", None, images, args.batch, args.device, precision)
    wall = time.perf_counter() - start
    assert emb.shape == (len(images), 768) and np.isfinite(emb).all() and warm.shape[1] == 768
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"{os.cpu_count()} CPUs"
    print(f"ViT-L-14 {precision} on {name}: {len(images)} JPEGs, batch {args.batch}, "
          f"{os.cpu_count()} CPUs for decoding")
    print(f"mdfql clip_embed: {len(images) / wall:8.1f} images/s ({wall:.2f} s, decode + "
          "preprocess + forward)")
    if args.baseline:
        print(f"plain open_clip loop: {plain_loop_fp16(images, args.batch, args.device):8.1f} "
              "images/s")


if __name__ == "__main__":
    main()
