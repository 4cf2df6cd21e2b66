"""clip_embed on the CPU vs the plain open_clip loop, same weights, same images.

The plain loop is what a script without mdfql does: per image Pillow decode + open_clip's eval
transform, then `encode_image` per batch. mdfql runs `SELECT clip_embed(image, ...)` on Daft's
native runner (decode and resize on a thread pool, normalisation once per batch). Both use the
same randomly initialised weights (saved to a checkpoint and loaded the way users load theirs),
exclude model loading (each warms up first), print images/s, and check that the embeddings
are identical (max |difference| <= 1e-5).

The plain loop's time is split into preprocessing (decode + transform) and the forward pass:
mdfql changes only the first, so (pre + forward) / forward is the most any preprocessing can
give (Amdahl); the figure is printed next to the speed-up. With ViT-B-32 on a few CPU cores the
forward is ~85-90% of the loop (77% of it matrix products, profiled with torch.profiler), so
that bound is ~1.1-1.2x; with the tiny model preprocessing dominates.

    python benchmarks/clip_cpu.py [--model tiny|ViT-B-32] [--images N] [--batch N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time

import numpy as np

# A small ViT CLIP of open_clip's own architecture (where preprocessing, not the model,
# dominates: the part mdfql changes)
TINY = {"embed_dim": 64,
        "vision_cfg": {"image_size": 224, "layers": 2, "width": 128, "patch_size": 32,
                       "head_width": 64},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                     "layers": 2}}


def make_jpegs(count: int, seed: int = 0, side: int = 640) -> list[bytes]:
    """`count` web-like JPEGs (quality 85, about side x 3/4 side, varying aspect): crops of
    scikit-image's real photos, resized; deterministic."""
    import skimage.data
    from PIL import Image

    photos = [Image.fromarray(getattr(skimage.data, n)()).convert("RGB")
              for n in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        img = photos[i % len(photos)]
        w, h = img.size
        x0, y0 = int(rng.integers(0, w // 4)), int(rng.integers(0, h // 4))
        crop = img.crop((x0, y0, x0 + w // 2 + int(rng.integers(0, w // 4)), y0 + h // 2))
        aspect = 0.6 + 0.2 * float(rng.random())
        crop = crop.resize((side, int(side * aspect)), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def save_model(model_name: str, folder: str) -> tuple[str, str, object]:
    """Random weights for `model_name` ('tiny': TINY) saved as a checkpoint; returns the
    model argument, the checkpoint path and the model."""
    import open_clip
    import torch

    arg = model_name
    if model_name == "tiny":
        arg = os.path.join(folder, "tiny-clip.json")
        with open(arg, "w") as f:
            json.dump(TINY, f)
        open_clip.add_model_config(arg)
        model_name = "tiny-clip"
    torch.manual_seed(0)
    model = open_clip.create_model(model_name).eval()
    path = os.path.join(folder, "weights.pt")
    torch.save(model.state_dict(), path)
    return arg, path, model


def plain_loop(model: object, images: list[bytes], batch: int,
               split: dict[str, float] | None = None) -> np.ndarray:
    """Pillow decode + open_clip's transform per image, encode_image per batch; adds the
    seconds of each part to `split` ("pre", "forward") when given."""
    import open_clip
    import torch
    from PIL import Image

    cfg = model.visual.preprocess_cfg
    preprocess = open_clip.image_transform(cfg["size"], is_train=False, mean=cfg["mean"],
                                           std=cfg["std"])
    out = []
    split = {} if split is None else split
    with torch.no_grad():
        for i in range(0, len(images), batch):
            start = time.perf_counter()
            x = torch.stack([preprocess(Image.open(io.BytesIO(b))) for b in images[i:i + batch]])
            mid = time.perf_counter()
            out.append(model.encode_image(x, normalize=True).numpy())
            split["pre"] = split.get("pre", 0.0) + mid - start
            split["forward"] = split.get("forward", 0.0) + time.perf_counter() - mid
    return np.concatenate(out)


def mdfql_embed(model_arg: str, weights: str | None, images: list[bytes], batch: int,
                device: str = "cpu", precision: str = "auto") -> np.ndarray:
    import daft

    import mdfql

    pretrained = "'random'" if weights is None else f"'{weights}'"
    df = daft.from_pydict({"image": images})
    out = mdfql.sql(f"SELECT clip_embed(image, model := '{model_arg}', pretrained := "
                    f"{pretrained}, device := '{device}', precision := '{precision}', "
                    f"batch_size := {batch}) AS e FROM t", t=df).to_arrow()
    col = out.column("e").combine_chunks()
    return np.asarray(col.flatten().to_numpy(), np.float32).reshape(len(images), -1)


def timed(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny", help="tiny (default) or an open_clip name")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    images = make_jpegs(args.images)
    with tempfile.TemporaryDirectory() as folder:
        model_arg, weights, model = save_model(args.model, folder)
        plain_loop(model, images[: args.batch], args.batch)  # warm-up
        mdfql_embed(model_arg, weights, images[: args.batch], args.batch)  # loads the model
        split: dict[str, float] = {}
        ref, t_plain = timed(plain_loop, model, images, args.batch, split)
        got, t_mdfql = timed(mdfql_embed, model_arg, weights, images, args.batch)
    diff = float(np.abs(got - ref).max())
    print(f"model {args.model}, {len(images)} JPEGs "
          f"({sum(map(len, images)) / len(images) / 1024:.0f} KB avg), batch {args.batch}, "
          f"{os.cpu_count()} CPUs")
    print(f"plain open_clip loop: {len(images) / t_plain:8.1f} images/s ({t_plain:.2f} s)")
    print(f"mdfql clip_embed:     {len(images) / t_mdfql:8.1f} images/s ({t_mdfql:.2f} s)")
    pre, forward = split["pre"], split["forward"]
    print(f"plain loop split: preprocessing {pre:.2f} s ({pre / (pre + forward):.0%}), "
          f"forward {forward:.2f} s; bound for faster preprocessing "
          f"{(pre + forward) / forward:.2f}x")
    print(f"speedup {t_plain / t_mdfql:.2f}x; max |embedding difference| {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit("embeddings differ by more than 1e-5")


if __name__ == "__main__":
    main()
