"""MinHash kernel: Jaccard estimates on planted near-duplicates of real pages, determinism,
empty/short/unicode documents, LSH band keys, SQL registration."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import daft
import pyarrow as pa
import pytest

import mdfql
from mdfql import _native
from mdfql.eval.extraction import load_cases


@functools.cache
def _page_texts(folder: Path) -> list[str]:
    htmls = [c.html for c in load_cases(folder)]
    texts = _native.extract_text(pa.array(htmls, pa.large_utf8())).field("text").to_pylist()
    return [t for t in texts if t and len(t.split()) >= 200]


@pytest.fixture
def page_texts(shared_data: Path) -> list[str]:
    """Main text of the real extraction-eval pages with at least 200 words."""
    return _page_texts(shared_data / "extraction-eval")


def shingle_set(text: str, n: int = 5) -> set[str]:
    words = _native.normalize_for_dedup(pa.array([text])).to_pylist()[0].split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def planted_pairs(texts: list[str], n_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """A page and an edited copy: a random fraction of its words replaced by words of another
    page, and sometimes a span cut, so the true Jaccard spreads over the whole [0, 1] range."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n_pairs):
        words = rng.choice(texts).split()
        donor = rng.choice(texts).split()
        rate = rng.choice([0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
        edited = [rng.choice(donor) if rng.random() < rate else w for w in words]
        if rng.random() < 0.5:
            cut = rng.randrange(len(edited) // 2)
            edited = edited[cut:]
        pairs.append((" ".join(words), " ".join(edited)))
    return pairs


def signatures(texts: list[str], **opts: int) -> list[list[int] | None]:
    return _native.minhash(pa.array(texts, pa.large_utf8()), **opts).to_pylist()


def test_estimates_jaccard_of_planted_pairs(page_texts: list[str]) -> None:
    pairs = planted_pairs(page_texts, 400)
    sigs = signatures([t for pair in pairs for t in pair])
    errors, truths = [], []
    for i, (a, b) in enumerate(pairs):
        sa, sb = sigs[2 * i], sigs[2 * i + 1]
        assert sa is not None and sb is not None and len(sa) == len(sb) == 112
        estimate = sum(x == y for x, y in zip(sa, sb)) / 112
        truth = jaccard(shingle_set(a), shingle_set(b))
        truths.append(truth)
        errors.append(abs(estimate - truth))
    assert min(truths) < 0.2 and max(truths) > 0.95  # the pairs span the range
    assert sum(errors) / len(errors) < 0.05
    assert max(errors) < 0.2


def test_estimate_quality_matches_datasketch(page_texts: list[str]) -> None:
    """datasketch hashes differently (sha1, numpy permutations), so signatures differ, but over
    the same shingle sets its estimates should be no better than ours."""
    datasketch = pytest.importorskip("datasketch")
    pairs = planted_pairs(page_texts, 150, seed=1)
    sigs = signatures([t for pair in pairs for t in pair])
    ours, theirs = [], []
    for i, (a, b) in enumerate(pairs):
        sets = shingle_set(a), shingle_set(b)
        truth = jaccard(*sets)
        ours.append(abs(sum(x == y for x, y in zip(sigs[2 * i], sigs[2 * i + 1])) / 112 - truth))
        m = [datasketch.MinHash(num_perm=112, seed=1) for _ in sets]
        for mh, shingles in zip(m, sets):
            mh.update_batch([s.encode() for s in shingles])
        theirs.append(abs(m[0].jaccard(m[1]) - truth))
    assert sum(ours) / len(ours) <= sum(theirs) / len(theirs) + 0.01


def test_deterministic_bounded_and_seeded() -> None:
    text = "The quick brown fox jumps over the lazy dog while the cat sleeps on the mat."
    a, b = signatures([text, text.upper().replace(" ", "  ")])
    assert a == b == signatures([text])[0]
    assert len(a) == 112 and all(0 <= v < 2**64 for v in a)
    # one shingle: its 112 permuted values spread over the whole u64 range ((a*h + b) mod 2^64)
    assert max(signatures(["two words"])[0]) > 2**63
    assert signatures([text], seed=2)[0] != a
    assert len(signatures([text], num_hashes=9000)[0]) == 9000
    assert signatures([text], num_hashes=20)[0] == signatures([text], num_hashes=112)[0][:20]
    assert signatures([text], ngram=3)[0] != a


def test_rows_do_not_depend_on_their_batch(page_texts: list[str]) -> None:
    """Null and empty rows between others (squeezed out of the flat output buffer) and batch
    size leave every row's signature as it is alone."""
    texts = page_texts[:40]
    alone = [signatures([t])[0] for t in texts]
    mixed = [x for t in texts for x in (None, t, "")]
    sigs = _native.minhash(pa.array(mixed, pa.large_utf8()))
    assert sigs.null_count == 2 * len(texts)
    assert sigs.to_pylist()[1::3] == alone
    assert sigs.to_pylist()[0::3] == sigs.to_pylist()[2::3] == [None] * len(texts)
    assert signatures(texts) == alone


def test_empty_short_and_unicode_documents() -> None:
    sigs = signatures(["", "   \n\t", "?!... --", None, "two words", "two words!", "Two, other"])
    assert sigs[:4] == [None, None, None, None]  # empty docs never collide with each other
    assert sigs[4] == sigs[5] and sigs[4] != sigs[6]  # short docs: the whole doc is one shingle
    greek = "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο και τρέχει μακριά"
    cafe = "Café ﬁne ＡＢＣ naïve résumé coöperate façade jalapeño piñata über"
    g, c, c2 = signatures([greek, cafe, "cafe fine abc naive resume cooperate facade jalapeno "
                                        "pinata uber"])
    assert g is not None and len(g) == 112
    assert c == c2  # NFKD + accents stripped before shingling
    zh = signatures(["数据 去重 是 大规模 训练 的 关键 步骤",
                     "数据 去重 是 大规模 训练 的 关键 步驟"])
    assert zh[0] != zh[1]
    assert sum(x == y for x, y in zip(*zh)) / 112 > 0.4  # 3 of 4 5-grams shared -> J = 0.6


def test_bands() -> None:
    sigs = _native.minhash(pa.array(["alpha beta gamma delta epsilon zeta eta", None, ""]))
    bands = _native.minhash_bands(sigs).to_pylist()
    assert len(bands[0]) == 14 and bands[1:] == [None, None]
    assert _native.minhash_bands(sigs, bands=2, rows=56).to_pylist()[0] != bands[0][:2]
    with pytest.raises(ValueError, match="too short"):
        _native.minhash_bands(sigs, bands=20, rows=8)
    # a near duplicate shares most bands, an unrelated text none
    base = " ".join(f"word{i}" for i in range(300))
    near = base.replace("word150 ", "changed ")
    other = " ".join(f"other{i}" for i in range(300))
    b = _native.minhash_bands(_native.minhash(pa.array([base, near, other]))).to_pylist()
    assert len(set(b[0]) & set(b[1])) >= 10
    assert not set(b[0]) & set(b[2])


def test_sql_functions() -> None:
    rows = mdfql.sql(
        "SELECT minhash(t) AS sig, minhash_bands(minhash(t, num_hashes := 112)) AS bands, "
        "minhash(t, num_hashes := 16, ngram := 2, seed := 7) AS small, "
        "daft_minhash(t) AS daft_sig "
        "FROM docs",
        docs=daft.from_pydict({"t": ["one two three four five six", ""]}),
    ).to_pylist()
    assert rows[0]["sig"] == signatures(["one two three four five six"])[0]
    assert len(rows[0]["bands"]) == 14 and len(rows[0]["small"]) == 16
    assert rows[0]["small"] == signatures(["one two three four five six"], num_hashes=16,
                                          ngram=2, seed=7)[0]
    assert len(rows[0]["daft_sig"]) == 112
    assert rows[1]["sig"] is None and rows[1]["bands"] is None


def _daft_band_keys(sigs: pa.Array, bands: int, rows: int) -> list[list[int | None]]:
    """Band keys as Daft's own expressions compute them: each band's slice hashed with the
    band index as seed, NULL for NULL, degenerate or short signatures."""
    import daft.functions as F
    from daft import col

    sig = col("s")
    usable = sig.not_null() & (F.list_min(sig) != F.list_max(sig)) \
        & (F.list_count(sig, "all") >= bands * rows)
    keys = [F.when(usable, F.hash(F.slice(sig, b * rows, (b + 1) * rows), seed=b)).alias(f"k{b}")
            for b in range(bands)]
    out = daft.from_pydict({"s": sigs}).select(*keys).to_arrow()
    return [out.column(b).to_pylist() for b in range(bands)]


@pytest.mark.parametrize("values", [pa.uint64(), pa.int64(), pa.uint32()])
def test_lsh_band_keys_equal_daft_hash_of_each_band(values: pa.DataType) -> None:
    # real signatures, a NULL one, a degenerate one, one too short for the bands, and lists
    # with NULL elements (Daft hashes those too): every key bit for bit, so an index written
    # with lsh_bands (Daft's expressions) and lsh_cluster's keys agree
    texts = [f"document {i} " + " ".join(f"w{(i * 7 + j) % 50}" for j in range(40))
             for i in range(20)]
    sigs = _native.minhash(pa.array(texts, pa.large_utf8()), num_hashes=100).to_pylist()
    width = (1 << 32) - 1 if values == pa.uint32() else (1 << 63) - 1
    sigs = [[v & width for v in s] for s in sigs]
    sigs += [None, [5] * 100, sigs[0][:60], [None, 3, 4, None] * 25, [None] * 100]
    arr = pa.array(sigs, pa.large_list(values))
    for bands, rows in ((5, 20), (10, 8), (1, 1)):
        got = _native.lsh_band_keys(arr, bands=bands, rows=rows)
        assert [got.field(b).to_pylist() for b in range(bands)] == \
            _daft_band_keys(arr, bands, rows)
    got = _native.lsh_band_keys(arr, bands=5, rows=20)
    assert got.field(0).to_pylist()[20:] == [None, None, None, got.field(0)[23].as_py(), None]
    assert got.field(0)[23].as_py() is not None


def test_lsh_band_keys_need_integer_values() -> None:
    with pytest.raises(TypeError, match="integers"):
        _native.lsh_band_keys(pa.array([[1.5, 2.5]]), bands=1, rows=2)
    with pytest.raises(mdfql.MdfqlError, match="list of integers"):
        mdfql.sql("SELECT lsh_cluster(s, bands := 1, rows := 2) OVER () AS c FROM docs",
                  docs=daft.from_pydict({"s": [[1.5, 2.5]]})).to_pylist()
