"""Fail-safe runs: an input that cannot be read stops a run before anything is written, with the
place in the SQL; too many bad records abort a statement before its commit; a trial run
(--limit) never writes real output; COPY never deletes files it did not write."""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import threading
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warc_files import write_warc

from mdfql import MdfqlError, Session
from mdfql.cli import main
from mdfql.io import inputs
from mdfql.sinks.catalog import CatalogConfig
from mdfql.sinks.iceberg import load_table, read_table


def _rows(ident: str) -> int:
    return read_table(ident, CatalogConfig.resolve()).count_rows()


def _snapshots(ident: str) -> int:
    return len(load_table(ident, CatalogConfig.resolve()).history())


@pytest.fixture
def curated(warehouse, tmp_path):
    """A warehouse holding curated.pages (10 rows from a good WARC) and that WARC."""
    good = write_warc(tmp_path / "good.warc.gz", 10)
    Session().run(f"CREATE TABLE curated.pages AS SELECT url FROM read_warc('{good}')")
    assert _rows("curated.pages") == 10
    return good


REPLACE = ("SET $input = 'x';\nCREATE OR REPLACE TABLE curated.pages AS\n"
           "  SELECT url FROM read_warc($input);\n")
READ_COL = REPLACE.splitlines()[2].index("read_warc") + 1  # where the source is on line 3


