"""Near-dedup clusters from spilled keys (`mdfql.dedup.spilled`), checked against a pure-Python
union-find over all pairs (or, with a threshold, over the star edges the contract defines) on
planted near-duplicate texts with real MinHash signatures, and on randomized keys."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from near_dups import Sets, shingles

from mdfql import _native
from mdfql.dedup import spilled
from mdfql.dedup.spilled import hamming_labels, lsh_labels

BANDS, ROWS = 14, 8


# ---------------------------------------------------------------- reference implementation

def reference_lsh(nodes, keys: list[list], score=None, threshold=None) -> dict:
    """Without a threshold: rows sharing any band key, over all pairs. With one: per band and
    bucket, each member linked to the bucket's smallest node when `score(member, root)`
    reaches the threshold."""
    sets = Sets(nodes)
    for band in keys:
        if threshold is None:
            for i in range(len(nodes)):
                for j in range(i + 1, len(nodes)):
                    if band[i] is not None and band[i] == band[j]:
                        sets.union(nodes[i], nodes[j])
            continue
        buckets = defaultdict(list)
        for i, k in enumerate(band):
            if k is not None:
                buckets[k].append(i)
        for rows in buckets.values():
            root = min(rows, key=lambda r: nodes[r])
            for r in rows:
                if r != root and score(r, root) >= threshold:
                    sets.union(nodes[r], nodes[root])
    return sets.labels()


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


# ---------------------------------------------------------------- data and spill files

def near_copy(rng: random.Random, text: str, share: float) -> str:
    words = text.split()
    for j in rng.sample(range(len(words)), int(len(words) * share)):
        words[j] = f"x{rng.randrange(10**9)}"
    return " ".join(words)


def corpus(seed: int = 0, n: int = 120) -> list[str]:
    """Random documents plus planted near copies (0.5%-30% of words changed, copies of
    copies: chains), exact copies, empty and very short texts, in shuffled order."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(60, 160))) for _ in range(n)]
    for _ in range(n // 2):
        texts.append(near_copy(rng, rng.choice(texts),
                               rng.choice([0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.3])))
    texts += ["", "", "ok", "tiny doc", "tiny doc", "Ünïcödé façade naïve café " * 8]
    rng.shuffle(texts)
    return texts


def band_keys(texts: list[str], bands: int = BANDS, rows: int = ROWS):
    """(signatures, band key columns) of real minhash; empty texts get NULL keys."""
    sigs = _native.minhash(pa.array(texts, pa.large_string()), num_hashes=112, ngram=5)
    lists = _native.minhash_bands(sigs, bands=bands, rows=rows)
    return sigs, [pc.list_element(lists, j) for j in range(bands)]


def spill(tmp: Path, columns: dict[str, pa.Array], parts: int) -> list[str]:
    """The columns as `parts` Parquet files (consecutive slices, small row groups)."""
    tmp.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    step = -(-len(table) // parts)
    paths = []
    for p in range(parts):
        paths.append(str(tmp / f"spill-{p}.parquet"))
        pq.write_table(table.slice(p * step, step), paths[-1], row_group_size=17)
    return paths


def read_labels(paths: list[str]) -> dict:
    table = pa.concat_tables(pq.read_table(p) for p in paths)
    assert table.column_names == ["node", "label"]
    got = dict(zip(table["node"].to_pylist(), table["label"].to_pylist()))
    assert len(got) == len(table)  # every clustered row once
    return got


def band_names(n: int = BANDS) -> list[str]:
    return [f"__band_{j}" for j in range(n)]


def lsh_spill(tmp: Path, nodes: pa.Array, texts: list[str], parts: int = 3,
              bands: int = BANDS, rows: int = ROWS):
    sigs, keys = band_keys(texts, bands, rows)
    columns = {"node": nodes, **dict(zip(band_names(bands), keys)), "sig": sigs,
               "text": pa.array(texts)}
    return spill(tmp, columns, parts), [k.to_pylist() for k in keys], sigs.to_pylist()


# ---------------------------------------------------------------- LSH

def test_planted_near_duplicates_match_all_pairs_reference(tmp_path):
    texts = corpus()
    nodes = list(range(1000, 1000 + 2 * len(texts), 2))[::-1]  # node order != row order
    files, keys, _ = lsh_spill(tmp_path, pa.array(nodes, pa.int64()), texts)
    got = read_labels(lsh_labels(files, tmp_path / "out", node="node", bands=band_names()))
    want = reference_lsh(nodes, keys)
    assert got == want
    assert len(want) > 40  # plenty of planted clusters, so the comparison means something
    by_text = {t: n for n, t in zip(nodes, texts)}
    # exact copies share a label; empty texts (NULL keys) never cluster
    tiny = [n for n, t in zip(nodes, texts) if t == "tiny doc"]
    assert got[tiny[0]] == got[tiny[1]] == min(tiny)
    assert all(n not in got for n, t in zip(nodes, texts) if t == "")
    assert by_text["ok"] not in got


def test_string_node_ids_label_with_the_smallest_string(tmp_path):
    texts = corpus(seed=3)
    nodes = [f"https://site{random.Random(i).randrange(10**6)}.example/{i}"
             for i in range(len(texts))]
    files, keys, _ = lsh_spill(tmp_path, pa.array(nodes, pa.large_string()), texts, parts=4)
    paths = lsh_labels(files, tmp_path / "out", node="node", bands=band_names())
    assert pq.read_schema(paths[0]).field("label").type == pa.large_string()
    assert read_labels(paths) == reference_lsh(nodes, keys)


def test_null_keys_are_singletons_and_partial_nulls_count_per_band(tmp_path):
    # rows 0-2 share band 0 (row 2's key NULL there) and rows 2-3 band 1; row 4 is all NULL
    nodes = pa.array([10, 11, 12, 13, 14, 15], pa.uint64())
    b0 = pa.array([7, 7, None, 9, None, None], pa.uint64())
    b1 = pa.array([1, 2, 5, 5, None, None], pa.uint64())
    files = spill(tmp_path, {"node": nodes, "b0": b0, "b1": b1}, parts=2)
    got = read_labels(lsh_labels(files, tmp_path / "out", node="node", bands=["b0", "b1"]))
    assert got == {10: 10, 11: 10, 12: 12, 13: 12}


@pytest.mark.parametrize("verify,threshold", [("sig", 0.5), ("sig", 0.8), ("text", 0.8)])
def test_threshold_keeps_only_checked_star_edges(tmp_path, monkeypatch, verify, threshold):
    texts = corpus(seed=7)
    nodes = [random.Random(i).randrange(10**12) for i in range(len(texts))]
    files, keys, sigs = lsh_spill(tmp_path, pa.array(nodes, pa.uint64()), texts,
                                  bands=28, rows=4)
    # values read in ranges of ~40 rows, 5 rows at a time: many pairs of ranges
    monkeypatch.setattr(spilled, "VERIFY_BYTES", 72_000)
    monkeypatch.setattr(spilled, "READ_ROWS", 5)

    def score(i: int, j: int) -> float:
        if verify == "text":
            return jaccard(texts[i], texts[j])
        return sum(x == y for x, y in zip(sigs[i], sigs[j])) / len(sigs[i])

    got = read_labels(lsh_labels(files, tmp_path / "out", node="node", bands=band_names(28),
                                 threshold=threshold, verify=verify))
    want = reference_lsh(nodes, keys, score, threshold)
    assert got == want
    unchecked = reference_lsh(nodes, keys)
    assert len(want) < len(unchecked)  # the check removed some candidate links


@pytest.mark.parametrize("seed", range(6))
def test_randomized_keys_match_reference(tmp_path, monkeypatch, seed):
    """Small key alphabets make big buckets, collisions across bands and long chains; node
    types, file splits, output chunking and the threshold vary with the seed."""
    rng = random.Random(seed)
    n = rng.randint(1, 150)
    monkeypatch.setattr(spilled, "OUT_ROWS", rng.choice([7, 1000]))
    monkeypatch.setattr(spilled, "VERIFY_BYTES", rng.choice([800, 10**6]))
    monkeypatch.setattr(spilled, "READ_ROWS", rng.choice([3, 1000]))
    ids = rng.sample(range(-10**6, 10**6), n)
    if seed % 2:
        nodes, node_type = [f"n{i:+08d}" for i in ids], pa.string()
    else:
        nodes, node_type = ids, pa.int64()
    bands = rng.randint(1, 5)
    keys = [[None if rng.random() < 0.2 else rng.randrange(max(2, n // 3)) for _ in range(n)]
            for _ in range(bands)]
    sigs = [[rng.randrange(3) for _ in range(8)] for _ in range(n)]
    columns = {"node": pa.array(nodes, node_type),
               **{f"k{j}": pa.array(k, pa.uint64()) for j, k in enumerate(keys)},
               "sig": pa.array(sigs, pa.list_(pa.int32()))}
    files = spill(tmp_path, columns, parts=rng.randint(1, 4))
    threshold = rng.choice([None, 0.5])

    def score(i: int, j: int) -> float:
        return sum(x == y for x, y in zip(sigs[i], sigs[j])) / len(sigs[i])

    got = read_labels(lsh_labels(files, tmp_path / "out", node="node",
                                 bands=[f"k{j}" for j in range(bands)], threshold=threshold,
                                 verify=None if threshold is None else "sig"))
    assert got == reference_lsh(nodes, keys, score, threshold)


def test_no_cluster_writes_one_empty_file(tmp_path):
    files = spill(tmp_path, {"node": pa.array(["a", "b"]), "b0": pa.array([1, 2], pa.uint64())},
                  parts=1)
    paths = lsh_labels(files, tmp_path / "out", node="node", bands=["b0"])
    assert len(paths) == 1
    table = pq.read_table(paths[0])
    assert table.num_rows == 0 and table.schema.field("node").type == pa.string()


def test_repeated_ids_are_one_document(tmp_path):
    """Identical rows hash to one id: they are one document, clustered with what either
    collides with (here 7 ~ the first 5 through band b0; the 9s only with each other)."""
    files = spill(tmp_path, {"node": pa.array([5, 7, 5, 9, 9]),
                             "b0": pa.array([1, 1, None, None, None], pa.uint64())}, parts=2)
    table = pa.concat_tables(pq.read_table(p) for p in
                             lsh_labels(files, tmp_path / "out", node="node", bands=["b0"]))
    assert sorted(zip(table["node"].to_pylist(), table["label"].to_pylist())) == [
        (5, 5), (5, 5), (7, 5), (9, 9), (9, 9)]


def test_bad_input_is_rejected(tmp_path):
    files = spill(tmp_path, {"node": pa.array([1, 2, 1]), "b0": pa.array([1, 1, 1], pa.uint64())},
                  parts=2)
    nulls = spill(tmp_path / "n", {"node": pa.array([1, None]),
                                   "b0": pa.array([1, 1], pa.uint64())}, parts=1)
    with pytest.raises(ValueError, match="NULL"):
        lsh_labels(nulls, tmp_path / "out", node="node", bands=["b0"])
    with pytest.raises(ValueError, match="verify"):
        lsh_labels(files, tmp_path / "out", node="node", bands=["b0"], threshold=0.5)


# ---------------------------------------------------------------- Hamming

def hamming_reference(nodes, hashes, max_distance: int) -> dict:
    sets = Sets(nodes)
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            if (hashes[i] is not None and hashes[j] is not None
                    and bin(hashes[i] ^ hashes[j]).count("1") <= max_distance):
                sets.union(nodes[i], nodes[j])
    return sets.labels()


def planted_hashes(rng: random.Random, n: int) -> list[int | None]:
    """Random 64-bit hashes, copies of them (a third exact, the rest 1-14 bits flipped) and
    NULLs."""
    hashes: list[int | None] = [rng.getrandbits(64) for _ in range(n)]
    for _ in range(n):
        h = rng.choice(hashes)
        flips = rng.choice([0, rng.randint(1, 14), rng.randint(1, 14)])
        if h is not None:
            for bit in rng.sample(range(64), flips):
                h ^= 1 << bit
        hashes.append(None if rng.random() < 0.05 else h)
    rng.shuffle(hashes)
    return hashes


@pytest.mark.parametrize("seed,max_distance", [(0, 0), (1, 4), (2, 10), (3, 20)])
def test_hamming_matches_all_pairs_when_fanout_covers_buckets(tmp_path, seed, max_distance):
    rng = random.Random(seed)
    hashes = planted_hashes(rng, 80)
    nodes = [f"img-{rng.randrange(10**9):09d}" for _ in hashes]
    files = spill(tmp_path, {"node": pa.array(nodes), "h": pa.array(hashes, pa.uint64())},
                  parts=3)
    got = read_labels(hamming_labels(files, tmp_path / "out", node="node", hash="h",
                                     max_distance=max_distance, fanout=len(hashes)))
    want = hamming_reference(nodes, hashes, max_distance)
    assert got == want
    assert len(want) > 10


def test_hamming_fanout_limits_comparisons_within_a_bucket(tmp_path):
    """Hashes differing only in their top 4 bits share the two lower of the 3 bands of
    max_distance 2; in (hash, node) order, 0000 0011 0111 1100 1111, fanout 1 compares only
    neighbours, as hamming.py does: 0111 and 1111 (1 bit apart) meet only with fanout 2."""
    top = [0b0000, 0b0011, 0b0111, 0b1111, 0b1100]
    files = spill(tmp_path, {"node": pa.array([0, 1, 2, 3, 4]),
                             "h": pa.array([t << 60 for t in top], pa.uint64())}, parts=1)

    def run(max_distance: int, fanout: int) -> dict:
        out = tmp_path / f"out-{max_distance}-{fanout}"
        return read_labels(hamming_labels(files, out, node="node", hash="h",
                                          max_distance=max_distance, fanout=fanout))

    assert run(2, 1) == {0: 0, 1: 0, 2: 0, 3: 3, 4: 3}
    assert run(2, 2) == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}
    assert run(1, 1) == {1: 1, 2: 1}
    assert run(1, 2) == {1: 1, 2: 1, 3: 1}


# ---------------------------------------------------------------- incremental (against an index)

def test_new_rows_near_indexed_ones_take_the_indexed_label(tmp_path):
    """Index nodes outrank new ones whatever their values (here larger): a new copy of an
    indexed document is labelled with the smallest indexed node of its component, new
    near-duplicates of nothing indexed cluster among themselves, index rows are not written."""
    rng = random.Random(11)
    indexed = corpus(seed=5, n=60)
    index_nodes = [10_000 + 3 * i for i in range(len(indexed))]
    fresh = corpus(seed=6, n=40)
    new = [near_copy(rng, rng.choice(indexed), rng.choice([0.0, 0.01, 0.05])) for _ in range(30)]
    new += fresh
    rng.shuffle(new)
    new_nodes = list(range(len(new)))
    _, index_keys = band_keys(indexed)
    lists = _native.minhash_bands(_native.minhash(pa.array(indexed, pa.large_string())),
                                  bands=BANDS, rows=ROWS)
    index = spill(tmp_path / "index", {"node": pa.array(index_nodes, pa.int64()),
                                       "bands": lists}, parts=2)
    files, new_keys, _ = lsh_spill(tmp_path / "new", pa.array(new_nodes, pa.int64()), new)
    got = read_labels(lsh_labels(files, tmp_path / "out", node="node", bands=band_names(),
                                 against=index))

    # reference: all rows keyed (0, index node) / (1, new node), so the index ranks first
    keyed = [(0, n) for n in index_nodes] + [(1, n) for n in new_nodes]
    keys = [i + n for i, n in zip((k.to_pylist() for k in index_keys), new_keys)]
    want = {node: label for (group, node), (_, label) in reference_lsh(keyed, keys).items()
            if group == 1}
    assert got == want
    by_text = dict(zip(indexed, index_nodes))
    copies = [n for n, t in zip(new_nodes, new) if t in by_text and t]  # "" has no keys
    assert copies and all(got[n] >= 10_000 for n in copies)          # exact copies: indexed
    assert any(label < 10_000 for label in got.values())              # new-only clusters too
    assert all(n in new_nodes for n in got)


def test_index_without_threshold_only(tmp_path):
    files = spill(tmp_path, {"node": pa.array([1, 2]), "b0": pa.array([1, 1], pa.uint64()),
                             "sig": pa.array([[1, 2], [1, 2]])}, parts=1)
    index = spill(tmp_path / "i", {"node": pa.array([5]),
                                   "bands": pa.array([[1]], pa.list_(pa.uint64()))}, parts=1)
    with pytest.raises(ValueError, match="against"):
        lsh_labels(files, tmp_path / "out", node="node", bands=["b0"], threshold=0.5,
                   verify="sig", against=index)
    got = read_labels(lsh_labels(files, tmp_path / "out", node="node", bands=["b0"],
                                 against=index))
    assert got == {1: 5, 2: 5}
