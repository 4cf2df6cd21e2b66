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


WRITE_THEN_READ = """
    SET $lang = 'en';
    CREATE OR REPLACE TABLE curated.tagged AS
      SELECT url, words, hash(url) AS h FROM read_parquet('{docs}') WHERE lang = $lang;
    INSERT INTO curated.tagged
      SELECT url, words, hash(url) AS h FROM read_parquet('{docs}') WHERE words < 30;
    CREATE OR REPLACE TABLE curated.kept AS
      SELECT t.url, t.h, d.lang FROM curated.tagged t JOIN read_parquet('{docs}') d
        ON t.url = d.url
      WHERE t.words < 60;
"""


def test_a_table_written_above_is_read_as_written(warehouse, docs):
    """A statement reading a table that an earlier one writes sees what was just written
    (replace, then append): on the first run, when the table did not exist at compile time,
    and on a re-run with other values, not what the previous run left."""
    script = WRITE_THEN_READ.format(docs=docs)
    rows = pq.read_table(docs).to_pylist()
    for lang in ("en", "fr", "en"):
        # the lang's rows, then the appended ones (words < 30, any lang), each with words < 60
        expected = sorted([r["url"] for r in rows if r["lang"] == lang and r["words"] < 60]
                          + [r["url"] for r in rows if r["words"] < 30])
        summary, session = run(script, lang=lang)
        kept = session.sql("SELECT * FROM read_iceberg('curated.kept')").to_pylist()
        assert sorted(r["url"] for r in kept) == expected
        assert summary.writes[2].rows_written == len(expected)
        # uint64 hashes come back as Iceberg stores them (int64, same bits)
        hashes = session.sql(f"SELECT url, hash(url) AS h FROM read_parquet('{docs}')")
        signed = {r["url"]: r["h"] - (1 << 64) if r["h"] >= 1 << 63 else r["h"]
                  for r in hashes.to_pylist()}
        assert all(r["h"] == signed[r["url"]] for r in kept)
        tagged = load_table("curated.tagged", CatalogConfig.resolve())
        snapshot = load_table("curated.kept", CatalogConfig.resolve()).current_snapshot()
        # its provenance names the snapshot it read: the INSERT's
        assert f"iceberg://curated.tagged@{tagged.current_snapshot().snapshot_id}" in \
            snapshot.summary["mdfql.inputs"]


def test_check_and_explain_of_a_table_written_above_read_nothing(warehouse, docs):
    """Compiling a script that reads a table it writes needs no such table yet, and makes
    none: the read is planned as a scan that looks the table up when it runs."""
    session = Session()
    program = session.compile(WRITE_THEN_READ.format(docs=docs))
    assert "curated.tagged" not in session.table_names({})
    assert "iceberg curated.tagged (written above)" in program.actions[-1].plan.render()
