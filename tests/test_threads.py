"""The Rust kernels' thread pool takes the CPUs the process was given: `MDFQL_THREADS`, an
explicit size, the affinity mask or a cgroup quota, and a kernel batch never fans out wider."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mdfql import _native, threads

TESTS = Path(__file__).resolve().parent
PROBE_SQL = """
LOAD 'thread_probe';
COPY (SELECT kernel_probe(url) AS p FROM read_parquet('urls.parquet')) TO 'probe' (FORMAT parquet);
"""


def probe_native(tmp_path: Path, **env: str) -> list[dict]:
    """Rows of the probe kernel run by `mdfql run` on the native runner with `env`."""
    import pyarrow as pa

    pq.write_table(pa.table({"url": [f"https://e.example/{i}" for i in range(2000)]}),
                   tmp_path / "urls.parquet")
    (tmp_path / "probe.sql").write_text(PROBE_SQL)
    base = {k: v for k, v in os.environ.items() if k != threads.ENV}
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "run", "probe.sql"], cwd=tmp_path,
                          env=dict(base, PYTHONPATH=str(TESTS), DAFT_PROGRESS_BAR="0", **env),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return pq.read_table(tmp_path / "probe").column("p").to_pylist()


def test_mdfql_threads_caps_every_kernel_batch(tmp_path):
    rows = probe_native(tmp_path, MDFQL_THREADS="1")
    assert len(rows) == 2000
    assert {(r["pool_threads"], r["threads_used"], r["sized_by"]) for r in rows} == {
        (1, 1, "MDFQL_THREADS")}


def test_native_default_is_the_cpus_this_process_may_use(tmp_path):
    rows = probe_native(tmp_path)
    n, why = threads.process_cpus()
    assert {(r["pool_threads"], r["sized_by"]) for r in rows} == {(n, why)}
    assert all(1 <= r["threads_used"] <= n for r in rows)


def test_configure_resizes_the_pool_and_none_restores_the_default():
    default = threads.process_cpus()[0]
    try:
        assert threads.configure(3) == 3
        assert _native.current_threads() == 3
        assert 1 <= _native.threads_used(tasks=64, spin_us=500) <= 3
        assert threads.current() == (3, "SET threads")
    finally:
        assert threads.configure(None) == default
    assert _native.current_threads() == default
    with pytest.raises(ValueError, match="at least 1"):
        threads.configure(0)


def test_bad_mdfql_threads_is_an_error(monkeypatch):
    monkeypatch.setenv(threads.ENV, "two")
    with pytest.raises(ValueError, match="MDFQL_THREADS must be a positive integer"):
        threads.decide()


def test_cgroup_quota_rounds_up_and_max_is_unlimited(tmp_path):
    f = tmp_path / "cpu.max"
    f.write_text("150000 100000\n")
    assert threads.cgroup_cpu_quota(f) == 2
    f.write_text("max 100000\n")
    assert threads.cgroup_cpu_quota(f) is None
    assert threads.cgroup_cpu_quota(tmp_path / "missing") is None
