"""pipelines/fineweb.sql end to end on a generated sample: every FineWeb step takes out the pages
planted for it, the curated sources RefinedWeb would drop survive, near and exact copies collapse
to one document per cluster, and PII is masked by the pipeline's last step."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import warehouse_at
from near_dups import similar_pairs

from mdfql import Session
from mdfql.demo.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "fineweb.sql"

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample's stats, the run's summary, the rows of curated.fineweb, and url, warc_date
    and cluster of every document entering dedup (the pipeline's `clustered` view)."""
    work = tmp_path_factory.mktemp("fineweb")
    stats = write_sample(work / "sample.warc.gz", n_records=600)
    with warehouse_at(str(work / "warehouse")):
        session = Session()
        summary = session.run_file(PIPELINE, params={"input": str(stats.path)})
        kept = session.sql("SELECT * FROM read_iceberg('curated.fineweb')").to_pylist()
        clustered = session.sql("SELECT url, warc_date, cluster FROM clustered").to_pylist()
        yield stats, summary, kept, clustered


def kept_of(stats, name: str, kept_urls: set[str]) -> tuple[int, int]:
    urls = stats.urls[name]
    return sum(u in kept_urls for u in urls), len(urls)


def test_summary_counts_the_written_rows(run):
    _, summary, kept, _ = run
    assert summary.rows_written == len(kept) > 0


@pytest.mark.parametrize("name", [
    "spam_url", "blocklisted",              # URL filter
    "non_english",                          # language identification
    "short", "list_like",                   # Gopher quality / FineWeb line rules
    "non_html", "non_200", "malformed",     # input: HTTP 200 HTML only
])
def test_planted_pages_are_removed(run, name):
    stats, _, kept, _ = run
    got, total = kept_of(stats, name, {r["url"] for r in kept})
    assert total > 0 and got == 0


def test_curated_sources_are_kept(run):
    # RefinedWeb drops Wikipedia, arXiv, ...; FineWeb's URL filter does not.
    stats, _, kept, _ = run
    got, total = kept_of(stats, "quality_source", {r["url"] for r in kept})
    assert total > 0 and got >= 0.9 * total


def test_kept_documents_are_confident_english(run):
    _, _, kept, _ = run
    assert all(r["language"] == "en" and r["language_score"] > 0.65 for r in kept)
    assert all(r["text"] and r["url"] and r["record_id"] for r in kept)


def test_copies_collapse_to_one_document_per_cluster(run):
    stats, _, kept, clustered = run
    kept_urls = {r["url"] for r in kept}
    groups = stats.urls["clean"] + stats.urls["exact_duplicate"] + stats.urls["near_duplicate"]
    before = {r["url"] for r in clustered}
    # every exact or near copy is of a clean article: one survivor per article
    survivors = sum(u in kept_urls for u in groups)
    assert 0.95 * len(stats.urls["clean"]) <= survivors <= len(stats.urls["clean"])
    assert sum(u in before for u in groups) > survivors
    assert similar_pairs([r["text"] for r in kept]) == 0


def test_dedup_keeps_the_earliest_capture_of_each_cluster(run):
    _, _, kept, clustered = run
    first: dict[int, tuple] = {}
    for r in clustered:
        key = (r["warc_date"], r["url"])
        first[r["cluster"]] = min(first.get(r["cluster"], key), key)
    assert len(first) < len(clustered)
    assert {url for _, url in first.values()} == {r["url"] for r in kept}


def test_pii_is_masked_by_the_last_step():
    """The sample has no emails or IPs: the pipeline's final SELECT runs on an attached table
    standing in for its `deduplicated` view."""
    import daft

    script = PIPELINE.read_text(encoding="utf-8")
    final = script[script.index("CREATE OR REPLACE TABLE curated.fineweb AS"):]
    select = final[final.index("SELECT"):].rstrip().rstrip(";")
    texts = [
        "Write to jane.doe@mail-host.net or to the desk at news.desk@example-paper.co.uk today.",
        "The public server at 8.8.8.8 answered; the router at 192.168.1.1 stayed private.",
    ]
    frame = daft.from_pydict({
        "url": ["https://a.example/1", "https://a.example/2"],
        "warc_date": [datetime(2024, 1, 1, tzinfo=timezone.utc)] * 2,
        "record_id": ["<urn:uuid:1>", "<urn:uuid:2>"],
        "language": ["en", "en"],
        "language_score": [0.9, 0.9],
        "text": texts,
    })
    out = [r["text"] for r in Session().sql(select, deduplicated=frame).to_pylist()]
    emails = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", out[0])
    assert "jane.doe" not in out[0] and "news.desk" not in out[0]
    assert len(emails) == 2
    assert set(emails) <= {"email@example.com", "firstname.lastname@example.org"}
    # datatrove's placeholder addresses replace public IPs only
    assert "8.8.8.8" not in out[1] and "192.168.1.1" in out[1]
    placeholders = {"22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206",
                    "220.127.116.11", "18.104.22.168"}
    assert any(ip in out[1] for ip in placeholders)
