"""Dedup operators through SQL: MinHash LSH clusters (chains, exact dups, empty and short
documents, unicode) identical for any partitioning and on Ray; Hamming clusters of image
hashes; BFF-style n-gram dedup; URL dedup as an anti join against an Iceberg table."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mdfql import Session
from mdfql.dedup.components import connected_components

CLUSTER_SQL = """
SELECT id, lsh_cluster(minhash(text, num_hashes := 112, ngram := 5), id,
                       bands := 28, rows := 4, threshold := 0.5) OVER () AS cluster
FROM read_parquet('{path}')
"""
KEEP_SQL = """
SELECT DISTINCT ON (cluster) id, lsh_cluster(minhash(text), bands := 28, rows := 4) OVER ()
       AS cluster
FROM read_parquet('{path}') ORDER BY cluster, id
"""


def _words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(5000)}" for _ in range(n)]


def _changed(words: list[str], start: int, stop: int, tag: str) -> list[str]:
    return words[:start] + [f"{tag}{i}" for i in range(start, stop)] + words[stop:]


def corpus() -> tuple[list[int], list[str], dict[str, list[int]]]:
    """Documents with planted duplicates; `groups` names the ids that must share a cluster."""
    rng = random.Random(42)
    docs: dict[int, str] = {i: " ".join(_words(rng, 120)) for i in range(40)}
    a = _words(rng, 200)
    b = _changed(a, 0, 30, "b")          # A~B: ~75% of 5-gram shingles shared
    c = _changed(b, 100, 130, "c")       # B~C; A and C share only ~50%: linked through B
    docs.update({100: " ".join(a), 101: " ".join(b), 102: " ".join(c)})
    docs[110] = docs[3]                                 # exact duplicate
    docs[111] = " ".join(_changed(docs[5].split(), 0, 4, "x"))  # near duplicate
    uni = "Ünïcödé façade naïve café Привет мир 東京 タワー " * 12
    docs.update({120: uni, 121: uni.replace("мир", "мiр", 1)})
    docs.update({130: "", 131: "", 132: "ok", 133: "hi", 134: "tiny doc"})
    ids = sorted(docs)
    groups = {"chain": [100, 101, 102], "exact": [3, 110], "near": [5, 111],
              "unicode": [120, 121]}
    return ids, [docs[i] for i in ids], groups


def write_parts(tmp: Path, ids: list[int], texts: list[str], parts: int, seed: int) -> Path:
    """The corpus as `parts` Parquet files, rows shuffled: a different partitioning."""
    order = list(range(len(ids)))
    random.Random(seed).shuffle(order)
    out = tmp / f"parts{parts}"
    out.mkdir()
    for p in range(parts):
        rows = order[p::parts]
        pq.write_table(pa.table({"id": [ids[i] for i in rows], "text": [texts[i] for i in rows]}),
                       out / f"{p}.parquet")
    return out / "*.parquet"


def clusters(path: Path) -> dict[int, int]:
    rows = Session().sql(CLUSTER_SQL.format(path=path)).to_pylist()
    return {r["id"]: r["cluster"] for r in rows}


def test_lsh_clusters_chains_and_duplicates_for_any_partitioning(tmp_path):
    ids, texts, groups = corpus()
    results = [clusters(write_parts(tmp_path, ids, texts, n, seed=n)) for n in (1, 3, 7)]
    assert results[0] == results[1] == results[2]
    got = results[0]
    assert set(got) == set(ids)
    for name, members in groups.items():
        assert {got[i] for i in members} == {min(members)}, name  # cluster id = smallest id
    planted = {i for m in groups.values() for i in m}
    singles = [i for i in ids if i not in planted]
    # everything else (random, empty and very short documents) stays alone
    assert all(got[i] == i for i in singles)
    kept = [sorted(r["id"] for r in Session().sql(KEEP_SQL.format(
        path=write_parts(tmp_path / f"k{n}", ids, texts, n, seed=10 + n))).to_pylist())
        for n in (1, 3, 7) if (tmp_path / f"k{n}").mkdir() is None]
    assert kept[0] == kept[1] == kept[2]
    assert len(kept[0]) == len(ids) - sum(len(m) - 1 for m in groups.values())


def test_identical_rows_without_id_are_one_document(tmp_path):
    df = daft.from_pydict({"text": ["same words here and there", "same words here and there",
                                    "", "", "other"]})
    rows = Session().sql("SELECT text, lsh_cluster(minhash(text)) OVER () AS c FROM t",
                         t=df).to_pylist()
    by_text: dict[str, set[int]] = {}
    for r in rows:
        by_text.setdefault(r["text"], set()).add(r["c"])
    assert all(len(c) == 1 for c in by_text.values())
    assert len({next(iter(c)) for c in by_text.values()}) == 3


def test_string_ids_label_clusters_and_distinct_on_keeps_the_earliest():
    text = "the same page text with more than five words in it"
    pages = daft.from_pydict({"url": ["https://b.example/", "https://a.example/", "https://c/"],
                              "day": [1, 2, 3], "text": [text, text, "another page entirely"],
                              "label": ["x", "y", "z"], "node": [7, 8, 9]})  # internal names
    rows = Session().sql("""
        SELECT DISTINCT ON (cluster) url, lsh_cluster(minhash(text), url) OVER () AS cluster
        FROM pages ORDER BY cluster, day""", pages=pages).to_pylist()
    assert sorted((r["url"], r["cluster"]) for r in rows) == [
        ("https://b.example/", "https://a.example/"), ("https://c/", "https://c/")]


def test_components_converge_on_a_long_chain_in_log_rounds():
    n = 4000
    perm = random.Random(3).sample(range(n), n)
    edges = daft.from_pydict({"a": perm[:-1], "b": perm[1:]})
    labels, rounds = connected_components(edges)
    assert {r["label"] for r in labels.to_pylist()} == {0}
    assert rounds <= 16  # ~log2(4000) + 2, not ~4000 as plain label propagation


def test_hamming_cluster_planted_flips():
    rng = random.Random(7)

    def flip(h: int, k: int) -> int:
        for bit in rng.sample(range(64), k):
            h ^= 1 << bit
        return h

    base = [rng.getrandbits(64) for _ in range(60)]
    ids = list(range(60))
    hashes = list(base)
    for i in range(10):
        ids.append(100 + i)
        hashes.append(flip(base[i], 3 + i % 8))   # 3..10 bits away: same cluster
    for i in range(10, 15):
        ids.append(200 + i)
        hashes.append(flip(base[i], 24))           # far: own cluster
    ids.append(300)
    hashes.append(base[20])                        # exact duplicate
    df = daft.from_arrow(pa.table({"id": ids, "h": pa.array(hashes, pa.uint64())}))
    rows = Session().sql(
        "SELECT id, hamming_cluster(h, id, max_distance := 10) OVER () AS c FROM imgs",
        imgs=df).to_pylist()
    got = {r["id"]: r["c"] for r in rows}
    assert all(got[100 + i] == i for i in range(10))
    assert all(got[200 + i] == 200 + i for i in range(10, 15))
    assert got[300] == 20
    assert len(set(got.values())) == 60 + 5


PARA = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
FRESH = "Ünïcödé façade naïve café Привет мир 東京 タワー und noch mehr wörter hier"
OTHER = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"


def test_ngram_dedup_drops_documents_and_paragraphs():
    texts = {
        1: PARA,
        2: f"{OTHER}\n{PARA}",                       # second paragraph seen in doc 1
        3: PARA,                                     # whole document seen earlier
        4: f"{OTHER} extra words\nshort line",       # 2 of 4 13-grams seen: kept whole
        5: "short line\nanother short one",           # no 13-grams: untouched
        6: "",
        7: f"{FRESH}\n{FRESH}",                      # a paragraph repeated inside a document
    }
    df = daft.from_pydict({"k": list(texts), "text": list(texts.values())})
    rows = Session().sql("SELECT k, ngram_dedup(text, k) OVER () AS r FROM d", d=df).to_pylist()
    got = {r["k"]: r["r"] for r in rows}
    assert got[1] == {"keep": True, "text": PARA}
    assert got[2] == {"keep": True, "text": OTHER}
    assert got[3] == {"keep": False, "text": None}
    assert got[4] == {"keep": True, "text": texts[4]}
    assert got[5] == {"keep": True, "text": texts[5]}
    assert got[6] == {"keep": True, "text": ""}
    assert got[7] == {"keep": True, "text": FRESH}  # 1 of 2 seen: only the repeat goes


def test_gram_hashes_tell_word_runs_apart_exactly():
    """Each paragraph's n-gram hashes: one per run of n consecutive words, equal exactly when
    the runs' words are equal (checked on every run of a few hundred real-looking lines)."""
    from mdfql.dedup.ngrams import gram_hashes
    from mdfql.demo.weights import demo_corpus

    rng = random.Random(0)
    lines = [" ".join(rng.choices(demo_corpus(), k=3)) for _ in range(300)] + ["", "one two"]
    lines += lines[:40]  # repeated lines repeat their runs
    words = [line.split() for line in lines]
    df = daft.from_pydict({"w": [[hash(w) & (2**63 - 1) for w in ws] for ws in words] + [None]})
    for n in (1, 3, 13):
        got = df.select(gram_hashes(df["w"].cast(daft.DataType.list(daft.DataType.uint64())),
                                    n).alias("g")).to_pydict()["g"]
        assert got[-1] is None
        runs: dict[tuple, set] = {}
        for ws, hashes in zip(words, got):
            assert len(hashes) == max(len(ws) - n + 1, 0)
            for i, h in enumerate(hashes):
                runs.setdefault(tuple(ws[i:i + n]), set()).add(h)
        assert all(len(h) == 1 for h in runs.values())  # a run always hashes the same
        assert len({next(iter(h)) for h in runs.values()}) == len(runs)  # distinct runs differ


