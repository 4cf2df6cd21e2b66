"""The funnel on Ray: counted filters run in Ray's workers and count into the run's tally
actor; the driver's funnel, failures and rejects equal the native runner's. Starts a local Ray
for the run (a few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mdfql.demo.sample import write_sample

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]

# Each runner in a process of its own: a process that ran on Ray cannot go back to native.
DRIVER = """
import json, sys
from mdfql import Session
runner, input_ = sys.argv[1], sys.argv[2]
text = "SET rejects = 'audit.rejects';\\n" + open(sys.argv[3]).read()
session = Session()
summary = session.run(text, {"input": input_}, runner=runner)
print(json.dumps({
    "steps": [[s.statement, s.view, s.predicate, s.rows_in, s.rows_out]
              for s in summary.funnel.steps],
    "failures": sorted([list(k), v] for k, v in summary.failures.items()),
    "signals": {s.name: s.count for s in summary.funnel.signals},
    "writes": [[w.ident, w.rows_written] for w in summary.writes],
}))
"""


def _run(runner: str, sample: Path, tmp: Path) -> dict:
    env = dict(os.environ, DAFT_PROGRESS_BAR="0", RAY_AUTH_MODE="disabled",
               MDFQL_WAREHOUSE=str(tmp / f"warehouse-{runner}"))
    proc = subprocess.run([sys.executable, "-c", DRIVER, runner, str(sample),
                           str(ROOT / "pipelines" / "fineweb.sql")],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ray_funnel_equals_native(tmp_path):
    sample = write_sample(tmp_path / "sample.warc.gz", n_records=600).path
    native, ray = _run("native", sample, tmp_path), _run("ray", sample, tmp_path)
    assert ray["steps"] == native["steps"]
    assert any(rows_in > rows_out for *_, rows_in, rows_out in ray["steps"])
    assert ray["failures"] == native["failures"] == [
        [["parse_http", "bad status line"], 2], [["read_warc", "truncated record"], 1]]
    assert ray["signals"] == native["signals"] and ray["signals"]
    assert ray["writes"] == native["writes"]
    assert ray["writes"][-1][0] == "audit.rejects" and ray["writes"][-1][1] > 0
