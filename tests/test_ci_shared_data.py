"""conftest's `shared_data`: a missing ../shared skips a test in a user's clone, fails it under CI.

Each case runs the real conftest.py (copied into a scratch project, so its ../shared lies in the
scratch directory) with a one-test file in a pytest subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
NEEDS_DATA = """
def test_reads_shared(shared_data):
    assert (shared_data / "marker.txt").read_text() == "here"
"""


def _run(tmp_path: Path, ci: str | None, with_shared: bool) -> subprocess.CompletedProcess:
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(CONFTEST, tests / "conftest.py")
    (tests / "test_needs_data.py").write_text(NEEDS_DATA)
    (tmp_path / "repo" / "pytest.ini").write_text("[pytest]\n")
    if with_shared:  # the copied conftest looks for <repo>/../shared/data
        (tmp_path / "shared" / "data").mkdir(parents=True)
        (tmp_path / "shared" / "data" / "marker.txt").write_text("here")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path / "repo", env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_missing_shared_fails_under_ci(tmp_path: Path, ci: str) -> None:
    run = _run(tmp_path, ci=ci, with_shared=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "CI=true requires it" in run.stdout, run.stdout


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_missing_shared_skips_outside_ci(tmp_path: Path, ci: str | None) -> None:
    run = _run(tmp_path, ci=ci, with_shared=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and "shared test data not found" in run.stdout, run.stdout


def test_present_shared_runs_under_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, ci="true", with_shared=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout, run.stdout
