"""Plans of realistic depth run; deeper ones, and absurdly nested SQL, are positioned errors
(mdfql.depth): 300 chained CTEs and 100 chained filtered views used to segfault, 10,000
parentheses, a 2,000-deep CASE and 20,000 ANDs to raise RecursionError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import daft
import pyarrow.parquet as pq
import pytest

import mdfql.compiler.script as script
from mdfql import MdfqlError, Session
from mdfql.depth import MAX_EXPRESSION, MAX_NESTING


def run_cli(tmp_path: Path, sql: str) -> subprocess.CompletedProcess:
    """`mdfql run` in a fresh process: deep plans need the stacks mdfql sets up before Daft
    starts its threads (a test process has run Daft long before)."""
    (tmp_path / "deep.sql").write_text(sql)
    return subprocess.run([sys.executable, "-m", "mdfql.cli", "run", "deep.sql"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


def copied(tmp_path: Path) -> list[dict]:
    return pq.read_table(tmp_path / "out").to_pylist()


def test_300_chained_ctes_run(tmp_path):
    ctes = ["c0 AS (SELECT 1 AS x)"] + [f"c{i} AS (SELECT x + 1 AS x FROM c{i - 1})"
                                         for i in range(1, 300)]
    proc = run_cli(tmp_path, "COPY (WITH " + ",\n".join(ctes) + "\nSELECT x FROM c299) "
                             "TO 'out' (FORMAT parquet);\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert copied(tmp_path) == [{"x": 300}]


def test_100_chained_filtered_views_run(tmp_path):
    views = ["CREATE VIEW v0 AS SELECT 1 AS x;"] + [
        f"CREATE VIEW v{i} AS SELECT x + 1 AS x FROM v{i - 1} WHERE x > {i - 1};"
        for i in range(1, 100)]
    proc = run_cli(tmp_path, "\n".join(views) + "\nCOPY v99 TO 'out' (FORMAT parquet);\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert copied(tmp_path) == [{"x": 100}]


def error_of(sql: str) -> MdfqlError:
    with pytest.raises(MdfqlError) as info:
        Session().compile(sql, "deep.sql")
    return info.value


def test_10000_nested_parentheses_are_an_error():
    err = error_of("SELECT " + "(" * 10_000 + "1" + ")" * 10_000)
    assert err.message == (f"nested too deep: more than {MAX_NESTING} levels of parentheses, "
                           "brackets or CASE")
    assert (err.span.line, err.span.col) == (1, 8 + MAX_NESTING)
    assert "CREATE VIEW" in err.hint


def test_2000_deep_case_is_an_error():
    case = "1"
    for i in range(2000):
        case = f"CASE WHEN {i} > 0 THEN {case} ELSE 0 END"
    err = error_of("SELECT\n" + case)
    assert err.message.startswith("nested too deep")
    assert err.span.line == 2
    rendered = err.render().splitlines()
    assert len(rendered[1]) < 200  # the long line is cut around the culprit


def test_nesting_up_to_the_limit_runs():
    deep = "(" * (MAX_NESTING - 1) + "x + 1" + ")" * (MAX_NESTING - 1)
    s = Session().attach("t", daft.from_pydict({"x": [1, 2]}))
    assert s.sql(f"SELECT {deep} AS y FROM t ORDER BY y").to_pylist() == [{"y": 2}, {"y": 3}]


@pytest.mark.parametrize("n", [5_000, pytest.param(20_000, marks=pytest.mark.slow)])
def test_thousands_of_ands_run(n):
    # (a recursion per AND went past Python's limit at ~1,000)
    s = Session().attach("t", daft.from_pydict({"x": list(range(10))}))
    where = " AND ".join(f"x <> {i % 5 + 100}" for i in range(n)) + " AND x > 6"
    assert s.sql(f"SELECT x FROM t WHERE {where} ORDER BY x").to_pylist() == [
        {"x": 7}, {"x": 8}, {"x": 9}]
    ors = " OR ".join(f"x = {i}" for i in range(1_000, 3_000)) + " OR x = 3"
    assert s.sql(f"SELECT x FROM t WHERE {ors}").to_pylist() == [{"x": 3}]


def test_too_deep_expression_is_an_error():
    err = error_of("SELECT " + " + ".join(["1"] * (MAX_EXPRESSION + 10)))
    assert err.message == f"expression too deep: more than {MAX_EXPRESSION} nested operators"
    assert err.span.line == 1


def test_too_deep_plan_is_an_error_at_its_statement(monkeypatch):
    monkeypatch.setattr(script, "MAX_PLAN", 40)
    views = ["CREATE VIEW v0 AS SELECT 1 AS x;"] + [
        f"CREATE VIEW v{i} AS SELECT x FROM v{i - 1} WHERE x > 0;" for i in range(1, 30)]
    err = error_of("\n".join(views))
    assert err.message.startswith("plan too deep: 4")
    assert "the limit is 40" in err.message
    line = err.span.line
    assert views[line - 1].startswith(f"CREATE VIEW v{line - 1} ")
    assert "CREATE TABLE" in err.hint


def test_plan_depth_counts_a_view_read_twice_once():
    sql = "CREATE VIEW v0 AS SELECT 1 AS x;\n" + "\n".join(
        f"CREATE VIEW v{i} AS SELECT a.x FROM v{i - 1} a JOIN v{i - 1} b ON a.x = b.x;"
        for i in range(1, 25))
    program = Session().compile(sql)  # 2^24 paths through the plan, 24 joins deep
    assert script.plan_depth(program.views["v24"].plan) < 200


def test_explain_is_checked_for_nesting_too():
    err = error_of("EXPLAIN SELECT " + "(" * 300 + "1" + ")" * 300)
    assert err.message.startswith("nested too deep")
