"""Shared calls (`mdfql.functions.sharing`): a costly call repeated in one query, in WHERE,
SELECT, nested in other calls, runs once per row; different arguments run separately. Uses a
counting stand-in for a model (no torch needed)."""

from __future__ import annotations

import daft
import pyarrow as pa
from daft import DataType, Expression

from mdfql.functions.registry import FunctionSpec, Param
from mdfql.functions.sharing import shared
from mdfql.session import Session

ROWS: list[int] = []  # rows each call of the stand-in saw


@daft.func.batch(return_dtype=DataType.list(DataType.float32()))
def _embed(x: daft.Series, scale: float) -> pa.Array:
    values = x.to_pylist()
    ROWS.append(len(values))
    return pa.array([[float(v) * scale, 1.0] for v in values], pa.list_(pa.float32()))


def _session() -> Session:
    s = Session()

    def build(x: Expression, scale: float) -> Expression:
        return shared(("embed", repr(x), scale), lambda: _embed(x, scale))

    s.registry.add(FunctionSpec("embed", (Param("x"), Param("scale", "numeric", 1.0, True)),
                                build, "test stand-in", "list", runs_as="python"))
    s.attach("t", daft.from_pydict({"a": [1, 2, 3, 4], "b": [5, 6, 7, 8]}))
    return s


def test_repeated_call_runs_once_across_clauses() -> None:
    ROWS.clear()
    rows = _session().sql(
        "SELECT a, embed(a)[1] AS first, embed(a)[1] + list_length(embed(a)) AS total FROM t "
        "WHERE embed(a)[1] > 1 ORDER BY a").to_pylist()
    assert [(r["a"], r["first"], r["total"]) for r in rows] == [
        (2, 2.0, 4.0), (3, 3.0, 5.0), (4, 4.0, 6.0)]
    assert sum(ROWS) == 4  # every input row once, not once per use


def test_other_arguments_are_other_calls() -> None:
    ROWS.clear()
    rows = _session().sql(
        "SELECT embed(a)[1] AS x, embed(a, scale := 2)[1] AS y, embed(b)[1] AS z FROM t"
    ).to_pylist()
    assert rows[0] == {"x": 1.0, "y": 2.0, "z": 5.0}
    assert sum(ROWS) == 12  # three different calls over four rows


def test_hidden_columns_stay_hidden() -> None:
    out = _session().sql("SELECT *, list_length(embed(a)) AS two FROM t WHERE embed(a)[1] >= 0")
    assert out.column_names == ["a", "b", "two"]
