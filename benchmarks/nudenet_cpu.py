"""nsfw_detect on the CPU vs NudeNet's own loop, same detector (the nudenet wheel's 320n.onnx),
same images.

NudeNet's loop is `NudeDetector().detect(bytes)` per image (OpenCV decode, letterbox, one
onnxruntime run per image). mdfql runs `SELECT nsfw_detect(image, batch_size := N)` on Daft's
native runner (Pillow decodes on a thread pool, one onnxruntime run per batch). Both warm up
first (model load excluded), print images/s, and check the detections agree (labels, scores
within 1e-4).

    python benchmarks/nudenet_cpu.py [--images N] [--batch N]
"""

from __future__ import annotations

import argparse
import json
import time

from clip_cpu import make_jpegs  # this folder is on sys.path when run as a script


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    import daft
    from nudenet import NudeDetector

    import mdfql

    images = make_jpegs(args.images)
    reference = NudeDetector()
    reference.detect(images[0])
    start = time.perf_counter()
    theirs = [reference.detect(b) for b in images]
    nudenet_s = time.perf_counter() - start

    df = daft.from_pydict({"image": images})
    query = f"SELECT nsfw_detect(image, batch_size := {args.batch}) AS d FROM t"
    mdfql.sql(query, t=daft.from_pydict({"image": images[:2]})).to_pylist()  # load
    start = time.perf_counter()
    ours = [r["d"] for r in mdfql.sql(query, t=df).to_pylist()]
    mdfql_s = time.perf_counter() - start

    for a, b in zip(ours, theirs):
        assert [d["label"] for d in a] == [d["class"] for d in b]
        assert all(abs(x["score"] - y["score"]) <= 1e-4 for x, y in zip(a, b))
    print(json.dumps({"images": len(images), "detections": sum(map(len, ours)),
                      "nudenet_images_per_s": round(len(images) / nudenet_s, 1),
                      "mdfql_images_per_s": round(len(images) / mdfql_s, 1)}))


if __name__ == "__main__":
    main()
