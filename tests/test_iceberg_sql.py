"""Iceberg through SQL: CREATE OR REPLACE TABLE, INSERT INTO, read back with read_iceberg and
by name; re-running a replace never doubles a table."""

from __future__ import annotations

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mdfql import MdfqlError, Session
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import load_table


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({
        "url": [f"https://site{i % 5}.example/p{i}" for i in range(100)],
        "words": [i * 3 for i in range(100)],
        "lang": ["en" if i % 4 else "fr" for i in range(100)],
    }), path)
    return path


def run(sql: str, **params: str):
    session = Session()
    return session.run(sql, params, "t.sql"), session


def test_replace_append_and_read_back(warehouse, docs):
    script = f"""
        SET $lang = 'en';
        CREATE OR REPLACE TABLE curated.docs AS
          SELECT url, words FROM read_parquet('{docs}') WHERE lang = $lang;
        INSERT INTO curated.docs SELECT url, words FROM read_parquet('{docs}') WHERE words < 30;
    """
    summary, _ = run(script)
    assert [w.rows_written for w in summary.writes] == [75, 10]
    assert summary.rows_written == 85
    # counted filters (the funnel) see every row the scans read; each step drops the rest
    assert summary.rows_read == 200
    assert [(s.predicate, s.rows_in, s.rows_out) for s in summary.funnel.steps] == [
        ("lang = 'en'", 100, 75), ("words < 30", 100, 10)]
    # re-running replaces, then appends once more: no doubling. Without counters Daft pushes
    # the filters into the Parquet scan: rows read are those the scans returned
    summary, _ = run("SET funnel = false;" + script)
    assert summary.rows_written == 85 and summary.rows_read == 85
    table = load_table("curated.docs", CatalogConfig.resolve())
    assert len(table.history()) == 4
    assert [f.name for f in table.schema().fields] == ["url", "words"]

    n = Session().sql("SELECT count(*) AS n FROM read_iceberg('curated.docs')").to_pylist()
    assert n == [{"n": 85}]
    by_name = Session().sql("SELECT max(words) AS m FROM curated.docs").to_pylist()
    assert by_name == [{"m": 297}]


def test_read_iceberg_at_snapshot(warehouse, docs):
    run(f"CREATE TABLE curated.t AS SELECT words FROM read_parquet('{docs}') WHERE words < 9")
    first = load_table("curated.t", CatalogConfig.resolve()).current_snapshot().snapshot_id
    run(f"INSERT INTO curated.t SELECT words FROM read_parquet('{docs}')")
    s = Session()
    now = s.sql("SELECT count(*) AS n FROM read_iceberg('curated.t')").to_pylist()
    then = s.sql(f"SELECT count(*) AS n FROM read_iceberg('curated.t', snapshot_id := {first})")
    assert now == [{"n": 103}] and then.to_pylist() == [{"n": 3}]


def test_create_existing_table_is_a_positioned_error(warehouse, docs):
    run(f"CREATE TABLE curated.t AS SELECT words FROM read_parquet('{docs}')")
    with pytest.raises(MdfqlError) as info:
        run(f"SELECT 1;\nCREATE TABLE curated.t AS SELECT words FROM read_parquet('{docs}')")
    assert info.value.span.line == 2
    assert "already exists" in info.value.message


def test_unknown_iceberg_table_suggests(warehouse, docs):
    run(f"CREATE TABLE curated.refinedweb AS SELECT words FROM read_parquet('{docs}')")
    with pytest.raises(MdfqlError) as info:
        Session().compile("SELECT * FROM curated.refinedwb", "q.sql")
    assert info.value.hint == "did you mean 'curated.refinedweb'?"


def test_catalog_location_from_sql_option(tmp_path, docs, monkeypatch):
    monkeypatch.delenv("MDFQL_WAREHOUSE", raising=False)
    elsewhere = tmp_path / "lake"
    run(f"SET catalog.warehouse = '{elsewhere}';\n"
        f"CREATE TABLE curated.x AS SELECT words FROM read_parquet('{docs}')")
    assert (elsewhere / "catalog.db").exists()
    config = CatalogConfig.resolve(warehouse=str(elsewhere))
    got = daft.read_iceberg(load_table("curated.x", config))
    assert got.count_rows() == 100
