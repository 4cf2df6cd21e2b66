"""Batches coalesced before batch UDFs (mdfql.compiler.batches): a UDF after selective filters
sees full batches, and a query without UDFs is not rebatched."""

from __future__ import annotations

import daft
import pyarrow as pa
import pyarrow.parquet as pq

import mdfql
from mdfql import Session
from mdfql.compiler.batches import coalesced_rows
from mdfql.execute import explain_text

MORSEL = 1000  # SET batch_rows: the batches the filters see


def _numbers(tmp_path, n: int = 20_000) -> str:
    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"id": pa.array(range(n), pa.int64())}), path)
    return str(path)


def test_udf_after_selective_filters_sees_full_batches(tmp_path):
    """Two conjuncts keep 1 row in 20 of each 1,000-row batch: without coalescing the UDF
    would be called with 50 rows per call, 400 calls; coalesced it gets its 64."""
    session = Session()
    seen: list[int] = []

    @mdfql.udf("batch_len", return_dtype=daft.DataType.int64(), batch_size=64,
               registry=session.registry)
    def batch_len(x: daft.Series) -> list[int]:
        seen.append(len(x))
        return [len(x)] * len(x)

    out = tmp_path / "out"
    summary = session.run(
        f"SET batch_rows = {MORSEL};\n"
        f"COPY (SELECT id, batch_len(id) AS n FROM read_parquet('{_numbers(tmp_path)}') "
        f"WHERE id % 4 = 0 AND id % 5 = 0) TO '{out}' (FORMAT parquet);", {})
    assert summary.rows_written == 1000
    assert sum(seen) == 1000
    # every call but the last of each coalesced batch is full
    assert sum(n == 64 for n in seen) >= 1000 // 64 - 1
    assert len(seen) <= 1000 // 64 + 2


def test_only_queries_with_udfs_are_rebatched(tmp_path):
    path = _numbers(tmp_path)
    session = Session()
    plain = session.compile(f"SELECT id * 2 AS y FROM read_parquet('{path}') WHERE id % 3 = 0")
    udf = session.compile(f"SELECT fingerprint(CAST(id AS VARCHAR)) AS f "
                          f"FROM read_parquet('{path}') WHERE id % 3 = 0")
    assert "IntoBatches" not in explain_text(plain.actions[-1], daft_plans=True)
    assert "IntoBatches" in explain_text(udf.actions[-1], daft_plans=True)


def test_rows_follow_the_row_width():
    narrow = daft.from_pydict({"id": [1], "x": [0.5]}).schema()  # 16 bytes a row
    texts = daft.from_pydict({"url": ["u"], "html": ["h"], "text": ["t"]}).schema()
    assert coalesced_rows(narrow) == (1 << 20) // 16
    assert coalesced_rows(texts) == (1 << 20) // (3 * 1024)
    assert coalesced_rows(narrow, morsel_rows=MORSEL) == MORSEL  # never above SET batch_rows
    wide = daft.from_pydict({f"c{i}": ["v"] for i in range(40)}).schema()
    assert coalesced_rows(wide) == 64  # at least one kernel batch
