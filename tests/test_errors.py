"""User mistakes are reported as file:line:col, the source line, a caret, and a suggestion;
before any data is read; never as a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mdfql import MdfqlError, Session


@pytest.fixture
def session() -> Session:
    s = Session()
    s.attach("docs", daft.from_pydict({"id": [1], "url": ["http://a.com"], "words": [3]}))
    return s


def render(session: Session, sql: str) -> str:
    with pytest.raises(MdfqlError) as info:
        session.compile(sql, "pipe.sql")
    return info.value.render()


@pytest.mark.parametrize("sql,line,col,message,hint", [
    ("SELECT idd FROM docs", 1, 8, "unknown column 'idd'", "did you mean 'id'?"),
    ("SELECT id\nFROM docs\nWHERE lowr(url) = 'x'", 3, 7, "unknown function lowr()",
     "did you mean 'lower'?"),
    ("SELECT * FROM doc", 1, 15, "unknown table 'doc'", "did you mean 'docs'?"),
    ("SELECT * FROM read_wark('x.warc')", 1, 15, "unknown table function read_wark()",
     "did you mean 'read_warc'?"),
    ("SELECT lower(url, 2) FROM docs", 1, 8, "lower() takes at most 1 argument(s)", None),
    ("SELECT lower(words) FROM docs", 1, 14, "argument 'text' must be string, got Int64", None),
    ("SELECT hash(url, sede := 3) FROM docs", 1, 26, "hash() has no parameter 'sede'",
     None),
    ("SELECT id FROM docs WHERE words > $min", 1, 35, "unknown parameter $min",
     "declare it with SET $min = <default>;"),
    ("SET runnr = 'ray'", 1, 5, "unknown option 'runnr'", "did you mean 'runner'?"),
    ("SELECT id,\n  FROM docs WHERE", 2, 13, "syntax error: incomplete WHERE", None),
    ("SELECT id FROM docs WHERE words >", 1, 33, "syntax error", None),
    ("SELECT id, count(*) FROM docs GROUP BY url", 1, 8,
     "column 'id' must appear in GROUP BY", None),
    ("SELECT row_number() FROM docs", 1, 8, "row_number() needs an OVER (...) clause", None),
    ("CREATE MACRO m(a) AS a + 1;\nSELECT m(id, 2) FROM docs", 2, 8,
     "macro m() takes 1 positional argument(s)", None),
    ("SELECT d.id FROM docs x", 1, 8, "unknown column 'd'", None),
])
def test_positioned_errors(session, sql, line, col, message, hint):
    text = render(session, sql)
    head, source_line, caret, *rest = text.splitlines()
    assert head.startswith(f"pipe.sql:{line}:{col}: error: ")
    assert message in head
    assert source_line == "  " + sql.splitlines()[line - 1]
    assert caret.index("^") == col - 1 + 2
    if hint:
        assert rest == [f"  hint: {hint}"]


def test_errors_are_found_before_reading_data(session, tmp_path):
    missing = tmp_path / "nothing-here"
    # A later statement's mistake is reported although the first would read a file:
    # compilation of the whole script comes first and reads nothing.
    text = render(session, f"COPY (SELECT * FROM docs) TO '{missing}' (FORMAT parquet);\n"
                           "SELECT nope FROM docs")
    assert text.startswith("pipe.sql:2:8: error: unknown column 'nope'")
    assert not missing.exists()


def test_unknown_param_override_is_an_error(session):
    with pytest.raises(MdfqlError) as info:
        session.compile("SET $min_words = 5;\nSELECT id FROM docs WHERE words > $min_words",
                        "p.sql", params={"min_word": "7"})
    assert "--param min_word does not match" in info.value.message
    assert info.value.hint == "did you mean 'min_words'?"


def test_cli_reports_error_without_traceback(tmp_path):
    pipeline = tmp_path / "bad.sql"
    pipeline.write_text("SELECT url\nFROM read_warc('x.warc.gz')\nWHERE lenght(url) > 3;\n")
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "check", str(pipeline)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{pipeline}:3:7: error: unknown function lenght()" in proc.stderr
    assert "did you mean 'length'?" in proc.stderr


# --- mistakes `check` catches: argument values, fields, types, literals (issue 9) -----------

@pytest.fixture
def texts() -> Session:
    s = Session()
    s.attach("docs", daft.from_pydict({
        "id": [1, 2], "status": [200, 404], "text": ["a b c d e f", "g h i j k l"],
        "url": ["http://a.com/x", "http://b.org/"]}))
    return s


def error_of(session: Session, sql: str, **kw) -> MdfqlError:
    with pytest.raises(MdfqlError) as info:
        session.compile(sql, "pipe.sql", **kw)
    return info.value


@pytest.mark.parametrize("sql,line,col,message,hint", [
    ("SELECT minhash(text, num_hashes := 'x') FROM docs", 1, 36,
     "minhash(): num_hashes must be an integer from 1 to 65536, got 'x'",
     "signature: minhash(text, num_hashes := 112, ngram := 5, seed := 1)"),
    ("SELECT minhash(text, num_hashes := -5) FROM docs", 1, 36,
     "num_hashes must be an integer from 1 to 65536, got -5", None),
    ("SELECT minhash(text, ngram := 2.5) FROM docs", 1, 31,
     "minhash(): ngram must be an integer >= 1, got 2.5", None),
    ("SELECT extract_text(text, engine := 'trafilatur') FROM docs", 1, 37,
     "engine must be one of 'mdfql', 'trafilatura', 'resiliparse', got 'trafilatur'",
     "did you mean 'trafilatura'?"),
    ("SELECT hash(url, algorithm := 'md5') FROM docs", 1, 31,
     "hash(): algorithm must be one of 'xxhash'", None),
    ("SELECT date_trunc('month', CAST('2024-01-01' AS TIMESTAMP))", 1, 19,
     "date_trunc(): unit must be one of 'second', 'minute', 'hour', 'day', 'week'", None),
    ("SELECT gopher_quality_ok(text, max_bullet_lines_ratio := 1.5) FROM docs", 1, 58,
     "max_bullet_lines_ratio must be a number from 0 to 1, got 1.5", None),
    ("SELECT c4_quality(text, split_paragraph := 1) FROM docs", 1, 44,
     "c4_quality(): split_paragraph must be true or false, got 1", None),
    ("SELECT id, hamming_cluster(id, max_distance := 64) OVER () FROM docs", 1, 48,
     "hamming_cluster(): max_distance must be an integer from 0 to 63, got 64", None),
    ("SELECT id, lsh_cluster(minhash(text, num_hashes := 56), bands := 14, rows := 8) OVER () "
     "FROM docs", 1, 12,
     "lsh_cluster(): bands x rows = 14 x 8 = 112 values per signature, but the signature "
     "has 56", None),
    ("SELECT minhash_bands(minhash(text, num_hashes := 16), bands := 4, rows := 5) FROM docs",
     1, 8, "minhash_bands(): bands x rows = 4 x 5 = 20 values", None),
    ("SELECT quality_signals(text).word_count FROM docs", 1, 30,
     "quality_signals(text) has no field 'word_count'", "did you mean 'stop_word_count'"),
    ("SELECT q.n_wrds FROM (SELECT quality_signals(text) AS q FROM docs)", 1, 10,
     "q has no field 'n_wrds'", "did you mean 'n_words'"),
    ("SELECT lang_id(text)['langu'] FROM docs", 1, 22, "lang_id(text) has no field 'langu'",
     "did you mean 'lang'? Its fields: lang, score"),
    ("SELECT url.host FROM docs", 1, 12, "url is String, not a struct: it has no field 'host'",
     None),
    ("SELECT id FROM docs WHERE status = 'abc'", 1, 27,
     "cannot compare status (Int64) = 'abc' (String)", "cast one side"),
    ("SELECT (id + 1) * 2 = 'x' OR id > 1 AS b FROM docs", 1, 9,
     "cannot compare (id + 1) * 2 (Int64) = 'x' (String)", None),
    ("SELECT id FROM docs WHERE id AND status > 1", 1, 27,
     "WHERE condition id is Int64, not a boolean", "compare it"),
    ("SELECT CASE WHEN status THEN 1 END FROM docs", 1, 18,
     "WHEN condition status is Int64, not a boolean", None),
    ("SELECT 1 % 0", 1, 12, "division by zero", None),
    ("SELECT 12345678901234567890123456789012345678", 1, 8,
     "integer literal out of range: integers are 64-bit", "write it as a DOUBLE"),
    ("SELECT 1e400", 1, 8, "number literal out of range", None),
    ("SELECT id FROM docs LIMIT -1", 1, 27, "LIMIT takes a non-negative integer literal", None),
    ("SELECT id FROM docs LIMIT 2.5", 1, 27, "LIMIT takes a non-negative integer literal", None),
    ("SELECT id FROM docs LIMIT 1 OFFSET id", 1, 36,
     "OFFSET takes a non-negative integer literal", None),
    ("CREATE TABLE foo AS SELECT id FROM docs", 1, 14, "table name 'foo' has no namespace",
     "qualify it, e.g. 'default.foo'"),
    ("SELECT 1;\nINSERT INTO foo SELECT id FROM docs", 2, 13,
     "table name 'foo' has no namespace", None),
])
def test_check_catches_mistakes(texts, warehouse, sql, line, col, message, hint):
    err = error_of(texts, sql)
    head, source_line, caret, *rest = err.render().splitlines()
    assert head.startswith(f"pipe.sql:{line}:{col}: error: "), head
    assert message in head
    assert source_line == "  " + sql.splitlines()[line - 1]
    assert caret.index("^") == col - 1 + 2
    if hint:
        assert hint in rest[0]
    assert not warehouse.exists()  # checking made no catalog


def test_signature_length_followed_through_views(texts):
    sql = ("CREATE VIEW signed AS SELECT id, minhash(text, num_hashes := 56) AS sig FROM docs;\n"
           "CREATE VIEW joined AS SELECT a.id, a.sig FROM signed a JOIN signed b ON a.id = b.id "
           "WHERE a.id > 0;\n"
           "WITH c AS (SELECT * FROM joined ORDER BY id LIMIT 5)\n"
           "SELECT id, lsh_cluster(sig, bands := 14, rows := 8) OVER () AS cluster FROM c")
    err = error_of(texts, sql)
    assert (err.span.line, err.span.col) == (4, 12)
    assert "the signature has 56 (num_hashes := 56)" in err.message
    # the same chain with enough hashes compiles
    texts.compile(sql.replace("num_hashes := 56", "num_hashes := 112"))


def test_too_short_signatures_are_singletons_at_run_time():
    # a signature column of unknown length (from data): too short for 4 x 4 -> no key, where
    # empty slices past its end would have put every row in one cluster
    s = Session().attach("t", daft.from_pydict({
        "id": [1, 2, 3], "sig": [[i * 10 + k for k in range(8)] for i in range(3)]}))
    got = s.sql("SELECT id, lsh_cluster(sig, id, bands := 4, rows := 4) OVER () AS c FROM t "
                "ORDER BY id").to_pylist()
    assert [r["c"] for r in got] == [1, 2, 3]


def test_integer_modulo_and_division_by_zero_column_are_null():
    s = Session().attach("t", daft.from_pydict({"a": [7, 8], "b": [0, 3]}))
    got = s.sql("SELECT a % b AS m, a // b AS d FROM t ORDER BY a").to_pylist()
    assert got == [{"m": None, "d": None}, {"m": 2, "d": 2}]


def test_insert_schema_checked_against_the_table(texts, warehouse):
    texts.run("CREATE TABLE ns.t AS SELECT id, url FROM docs")
    err = error_of(texts, "SELECT 1;\nINSERT INTO ns.t SELECT url AS id FROM docs")
    assert (err.span.line, err.span.col) == (2, 13)
    assert "cannot append to ns.t: column 'id' is long in the table but string in the query" \
        in err.message
    err = error_of(texts, "CREATE TABLE ns.t AS SELECT id FROM docs")
    assert err.message == "table ns.t already exists"
    texts.compile("INSERT INTO ns.t SELECT id, url, status FROM docs")  # a new column is fine


def test_unreachable_rest_catalog_is_an_error(texts):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sql = (f"SET catalog.kind = 'rest';\nSET catalog.uri = 'http://127.0.0.1:{port}';\n"
           "SELECT * FROM ns.t")
    err = error_of(texts, sql)
    assert (err.span.line, err.span.col) == (3, 15)
    assert f"cannot reach the rest catalog at http://127.0.0.1:{port}" in err.message
    assert "Connection refused" in err.message
    err = error_of(texts, sql.replace("SELECT * FROM ns.t", "CREATE TABLE ns.t AS SELECT 1"))
    assert (err.span.line, err.span.col) == (3, 14)


@pytest.mark.parametrize("value,message", [
    ("nan", "expects a finite number, got 'nan'"), ("inf", "expects a finite number"),
    ("x", "expects a number, got 'x'")])
def test_non_finite_or_bad_float_param(texts, value, message):
    err = error_of(texts, "SET $t = 0.5;\nSELECT id FROM docs WHERE id > $t", params={"t": value})
    assert err.message.startswith(f"--param t: {message}")
    assert err.span.line == 1


@pytest.mark.parametrize("call,window,needs,missing", [
    ("sum(id)", "", "PARTITION BY", "PARTITION BY"),
    ("count(*)", "ORDER BY id", "PARTITION BY", "PARTITION BY"),
    ("row_number()", "PARTITION BY status", "ORDER BY", "ORDER BY"),
    ("lag(id)", "ORDER BY id", "PARTITION BY and ORDER BY", "PARTITION BY"),
])
def test_windows_daft_cannot_run_are_errors(texts, call, window, needs, missing):
    err = error_of(texts, f"SELECT id, {call} OVER ({window}) AS w FROM docs")
    name = call.split("(")[0]
    assert err.message == (f"{name}() OVER (...) needs {needs} (Daft runs it no other way); "
                           f"this window has no {missing}")
    assert err.span.col == 12


def test_windows_daft_can_run_compile(texts):
    got = texts.sql("SELECT id, sum(id) OVER (PARTITION BY status) AS s, "
                    "row_number() OVER (ORDER BY id) AS n, "
                    "lag(id) OVER (PARTITION BY status ORDER BY id) AS p FROM docs ORDER BY id")
    assert got.to_pylist() == [{"id": 1, "s": 1, "n": 1, "p": None},
                               {"id": 2, "s": 2, "n": 2, "p": None}]


def test_daft_planning_failure_is_a_positioned_error(texts):
    # what mdfql's own checks miss still comes back at its statement, not as a traceback
    err = error_of(texts, "SELECT 1;\nSELECT -url AS u FROM docs")
    assert (err.span.line, err.span.col) == (2, 1)
    assert err.message == ("cannot plan this statement: Expected input to negate to be numeric, "
                           "got String")
    assert err.internal is not None


CLI_CASES = [
    ("SELECT minhash(text, num_hashes := 'x') FROM read_parquet('d.parquet')", 1, 36,
     "num_hashes must be an integer from 1 to 65536"),
    ("SELECT quality_signals(text).word_count FROM read_parquet('d.parquet')", 1, 30,
     "has no field 'word_count'"),
    ("SELECT 1;\nSELECT id FROM read_parquet('d.parquet') WHERE status = 'abc'", 2, 48,
     "cannot compare status (Int64) = 'abc' (String)"),
    ("SELECT 1 % 0", 1, 12, "division by zero"),
    ("SELECT 1 LIMIT -1", 1, 16, "LIMIT takes a non-negative integer literal"),
    ("CREATE TABLE foo AS SELECT 1 AS x", 1, 14, "table name 'foo' has no namespace"),
]


# `run` compiles as `check` does, before reading anything: two cases show it
@pytest.mark.parametrize("command,sql,line,col,message",
                         [("check", *case) for case in CLI_CASES]
                         + [("run", *case) for case in CLI_CASES[2:4]])
def test_cli_mistakes_without_traceback(tmp_path, command, sql, line, col, message):
    pq.write_table(pa.table({"id": [1], "status": [200], "text": ["a b c"]}),
                   tmp_path / "d.parquet")
    (tmp_path / "p.sql").write_text(sql + "\n")
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", command, "p.sql"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"p.sql:{line}:{col}: error: " in proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "warehouse").exists()


def test_cli_param_nan_is_an_error(tmp_path):
    (tmp_path / "p.sql").write_text("SET $x = 1.5;\nSELECT $x AS v\n")
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "run", "p.sql", "--param",
                           "x=nan"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "p.sql:1:1: error: --param x: expects a finite number, got 'nan'" in proc.stderr


def test_sink_checks_follow_the_script_and_trial_runs(texts, warehouse):
    texts.run("CREATE TABLE ns.t AS SELECT id FROM docs")
    # the INSERT goes into the table as the earlier statement replaces it
    texts.compile("CREATE OR REPLACE TABLE ns.t AS SELECT url FROM docs;\n"
                  "INSERT INTO ns.t SELECT url FROM docs")
    # a trial run writes a scratch table: the real one's schema does not matter
    texts.compile("SET limit = 1;\nCREATE TABLE ns.t AS SELECT url FROM docs")
    err = error_of(texts, "SET limit = 1;\nCREATE TABLE t AS SELECT url FROM docs")
    assert err.message == "table name 't' has no namespace"