def test_url_dedup_anti_join_against_iceberg(warehouse, tmp_path):
    pq.write_table(pa.table({"url": ["https://Example.com/a/", "http://x.org/p?b=2&a=1#top",
                                     "https://new.example/page"]}), tmp_path / "old.parquet")
    pq.write_table(pa.table({
        "url": ["HTTPS://example.COM/a", "http://x.org/p?a=1&b=2", "https://example.com/b",
                "https://new.example:443/page/", "https://other.example/"],
        "text": ["a", "b", "c", "d", "e"]}), tmp_path / "new.parquet")
    session = Session()
    session.run(f"CREATE TABLE curated.refinedweb AS "
                f"SELECT url FROM read_parquet('{tmp_path / 'old.parquet'}')")
    rows = Session().sql(f"""
        SELECT w.url, w.text FROM read_parquet('{tmp_path / 'new.parquet'}') w
        ANTI JOIN read_iceberg('curated.refinedweb') k
          ON normalize_url(w.url) = normalize_url(k.url)
        ORDER BY w.text""").to_pylist()
    assert [r["text"] for r in rows] == ["c", "e"]


EXACT_SQL = """
SELECT id, lsh_cluster(minhash(text), id, text, bands := 28, rows := 4,
                       threshold := {threshold}) OVER () AS cluster
FROM read_parquet('{path}')
"""


