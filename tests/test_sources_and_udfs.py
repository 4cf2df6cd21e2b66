"""Sources other than WARC (Parquet, JSONL, a local Hugging Face dataset folder), COPY to files,
and the ways functions run: Python batch UDFs and stateful class UDFs."""

from __future__ import annotations

import json
import subprocess
import sys

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mdfql
from mdfql import MdfqlError, Session

ROWS = [{"id": i, "text": f"document number {i} " * (i % 4 + 1), "split": i % 3} for i in range(30)]


@pytest.fixture
def hf_folder(tmp_path):
    """A dataset folder in the Hub layout: data/<split>-NNNNN-of-NNNNN.parquet."""
    data = tmp_path / "org__name" / "data"
    data.mkdir(parents=True)
    train = [r for r in ROWS if r["split"] != 0]
    test = [r for r in ROWS if r["split"] == 0]
    pq.write_table(pa.Table.from_pylist(train[:10]), data / "train-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(train[10:]), data / "train-00001-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(test), data / "test-00000-of-00001.parquet")
    return tmp_path / "org__name"


def test_read_hf_local_folder_by_split(hf_folder):
    s = Session()
    train = s.sql(f"SELECT count(*) AS n FROM read_hf('{hf_folder}')").to_pylist()
    test = s.sql(f"SELECT id FROM read_hf('{hf_folder}', split := 'test') ORDER BY id")
    assert train == [{"n": 20}]
    assert [r["id"] for r in test.to_pylist()] == [r["id"] for r in ROWS if r["split"] == 0]


def test_read_hf_missing_split_is_reported(hf_folder):
    with pytest.raises(MdfqlError) as info:
        Session().compile(f"SELECT * FROM read_hf('{hf_folder}', split := 'validation')", "q.sql")
    assert "no 'validation' split" in info.value.message
    assert info.value.span.line == 1


def test_copy_jsonl_and_read_jsonl_round_trip(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), src)
    out = tmp_path / "out"
    s = Session()
    summary = s.run(f"COPY (SELECT id, text FROM read_parquet('{src}') "
                    f"WHERE split = 1) TO '{out}' (FORMAT jsonl)")
    assert summary.rows_written == 10
    lines = [json.loads(line) for f in sorted(out.glob("*.json*")) for line in f.open()]
    assert sorted(r["id"] for r in lines) == [r["id"] for r in ROWS if r["split"] == 1]
    back = s.sql(f"SELECT id, text FROM read_jsonl('{out}/*') ORDER BY id").to_pylist()
    assert back == [{"id": r["id"], "text": r["text"]} for r in ROWS if r["split"] == 1]


def test_class_udf_loads_once_and_scores(tmp_path):
    calls = tmp_path / "inits"

    # one worker (concurrency 1): its model is loaded once however many batches it scores
    @mdfql.udf_class("word_scorer", return_dtype=daft.DataType.float64(), batch_size=8,
                     concurrency=1, registry=(s := Session()).registry)
    class WordScorer:
        """Scores texts with a 'model' loaded once per worker."""

        def __init__(self):
            with calls.open("a") as f:  # count loads across threads
                f.write("x")
            self.weights = {"document": 0.5, "number": 0.25}

        def __call__(self, text: daft.Series) -> list:
            return [sum(self.weights.get(w, 0.0) for w in t.split()) for t in text.to_pylist()]

    s.attach("docs", daft.from_pylist(ROWS))
    got = s.sql("SELECT id, word_scorer(text) AS score FROM docs ORDER BY id").to_pylist()
    assert [g["score"] for g in got] == [0.75 * (r["id"] % 4 + 1) for r in ROWS]
    assert calls.read_text() == "x"
    assert s.registry.get("word_scorer").runs_as == "class"


def test_functions_command_lists_catalog_with_docs():
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "functions", "regexp"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "regexp_replace(text, pattern, replacement)" in proc.stdout
    assert "regular expression" in proc.stdout
