"""nsfw_detect and nudity_score against NudeNet itself, on the real detector its wheel ships
(320n.onnx): the same detections as `NudeDetector().detect(path)` on scikit-image's photos, odd
sizes and the bundled image sample; NULLs and bad images; SET max_image_pixels; missing weights
at check time; one model load per worker however many batches."""

from __future__ import annotations

import importlib.util
import io
import shutil
from pathlib import Path

import daft
import numpy as np
import pytest
from conftest import in_ci
from PIL import Image

import mdfql
from mdfql.errors import MdfqlError
from mdfql.metrics import failures, reset_failures

skdata = pytest.importorskip("skimage.data", reason="pip install scikit-image")

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "horse", "cat", "coins")
# (width, height) of astronaut resizes: down and up to the input size, exactly it, twice it
# (OpenCV's 2x shortcut), and extreme aspects
SIZES = ((100, 300), (700, 200), (320, 100), (320, 320), (640, 640), (319, 20), (1203, 905))


@pytest.fixture(scope="module", autouse=True)
def nudenet_installed() -> None:
    """The reference and the runtime: skip without them, fail under CI (its install step
    installs both through the test and models extras)."""
    missing = [m for m in ("nudenet", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed"
        if in_ci():
            pytest.fail(f"{message}; CI=true requires them (pip install -e '.[test,models]')",
                        pytrace=False)
        pytest.skip(f"{message}: pip install nudenet onnxruntime")


@pytest.fixture(scope="module")
def reference():
    from nudenet import NudeDetector

    return NudeDetector()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory) -> list[Path]:
    """scikit-image's photos as PNG and JPEG, and astronaut at odd sizes, as files."""
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for name in PHOTOS:
        arr = getattr(skdata, name)()
        img = Image.fromarray(arr)
        for ext in ("png", "jpg"):
            out.append(folder / f"{name}.{ext}")
            img.save(out[-1], quality=90)
    astronaut = Image.fromarray(skdata.astronaut())
    for w, h in SIZES:
        out.append(folder / f"astronaut_{w}x{h}.png")
        astronaut.resize((w, h)).save(out[-1])
    return out


def _detect(values: list, extra: str = "") -> list:
    df = daft.from_pydict({"image": values})
    return [r["d"] for r in mdfql.sql(f"SELECT nsfw_detect(image{extra}) AS d FROM t",
                                      t=df).to_pylist()]


def _assert_same(ours: list[dict], theirs: list[dict], where: str) -> None:
    assert [d["label"] for d in ours] == [d["class"] for d in theirs], where
    for a, b in zip(ours, theirs):
        assert abs(a["score"] - b["score"]) <= 1e-4, where
        box = [a["box"][k] for k in "xywh"]
        assert max(abs(u - v) for u, v in zip(box, b["box"])) <= 1, where


def test_detections_equal_nudenets_on_real_photos(photo_files, reference) -> None:
    got = _detect([p.read_bytes() for p in photo_files], ", batch_size := 4")
    for path, ours in zip(photo_files, got):
        _assert_same(ours, reference.detect(str(path)), path.name)
    found = {d["label"] for ours in got for d in ours}
    assert "FACE_FEMALE" in found and "FACE_MALE" in found  # astronaut, camera


def test_the_image_sample_equals_nudenet_and_bad_images_are_counted(tmp_path,
                                                                    reference) -> None:
    import pyarrow.parquet as pq

    from mdfql.demo.images import write_image_sample

    write_image_sample(tmp_path)
    rows = pq.read_table(tmp_path / "image_text.parquet").to_pylist()
    reset_failures()
    got = _detect([r["image"] for r in rows])
    bad = {"corrupt", "truncated", "zero_byte", "bomb"}
    for row, ours in zip(rows, got):
        if row["category"] in bad:
            # NudeNet (OpenCV) detects on what it salvages of some of these; mdfql refuses
            assert ours is None, row["file"]
        else:
            _assert_same(ours, reference.detect(str(tmp_path / "images" / row["file"])),
                         row["file"])
    counted = {reason: n for (stage, reason), n in failures().items() if stage == "nsfw_detect"}
    assert counted == {"undecodable": 5, "empty": 1, "too many pixels": 2}
    assert sum(len(d) for d in got if d) > 0


def test_nulls_corrupt_bytes_and_the_pixel_cap() -> None:
    good = _png(Image.fromarray(skdata.astronaut()))  # 512 x 512
    reset_failures()
    df = daft.from_pydict({"image": [good, None, b"\x89PNG not really", b""]})
    # a session of its own: SET outlives the call in mdfql.sql's default session
    rows = mdfql.Session().sql("SET max_image_pixels = 1000;\n"
                               "SELECT nsfw_detect(image) AS capped, "
                               "nsfw_detect(image, max_pixels := 262144) AS d FROM t",
                               t=df).to_pylist()
    assert [r["capped"] for r in rows] == [None] * 4
    assert rows[0]["d"] and [r["d"] for r in rows[1:]] == [None] * 3
    counted = {reason: n for (stage, reason), n in failures().items() if stage == "nsfw_detect"}
    assert counted == {"too many pixels": 1, "undecodable": 2, "empty": 2}


def test_nudity_score_shares_the_pass_and_reads_the_nudity_classes() -> None:
    from mdfql.functions.models import _nudity
    from mdfql.models import nudenet

    images = [_png(Image.fromarray(getattr(skdata, n)())) for n in PHOTOS] + [None]
    before = sum(d.rows for d in nudenet.loaded().values())
    rows = mdfql.sql("SELECT nsfw_detect(image, threshold := 0.05) AS d, "
                     "nudity_score(image, threshold := 0.05) AS n FROM t",
                     t=daft.from_pydict({"image": images})).to_pylist()
    assert sum(d.rows for d in nudenet.loaded().values()) - before == len(PHOTOS)
    assert rows[-1] == {"d": None, "n": None}
    for r in rows[:-1]:
        want = max([d["score"] for d in r["d"] if d["label"] in nudenet.NUDITY], default=0.0)
        assert r["n"] == pytest.approx(want, abs=1e-7)
    # the classes: exposed breasts, genitals, buttocks and anus count; the rest does not
    box = {"x": 0, "y": 0, "w": 1, "h": 1}
    lists = [[{"label": label, "score": 0.5, "box": box}] for label in nudenet.LABELS]
    lists += [[{"label": "FACE_FEMALE", "score": 0.9, "box": box},
               {"label": "BUTTOCKS_EXPOSED", "score": 0.3, "box": box},
               {"label": "ANUS_EXPOSED", "score": 0.4, "box": box}], [], None]
    df = daft.from_pydict({"d": lists}).select(_nudity(daft.col("d")).alias("n"))
    scores = [r["n"] for r in df.to_pylist()]
    assert {label for label, s in zip(nudenet.LABELS, scores) if s} == set(nudenet.NUDITY)
    assert scores[len(nudenet.LABELS):] == [pytest.approx(0.4), 0.0, None]


def test_missing_weights_are_errors_at_the_call(tmp_path, monkeypatch) -> None:
    from mdfql.models import nudenet

    df = daft.from_pydict({"image": [b"x"]})
    monkeypatch.setattr(nudenet, "bundled_weights", lambda: None)
    with pytest.raises(MdfqlError, match=r"<sql>:2:3: .*nsfw_detect\(\): needs weights := "
                                         r"'/path/to/320n\.onnx'.*pip install nudenet"):
        mdfql.sql("SELECT 1 AS one,\n  nsfw_detect(image) AS d FROM t", t=df)
    with pytest.raises(MdfqlError, match=r"nudity_score\(\): needs weights :="):
        mdfql.sql("SELECT nudity_score(image) AS n FROM t", t=df)
    monkeypatch.undo()
    with pytest.raises(MdfqlError, match="nsfw_detect weights: no such file or folder: "
                                         "/nope/320n.onnx"):
        mdfql.sql("SELECT nsfw_detect(image, weights := '/nope/320n.onnx') AS d FROM t", t=df)
    with pytest.raises(MdfqlError, match="size must be a multiple of 32"):
        mdfql.sql("SELECT nsfw_detect(image, size := 100) AS d FROM t", t=df)
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"not a model")
    with pytest.raises(MdfqlError, match=f"nsfw_detect weights {not_onnx}: cannot load"):
        mdfql.sql(f"SELECT nsfw_detect(image, weights := '{not_onnx}') AS d FROM t",
                  t=df).collect()


