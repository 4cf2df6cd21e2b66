"""Image dedup three ways: exact (sha256 of the bytes), perceptual (hamming_cluster of pHash on
real near-duplicate photos: resized, JPEG re-encoded, slightly cropped) and semantic
(semantic_cluster, SemDeDup over embeddings: planted near-duplicates found exactly, results
independent of row order, bad arguments refused at check time)."""

from __future__ import annotations

import io

import daft
import numpy as np
import pyarrow as pa
import pytest

from mdfql import Session
from mdfql.dedup.kmeans import spherical_kmeans
from mdfql.dedup.semantic import semantic_labels
from mdfql.errors import MdfqlError

skdata = pytest.importorskip("skimage.data", reason="pip install scikit-image")
Image = pytest.importorskip("PIL.Image")

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "page", "moon", "coins",
          "text", "clock")


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos() -> tuple[list[int], list[bytes], list[int]]:
    """(ids, JPEG bytes, the id of each image's original): each photo, plus a half-size
    copy, a quality-40 re-encode, a crop of 2% per side (pHash moves <= 8 bits;
    distinct photos differ by >= 22), and a byte-identical copy."""
    ids, images, family = [], [], []
    for i, name in enumerate(PHOTOS):
        img = Image.fromarray(getattr(skdata, name)())
        w, h = img.size
        base = 100 * i
        variants = [_jpeg(img), _jpeg(img.resize((w // 2, h // 2), Image.LANCZOS)),
                    _jpeg(img, quality=40),
                    _jpeg(img.crop((w // 50, h // 50, w - w // 50, h - h // 50)))]
        variants.append(variants[0])  # exact copy
        for j, data in enumerate(variants):
            ids.append(base + j)
            images.append(data)
            family.append(base)
    return ids, images, family


def _images(photos) -> daft.DataFrame:
    ids, images, _ = photos
    return daft.from_arrow(pa.table({"id": ids, "image": pa.array(images, pa.binary())}))


def test_exact_dedup_by_sha256(photos):
    ids, images, family = photos
    rows = Session().sql("SELECT DISTINCT ON (sha256(image)) id FROM imgs ORDER BY "
                         "sha256(image), id", imgs=_images(photos)).to_pylist()
    kept = sorted(r["id"] for r in rows)
    assert kept == sorted(i for i in ids if i % 100 != 4)  # only the byte-identical copies go


def test_perceptual_dedup_groups_each_photo_family(photos):
    ids, _, family = photos
    rows = Session().sql(
        "SELECT id, hamming_cluster(phash(image), id, max_distance := 10) OVER () AS c "
        "FROM imgs", imgs=_images(photos)).to_pylist()
    got = {r["id"]: r["c"] for r in rows}
    truth = dict(zip(ids, family))
    assert all(got[i] == truth[i] for i in ids)  # every variant with its original, ...
    assert len(set(got.values())) == len(PHOTOS)  # ... and distinct photos stay apart
    kept = Session().sql(
        "SELECT id FROM imgs QUALIFY hamming_cluster(phash(image), id) OVER () = id",
        imgs=_images(photos)).to_pylist()
    assert sorted(r["id"] for r in kept) == [100 * i for i in range(len(PHOTOS))]


# --- semantic dedup -----------------------------------------------------------------------
def planted(n: int = 3000, dim: int = 64, dups: int = 300, seed: int = 1
            ) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """(ids, embeddings, duplicate -> original): random unit vectors (any two far apart in 64
    dimensions: cosine ~ N(0, 1/8)) plus near copies at cosine ~0.9999 of some of them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    originals = rng.choice(n, dups, replace=False)
    copies = x[originals] + rng.normal(scale=0.001, size=(dups, dim)).astype(np.float32)
    ids = np.concatenate([np.arange(n), 10_000 + np.arange(dups)])
    return ids, np.vstack([x, copies]), {10_000 + i: int(o) for i, o in enumerate(originals)}


def _table(ids: np.ndarray, emb: np.ndarray) -> pa.Table:
    values = pa.array(emb.astype(np.float32).ravel())
    return pa.table({"id": ids, "e": pa.FixedSizeListArray.from_arrays(values, emb.shape[1])})


SEMANTIC = "SELECT id, semantic_cluster(e, id, clusters := 20, eps := 0.01) OVER () AS g FROM t"


def _groups(table: pa.Table, sql: str = SEMANTIC) -> dict[int, int]:
    rows = Session().sql(sql, t=daft.from_arrow(table)).to_pylist()
    return {r["id"]: r["g"] for r in rows}


def test_semantic_dedup_finds_planted_duplicates_exactly():
    ids, emb, copy_of = planted()
    got = _groups(_table(ids, emb))
    groups: dict[int, set[int]] = {}
    for i, g in got.items():
        groups.setdefault(g, set()).add(i)
    planted_pairs = {frozenset((c, o)) for c, o in copy_of.items()}
    found_pairs = {frozenset(m) for m in groups.values() if len(m) == 2}
    assert all(len(m) <= 2 for m in groups.values())
    assert found_pairs == planted_pairs  # recall and precision 1.0
    for pair in planted_pairs:  # the label is a member of its group
        assert got[min(pair)] in pair


def test_semantic_keep_rule_is_farthest_from_centroid():
    """Three copies of one vector at different distances from a cluster's centre: the group is
    labelled with the one farthest from the centroid (lowest cosine to it)."""
    rng = np.random.default_rng(3)
    centre = rng.normal(size=32)
    spread = [centre + rng.normal(scale=0.3, size=32) for _ in range(40)]
    far = centre + rng.normal(scale=1.0, size=32)
    group = [far, far * 1.0001 + 1e-4, far + 2e-4]  # near-identical directions
    emb = np.array(spread + group)
    ids = np.arange(len(emb))
    got = _groups(_table(ids, emb), "SELECT id, semantic_cluster(e, id, clusters := 1, "
                  "eps := 0.001) OVER () AS g FROM t")
    sims = emb @ emb[:40].mean(axis=0) / np.linalg.norm(emb, axis=1)
    members = [40, 41, 42]
    assert {got[i] for i in members} == {members[int(np.argmin(sims[members]))]}
    assert all(got[i] == i for i in range(40))


def test_semantic_dedup_independent_of_row_order():
    ids, emb, _ = planted(n=2000, dups=200, seed=9)
    first = _groups(_table(ids, emb))
    order = np.random.default_rng(4).permutation(len(ids))
    table = _table(ids[order], emb[order])
    # several small files of shuffled rows: another spill layout, another batch order
    parts = [table.slice(at, 500) for at in range(0, len(table), 500)]
    df = daft.from_arrow(parts[0])
    for part in parts[1:]:
        df = df.concat(daft.from_arrow(part))
    rows = Session().sql(SEMANTIC, t=df).to_pylist()
    assert {r["id"]: r["g"] for r in rows} == first


def test_semantic_nulls_zero_and_wrong_length_are_singletons(tmp_path):
    ids, emb, copy_of = planted(n=200, dups=20)
    rows = [list(map(float, v)) for v in emb]
    rows[0], rows[1] = None, [0.0] * emb.shape[1]
    rows[2] = rows[2][:10]
    table = pa.table({"id": ids, "e": pa.array(rows, pa.list_(pa.float64()))})
    got = _groups(table)
    assert got[0] == 0 and got[1] == 1 and got[2] == 2
    for c, o in copy_of.items():
        if o > 2:
            assert got[c] == got[o]


def test_kmeans_is_deterministic_and_separates_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16))
    x = np.vstack([c + rng.normal(scale=0.05, size=(100, 16)) for c in centres])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    a = spherical_kmeans(x, 5, seed=7, iterations=20)
    assert np.array_equal(a, spherical_kmeans(x, 5, seed=7, iterations=20))
    labels = np.argmax(x @ a.T, axis=1)
    assert sorted(np.bincount(labels).tolist()) == [100] * 5


def test_semantic_labels_refuses_bad_options(tmp_path):
    with pytest.raises(ValueError, match="eps"):
        semantic_labels([], tmp_path, node="n", embedding="e", clusters=3, eps=0, seed=0,
                        iterations=5)


@pytest.mark.parametrize("call,message", [
    ("semantic_cluster(e, id, eps := 0)", "semantic_cluster(): eps must lie in (0, 1]"),
    ("semantic_cluster(e, id, eps := 1.5)", "eps must be a number from 0 to 1, got 1.5"),
    ("semantic_cluster(e, id, clusters := 0)", "clusters must be an integer >= 1, got 0"),
    ("semantic_cluster(id, id)", "argument 'embedding' must be list"),
    ("semantic_cluster(e) OVER (ORDER BY id)", "works over the whole relation"),
])
def test_semantic_check_time_errors(call, message):
    session = Session()
    ids, emb, _ = planted(n=10, dups=1)
    session.attach("t", daft.from_arrow(_table(ids, emb)))
    over = "" if "OVER" in call else " OVER ()"
    with pytest.raises(MdfqlError) as info:
        session.compile(f"SELECT id, {call}{over} AS g FROM t", "dedup.sql")
    assert message in info.value.message
    assert info.value.span is not None
