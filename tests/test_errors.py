"""User mistakes are reported as file:line:col, the source line, a caret, and a suggestion;
before any data is read; never as a traceback."""

from __future__ import annotations

import subprocess
import sys

import daft
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
