"""The report of a real run (`mdfql sample`, then `mdfql run pipelines/fineweb.sql --report`)
rendered in headless Chromium with the network unreachable: its script runs without an error,
the page shows the run's numbers once it ran, and its screenshot is not blank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from html_doc import Document
from PIL import Image

from mdfql import history
from mdfql.sinks.catalog import CatalogConfig

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "fineweb.sql"
TIMEOUT_S = 180


def _mdfql(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MDFQL_WAREHOUSE", "MDFQL_CATALOG_URI")}  # the run's ./warehouse
    done = subprocess.run([sys.executable, "-m", "mdfql.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, history.RunRecord]:
    work = tmp_path_factory.mktemp("browser")
    _mdfql(work, "sample")
    _mdfql(work, "run", str(PIPELINE), "--report", "fineweb.html")
    catalog = CatalogConfig.resolve(uri=f"sqlite:///{work}/warehouse/catalog.db",
                                    warehouse=str(work / "warehouse"))
    (row,) = history.recent(catalog, "mdfql.runs")
    record = history.load(catalog, "mdfql.runs", row["run_id"])
    assert record is not None
    return work / "fineweb.html", record


def _chromium(binary: str, page: Path, *flags: str) -> subprocess.CompletedProcess:
    """Chromium on `page` with every host name unresolvable (no network) and a fresh
    profile; `--no-sandbox` because CI runs as root."""
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={page.parent / 'chromium-profile'}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
         *flags, page.as_uri()],
        capture_output=True, text=True, timeout=TIMEOUT_S)


def test_the_report_refers_to_nothing_outside(report):
    page, _ = report
    assert Document.of(page.read_text(encoding="utf-8")).external_references() == []


def test_the_page_runs_and_shows_the_runs_numbers(report, chromium):
    page, record = report
    done = _chromium(chromium, page, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    # console messages (errors, a blocked fetch, a CSP violation) are logged as CONSOLE lines
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    doc = Document.of(done.stdout)
    (root,) = doc.tags("html")
    assert root.get("data-js") == "ready" and "data-js-errors" not in root
    steps = record.funnel.get("steps") or [
        {"rows_in": s["rows_in"], "rows_out": s["rows_out"]} for s in record.steps]
    assert steps  # fineweb.sql's filters drop rows of the sample
    assert [row[:3] for row in doc.step_rows] == \
        [[s["rows_in"], s["rows_out"], s["rows_in"] - s["rows_out"]] for s in steps]
    for figure in (record.rows_read, record.rows_written):
        assert f"{figure:,}" in doc.text
    assert record.run_id in doc.text


def test_the_screenshot_is_not_blank(report, chromium):
    page, _ = report
    shot = page.with_suffix(".png")
    done = _chromium(chromium, page, "--window-size=1200,1600", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1600)
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 10  # None: more colours than that
    pixels = np.asarray(image)
    inked = (pixels != pixels[0, 0]).any(axis=2).mean()  # not the background's colour
    assert inked > 0.02
