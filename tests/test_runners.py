"""The same plan on the native runner and on Ray gives the same rows; unsatisfiable resource
hints fail up front on Ray instead of hanging. Ray tests start a local cluster (a few seconds)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.ray

PIPELINE = """
SET $input = 'docs.parquet';
SET $out = 'out';
SET $dedup_out = 'out_dedup';
CREATE VIEW kept AS
  SELECT id, host, lower(title) AS title, words,
         row_number() OVER (PARTITION BY host ORDER BY words DESC, id) AS rank_in_host
  FROM read_parquet($input)
  WHERE words >= 20;
COPY (SELECT host, count(*) AS n, sum(words) AS total, min(title) AS first_title
      FROM kept WHERE rank_in_host <= 3 GROUP BY host ORDER BY host)
  TO $out (FORMAT parquet);
-- a relational operator: its input runs while the plan is built, inside the chosen runner
COPY (SELECT DISTINCT ON (cluster) id, title,
             lsh_cluster(minhash(title, ngram := 2), id, bands := 28, rows := 4) OVER ()
             AS cluster,
             paragraph_dedup(title, words) OVER () AS repeated
      FROM kept ORDER BY id)
  TO $dedup_out (FORMAT parquet);
"""


def run_cli(*args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, DAFT_PROGRESS_BAR="0", RAY_AUTH_MODE="disabled")
    return subprocess.run([sys.executable, "-m", "mdfql.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    n = 2000
    table = pa.table({
        "id": list(range(n)),
        "host": [f"site{i % 37}.example" for i in range(n)],
        "title": [f"Title {i * 7919 % 1000} of Page" for i in range(n)],
        "words": [(i * 31) % 400 for i in range(n)],
    })
    pq.write_table(table, tmp_path / "docs.parquet", row_group_size=250)
    (tmp_path / "pipe.sql").write_text(PIPELINE)
    return tmp_path


def kept_ids(workdir: Path) -> list[int]:
    table = pq.read_table(workdir / "docs.parquet")
    return [i for i, w in zip(table["id"].to_pylist(), table["words"].to_pylist()) if w >= 20]


def test_native_and_ray_give_the_same_rows(workdir):
    native = run_cli("run", "pipe.sql", "--param", "out=out_native",
                     "--param", "dedup_out=out_native_dedup", cwd=workdir)
    assert native.returncode == 0, native.stderr
    ray = run_cli("run", "pipe.sql", "--runner", "ray", "--param", "out=out_ray",
                  "--param", "dedup_out=out_ray_dedup", cwd=workdir)
    assert ray.returncode == 0, ray.stderr
    a = pq.read_table(workdir / "out_native").sort_by("host")
    b = pq.read_table(workdir / "out_ray").sort_by("host")
    assert a.num_rows == 37
    assert a.equals(b)
    a = pq.read_table(workdir / "out_native_dedup")
    b = pq.read_table(workdir / "out_ray_dedup").sort_by("id")
    # titles repeat every 1000 ids: one survivor (the smallest id) per distinct title
    assert a.num_rows == len(set(a.column("title").to_pylist())) < len(kept_ids(workdir))
    # paragraph_dedup's stage too: a kept title seen earlier by `words` is one repeated span
    assert 0 < sum(len(r) for r in a.column("repeated").to_pylist()) < a.num_rows
    assert a.equals(b)


def test_ray_run_counts_reads_and_worker_failures(tmp_path):
    """Rows fail inside Ray workers; the driver's summary still counts them, and the rows read."""
    from mdfql.demo.sample import write_sample

    stats = write_sample(tmp_path / "sample.warc.gz", n_records=200)
    (tmp_path / "warc.sql").write_text(
        "COPY (SELECT url, status FROM read_warc('sample.warc.gz')) TO 'out' (FORMAT parquet);")
    proc = run_cli("run", "warc.sql", "--runner", "ray", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert re.search(r"rows read[\s│]+" + f"{stats.response_records - 1:,}", out), out
    assert re.search(r"failed rows: parse_http: bad status line[\s│]+2\b", out), out
    assert re.search(r"failed rows: read_warc: truncated record[\s│]+1\b", out), out


def test_unsatisfiable_gpu_hint_fails_fast_on_ray(workdir):
    (workdir / "gpu_plugin.py").write_text(
        "import daft, mdfql\n"
        "@mdfql.udf_class(return_dtype=daft.DataType.float64(), gpus=1)\n"
        "class Scorer:\n"
        "    def __call__(self, text):\n"
        "        return [float(len(t)) for t in text.to_pylist()]\n"
    )
    (workdir / "gpu.sql").write_text(
        "LOAD 'gpu_plugin';\n"
        "COPY (SELECT scorer(title) AS s FROM read_parquet('docs.parquet')) TO 'o';\n"
    )
    env_path = f"{workdir}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    os.environ["PYTHONPATH"] = env_path
    try:
        proc = run_cli("run", "gpu.sql", "--runner", "ray", cwd=workdir, timeout=180)
    finally:
        os.environ["PYTHONPATH"] = env_path.split(os.pathsep, 1)[1]
    assert proc.returncode == 1
    assert "scorer() asks for 1 GPU(s) per worker but the Ray cluster has 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (workdir / "o").exists()