def test_a_user_onnx_loads_once_per_worker(tmp_path, monkeypatch, reference) -> None:
    """weights := a copy of the detector (any file of its architecture): one session for
    every batch of the query and for the next query."""
    from mdfql.models import nudenet

    weights = tmp_path / "detector.onnx"
    shutil.copy(nudenet.bundled_weights(), weights)
    loads = []
    real_load = nudenet.CACHE.load
    monkeypatch.setattr(nudenet.CACHE, "load", lambda key: loads.append(key) or real_load(key))
    images = [_png(Image.fromarray(skdata.astronaut()).resize((64 + 32 * i, 200)))
              for i in range(7)]
    df = daft.from_pydict({"image": images})
    query = f"SELECT nsfw_detect(image, weights := '{weights}', batch_size := 3) AS d FROM t"
    first = [r["d"] for r in mdfql.sql(query, t=df).to_pylist()]
    second = [r["d"] for r in mdfql.sql(query, t=df).to_pylist()]
    assert len(loads) == 1 and loads[0].weights == str(weights)
    detector = nudenet.loaded()[loads[0]]
    assert (detector.batches, detector.rows) == (6, 14)
    assert first == second
    for data, ours in zip(images, first):
        _assert_same(ours, reference.detect(np.asarray(Image.open(io.BytesIO(data)))[:, :, ::-1]
                                            .copy()), "resized astronaut")