def test_exact_jaccard_check_of_candidate_pairs(tmp_path):
    """With the texts given, candidate pairs are kept by their exact 5-gram Jaccard: A~B is
    0.735, B~C 0.704, A~C 0.508, the unicode pair 0.615 (see `corpus`)."""
    from near_dups import shingles

    import mdfql._native as native

    ids, texts, _ = corpus()
    by_id = dict(zip(ids, texts))
    pairs = [(100, 101), (101, 102), (100, 102), (5, 111), (3, 110), (120, 121)]
    got = native.shingle_jaccard(pa.array([by_id[a] for a, _ in pairs]),
                                 pa.array([by_id[b] for _, b in pairs])).to_pylist()
    for (a, b), j in zip(pairs, got):
        sa, sb = shingles(by_id[a]), shingles(by_id[b])
        assert j == pytest.approx(len(sa & sb) / len(sa | sb), abs=1e-12)
    path = write_parts(tmp_path, ids, texts, 2, seed=5)

    def cluster_of(threshold: float) -> dict[int, int]:
        rows = Session().sql(EXACT_SQL.format(path=path, threshold=threshold)).to_pylist()
        return {r["id"]: r["cluster"] for r in rows}

    strict = cluster_of(0.72)
    assert strict[100] == strict[101] != strict[102]
    assert strict[5] == strict[111] and strict[3] == strict[110]
    assert strict[120] != strict[121]
    loose = cluster_of(0.6)
    assert loose[120] == loose[121] and loose[100] == loose[101] == loose[102]


