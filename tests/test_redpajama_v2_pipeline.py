"""pipelines/redpajama_v2.sql on a generated sample: every document that passes extraction and
language id is in the signals table (nothing dropped), and the duplicate-id table lists, at each
Jaccard level, exactly the documents that union-find over that level's LSH bands of the stored
signatures (computed here in Python) puts in a cluster whose smallest record_id is another's."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import warehouse_at
from near_dups import Sets

from mdfql import Session
from mdfql.demo.sample import write_sample

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "redpajama_v2.sql"
LEVELS = {1.0: (1, 128), 0.9: (5, 25), 0.8: (9, 13), 0.7: (14, 9)}  # RPv2's bands x rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample's stats, the documents in_language keeps, the signals and duplicates rows."""
    work = tmp_path_factory.mktemp("rpv2")
    stats = write_sample(work / "sample.warc.gz", n_records=800)
    with warehouse_at(str(work / "warehouse")):
        session = Session()
        session.run_file(PIPELINE, params={"input": str(stats.path)})
        docs = session.sql("SELECT record_id, url FROM in_language").to_pylist()
        signals = session.sql("SELECT * FROM read_iceberg('curated.rpv2_signals')").to_pylist()
        dups = session.sql("SELECT * FROM read_iceberg('curated.rpv2_duplicates')").to_pylist()
        yield stats, docs, signals, dups


def _clusters(signals: list[dict], bands: int, rows: int) -> dict[str, str]:
    """record_id -> smallest record_id of its component of band collisions (two or more)."""
    sets = Sets([s["record_id"] for s in signals])
    for b in range(bands):
        first: dict[tuple[int, ...], str] = {}
        for s in signals:
            key = tuple(s["signature"][b * rows:(b + 1) * rows])
            sets.union(first.setdefault(key, s["record_id"]), s["record_id"])
    return sets.labels()


def test_nothing_is_dropped(run):
    _, docs, signals, _ = run
    assert len(docs) > 500
    assert sorted(s["record_id"] for s in signals) == sorted(d["record_id"] for d in docs)
    for s in signals:
        assert len(s["signature"]) == 128
        assert s["rps"]["rps_doc_word_count"] > 0


@pytest.mark.parametrize("jaccard", sorted(LEVELS))
def test_duplicates_are_the_band_components(run, jaccard):
    _, _, signals, dups = run
    expected = {r: c for r, c in _clusters(signals, *LEVELS[jaccard]).items() if c != r}
    listed = {d["record_id"]: d["cluster"] for d in dups if d["jaccard"] == jaccard}
    assert listed == expected
    column = f"cluster_{str(jaccard).replace('.', '_')}"
    assert {s["record_id"]: s[column] for s in signals if s[column] != s["record_id"]} == listed


def test_levels_nest_and_copies_are_found(run):
    stats, _, signals, dups = run
    at = {j: {d["record_id"] for d in dups if d["jaccard"] == j} for j in LEVELS}
    # a band of 25 rows holds a band of 13 (rows 0-24 hold 13-25, ...) and 128 equal rows
    # collide in every band, so 1.0 within 0.9 within 0.8 (0.7's 9-row bands need not nest)
    assert at[1.0] <= at[0.9] <= at[0.8]
    assert len(at[0.7]) > len(at[1.0])
    # each byte-identical copy in the sample shares its cluster at 1.0 with another page
    cluster = {s["url"]: s["cluster_1_0"] for s in signals}
    sizes: dict[str, int] = {}
    for c in cluster.values():
        sizes[c] = sizes.get(c, 0) + 1
    copies = [u for u in stats.urls["exact_duplicate"] if u in cluster]
    assert copies
    assert all(sizes[cluster[u]] >= 2 for u in copies)


# The README's example: Gopher-style rules over the signals, 0.8-level duplicates dropped
EXAMPLE = """
SELECT record_id, url FROM read_iceberg('curated.rpv2_signals')
WHERE rps.rps_doc_word_count BETWEEN 50 AND 100000
  AND rps.rps_doc_mean_word_length BETWEEN 3 AND 10
  AND rps.rps_doc_symbol_to_word_ratio <= 0.1
  AND rps.rps_doc_frac_no_alph_words <= 0.2
  AND rps.rps_doc_frac_chars_top_2gram <= 0.2
  AND rps.rps_doc_frac_chars_dupe_5grams <= 0.15
  AND record_id NOT IN (SELECT record_id FROM read_iceberg('curated.rpv2_duplicates')
                        WHERE jaccard = 0.8)
"""


def test_readme_filter_query(run):
    _, _, signals, dups = run  # (the fixture's warehouse is still the current one)
    got = sorted(r["record_id"] for r in Session().sql(EXAMPLE).to_pylist())
    dropped = {d["record_id"] for d in dups if d["jaccard"] == 0.8}
    want = sorted(
        s["record_id"] for s in signals
        if 50 <= s["rps"]["rps_doc_word_count"] <= 100000
        and 3 <= s["rps"]["rps_doc_mean_word_length"] <= 10
        and s["rps"]["rps_doc_symbol_to_word_ratio"] <= 0.1
        and s["rps"]["rps_doc_frac_no_alph_words"] <= 0.2
        and s["rps"]["rps_doc_frac_chars_top_2gram"] <= 0.2
        and s["rps"]["rps_doc_frac_chars_dupe_5grams"] <= 0.15
        and s["record_id"] not in dropped)
    assert got == want
    assert 0 < len(got) < len(signals) - len(dropped)
