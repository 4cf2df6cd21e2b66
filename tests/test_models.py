"""Model functions against open_clip's and transformers' own forward on the same weights:
tiny randomly initialised models of the real architectures, saved to disk and loaded through
the SQL functions the way users load real weights (no downloads here); preprocessing equal to
open_clip's transform pixel for pixel; one forward pass per image for several functions;
clear errors for missing weights; heads against their architectures; the core never imports
torch."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import daft
import numpy as np
import pytest

import mdfql
from mdfql.errors import MdfqlError
from mdfql.metrics import failures, reset_failures

torch = pytest.importorskip("torch", reason="pip install 'mdfql[models]'")
open_clip = pytest.importorskip("open_clip", reason="pip install 'mdfql[models]'")
transformers = pytest.importorskip("transformers", reason="pip install 'mdfql[models]'")
skdata = pytest.importorskip("skimage.data", reason="pip install scikit-image")
from PIL import Image  # noqa: E402

from mdfql.demo.weights import write_clip, write_head, write_siglip  # noqa: E402
from mdfql.models import clip as clip_models  # noqa: E402
from mdfql.models.heads import HEADS, build  # noqa: E402
from mdfql.models.images import Preprocess, normalize, pixels  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "horse", "hubble_deep_field")


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    """Real photos and odd cases: JPEG and PNG, grey, palette, RGBA, CMYK, extreme aspect
    ratios, tiny and exactly-sized images."""
    rng = np.random.default_rng(7)
    out = []
    for name in PHOTOS:
        arr = getattr(skdata, name)()
        img = Image.fromarray((arr * 255).astype(np.uint8) if arr.dtype == bool else arr)
        out += [_encode(img, "JPEG" if img.mode in ("RGB", "L") else "PNG"), _encode(img, "PNG")]
    photo = Image.fromarray(skdata.astronaut())
    out += [_encode(photo.convert("P"), "PNG"), _encode(photo.convert("CMYK"), "JPEG"),
            _encode(photo.convert("RGBA").resize((301, 207)), "PNG")]
    for w, h in [(97, 513), (1000, 31), (64, 64), (5, 7), (65, 64)]:
        out.append(_encode(Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)), "PNG"))
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, object]:
    """A tiny ViT CLIP (open_clip's own architecture): its config JSON, its checkpoint and the
    model open_clip builds from them."""
    files = write_clip(tmp_path_factory.mktemp("clip"), "tiny-clip", embed_dim=32, seed=0)
    return str(files.config), str(files.weights), files.model


def _reference_images(model: object, images: list[bytes], size: int) -> np.ndarray:
    """open_clip's own path: its eval transform per image, then encode_image."""
    preprocess = open_clip.image_transform(size, is_train=False)
    with torch.no_grad():
        batch = torch.stack([preprocess(Image.open(io.BytesIO(b))) for b in images])
        return model.encode_image(batch, normalize=True).numpy()


def test_preprocessing_equals_open_clip_transform(images: list[bytes]) -> None:
    spec = Preprocess((224, 224), open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    reference = open_clip.image_transform(224, is_train=False)
    for data in images:
        ours = normalize(pixels(data, spec)[None].copy(), spec, "cpu", torch.float32)[0]
        assert torch.equal(ours, reference(Image.open(io.BytesIO(data))))


def test_clip_embed_and_score_match_open_clip(images: list[bytes], tiny_clip) -> None:
    config, weights, model = tiny_clip
    captions = [f"a photo number {i}" for i in range(len(images))]
    df = daft.from_pydict({"image": images, "caption": captions})
    opts = f"model := '{config}', pretrained := '{weights}'"
    rows = mdfql.sql(f"SELECT clip_embed(image, {opts}) AS e, clip_embed_text(caption, {opts}) "
                     f"AS t, clip_score(image, caption, {opts}) AS s FROM t", t=df).to_pylist()
    ref_img = _reference_images(model, images, 64)
    with torch.no_grad():
        tokens = open_clip.get_tokenizer("tiny-clip")(captions)
        ref_txt = model.encode_text(tokens, normalize=True).numpy()
    got_img = np.array([r["e"] for r in rows])
    got_txt = np.array([r["t"] for r in rows])
    assert got_img.shape == (len(images), 32)
    assert np.abs(got_img - ref_img).max() <= 1e-5
    assert np.abs(got_txt - ref_txt).max() <= 1e-5
    assert np.abs(np.array([r["s"] for r in rows]) - (ref_img * ref_txt).sum(1)).max() <= 1e-5


def test_one_forward_pass_feeds_every_head(images: list[bytes], tiny_clip, tmp_path) -> None:
    config, weights, _ = tiny_clip
    head, _ = write_head(tmp_path / "aesthetic.pth", "aesthetic", width=32, seed=1)
    df = daft.from_pydict({"image": images, "caption": ["x"] * len(images)})
    opts = f"model := '{config}', pretrained := '{weights}', batch_size := 4"
    before = {k: v.image_rows for k, v in clip_models.loaded().items()}
    rows = mdfql.sql(
        f"SELECT clip_embed(image, {opts}) AS e, "
        f"aesthetic_score(clip_embed(image, {opts}), weights := '{head}') AS a "
        f"FROM t WHERE clip_score(image, caption, {opts}) > -2", t=df).to_pylist()
    assert len(rows) == len(images) and all(r["a"] is not None for r in rows)
    key = next(k for k in clip_models.loaded() if k.pretrained == weights and k.model == config)
    assert clip_models.loaded()[key].image_rows - before.get(key, 0) == len(images)


def test_heads_match_their_architecture(tiny_clip, tmp_path) -> None:
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(6, 768)).astype(np.float32)
    df = daft.from_pydict({"e": [list(map(float, r)) for r in emb] + [None]})
    unit = torch.nn.functional.normalize(torch.from_numpy(emb), dim=-1)
    for name, arch in HEADS.items():
        torch.manual_seed(len(name))
        module = build(arch, 768).eval()
        path = tmp_path / f"{name}.pth"
        # LAION's aesthetic file holds `layers.N.*` keys; the others are saved without it
        state = module.state_dict() if name == "aesthetic" else module.layers.state_dict()
        torch.save({k: v for k, v in state.items() if not k.startswith("norm")}, path)
        got = [r["s"] for r in mdfql.sql(f"SELECT {name}_score(e, weights := '{path}') AS s "
                                         "FROM t", t=df).to_pylist()]
        with torch.no_grad():
            want = module.layers(unit)[:, 0]
            want = torch.sigmoid(want) if arch.output == "sigmoid" else want
        assert got[-1] is None
        assert np.abs(np.array(got[:-1]) - want.numpy()).max() <= 1e-5


def test_aesthetic_head_is_laions_mlp() -> None:
    layers = build(HEADS["aesthetic"], 768).layers
    linear = [(m.in_features, m.out_features) for m in layers if isinstance(m, torch.nn.Linear)]
    assert linear == [(768, 1024), (1024, 128), (128, 64), (64, 16), (16, 1)]
    assert [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Linear)] == [0, 2, 4, 6, 7]


