"""read_webdataset (one row per sample, a Binary column per extension, damaged shards keep the
samples before the damage) and COPY ... (FORMAT webdataset) writing shards of original bytes."""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import pytest
from image_files import add_member, serve, write_images, write_shard

from mdfql import MdfqlError, Session
from mdfql.io.webdataset import infer_columns, read_shard, split_member

COLUMNS = "columns := 'jpg,txt,json'"


def _rows(df) -> dict[str, dict]:
    rows = df.to_pylist()
    return {r["key"]: r for r in rows}


def test_split_member_follows_webdataset():
    assert split_member("part/000001.jpg") == ("part/000001", "jpg")
    assert split_member("a/b/x.seg.PNG") == ("a/b/x", "seg.png")
    assert split_member("README") is None and split_member("dir/.hidden") is None


def test_reads_samples_with_original_bytes(tmp_path):
    written = write_shard(tmp_path / "s0.tar", 0, 5) + write_shard(tmp_path / "s1.tar", 5, 4)
    got = _rows(Session().sql(f"SELECT key, shard, jpg, CAST(txt AS VARCHAR) AS caption, json "
                              f"FROM read_webdataset('{tmp_path}/*.tar', {COLUMNS})"))
    assert got.keys() == {s["key"] for s in written}
    for sample in written:
        row = got[sample["key"]]
        assert row["jpg"] == sample["jpg"] and row["json"] == sample["json"]
        assert row["caption"] == sample["txt"].decode()
        assert row["shard"].endswith(("s0.tar", "s1.tar"))


def test_columns_inferred_and_missing_members_are_null(tmp_path):
    write_shard(tmp_path / "s.tar", 0, 3)
    with tarfile.open(tmp_path / "s.tar", "a") as tar:
        add_member(tar, "extra/only.cls", b"7")
    assert infer_columns([str(tmp_path / "s.tar")]) == ("jpg", "txt", "json", "cls")
    session = Session()
    df = session.sql(f"SELECT * FROM read_webdataset('{tmp_path}/s.tar')")
    assert df.column_names == ["key", "shard", "jpg", "txt", "json", "cls"]
    rows = _rows(df)
    assert rows["extra/only"]["cls"] == b"7" and rows["extra/only"]["jpg"] is None
    assert rows["part/000000"]["cls"] is None
    narrow = session.sql(f"SELECT * FROM read_webdataset('{tmp_path}/s.tar', columns := 'TXT')")
    assert narrow.column_names == ["key", "shard", "txt"]
    with pytest.raises(MdfqlError, match="each extension once"):
        session.sql(f"SELECT * FROM read_webdataset('{tmp_path}/s.tar', columns := 'jpg,jpg')")


def test_explicit_columns_compile_without_reading(tmp_path, warehouse):
    session = Session()
    session.compile(f"SELECT * FROM read_webdataset('{tmp_path}/none/*.tar', {COLUMNS})")
    with pytest.raises(MdfqlError, match="no file matches"):
        session.run(f"COPY (SELECT key FROM read_webdataset('{tmp_path}/none/*.tar', {COLUMNS}))"
                    f" TO '{tmp_path}/out'")
    (tmp_path / "fake.tar").write_bytes(b"hello, not a tar at all" * 40)
    with pytest.raises(MdfqlError, match="not a tar file"):
        session.run(f"COPY (SELECT key FROM read_webdataset('{tmp_path}/fake.tar', {COLUMNS}))"
                    f" TO '{tmp_path}/out'")


