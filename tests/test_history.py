"""The run history: every run, succeeded or failed, appends its record to mdfql.runs in the
run's catalog; a user's table of that name is never written; history never fails a run."""

from __future__ import annotations

import hashlib
import json
import logging
import os

import pytest
from warc_files import write_warc

from mdfql import Session, cli, history
from mdfql.demo.sample import write_sample
from mdfql.errors import MdfqlError
from mdfql.sinks.catalog import CatalogConfig, open_catalog

PIPELINE = """
SET $input = 'missing.warc.gz';
CREATE OR REPLACE TABLE curated.pages AS
  SELECT url, html FROM read_warc($input)
  WHERE status = 200 AND content_type = 'text/html';
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("history") / "s.warc.gz", n_records=300)


def _runs(name: str = "mdfql.runs") -> list[dict]:
    table = open_catalog(CatalogConfig.resolve()).load_table(name)
    return table.scan().to_arrow().to_pylist()


def test_a_run_appends_its_record(warehouse, sample):
    summary = Session().run(PIPELINE, {"input": str(sample.path)}, filename="pages.sql")
    rows = _runs()
    assert [r["run_id"] for r in rows] == [summary.run_id]
    row = rows[0]
    assert row["status"] == "succeeded" and row["error"] is None
    assert row["script_sha256"] == hashlib.sha256(PIPELINE.encode()).hexdigest()
    assert json.loads(row["params"]) == {"input": str(sample.path)}
    assert row["rows_read"] == summary.rows_read > 0
    assert row["rows_written"] == summary.rows_written > 0
    assert [(i["path"].removeprefix("file://"), i["size"]) for i in row["inputs"]] == \
        [(str(sample.path), os.path.getsize(sample.path))]
    (write,) = row["writes"]
    assert (write["table"], write["rows"], write["snapshot_id"]) == \
        ("curated.pages", summary.rows_written, summary.writes[0].snapshot_id)
    # the sample plants malformed records: the read failures are counted by reason
    assert {(f["stage"], f["reason"]): f["rows"] for f in row["failures"]} == summary.failures
    assert row["ended_at"] >= row["started_at"]
    record = history.RunRecord.from_dict(json.loads(row["record"]))
    assert record.run_id == summary.run_id and record.funnel == summary.funnel.as_dict()
    assert [s["target"] for s in record.statements] == ["curated.pages"]
    failed = [f for f in record.failures if f["rows"]]
    assert failed and all(f["examples"] for f in failed)  # where they were seen


def test_a_record_lists_the_first_files_and_counts_them_all(warehouse, tmp_path):
    """A crawl of ~90,000 files keeps its record small: every file counts in its source's
    totals and digest, only the first FILES_LISTED are listed."""
    n = history.FILES_LISTED + 5
    for i in range(n):
        write_warc(tmp_path / f"part-{i:03d}.warc.gz", good=2, broken=1)
    script = "SET max_failed_fraction = 0.5;\n" + PIPELINE  # a third of the records are bad
    summary = Session().run(script, {"input": str(tmp_path / "part-*.warc.gz")},
                            filename="pages.sql")
    (row,) = _runs()
    record = history.RunRecord.from_dict(json.loads(row["record"]))
    (source,) = record.sources
    paths = sorted(str(p) for p in tmp_path.glob("part-*.warc.gz"))
    prefix = "file://" if record.inputs[0]["path"].startswith("file://") else ""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(f"{prefix}{p}\0{os.path.getsize(p)}\n".encode())
    assert (source["files"], source["size"], source["files_sha256"]) == \
        (n, sum(os.path.getsize(p) for p in paths), digest.hexdigest())
    # each record is a row, its HTTP parsed or not; the broken ones count as failed
    assert (source["rows"], source["records"], source["failed"]) == \
        (summary.rows_read, 3 * n, n)
    listed = [i["path"].removeprefix("file://") for i in record.inputs]
    assert listed == paths[:history.FILES_LISTED]
    assert len(record.reads) == len(row["inputs"]) == history.FILES_LISTED


def test_a_failed_run_is_recorded(warehouse, sample):
    session = Session()
    session.run(PIPELINE, {"input": str(sample.path)})
    snapshot = open_catalog(CatalogConfig.resolve()).load_table("curated.pages") \
        .current_snapshot().snapshot_id
    # the sample's planted malformed records exceed a zero error budget: nothing is written
    with pytest.raises(MdfqlError, match="max_failed_fraction"):
        session.run("SET max_failed_fraction = 0;" + PIPELINE, {"input": str(sample.path)})
    first, second = sorted(_runs(), key=lambda r: r["started_at"])
    assert (first["status"], second["status"]) == ("succeeded", "failed")
    assert "max_failed_fraction" in second["error"]
    assert second["writes"] == [] and second["rows_written"] == 0
    assert sum(f["rows"] for f in second["failures"]) > 0  # what made it fail
    assert open_catalog(CatalogConfig.resolve()).load_table("curated.pages") \
        .current_snapshot().snapshot_id == snapshot


def test_history_off_and_renamed(warehouse, sample):
    Session().run("SET history_table = 'off';" + PIPELINE, {"input": str(sample.path)})
    catalog = open_catalog(CatalogConfig.resolve())
    tables = [t for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)]
    assert tables == [("curated", "pages")]
    summary = Session().run("SET history_table = 'ops.history';" + PIPELINE,
                            {"input": str(sample.path)})
    assert [r["run_id"] for r in _runs("ops.history")] == [summary.run_id]


def test_a_user_table_of_that_name_is_left_alone(warehouse, sample, caplog):
    session = Session()
    session.run("CREATE TABLE mdfql.runs AS SELECT 1 AS x")
    table = open_catalog(CatalogConfig.resolve()).load_table("mdfql.runs")
    snapshot = table.current_snapshot().snapshot_id
    with caplog.at_level(logging.WARNING, logger="mdfql.history"):
        summary = session.run(PIPELINE, {"input": str(sample.path)})
    assert summary.rows_written > 0  # the run succeeded all the same
    assert any("not a run history" in r.getMessage() for r in caplog.records)
    table = table.refresh()
    assert table.current_snapshot().snapshot_id == snapshot
    assert table.scan().to_arrow().to_pylist() == [{"x": 1}]


def test_a_history_that_cannot_be_written_warns(warehouse, sample, caplog, monkeypatch):
    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(history, "append", broken)
    records = []
    with caplog.at_level(logging.WARNING, logger="mdfql.history"):
        summary = Session().run(PIPELINE, {"input": str(sample.path)}, on_record=records.append)
    assert summary.rows_written > 0
    assert [r.run_id for r in records] == [summary.run_id]
    assert any("disk full" in r.getMessage() for r in caplog.records)


def test_cli_runs_and_report(warehouse, sample, tmp_path, capsys):
    script = tmp_path / "pages.sql"
    script.write_text(PIPELINE)
    args = ["run", str(script), "--param", f"input={sample.path}"]
    assert cli.main(args + ["--report", str(tmp_path / "now.html")]) == 0
    assert cli.main(["run", str(script)]) == 1  # missing.warc.gz: a failed run, recorded
    capsys.readouterr()
    assert cli.main(["runs"]) == 0
    listed = capsys.readouterr().out
    runs = sorted(_runs(), key=lambda r: r["started_at"])
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    for r in runs:
        assert r["run_id"] in listed
    assert listed.index(runs[1]["run_id"]) < listed.index(runs[0]["run_id"])  # newest first
    out = tmp_path / "later.html"
    assert cli.main(["report", runs[0]["run_id"][:-2], "-o", str(out)]) == 0
    assert out.read_text() == (tmp_path / "now.html").read_text()
    assert cli.main(["report", "run-nope"]) == 1
    assert "no run 'run-nope'" in capsys.readouterr().err


def test_secrets_in_options_are_not_kept():
    """The record is stored and rendered into reports: a password in a catalog URI (or an
    option named like a secret) is not in it."""
    shown = history._shown_options({
        "catalog.uri": "postgresql://curator:hunter2@db.internal:5432/iceberg",
        "catalog.s3.secret-access-key": "AKIA-sekrit", "seed": 7, "limit": None})
    assert shown == {"catalog.uri": "postgresql://curator:(redacted)@db.internal:5432/iceberg",
                     "catalog.s3.secret-access-key": "(redacted)", "seed": 7}