def test_siglip_embed_matches_transformers(images: list[bytes], tmp_path) -> None:
    siglip = write_siglip(tmp_path / "siglip", image_size=48, seed=0)
    folder, model, processor = siglip.folder, siglip.model, siglip.processor
    df = daft.from_pydict({"image": images})
    rows = mdfql.sql(f"SELECT siglip_embed(image, model := '{folder}') AS e FROM t",
                     t=df).to_pylist()
    pixel_values = processor([Image.open(io.BytesIO(b)) for b in images],
                             return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        want = model.get_image_features(pixel_values=pixel_values).pooler_output
        want = torch.nn.functional.normalize(want, dim=-1).numpy()
    assert np.abs(np.array([r["e"] for r in rows]) - want).max() <= 1e-5


def test_bad_images_are_counted_nulls(tiny_clip) -> None:
    config, weights, _ = tiny_clip
    good = _encode(Image.fromarray(skdata.coffee()), "JPEG")
    bad = [b"", b"not an image", good[: len(good) // 3]]
    reset_failures()
    df = daft.from_pydict({"image": [good, *bad, None]})
    rows = mdfql.sql(f"SELECT clip_embed(image, model := '{config}', pretrained := '{weights}')"
                     " AS e FROM t", t=df).to_pylist()
    assert rows[0]["e"] is not None and all(r["e"] is None for r in rows[1:])
    counted = {reason: n for (stage, reason), n in failures().items() if stage == "clip_embed"}
    assert counted == {"empty": 1, "undecodable": 2}


def test_missing_weights_are_clear_errors(tiny_clip, tmp_path, monkeypatch) -> None:
    config, _, _ = tiny_clip
    df = daft.from_pydict({"image": [b"x"], "e": [[0.0] * 768]})
    with pytest.raises(MdfqlError, match="clip weights: no such file or folder: /nope/w.pt"):
        mdfql.sql(f"SELECT clip_embed(image, model := '{config}', pretrained := '/nope/w.pt') "
                  "FROM t", t=df)
    with pytest.raises(MdfqlError, match="needs weights :="):
        mdfql.sql("SELECT aesthetic_score(e) FROM t", t=df)
    # a hub id that is not in the (empty) cache, with the hub out of reach
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    with pytest.raises(MdfqlError, match=r"weights 'laion/head/aesthetic\.pth' are not in "
                                         rf"cache_dir {cache} and could not be downloaded"):
        from mdfql.models.heads import load_head
        load_head("aesthetic", "laion/head/aesthetic.pth", str(cache))
    with pytest.raises(MdfqlError, match=r"weights 'openai' are not in cache_dir"):
        clip_models.load_clip(clip_models.ClipKey("ViT-B-32", "openai", str(cache), "cpu"))


def test_missing_weights_fail_the_run_with_the_message(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    df = daft.from_pydict({"image": [_encode(Image.fromarray(skdata.coffee()), "PNG")]})
    with pytest.raises(MdfqlError, match="are not in cache_dir .* could not be downloaded"):
        mdfql.sql(f"SELECT clip_embed(image, model := 'ViT-B-32', cache_dir := '{tmp_path}') "
                  "AS e FROM t", t=df).to_pylist()


def test_core_imports_no_model_library(tmp_path: Path) -> None:
    """A text query and an Iceberg write load none of the model libraries."""
    script = (
        "import sys, daft, mdfql\n"
        "from mdfql.functions.catalog import default_registry\n"
        "default_registry()\n"
        "df = daft.from_pydict({'text': ['Hello World', 'b']})\n"
        "mdfql.sql(\"SELECT lower(text) AS t FROM t WHERE length(text) > 1\", t=df).collect()\n"
        # an Iceberg write (Daft's writer types its data files: see mdfql/daft_fixes.py)
        "s = mdfql.Session()\n"
        "s.attach('t', df)\n"
        "s.run(\"CREATE TABLE curated.t AS SELECT lower(text) AS t FROM t\")\n"
        "assert s.sql(\"SELECT count(*) AS n FROM read_iceberg('curated.t')\").to_pylist() "
        "== [{'n': 2}]\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'transformers', 'onnxruntime', 'cv2') "
        "if m in sys.modules))\n")
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0",
           "MDFQL_WAREHOUSE": str(tmp_path / "warehouse")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]"