@pytest.mark.parametrize("damage", ["cut_in_member", "cut_at_block", "garbled_header"])
def test_damaged_shard_keeps_the_samples_before_the_damage(tmp_path, warehouse, damage):
    written = write_shard(tmp_path / "good.tar", 0, 6)
    data = (tmp_path / "good.tar").read_bytes()
    with tarfile.open(tmp_path / "good.tar") as tar:
        members = tar.getmembers()
    # members 9-11 are sample 3's: the damage hits it, samples 0-2 are before the damage
    jpg, txt = members[9], members[10]
    if damage == "cut_in_member":
        broken = data[: jpg.offset_data + jpg.size // 2]
    elif damage == "cut_at_block":  # where a header should start: no end-of-archive blocks
        broken = data[: txt.offset]
    else:
        broken = data[: txt.offset] + b"\x07" * 512 + data[txt.offset + 512:]
    (tmp_path / "bad.tar").write_bytes(broken)
    write_shard(tmp_path / "other.tar", 100, 2)
    summary = Session().run(f"SET max_failed_fraction = 0.5;\n"  # 1 of 6 here: over 5%
                            f"COPY (SELECT key, jpg FROM read_webdataset("
                            f"['{tmp_path}/bad.tar', '{tmp_path}/other.tar'], {COLUMNS})) "
                            f"TO '{tmp_path}/out' (FORMAT parquet)")
    assert summary.writes[0].rows_written == 3 + 2
    [(stage, reason)] = summary.failures
    assert stage == "read_webdataset" and reason.startswith("truncated or corrupt tar")
    read = next(c for p, c in summary.reads.items() if p.endswith("bad.tar"))
    assert (read.rows, read.failed) == (3, 1)
    assert written[2]["key"] == "part/000002"


def test_gzip_shard_over_http_streams_in_bounded_batches(tmp_path):
    write_shard(tmp_path / "s.tar", 0, 7)
    (tmp_path / "s.tar.gz").write_bytes(gzip.compress((tmp_path / "s.tar").read_bytes()))
    with serve(tmp_path) as (base, _):
        batches = list(read_shard(f"{base}/s.tar.gz", ("jpg", "txt"), batch_samples=3))
        rows = Session().sql(f"SELECT key FROM read_webdataset('{base}/s.tar.gz', {COLUMNS})")
        keys = sorted(rows.to_pydict()["key"])
    assert len(batches) == 3  # 3 + 3 + 1 samples
    assert keys == [f"part/{i:06d}" for i in range(7)]


def test_copy_webdataset_round_trip_of_images(tmp_path, warehouse):
    images = write_images(tmp_path / "photos")
    summary = Session().run(
        f"COPY (SELECT replace(replace(path, '{tmp_path}/', ''), '.', '_') AS key, "
        f"image AS img, size_bytes AS size, 'caption ' || path AS txt "
        f"FROM read_images('{tmp_path}/photos/**')) "
        f"TO '{tmp_path}/shards' (FORMAT webdataset, SHARD_SIZE 3)")
    assert summary.writes[0].rows_written == len(images)
    shards = sorted(p.name for p in (tmp_path / "shards").glob("*.tar"))
    assert shards == [f"shard-{i:06d}.tar" for i in range(-(-len(images) // 3))]
    back = _rows(Session().sql(f"SELECT key, img, CAST(size AS VARCHAR) AS size, "
                               f"CAST(txt AS VARCHAR) AS txt "
                               f"FROM read_webdataset('{tmp_path}/shards/*.tar')"))
    assert len(back) == len(images)
    for path, data in images.items():
        row = back[path.replace(f"{tmp_path}/", "").replace(".", "_")]
        assert row["img"] == data  # the original bytes
        assert json.loads(row["size"]) == len(data) and row["txt"] == f"caption {path}"


def test_copy_webdataset_counts_bad_keys_and_checks_options(tmp_path, warehouse):
    rows = [("a", "x"), ("a", "dup"), ("b.c", "dot"), (None, "none"), ("../up", "climb"),
            ("d", None)]
    (tmp_path / "rows.jsonl").write_text(
        "".join(json.dumps({"id": k, "txt": t}) + "\n" for k, t in rows))
    session = Session()
    summary = session.run(
        f"COPY (SELECT id, txt FROM read_jsonl('{tmp_path}/rows.jsonl'))"
        f" TO '{tmp_path}/w' (FORMAT webdataset, KEY 'id')")
    assert summary.writes[0].rows_written == 2
    assert {reason for _, reason in summary.failures} == {
        "the key repeats one of its shard's", "the key is NULL or empty",
        "the key holds a '.' in its last part (readers split the key there)",
        "the key is not a relative path inside the shard"}
    with tarfile.open(tmp_path / "w" / "shard-000000.tar") as tar:
        assert tar.getnames() == ["a.txt"]  # 'd' has no member: its txt is NULL
    with pytest.raises(MdfqlError, match="no column 'key'"):
        session.run(f"COPY (SELECT 1 AS x) TO '{tmp_path}/w2' (FORMAT webdataset)")
    with pytest.raises(MdfqlError, match="SHARD_SIZE must be"):
        session.run(f"COPY (SELECT 'k' AS key) TO '{tmp_path}/w2' "
                    "(FORMAT webdataset, SHARD_SIZE 0)")
    with pytest.raises(MdfqlError, match="is for FORMAT webdataset"):
        session.run(f"COPY (SELECT 'k' AS key) TO '{tmp_path}/w2' (FORMAT parquet, KEY 'key')")
    assert not Path(tmp_path / "w2").exists()
