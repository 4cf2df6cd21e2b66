"""The image-text sample `mdfql sample` writes: deterministic, small, every category present,
the LAION layout, and its planted bad files really bad (Pillow refuses them)."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("skimage.data", reason="pip install scikit-image")
Image = pytest.importorskip("PIL.Image")

from mdfql.cli import main  # noqa: E402
from mdfql.demo.images import IMAGE_CATEGORIES, write_image_sample  # noqa: E402


def test_deterministic_small_and_complete(tmp_path: Path) -> None:
    a = write_image_sample(tmp_path / "a", seed=3)
    write_image_sample(tmp_path / "b", seed=3)
    files = sorted(p.name for p in (tmp_path / "a" / "images").iterdir())
    for name in files:
        assert (tmp_path / "a" / "images" / name).read_bytes() == \
            (tmp_path / "b" / "images" / name).read_bytes()
    assert pq.read_table(tmp_path / "a" / "image_text.parquet").equals(
        pq.read_table(tmp_path / "b" / "image_text.parquet"))
    assert set(a.counts) == set(IMAGE_CATEGORIES) and len(files) == a.rows
    assert a.n_bytes < 5_000_000
    table = pq.read_table(tmp_path / "a" / "image_text.parquet").to_pylist()
    assert {"url", "caption", "image", "width", "height"} <= set(table[0])
    assert len({r["language"] for r in table}) >= 8
    assert len({r["url"] for r in table}) == len(table)


def test_planted_bad_files_are_bad_for_pillow(tmp_path: Path) -> None:
    write_image_sample(tmp_path, seed=0)
    rows = pq.read_table(tmp_path / "image_text.parquet").to_pylist()
    for r in rows:
        if r["category"] in ("zero_byte", "truncated", "bomb") or r["category"] == "corrupt":
            with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal will do
                with Image.open(io.BytesIO(r["image"])) as im:
                    im.load()
            assert r["width"] is None
        else:
            with Image.open(io.BytesIO(r["image"])) as im:
                assert im.size == (r["width"], r["height"])
    wrong = [r for r in rows if r["category"] == "wrong_extension"]
    for r in wrong:
        with Image.open(io.BytesIO(r["image"])) as im:
            assert not r["file"].lower().endswith(f".{im.format.lower()}")


def test_the_cli_writes_it_next_to_the_warc(tmp_path: Path) -> None:
    out = tmp_path / "s" / "sample.warc.gz"
    assert main(["sample", "--records", "400", "--page-kb", "6", "--out", str(out)]) == 0
    assert (tmp_path / "s" / "image_text.parquet").exists()
    skipped = tmp_path / "t" / "sample.warc.gz"
    assert main(["sample", "--records", "400", "--page-kb", "6", "--no-images",
                 "--out", str(skipped)]) == 0
    assert not (tmp_path / "t" / "image_text.parquet").exists()