def test_text_without_threshold_is_an_error():
    from mdfql.errors import MdfqlError

    with pytest.raises(MdfqlError, match="give a threshold"):
        Session().sql("SELECT lsh_cluster(minhash(t), NULL, t) OVER () AS c "
                      "FROM (SELECT 'a b c' AS t)").to_pylist()


def test_operator_input_runs_once_and_counts_in_the_summary(tmp_path):
    """The clustering materialises its input: upstream UDFs see each row once, and the run's
    summary counts the rows read from files, not the replays of materialised frames."""
    ids, texts, _ = corpus()
    path = write_parts(tmp_path, ids, texts, 3, seed=2)
    session = Session()
    seen: list[int] = []

    @session.function(return_dtype=daft.DataType.string())
    def traced(text: daft.Series) -> list[str | None]:
        values = text.to_pylist()
        seen.append(len(values))
        return values

    summary = session.run(f"""
        CREATE VIEW docs AS SELECT id, traced(text) AS text FROM read_parquet('{path}');
        COPY (SELECT DISTINCT ON (cluster) id, text,
                     lsh_cluster(minhash(text), id, bands := 28, rows := 4) OVER () AS cluster
              FROM docs)
        TO '{tmp_path / "kept.parquet"}' (FORMAT parquet)""")
    assert sum(seen) == len(ids)
    assert summary.rows_read == len(ids)
    assert summary.rows_written == len(pq.read_table(tmp_path / "kept.parquet")) < len(ids)

    # a clustering view that no statement reads is never planned, so its input never runs
    seen.clear()
    summary = session.run(f"""
        CREATE VIEW docs AS SELECT id, traced(text) AS text FROM read_parquet('{path}');
        CREATE VIEW clusters AS SELECT id, lsh_cluster(minhash(text), id) OVER () AS c FROM docs;
        COPY (SELECT id FROM read_parquet('{path}')) TO '{tmp_path / "ids.parquet"}'
          (FORMAT parquet)""")
    assert seen == [] and summary.rows_read == len(ids)
    assert len(session.sql("SELECT * FROM clusters").to_pylist()) == len(ids)
    assert sum(seen) == len(ids)


RAY_SCRIPT = """
import json, sys, daft, mdfql
daft.set_runner_ray()
# Few shuffle partitions: each iteration is a handful of tiny Ray jobs on a two-core machine.
daft.set_execution_config(shuffle_aggregation_default_partitions=4)
df = mdfql.sql(sys.argv[1])
print(json.dumps(sorted((r["id"], r["cluster"]) for r in df.to_pylist())))
"""


@pytest.mark.ray
def test_lsh_clusters_on_ray_equal_native(tmp_path):
    ids, texts, groups = corpus()
    small = set(ids[:8]) | {i for i in ids if i >= 100}  # the planted cases, fewer singles
    ids, texts = zip(*[(i, t) for i, t in zip(ids, texts) if i in small])
    path = write_parts(tmp_path, list(ids), list(texts), 3, seed=1)
    sql = CLUSTER_SQL.format(path=path)
    env = dict(os.environ, DAFT_PROGRESS_BAR="0", RAY_AUTH_MODE="disabled",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", RAY_SCRIPT, sql], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ray = {i: c for i, c in json.loads(proc.stdout.strip().splitlines()[-1])}
    native = clusters(path)
    assert ray == native
    assert {native[i] for i in groups["chain"]} == {100}
