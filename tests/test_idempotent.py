"""Idempotent writes: every commit records its run; re-running an INSERT over the same inputs
appends nothing, a changed input or statement appends again."""

from __future__ import annotations

import json
import os

import pytest
from warc_files import write_warc

from mdfql import MdfqlError, Session
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import load_table, read_table
from mdfql.sinks.provenance import FINGERPRINT

INSERT = """SET $input = 'x';
SET $min_len = 0;
-- the pages of one crawl
INSERT INTO curated.pages
  SELECT url, length(url) AS n FROM read_warc($input) WHERE length(url) >= $min_len;
"""


def _table():
    return load_table("curated.pages", CatalogConfig.resolve())


def _rows() -> int:
    return read_table("curated.pages", CatalogConfig.resolve()).count_rows()


def _run(sql: str, filename: str = "ingest.sql", **params: str):
    return Session().run(sql, params, filename)


@pytest.fixture
def crawl(warehouse, tmp_path):
    folder = tmp_path / "crawl"
    folder.mkdir()
    write_warc(folder / "a.warc.gz", 6)
    return folder


def test_a_commit_records_its_run(crawl):
    summary = _run(INSERT, input=str(crawl / "*.warc.gz"))
    props = _table().current_snapshot().summary.additional_properties
    assert props["mdfql.run-id"] == summary.run_id
    assert props["mdfql.script"] == "ingest.sql" and len(props["mdfql.script-sha256"]) == 64
    assert json.loads(props["mdfql.params"]) == {"input": str(crawl / "*.warc.gz"),
                                                 "min_len": 0}
    assert props["mdfql.input-files"] == "1"
    assert json.loads(props["mdfql.inputs"]) == [f"file://{crawl}/a.warc.gz"]
    assert props["mdfql.statement-line"] == "4" and len(props[FINGERPRINT]) == 64


def test_rerunning_an_insert_over_the_same_inputs_appends_nothing(crawl):
    glob = str(crawl / "*.warc.gz")
    first = _run(INSERT, input=glob)
    assert first.rows_written == 6
    again = _run(INSERT, input=glob)
    (write,) = again.writes
    assert write.skipped and write.rows_written == 0 and again.rows_written == 0
    assert write.snapshot_id == first.writes[0].snapshot_id
    assert "already in the table" in write.note
    assert _rows() == 6 and len(_table().history()) == 1
    # the same statement from another script, comments and layout changed: still the same
    other = "SET $input = 'x';  SET $min_len = 0;\nINSERT INTO curated.pages SELECT url,\n" \
            "length(url) AS n FROM read_warc($input) WHERE length(url) >= $min_len;"
    assert _run(other, "other.sql", input=glob).writes[0].skipped
    assert _rows() == 6


def test_new_or_changed_inputs_append_again(crawl):
    glob = str(crawl / "*.warc.gz")
    _run(INSERT, input=glob)
    write_warc(crawl / "b.warc.gz", 4)  # the glob now matches another file
    assert _run(INSERT, input=glob).rows_written == 10
    assert _rows() == 16
    stat = os.stat(crawl / "b.warc.gz")  # a file rewritten in place is another input
    os.utime(crawl / "b.warc.gz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _run(INSERT, input=glob).rows_written == 10
    # another parameter value is another statement
    assert _run(INSERT, input=glob, min_len="1").rows_written == 10
    assert _rows() == 36


def test_a_replace_in_between_lets_the_insert_run_again(crawl):
    glob = str(crawl / "*.warc.gz")
    _run(INSERT, input=glob)
    _run(f"CREATE OR REPLACE TABLE curated.pages AS SELECT url, length(url) AS n "
         f"FROM read_warc('{glob}') WHERE false")
    assert _rows() == 0
    assert _run(INSERT, input=glob).rows_written == 6  # its earlier rows were replaced away
    assert _rows() == 6


def test_a_failed_run_resumes_without_doubling(crawl, tmp_path):
    noisy = write_warc(tmp_path / "noisy.warc.gz", good=8, broken=2)
    script = INSERT + f"INSERT INTO curated.noisy SELECT url FROM read_warc('{noisy}');\n"
    with pytest.raises(MdfqlError, match="max_failed_fraction"):
        _run(script, input=str(crawl / "*.warc.gz"))
    assert _rows() == 6  # the first statement committed before the second failed
    summary = _run("SET max_failed_fraction = 0.25;\n" + script, input=str(crawl / "*.warc.gz"))
    first, second = summary.writes
    assert first.skipped and not second.skipped and second.rows_written == 8
    assert _rows() == 6