def _run_cli(tmp_path: Path, capsys, sql: str, *args: str) -> tuple[int, str, str]:
    script = tmp_path / "pipe.sql"
    script.write_text(sql)
    code = main(["run", str(script), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_located(err: str, tmp_path: Path, line: int, col: int, message: str) -> None:
    assert "Traceback" not in err
    head, source, caret = err.strip().splitlines()[:3]
    assert head.startswith(f"{tmp_path / 'pipe.sql'}:{line}:{col}: error: "), head
    assert message in head
    assert caret.index("^") == col - 1 + 2


@pytest.mark.parametrize("pattern",
                         ["no/such/*.warc.gz", "missing.warc.gz", "{tmp}/none-*.warc.gz"])
def test_no_matching_file_is_an_error_before_any_write(curated, tmp_path, capsys, pattern):
    pattern = pattern.format(tmp=tmp_path)
    code, _, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={pattern}")
    assert code == 1
    _assert_located(err, tmp_path, 3, READ_COL, f"read_warc: no file matches '{pattern}'")
    assert "on_missing_input = 'skip'" in err
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1


def test_a_plain_query_over_no_file_is_an_error_not_a_traceback(warehouse, tmp_path, capsys):
    code, _, err = _run_cli(tmp_path, capsys,
                            f"SELECT count(*) AS n FROM read_warc('{tmp_path}/none*.warc.gz');\n")
    assert code == 1
    _assert_located(err, tmp_path, 1, 27, "no file matches")


def test_not_a_warc_is_an_error(curated, tmp_path, capsys):
    text = tmp_path / "notes.warc.gz"
    text.write_text("hello, this is a text file\n")
    zipped = tmp_path / "zipped.warc.gz"
    zipped.write_bytes(gzip.compress(b"<html>a gzip of a web page, not of a WARC</html>"))
    for path in (text, zipped):
        code, _, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={path}")
        assert code == 1
        _assert_located(err, tmp_path, 3, READ_COL, f"cannot read {path}: not a WARC or ARC file")
    # one bad file among good ones stops the run too
    code, _, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={tmp_path}/*.warc.gz")
    assert code == 1 and "notes.warc.gz: not a WARC or ARC file" in err
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1


def test_an_empty_directory_matches_no_file(curated, tmp_path):
    (tmp_path / "dir.warc.gz").mkdir()
    with pytest.raises(MdfqlError, match="no file matches .*dir.warc.gz'"):
        Session().run(REPLACE, {"input": str(tmp_path / "dir.warc.gz")})
    assert _rows("curated.pages") == 10


def _probe_as_nobody(path: Path) -> str | None:
    """`inputs.probe` of `path` by an unprivileged user (root reads any file): in a forked
    child that only opens the file (no threads, which a fork does not carry)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            os.setgid(65534)
            os.setuid(65534)
            message = str(inputs.probe(str(path), "warc"))
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            message = f"unexpected {type(e).__name__}: {e}"
        os.write(write_fd, message.encode())
        os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        return pipe.read().decode()


def test_permission_denied_is_an_error(curated, tmp_path):
    folder = Path("/tmp") / f"mdfql-perm-{uuid.uuid4().hex}"  # one every user may enter
    folder.mkdir(mode=0o755)
    locked = write_warc(folder / "locked.warc.gz", 3)
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            assert _probe_as_nobody(locked) == "permission denied"
            return
        with pytest.raises(MdfqlError, match=f"cannot read {locked}: permission denied"):
            Session().run(REPLACE, {"input": str(locked)})
        assert _rows("curated.pages") == 10
    finally:
        locked.chmod(0o644)
        locked.unlink()
        folder.rmdir()


class _Server(http.server.SimpleHTTPRequestHandler):
    """Serves the test folder, with Range support for WARC reads; /forbidden/ is 403."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith("/forbidden/"):
            self.send_error(403, "Forbidden")
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Server, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_404_and_403_are_errors(curated, tmp_path, capsys, http_root):
    root, base = http_root
    write_warc(root / "good.warc.gz", 4)
    code, _, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={base}/good.warc.gz")
    assert code == 0 and _rows("curated.pages") == 4  # served files are read
    for url, status in ((f"{base}/gone.warc.gz", "HTTP 404"), (f"{base}/forbidden/x.warc.gz",
                                                               "HTTP 403")):
        code, _, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={url}")
        assert code == 1
        _assert_located(err, tmp_path, 3, READ_COL, f"cannot read {url}: {status}")
        assert _rows("curated.pages") == 4


def test_a_file_failing_while_read_aborts_before_the_commit(curated, http_root, monkeypatch):
    """Past the files probed at the start, an unreadable file is caught as it is read."""
    _, base = http_root
    monkeypatch.setattr(inputs, "REMOTE_PROBES", 0)
    before = set(_data_files("curated.pages"))
    with pytest.raises(MdfqlError, match=r"cannot read .*gone.warc.gz: none of its 1 record"):
        Session().run(REPLACE, {"input": f"{base}/gone.warc.gz"})
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1
    assert set(_data_files("curated.pages")) == before


def _data_files(ident: str) -> list[str]:
    table = load_table(ident, CatalogConfig.resolve())
    folder = Path(table.location().removeprefix("file://")) / "data"
    return sorted(p.name for p in folder.rglob("*.parquet")) if folder.exists() else []


def test_error_budget(curated, tmp_path):
    noisy = write_warc(tmp_path / "noisy.warc.gz", good=18, broken=2)  # 10% broken
    before = _data_files("curated.pages")
    with pytest.raises(MdfqlError) as info:
        Session().run(REPLACE, {"input": str(noisy)})
    assert "2 of 20 records (10.0%) failed" in info.value.message
    assert "max_failed_fraction = 0.05" in info.value.message
    assert info.value.span is not None and info.value.span.line == 3
    # aborted before the commit: the table and its files are as they were
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1
    assert _data_files("curated.pages") == before
    summary = Session().run("SET max_failed_fraction = 0.2;\n" + REPLACE, {"input": str(noisy)})
    assert summary.rows_written == 18 and _rows("curated.pages") == 18
    fine = write_warc(tmp_path / "fine.warc.gz", good=49, broken=1)  # 2%: within the default
    assert Session().run(REPLACE, {"input": str(fine)}).rows_written == 49


def test_error_budget_on_real_broken_archives(curated, shared_data):
    samples = shared_data / "warc-samples"
    with pytest.raises(MdfqlError, match="cannot read .*: none of its"):
        Session().run(REPLACE, {"input": str(samples / "*")})
    assert _rows("curated.pages") == 10
    # a file with one bad record in three: a third of its records failed
    bad = samples / "example-bad.warc.gz.bad"
    with pytest.raises(MdfqlError, match=r"1 of 3 records \(33.3%\) failed"):
        Session().run(REPLACE, {"input": str(bad)})
    summary = Session().run("SET max_failed_fraction = 0.5;\n" + REPLACE, {"input": str(bad)})
    assert summary.rows_written == 2


def test_a_query_over_too_many_bad_records_fails_too(warehouse, tmp_path):
    noisy = write_warc(tmp_path / "noisy.warc.gz", good=5, broken=5)
    with pytest.raises(MdfqlError, match="5 of 10 records"):
        Session().run(f"SELECT url FROM read_warc('{noisy}')")


def test_a_read_failure_of_another_source_is_an_error_at_its_statement(warehouse, tmp_path):
    good = tmp_path / "docs" / "a.parquet"
    good.parent.mkdir()
    pq.write_table(pa.table({"url": ["u1", "u2"]}), good)
    Session().run(f"CREATE TABLE curated.docs AS SELECT url FROM read_parquet('{good}')")
    # a second file whose footer is fine (planning reads it) but whose data pages are damaged
    bad = good.parent / "b.parquet"
    pq.write_table(pa.table({"url": [f"u{i}" * 20 for i in range(5000)]}), bad,
                   compression="zstd")
    data = bytearray(bad.read_bytes())
    data[40:200] = b"\xff" * 160
    bad.write_bytes(bytes(data))
    with pytest.raises(MdfqlError) as info:
        Session().run("CREATE OR REPLACE TABLE curated.docs AS\n"
                      f"  SELECT url FROM read_parquet('{good.parent}/*.parquet')")
    assert info.value.span.line == 1 and "write table failed" in info.value.message
    assert info.value.hint == "nothing of this statement was written"
    assert _rows("curated.docs") == 2


def test_missing_inputs_may_be_skipped(curated, tmp_path, capsys):
    sql = ("SET on_missing_input = 'skip';\n" + REPLACE
           + "INSERT INTO curated.pages SELECT url FROM read_warc($input);\n"
           + "SELECT count(*) AS n FROM read_warc($input);\n")
    code, out, err = _run_cli(tmp_path, capsys, sql, "--param", f"input={tmp_path}/none-*.gz")
    assert code == 0, err
    assert "kept curated.pages: its inputs matched no file" in out
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1
    summary = Session().run(sql, {"input": f"{tmp_path}/none-*.gz"})
    assert summary.results[0].to_pydict() == {"n": [0]}
    # an empty result of inputs that were there replaces the table: the inputs justify it
    Session().run(REPLACE.replace("FROM read_warc($input)", "FROM read_warc($input) WHERE false"),
                  {"input": str(curated)})
    assert _rows("curated.pages") == 0


def test_check_warns_about_patterns_that_match_nothing(tmp_path, capsys):
    script = tmp_path / "pipe.sql"
    script.write_text(REPLACE)
    assert main(["check", str(script), "--param", f"input={tmp_path}/none*.warc.gz"]) == 0
    err = capsys.readouterr().err
    assert f"{script}:3:{READ_COL}: warning: no file matches '{tmp_path}/none*.warc.gz'" in err


def test_limit_writes_a_scratch_table_and_limits_reading(curated, tmp_path, capsys):
    big = write_warc(tmp_path / "big.warc.gz", 300)
    code, out, err = _run_cli(tmp_path, capsys, REPLACE, "--param", f"input={big}",
                              "--limit", "7")
    assert code == 0, err
    assert "trial run (limit): wrote scratch.curated_pages, not curated.pages" in out
    assert _rows("curated.pages") == 10 and _snapshots("curated.pages") == 1
    assert _rows("scratch.curated_pages") == 7
    summary = Session(options={"limit": 5}).run(
        REPLACE + "INSERT INTO curated.pages SELECT url FROM read_warc($input);\n"
        f"COPY (SELECT url FROM read_warc($input)) TO '{tmp_path / 'out'}';\n",
        {"input": str(big)})
    # the first write to a scratch table replaces it, later ones in the run append
    assert [w.ident for w in summary.writes][:2] == ["scratch.curated_pages"] * 2
    assert _rows("scratch.curated_pages") == 10 and _rows("curated.pages") == 10
    assert not (tmp_path / "out").exists()
    assert pq.read_table(tmp_path / "out.limit").num_rows == 5
    assert summary.rows_read <= 3 * 5  # each statement stopped reading after 5 rows


def test_copy_refuses_a_folder_it_did_not_create(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "keep.sql").write_text("SELECT 1")
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "catalog.db").write_bytes(b"precious")
    code, _, err = _run_cli(tmp_path, capsys, "COPY (SELECT 1 AS x) TO '.';\n")
    assert code == 1
    _assert_located(err, tmp_path, 1, 1, "COPY refuses to write into")
    assert "OVERWRITE" in err
    assert "(pipe.sql, pipelines, warehouse)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.sql", "pipelines", "warehouse"]
    # OVERWRITE writes into it and still deletes nothing it did not write
    code, _, err = _run_cli(tmp_path, capsys, "COPY (SELECT 1 AS x) TO '.' (OVERWRITE);\n")
    assert code == 0, err
    assert (tmp_path / "pipelines" / "keep.sql").read_text() == "SELECT 1"
    assert (tmp_path / "warehouse" / "catalog.db").read_bytes() == b"precious"
    assert len(list(tmp_path.glob("*.parquet"))) == 1
    code, _, _ = _run_cli(tmp_path, capsys, "COPY (SELECT 1 AS x) TO '.';\n")
    assert code == 1  # OVERWRITE once does not make the folder COPY's own


def test_copy_replaces_only_its_own_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy = "COPY (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) TO 'out' (FORMAT jsonl);"
    Session().run(copy)
    first = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert first and all(name.endswith(".jsonl") for name in first)
    (tmp_path / "out" / "notes.txt").write_text("mine")
    Session().run(copy)  # a re-run replaces its own files, keeps the user's
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "notes.txt" in names and not set(first) & set(names)
    rows = [json.loads(line) for p in (tmp_path / "out").glob("*.jsonl")
            for line in p.read_text().splitlines()]
    assert sorted(r["x"] for r in rows) == [1, 2, 3]
    assert not list(tmp_path.glob(".out.mdfql-staging-*"))  # no staging left behind


def test_a_failed_copy_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Session().run("COPY (SELECT 1 AS x) TO 'out';")
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    noisy = write_warc(tmp_path / "noisy.warc.gz", good=1, broken=3)
    with pytest.raises(MdfqlError, match="3 of 4 records"):
        Session().run(f"COPY (SELECT url FROM read_warc('{noisy}')) TO 'out';")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert not list(tmp_path.glob(".out.mdfql-staging-*"))


def test_every_target_is_checked_before_the_first_statement_runs(curated, tmp_path,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    Session().run("CREATE TABLE curated.other AS SELECT 1 AS x")
    for late in ("CREATE TABLE curated.other AS SELECT 2 AS x;",  # exists
                 "COPY (SELECT 1 AS x) TO '.';"):  # a folder of other files
        with pytest.raises(MdfqlError) as info:
            Session().run(REPLACE + late, {"input": str(curated)})
        assert info.value.span.line == 4
        assert _snapshots("curated.pages") == 1  # the statement before it did not run


def test_explain_in_a_run_lists_nothing(warehouse, tmp_path):
    summary = Session().run(f"EXPLAIN SELECT url FROM read_warc('{tmp_path}/none*.warc.gz')")
    assert "read_warc" in summary.explains[0]
