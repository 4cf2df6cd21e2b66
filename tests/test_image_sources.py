"""read_images (image files by extension, original bytes, failures counted with their reason)
and image-text tables in the LAION/DataComp layout through read_parquet / read_hf."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_files import FORMATS, encode, photo, serve, write_images
from PIL import Image

from mdfql import MdfqlError, Session
from mdfql.io.images import DEFAULT_EXTENSIONS, image_extensions, listing_batches

ROOT = Path(__file__).resolve().parents[1]


def _by_path(df) -> dict[str, tuple[bytes, int]]:
    rows = df.to_pydict()
    return {p: (b, n) for p, b, n in zip(rows["path"], rows["image"], rows["size_bytes"])}


def test_reads_each_format_with_its_original_bytes(tmp_path):
    written = write_images(tmp_path / "photos")
    got = _by_path(Session().sql(f"SELECT * FROM read_images('{tmp_path}/photos/**')"))
    assert got.keys() == written.keys()  # .txt and .json left out, upper-case kept, nested read
    for path, (data, size) in got.items():
        assert data == written[path] and size == len(written[path]) == os.path.getsize(path)
        with Image.open(io.BytesIO(data)) as image:  # real images, decodable as written
            assert image.size[0] > 0


def test_extension_options(tmp_path):
    written = write_images(tmp_path)
    session = Session()
    everything = _by_path(session.sql(f"SELECT * FROM read_images('{tmp_path}/', "
                                      "extensions := '*')"))
    assert everything.keys() == written.keys() | {str(tmp_path / "notes.txt"),
                                                  str(tmp_path / "meta.json")}
    only = _by_path(session.sql(f"SELECT * FROM read_images('{tmp_path}/**', "
                                "extensions := '.JPG, png')"))
    assert only.keys() == {p for p in written if p.lower().endswith((".jpg", ".png"))}
    assert image_extensions("pillow") is not None and "webp" in image_extensions("pillow")
    assert image_extensions(None) == DEFAULT_EXTENSIONS and image_extensions("*") is None
    with pytest.raises(MdfqlError, match="extensions must be"):
        session.sql(f"SELECT * FROM read_images('{tmp_path}/**', extensions := 'a/b')")


def test_missing_or_imageless_input_fails_before_the_run(tmp_path, warehouse):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no images here")
    session = Session()
    session.compile(f"SELECT * FROM read_images('{tmp_path}/nothing/**')")  # it reads nothing
    with pytest.raises(MdfqlError, match="no file matches"):
        session.run(f"COPY (SELECT path FROM read_images('{tmp_path}/nothing/**')) "
                    f"TO '{tmp_path}/out'")
    with pytest.raises(MdfqlError, match=r"none of the 1 file\(s\) matching .* ends in"):
        session.run(f"COPY (SELECT path FROM read_images('{tmp_path}/docs/')) TO '{tmp_path}/out'")
    assert not (tmp_path / "out").exists()


def test_unreadable_file_is_a_counted_row_with_its_reason(tmp_path, warehouse):
    """Over HTTP: 20 URLs, the last one missing (past the files probed before the run)."""
    (tmp_path / "web").mkdir()
    for i in range(19):
        (tmp_path / "web" / f"p{i}.png").write_bytes(encode(photo("coins", 32 + i), "png"))
    with serve(tmp_path / "web") as (base, handler):
        urls = [f"{base}/p{i}.png" for i in range(19)] + [f"{base}/gone.png"]
        listed = ", ".join(f"'{u}'" for u in urls)
        summary = Session().run(f"COPY (SELECT path, image FROM read_images([{listed}])) "
                                f"TO '{tmp_path}/out'")
    assert summary.writes[0].rows_written == 19
    assert summary.failures == {("read_images", "cannot read the file: HTTP 404 File not found"): 1}
    table = pq.read_table(tmp_path / "out")
    assert sorted(table["path"].to_pylist()) == sorted(urls[:19])
    for path, data in zip(table["path"].to_pylist(), table["image"].to_pylist()):
        assert data == (tmp_path / "web" / path.rsplit("/", 1)[1]).read_bytes()


def test_batches_are_bounded_by_bytes():
    files = tuple((f"/x/{i}.jpg", 3 << 20) for i in range(10))
    batches = list(listing_batches(files, batch_bytes=7 << 20))
    assert len(batches) == 5  # two 3 MiB files per 7 MiB batch


def _laion_folder(root: Path) -> list[dict]:
    """A Hugging Face dataset folder of Parquet shards in the LAION/DataComp layout: url, caption,
    image bytes (HF's Image feature: a struct of bytes and path) and metadata."""
    rows = []
    for shard in range(2):
        part = []
        for i in range(3):
            n = shard * 3 + i
            data = encode(photo("chelsea", 40 + n), "jpg")
            part.append({"url": f"https://example.com/{n}.jpg", "caption": f"a cat, take {n}",
                         "image": {"bytes": data, "path": f"{n}.jpg"}, "width": 40 + n,
                         "similarity": 0.25 + n / 100, "NSFW": "UNLIKELY"})
        (root / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(part),
                       root / "data" / f"train-0000{shard}-of-00002.parquet")
        rows += part
    (root / "README.md").write_text("---\nconfigs: [{config_name: default}]\n---\n")
    return rows


def test_laion_layout_folder_through_read_parquet_and_read_hf(tmp_path):
    rows = _laion_folder(tmp_path / "laion")
    session = Session()
    query = ("SELECT url, caption, image.bytes AS image, similarity FROM {} "
             "WHERE length(caption) >= 5 ORDER BY url")
    for source in (f"read_parquet('{tmp_path}/laion')", f"read_hf('{tmp_path}/laion')"):
        got = session.sql(query.format(source)).to_pydict()
        assert got["url"] == sorted(r["url"] for r in rows)
        by_url = {r["url"]: r for r in rows}
        assert got["image"] == [by_url[u]["image"]["bytes"] for u in got["url"]]
        assert got["similarity"] == [by_url[u]["similarity"] for u in got["url"]]


DRIVER = """
import json, sys
from mdfql import Session
summary = Session().run(
    f"COPY (SELECT path, image, size_bytes FROM read_images('{sys.argv[2]}/**'))"
    f" TO '{sys.argv[3]}'", runner=sys.argv[1])
print(json.dumps(summary.writes[0].rows_written))
"""


@pytest.mark.ray
def test_ray_reads_the_same_rows_as_native(tmp_path):
    write_images(tmp_path / "photos")
    tables = {}
    for runner in ("native", "ray"):
        env = dict(os.environ, DAFT_PROGRESS_BAR="0", RAY_AUTH_MODE="disabled",
                   MDFQL_WAREHOUSE=str(tmp_path / f"warehouse-{runner}"))
        proc = subprocess.run([sys.executable, "-c", DRIVER, runner, str(tmp_path / "photos"),
                               str(tmp_path / runner)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == len(FORMATS)
        tables[runner] = pq.read_table(tmp_path / runner).sort_by("path")
    assert tables["ray"].equals(tables["native"])

