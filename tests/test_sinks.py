"""Iceberg and file sinks: round trips, atomic replace, schema rules, catalog resolution."""

import os

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import base64  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import daft  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402
from daft import col  # noqa: E402

from mdfql.sinks import (  # noqa: E402
    CatalogConfig,
    SinkError,
    load_table,
    open_catalog,
    parse_ident,
    read_table,
    table_exists,
    write_files,
    write_table,
)
from mdfql.sinks import iceberg as iceberg_sink  # noqa: E402


def _docs() -> pa.Table:
    """A small web-document batch with the column types a curation pipeline produces."""
    return pa.table(
        {
            "url": pa.array(
                ["https://a.example/1", "https://b.example/x?y=2", "https://c.example/é"],
                pa.large_string(),
            ),
            "text": ["Hello world.\nSecond line", "Ünïcödé text", ""],
            "n_words": pa.array([4, 2, 0], pa.int32()),
            "score": [0.91, 0.42, None],
            "fetched": pa.array(
                [dt.datetime(2024, 5, d, 12, 30, tzinfo=dt.timezone.utc) for d in (1, 2, 3)],
                pa.timestamp("us", tz="UTC"),
            ),
            "meta": [{"lang": "en", "len": 24}, {"lang": "de", "len": 12}, None],
            "tags": [["news", "en"], [], None],
        }
    )


@pytest.fixture
def cfg(tmp_path: Path) -> CatalogConfig:
    return CatalogConfig.resolve(warehouse=str(tmp_path / "wh"), env={})


def _top(table) -> list[str]:
    return [f.name for f in table.schema().fields]


def _sorted(t: pa.Table, key: str = "url") -> pa.Table:
    return t.sort_by(key)


def test_create_round_trip(cfg: CatalogConfig) -> None:
    src = _docs()
    res = write_table(daft.from_arrow(src), "web.docs", "create", cfg)
    assert (res.ident, res.rows_written, res.mode) == ("web.docs", 3, "create")
    assert res.snapshot_id == load_table("web.docs", cfg).current_snapshot().snapshot_id
    back = read_table("web.docs", cfg).to_arrow()
    # Storage widens int32 -> int (same values) and strings come back as large_string.
    expected = src.cast(back.schema)
    assert _sorted(back).equals(_sorted(expected))
    assert back.schema.field("n_words").type == pa.int32()
    assert back.schema.field("fetched").type == pa.timestamp("us", tz="UTC")
    assert table_exists("web.docs", cfg) and not table_exists("web.nope", cfg)


