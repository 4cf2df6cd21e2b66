"""`mdfql run pipelines/refinedweb.sql` end to end on the bundled sample: every RefinedWeb step
takes out the pages planted for it, good pages survive, near and exact copies and repeated URLs
collapse to one document, the Iceberg table reads back, and a re-run replaces instead of
doubling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import warehouse_at
from near_dups import similar_pairs

from mdfql import Session
from mdfql.demo.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("refinedweb")
    stats = write_sample(work / "sample" / "sample.warc.gz")
    env = dict(os.environ, DAFT_PROGRESS_BAR="0")
    cmd = [sys.executable, "-m", "mdfql.cli", "run", str(ROOT / "pipelines" / "refinedweb.sql")]
    first = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    return work, stats, first, second


@pytest.fixture(scope="module")
def kept(run):
    work, *_ = run
    with warehouse_at(str(work / "warehouse")):
        yield Session().sql("SELECT url, text FROM read_iceberg('curated.refinedweb')").to_pylist()


def test_summary_reports_reads_writes_and_failures(run, kept):
    _, stats, first, _ = run
    out = first.stdout + first.stderr
    # every response record but the one cut short at the end of the file
    assert re.search(r"rows read[\s│]+" + f"{stats.response_records - 1:,}", out)
    assert re.search(r"wrote replace curated\.refinedweb \(snapshot \d+\)[\s│]+"
                     + f"{len(kept):,}", out)
    assert "failed rows: read_warc: truncated record" in out
    assert "failed rows: parse_http: bad status line" in out
    assert "docs/s" in out


def test_rerun_replaces_the_table(run, kept):
    _, _, first, second = run
    written = [re.search(r"wrote replace curated\.refinedweb \(snapshot \d+\)[\s│]+([\d,]+)",
                         p.stdout + p.stderr).group(1)
               for p in (first, second)]
    assert written[0] == written[1] == f"{len(kept):,}"


def category(stats, name: str, kept_urls: set[str]) -> tuple[int, int]:
    urls = stats.urls[name]
    return sum(u in kept_urls for u in urls), len(urls)


@pytest.mark.parametrize("name", [
    "spam_url", "blocklisted", "quality_source",  # G.1 URL filter
    "non_english",                                 # G.3 language identification
    "repetitive",                                  # G.4 Gopher repetition
    "short", "list_like",                          # G.5 Gopher quality
    "non_html", "non_200", "malformed",            # input: HTTP 200 HTML only
])
def test_planted_pages_are_removed(run, kept, name):
    _, stats, *_ = run
    got, total = category(stats, name, {r["url"] for r in kept})
    assert total > 0 and got == 0


def test_good_pages_survive_with_clean_text(run, kept):
    _, stats, *_ = run
    kept_urls = {r["url"] for r in kept}
    clean_and_copies = stats.urls["clean"] + stats.urls["exact_duplicate"]
    got = sum(u in kept_urls for u in clean_and_copies)
    # each exact copy or its original survives, not both
    assert got >= 0.97 * len(stats.urls["clean"])
    boiler, total = category(stats, "boilerplate", kept_urls)
    assert boiler >= 0.95 * total
    for row in kept:
        assert "use of cookies" not in row["text"]
        assert "Sign up for our newsletter" not in row["text"]
        assert "\n\n\n" not in row["text"]
        assert "http://" not in row["text"] and "https://" not in row["text"]


def test_near_and_exact_copies_collapse_to_one_document(run, kept):
    _, stats, *_ = run
    kept_urls = {r["url"] for r in kept}
    copies = stats.urls["exact_duplicate"] + stats.urls["near_duplicate"]
    survivors = sum(u in kept_urls for u in stats.urls["clean"] + copies)
    # every copy is of a clean article: one survivor per article
    assert 0.95 * len(stats.urls["clean"]) <= survivors <= len(stats.urls["clean"])
    assert similar_pairs([r["text"] for r in kept]) == 0


def test_urls_are_unique_after_normalisation(kept):
    s = Session()
    import daft

    s.attach("kept", daft.from_pylist(kept))
    row = s.sql("SELECT count(*) AS n, count(DISTINCT normalize_url(url)) AS d FROM kept")
    assert row.to_pylist()[0]["n"] == row.to_pylist()[0]["d"]


def test_exact_duplicates_are_removed(kept):
    s = Session()
    import daft

    s.attach("kept", daft.from_pylist(kept))
    counts = s.sql("SELECT count(*) AS n, count(DISTINCT fingerprint(text)) AS d FROM kept")
    row = counts.to_pylist()[0]
    assert row["n"] == row["d"]


def test_example_script_runs(tmp_path):
    env = dict(os.environ, DAFT_PROGRESS_BAR="0")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "explore_warc.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sample" / "sample.warc.gz").exists()
    rules = ("domain", "url", "hard_word", "soft_words", "strict_word", "quality_source")
    assert all(f" {rule} " in proc.stdout for rule in rules) and "lang" in proc.stdout


@pytest.fixture(scope="module")
def image_sample(tmp_path_factory) -> Path:
    """A folder holding what the image pipelines' defaults name: `sample/image_text.parquet`
    and the demo weights in `sample/models/` (see the test below)."""
    from mdfql.demo.images import write_image_sample
    from mdfql.demo.weights import missing_models, write_demo_weights

    if missing_models():
        pytest.skip(f"the image pipelines' demo weights need the models extra: "
                    f"{missing_models()}")
    root = tmp_path_factory.mktemp("images")
    write_image_sample(root / "sample")
    write_demo_weights(root / "sample" / "models")
    return root


@pytest.fixture(scope="module")
def classifier_sample(tmp_path_factory) -> Path:
    """A folder holding the demo fastText classifier dclm.sql's $classifier names."""
    from mdfql.demo.fasttext_model import write_demo_classifier
    from mdfql.demo.weights import DEMO_CLASSIFIER

    root = tmp_path_factory.mktemp("classifier")
    write_demo_classifier(root / "sample" / "models" / DEMO_CLASSIFIER)
    return root


@pytest.mark.parametrize("pipeline", sorted((ROOT / "pipelines").glob("*.sql")),
                         ids=lambda p: p.name)
def test_every_pipeline_checks(pipeline, tmp_path, request):
    # The WARC pipelines check where the sample does not exist: checking reads no data, so
    # nothing is missed. The image pipelines read Parquet, whose footer (the schema) read_parquet
    # reads to plan, and name weight files that check looks for: they check beside the sample.
    # fineweb_edu.sql reads the table fineweb.sql writes: it checks where that table is.
    # dclm.sql names the demo classifier's file: it checks beside that file.
    where = tmp_path
    if "read_parquet(" in pipeline.read_text():
        where = request.getfixturevalue("image_sample")
    elif "read_iceberg($source)" in pipeline.read_text():
        where = request.getfixturevalue("fineweb_sample")
    elif "fasttext_score(" in pipeline.read_text():
        where = request.getfixturevalue("classifier_sample")
    # the folder's own warehouse, whatever an earlier test left in the environment
    env = {k: v for k, v in os.environ.items() if k != "MDFQL_CATALOG_URI"}
    env["MDFQL_WAREHOUSE"] = str(where / "warehouse")
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "check", str(pipeline)],
                          cwd=where, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "not found" not in proc.stdout + proc.stderr
