"""Shared test setup: quiet Daft, locate the shared real data, build small realistic tables."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["DAFT_ANALYTICS_ENABLED"] = "0"
os.environ["DAFT_PROGRESS_BAR"] = "0"
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data of the project; tests that need it skip in a user's clone without it."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test data not found at {SHARED} (present in CI and dev machines)")
    return SHARED


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    """An empty embedded Iceberg warehouse for one test."""
    wh = tmp_path / "warehouse"
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(wh))
    monkeypatch.delenv("MDFQL_CATALOG_URI", raising=False)
    return wh
