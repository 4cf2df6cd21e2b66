"""Image hash benchmark: mdfql's `phash` / `dhash` kernels vs the imagehash package.

Both hash the same encoded images (scikit-image's sample photos as JPEG and PNG, at their own
size and at web-thumbnail size), from bytes: decode, grey, Lanczos resize, hash. Prints
images/s per core (CPU time from time.process_time, covering every thread), the ratio, and
checks that every hash is identical. `--split` also prints where imagehash's phash time goes
(decode, grey, Lanczos resize, DCT + median), in microseconds of CPU per image.

    python benchmarks/image_hashes.py [--repeat N] [--threads N] [--split]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable

import pyarrow as pa

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry",
          "hubble_deep_field", "moon", "coins", "clock")


def images(fmt: str, thumb: int | None) -> list[bytes]:
    import skimage.data
    from PIL import Image

    out = []
    for name in PHOTOS:
        img = Image.fromarray(getattr(skimage.data, name)())
        if thumb:
            img.thumbnail((thumb, thumb))
        buf = io.BytesIO()
        img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        out.append(buf.getvalue())
    return out


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return n / (time.process_time() - start)


def imagehash_split(data: list[bytes]) -> str:
    """imagehash.phash's stages, each timed over every image: µs of CPU per image."""
    import numpy as np
    import scipy.fftpack
    from PIL import Image

    def per_image(fn: Callable[[object], object], items: list) -> tuple[float, list]:
        start = time.process_time()
        out = [fn(x) for x in items]
        return (time.process_time() - start) / len(items) * 1e6, out

    def tail(small: Image.Image) -> object:
        low = scipy.fftpack.dct(scipy.fftpack.dct(np.asarray(small), axis=0), axis=1)[:8, :8]
        return low > np.median(low)

    def load(b: bytes) -> Image.Image:
        im = Image.open(io.BytesIO(b))
        im.load()
        return im

    decode, imgs = per_image(load, data)
    grey, greys = per_image(lambda im: im.convert("L"), imgs)
    resize, smalls = per_image(lambda g: g.resize((32, 32), Image.Resampling.LANCZOS), greys)
    dct, _ = per_image(tail, smalls)
    return (f"  imagehash phash split (us/image): decode {decode:.0f}, grey {grey:.0f}, "
            f"resize {resize:.0f}, dct+median {dct:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20, help="copies of the image set")
    ap.add_argument("--threads", type=int, default=1, help="rayon threads of the mdfql kernels")
    ap.add_argument("--split", action="store_true", help="time imagehash's stages too")
    args = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # read when the pool first starts

    import imagehash
    from PIL import Image

    from mdfql import _native

    imagehash.phash(Image.open(io.BytesIO(images("PNG", 64)[0])))  # imports scipy: not timed
    for fmt, thumb in (("JPEG", None), ("PNG", None), ("JPEG", 256), ("PNG", 128)):
        data = images(fmt, thumb) * args.repeat
        arr = pa.array(data, pa.large_binary())
        label = f"{fmt} {'original' if thumb is None else f'<= {thumb}px'}"
        for name in ("phash", "dhash"):
            kernel, ref = getattr(_native, name), getattr(imagehash, name)
            ours = rate(len(data), lambda k=kernel, a=arr: k(a))
            theirs = rate(len(data),
                          lambda r=ref, d=data: [r(Image.open(io.BytesIO(b))) for b in d])
            got = kernel(arr).field("hash").to_pylist()
            same = sum(g == int(str(ref(Image.open(io.BytesIO(b)))), 16)
                       for g, b in zip(got, data))
            print(f"{label:16s} {name}: mdfql {ours:8.0f}/s  imagehash {theirs:7.0f}/s  "
                  f"{ours / theirs:5.1f}x  identical {same}/{len(data)}")
        if args.split:
            print(imagehash_split(data))


if __name__ == "__main__":
    main()