def test_create_fails_when_table_exists(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    with pytest.raises(SinkError, match="already exists"):
        write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    assert read_table("web.docs", cfg).count_rows() == 3


def test_two_appends_add_up(cfg: CatalogConfig) -> None:
    first = write_table(daft.from_arrow(_docs()), "web.docs", "append", cfg)
    second = write_table(daft.from_arrow(_docs()).limit(2), "web.docs", "append", cfg)
    table = load_table("web.docs", cfg)
    assert [s.snapshot_id for s in table.snapshots()] == [first.snapshot_id, second.snapshot_id]
    assert second.rows_written == 2
    assert read_table("web.docs", cfg).count_rows() == 5
    assert len(table.schemas()) == 1
    assert _top(table) == _docs().column_names


def test_append_adds_new_columns_and_widens(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    more = daft.from_arrow(_docs()).with_columns(
        {"n_words": col("n_words").cast(daft.DataType.int64()), "is_en": col("url") == "x"}
    )
    write_table(more, "web.docs", "append", cfg)
    table = load_table("web.docs", cfg)
    assert _top(table) == [*_docs().column_names, "is_en"]
    assert str(table.schema().find_field("n_words").field_type) == "long"
    back = read_table("web.docs", cfg).to_pydict()
    assert sorted(back["is_en"], key=str) == [False, False, False, None, None, None]


def test_append_of_fewer_columns_fills_nulls(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    write_table(daft.from_pydict({"url": ["https://d.example/"]}), "web.docs", "append", cfg)
    back = read_table("web.docs", cfg).where(col("url") == "https://d.example/").to_pylist()
    assert back == [{name: None for name in _docs().column_names} | {"url": "https://d.example/"}]


def test_concurrent_commit_is_rejected(cfg: CatalogConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    stage = iceberg_sink.stage_data_files

    def stage_while_another_writer_commits(df, table, txn):  # noqa: ANN001, ANN202
        files = stage(df, table, txn)
        monkeypatch.setattr(iceberg_sink, "stage_data_files", stage)
        write_table(daft.from_arrow(_docs()), "web.docs", "append", cfg)
        return files

    monkeypatch.setattr(iceberg_sink, "stage_data_files", stage_while_another_writer_commits)
    with pytest.raises(SinkError, match="changed by another writer"):
        write_table(daft.from_pydict({"url": ["x"]}), "web.docs", "replace", cfg)
    assert read_table("web.docs", cfg).count_rows() == 6


def test_incompatible_append_names_the_column(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    bad = daft.from_arrow(_docs()).with_column("score", col("score").cast(daft.DataType.string()))
    with pytest.raises(SinkError, match="'score' is double in the table but string"):
        write_table(bad, "web.docs", "append", cfg)
    table = load_table("web.docs", cfg)
    assert len(table.snapshots()) == 1 and read_table("web.docs", cfg).count_rows() == 3


def test_replace_swaps_schema_and_rows_in_one_snapshot(cfg: CatalogConfig) -> None:
    old = write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    new_df = daft.from_pydict({"url": ["https://z.example/"], "quality": [0.5]})
    for _ in range(2):  # re-running a replace never doubles rows
        res = write_table(new_df, "web.docs", "replace", cfg)
        assert res.rows_written == 1
    table = load_table("web.docs", cfg)
    assert _top(table) == ["url", "quality"]
    back = read_table("web.docs", cfg).to_pydict()
    assert back == {"url": ["https://z.example/"], "quality": [0.5]}
    snaps = table.snapshots()
    assert len(snaps) == 3 and snaps[0].snapshot_id == old.snapshot_id
    assert [s.summary.operation.value for s in snaps] == ["append", "overwrite", "overwrite"]
    # The old snapshot still reads with its own schema (time travel).
    before = read_table("web.docs", cfg, snapshot_id=old.snapshot_id).to_arrow()
    assert before.num_rows == 3 and "n_words" in before.column_names


def test_failed_replace_leaves_table_intact(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)

    @daft.func.batch(return_dtype=daft.DataType.int64(), batch_size=64)
    def explode_late(x: daft.Series) -> pa.Array:
        arr = x.to_arrow()
        if pa.compute.max(arr).as_py() >= 900:
            raise RuntimeError("worker died mid-stream")
        return arr

    big = daft.from_pydict({"i": list(range(1000))}).with_column("j", explode_late(col("i")))
    with pytest.raises(Exception, match="worker died mid-stream"):
        write_table(big, "web.docs", "replace", cfg)
    table = load_table("web.docs", cfg)
    assert len(table.snapshots()) == 1 and len(table.schemas()) == 1
    assert _sorted(read_table("web.docs", cfg).to_arrow()).column("url").to_pylist() == [
        "https://a.example/1",
        "https://b.example/x?y=2",
        "https://c.example/é",
    ]


def test_failed_first_write_creates_no_table(cfg: CatalogConfig) -> None:
    @daft.func(return_dtype=daft.DataType.int64())
    def boom(x: int) -> int:
        raise ValueError("bad row")

    with pytest.raises(Exception, match="bad row"):
        write_table(daft.from_pydict({"x": [1]}).select(boom(col("x"))), "web.t", "create", cfg)
    assert not table_exists("web.t", cfg)


def test_unsigned_and_nanosecond_columns_are_stored(cfg: CatalogConfig) -> None:
    src = daft.from_arrow(
        pa.table(
            {
                "h": pa.array([1, 2**64 - 1], pa.uint64()),
                "ts": pa.array([1_700_000_000_123_456_789] * 2, pa.timestamp("ns")),
                "local": pa.array([0, 0], pa.timestamp("us", tz="Europe/Paris")),
                "text": ["a b c", "d e f"],
            }
        )
    ).with_column("sig", col("text").minhash(num_hashes=4, ngram_size=1))
    write_table(src, "web.hashes", "create", cfg)
    assert _top(load_table("web.hashes", cfg)) == ["h", "ts", "local", "text", "sig"]
    back = read_table("web.hashes", cfg).to_pydict()
    # uint64 keeps its bits as int64; uint32 signatures widen losslessly.
    assert back["h"] == [1, -1]
    expected_sig = src.select(col("sig").cast(daft.DataType.list(daft.DataType.int64())))
    assert back["sig"] == expected_sig.to_pydict()["sig"]
    assert back["ts"][0] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456)
    assert back["local"][0] == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def test_embeddings_stored_as_lists_and_unstorable_types_named(cfg: CatalogConfig) -> None:
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    emb = daft.from_pydict({"e": vectors}).with_column(
        "e", col("e").cast(daft.DataType.embedding(daft.DataType.float32(), 3))
    )
    write_table(emb, "web.emb", "create", cfg)
    assert read_table("web.emb", cfg).to_pydict() == {"e": vectors.tolist()}
    with pytest.raises(SinkError, match="column 'o' has type Python"):
        write_table(daft.from_pydict({"o": [object()]}), "web.obj", "create", cfg)
    assert not table_exists("web.obj", cfg)


def test_empty_writes_and_replace_of_a_missing_table(cfg: CatalogConfig) -> None:
    nothing = daft.from_pydict({"x": [1, 2]}).where(col("x") > 5)
    created = write_table(nothing, "web.e", "create", cfg)
    assert (created.rows_written, created.snapshot_id) == (0, None)
    assert load_table("web.e", cfg).snapshots() == []
    assert write_table(nothing, "web.e", "append", cfg).snapshot_id is None
    write_table(daft.from_pydict({"x": [1, 2]}), "web.e", "append", cfg)
    emptied = write_table(nothing, "web.e", "replace", cfg)
    assert emptied.snapshot_id is not None and read_table("web.e", cfg).count_rows() == 0
    fresh = write_table(daft.from_pydict({"y": ["a"]}), "web.fresh", "replace", cfg)
    assert fresh.rows_written == 1 and read_table("web.fresh", cfg).to_pydict() == {"y": ["a"]}


def test_missing_table_lists_candidates(cfg: CatalogConfig) -> None:
    write_table(daft.from_arrow(_docs()), "web.docs", "create", cfg)
    write_table(daft.from_arrow(_docs()), "web.pages", "create", cfg)
    with pytest.raises(SinkError, match="did you mean 'web.docs'") as err:
        read_table("web.doc", cfg)
    assert err.value.candidates == ("web.docs", "web.pages")
    with pytest.raises(SinkError, match="existing tables: web.docs, web.pages"):
        read_table("other.zzz", cfg)


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        ("docs", "has no namespace"),
        ("web.", "invalid table name"),
        ("web.1docs", "invalid table name"),
        ("web.my-docs", "invalid table name"),
        ("lake.web.docs", "nested namespaces"),
    ],
)
def test_bad_idents(ident: str, message: str) -> None:
    with pytest.raises(SinkError, match=message):
        parse_ident(ident)
    assert parse_ident("web.docs_2") == ("web", "docs_2")


def test_copy_parquet_round_trip(tmp_path: Path) -> None:
    src = _docs()
    out = tmp_path / "out"
    res = write_files(daft.from_arrow(src), str(out), "parquet")
    assert res.rows_written == 3 and res.snapshot_id is None
    back = pq.read_table(out)
    assert _sorted(back).equals(_sorted(src.cast(back.schema)))
    write_files(daft.from_arrow(src), str(out), "parquet", mode="append")
    assert pq.read_table(out).num_rows == 6
    write_files(daft.from_arrow(src).limit(1), str(out), "parquet")
    assert pq.read_table(out).num_rows == 1


def test_copy_jsonl_is_one_object_per_line(tmp_path: Path) -> None:
    src = _docs()
    out = tmp_path / "out"
    res = write_files(daft.from_arrow(src), str(out), "jsonl")
    lines = [line for f in sorted(out.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    assert res.rows_written == len(lines) == 3
    rows = sorted((json.loads(line) for line in lines), key=lambda r: r["url"])
    assert rows[0]["text"] == "Hello world.\nSecond line"
    assert rows[1]["meta"] == {"lang": "de", "len": 12} and rows[2]["tags"] is None
    raw = daft.from_pydict({"id": [1], "payload": [b"\x00\xffHTTP/1.1"]})
    write_files(raw, str(tmp_path / "raw"), "jsonl")
    (line,) = next((tmp_path / "raw").glob("*.jsonl")).read_text().splitlines()
    assert base64.b64decode(json.loads(line)["payload"]) == b"\x00\xffHTTP/1.1"
    with pytest.raises(SinkError, match="unknown COPY format"):
        write_files(daft.from_arrow(src), str(out), "csv")  # type: ignore[arg-type]


def test_catalog_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = CatalogConfig.resolve(env={})
    assert default.warehouse == str(tmp_path.resolve() / "warehouse")
    assert default.uri == f"sqlite:///{tmp_path.resolve()}/warehouse/catalog.db"
    assert (default.name, default.kind) == ("mdfql", "sql")

    env = {"MDFQL_CATALOG_URI": "sqlite:////env/cat.db", "MDFQL_WAREHOUSE": "envwh"}
    from_env = CatalogConfig.resolve(env=env)
    assert from_env.uri == "sqlite:////env/cat.db"
    assert from_env.warehouse == str(tmp_path.resolve() / "envwh")

    options = {
        "catalog.uri": "sqlite:////opt/cat.db",
        "catalog.warehouse": "s3://bucket/wh",
        "catalog.name": "prod",
        "catalog.s3.endpoint": "http://127.0.0.1:9000",
    }
    from_opts = CatalogConfig.resolve(options=options, env=env)
    assert (from_opts.uri, from_opts.warehouse, from_opts.name) == (
        "sqlite:////opt/cat.db",
        "s3://bucket/wh",
        "prod",
    )
    assert from_opts.load_properties()["s3.endpoint"] == "http://127.0.0.1:9000"

    explicit = CatalogConfig.resolve(
        uri="sqlite:////x.db", warehouse="/w", options=options, env=env
    )
    assert (explicit.uri, explicit.warehouse) == ("sqlite:////x.db", "/w")

    monkeypatch.setenv("MDFQL_WAREHOUSE", str(tmp_path / "real"))
    assert CatalogConfig.resolve().warehouse == str(tmp_path / "real")


def test_rest_and_bad_catalog_settings() -> None:
    rest = CatalogConfig.resolve(
        options={"catalog.kind": "rest", "catalog.uri": "https://cat.example/api"}, env={}
    )
    assert rest.load_properties() == {"type": "rest", "uri": "https://cat.example/api"}
    with pytest.raises(SinkError, match="rest catalog needs a uri"):
        CatalogConfig.resolve(kind="rest", env={})
    with pytest.raises(SinkError, match="http"):
        CatalogConfig.resolve(kind="rest", uri="sqlite:////x.db", env={})
    with pytest.raises(SinkError, match="SQLAlchemy"):
        CatalogConfig.resolve(uri="https://cat.example", env={})
    with pytest.raises(SinkError, match="unknown catalog kind"):
        CatalogConfig.resolve(kind="hive", env={})  # type: ignore[arg-type]


def test_open_catalog_is_cached_and_makes_the_warehouse(cfg: CatalogConfig) -> None:
    catalog = open_catalog(cfg)
    assert open_catalog(CatalogConfig.resolve(warehouse=cfg.warehouse, env={})) is catalog
    assert Path(cfg.warehouse, "catalog.db").exists()
