"""Shared test setup: quiet Daft, locate the shared real data, build small realistic tables."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

os.environ["DAFT_ANALYTICS_ENABLED"] = "0"
os.environ["DAFT_PROGRESS_BAR"] = "0"
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def in_ci() -> bool:
    """True under CI (`CI=true`, as CI services set it): missing test data is then an error."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@contextlib.contextmanager
def warehouse_at(path: str | Path) -> Iterator[None]:
    """MDFQL_WAREHOUSE set to `path` inside the block, restored after: for fixtures wider than
    one test, which cannot use monkeypatch (the `warehouse` fixture does that for one test)."""
    old = os.environ.get("MDFQL_WAREHOUSE")
    os.environ["MDFQL_WAREHOUSE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MDFQL_WAREHOUSE", None)
        else:
            os.environ["MDFQL_WAREHOUSE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data of the project, the one place that decides what its absence means: tests
    that need it skip in a user's clone without it, and fail under CI (`CI=true`), where a
    missing checkout must not pass as a green run that tested nothing."""
    if not SHARED.is_dir():
        message = f"shared test data not found at {SHARED}"
        if in_ci():
            pytest.fail(f"{message}; CI=true requires it (check out ../shared beside the repo)",
                        pytrace=False)
        pytest.skip(f"{message} (present in CI and on dev machines)")
    return SHARED


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser the report is rendered in (Debian's `chromium`): missing, the test
    skips, saying how to install it, and fails under CI (`.ci/run` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium not found on PATH"
        if in_ci():
            pytest.fail(f"{message}; CI=true requires it (.ci/run installs it with "
                        "`apt-get install -y chromium`)", pytrace=False)
        pytest.skip(f"{message}: install it (`apt-get install -y chromium`) to render the "
                    "report in a browser")
    return found


@pytest.fixture(scope="session")
def fasttext_trainer() -> None:
    """The fastText package, trainer included, for a child process (tests/fasttext_reference.py
    says why it is kept out of site-packages): missing, the test skips, saying how to install
    it, and fails under CI (`.ci/run` installs it)."""
    from fasttext_reference import TRAINER_HINT, trainer_env

    if trainer_env() is None:
        if in_ci():
            pytest.fail(f"{TRAINER_HINT}; CI=true requires it (.ci/run installs it)",
                        pytrace=False)
        pytest.skip(TRAINER_HINT)


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    """An empty embedded Iceberg warehouse for one test."""
    wh = tmp_path / "warehouse"
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(wh))
    monkeypatch.delenv("MDFQL_CATALOG_URI", raising=False)
    return wh


@pytest.fixture(scope="session")
def fineweb_sample(tmp_path_factory) -> Path:
    """A folder laid out as `mdfql sample && mdfql run pipelines/fineweb.sql` leaves it: the
    sample WARC, the demo FineWeb-Edu classifier in `sample/models/fineweb-edu/` and the
    table `curated.fineweb` in `./warehouse` (what pipelines/fineweb_edu.sql reads)."""
    from mdfql import Session
    from mdfql.demo.sample import write_sample
    from mdfql.demo.weights import demo_corpus, missing_models, write_edu

    if missing_models():
        pytest.skip(f"the demo classifier needs the models extra: {missing_models()}")
    root = tmp_path_factory.mktemp("fineweb-sample")
    sample = write_sample(root / "sample" / "sample.warc.gz", n_records=600).path
    write_edu(root / "sample" / "models" / "fineweb-edu", demo_corpus())
    pipeline = Path(__file__).resolve().parents[1] / "pipelines" / "fineweb.sql"
    with warehouse_at(str(root / "warehouse")):
        Session().run_file(pipeline, params={"input": str(sample)})
    return root
