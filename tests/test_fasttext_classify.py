"""fasttext_predict and fasttext_score against the fastText package's own `predict`, on models
trained by the package on real pages (every loss, with and without word bigrams and char
n-grams, quantized ones) and on the bundled sample through SQL, plus the checks at plan time.

The package runs in a child process (tests/fasttext_reference.py says why and how to install
it); mdfql loads the models it saved through the functions' own code path."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import daft
import pyarrow as pa
import pytest
from fasttext_reference import run_jobs

import mdfql
from mdfql import MdfqlError, _native
from mdfql.demo.sample import write_sample
from mdfql.eval.extraction import load_cases
from mdfql.functions.catalog import default_registry, describe
from mdfql.functions.kernels import fasttext_model, lid_model

PROB_TOLERANCE = 1e-4
# (k, threshold) settings compared; k = -1 is every label (fasttext_score's reference).
SETTINGS = [(1, 0.0), (2, 0.0), (3, 0.0), (3, 0.2), (2, 0.9), (-1, 0.0)]
BASE = {"dim": 16, "epoch": 10, "lr": 0.1, "minCount": 1, "bucket": 50_000, "thread": 2,
        "seed": 3}
CONFIGS: dict[str, dict[str, Any]] = {
    f"{loss}_ng{ng}_sub{maxn}": {**BASE, "loss": loss, "wordNgrams": ng, "minn": minn,
                                 "maxn": maxn}
    for loss in ("softmax", "hs", "ova") for ng in (1, 2) for minn, maxn in ((0, 0), (2, 5))
}
# Quantized (.ftz): pruned to the rows of largest norm (dictionary pruned, word and char n-gram
# buckets remapped through pruneidx) or not, norms quantized or not. (Not `qout`: fastText
# quantizes an output matrix only with >= 256 labels.)
QUANTIZED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "softmax_ng2_sub5_q": (CONFIGS["softmax_ng2_sub5"],
                           {"cutoff": 3000, "qnorm": True, "retrain": False, "dsub": 2}),
    "hs_ng2_sub0_q": (CONFIGS["hs_ng2_sub0"],
                      {"cutoff": 1000, "qnorm": True, "retrain": False, "dsub": 4}),
    "ova_ng1_sub5_q": (CONFIGS["ova_ng1_sub5"], {"dsub": 2}),
}
EDGE_TEXTS = [
    "", " ", "\n", " \t\r\n\x0b\x0c ", "a", "</s>", "ends here </s> not this: Wörter",
    "__label__en __label__de label-like tokens: ceci est une phrase", "__label__unknown x",
    "emoji 🙂 and CJK 日本語のテキスト, Кириллица", "no\u00a0break\u3000spaces",
    "line one\r\nline two\n\n\tthree", "x" * 5000, "the " * 3000,
]


def one_line(text: str) -> str:
    """The text as the reference predicts it: one line (the package refuses newlines)."""
    return text.replace("\n", " ")


def write_training_file(path: Path, docs: list[tuple[str, str]]) -> None:
    """One example per non-empty line of each document, labelled with its document's label."""
    with open(path, "w", encoding="utf-8") as f:
        for label, text in docs:
            for line in text.splitlines():
                if line.strip():
                    f.write(f"__label__{label} {line}\n")


@pytest.fixture(scope="module")
def eval_texts(shared_data: Path) -> list[str]:
    cases = load_cases(shared_data / "extraction-eval")
    html = pa.array([c.html for c in cases], pa.large_utf8())
    texts = [t for t in _native.extract_text(html).field("text").to_pylist() if t]
    assert len(texts) >= 250
    return texts


@pytest.fixture(scope="module")
def trained(fasttext_trainer: None, eval_texts: list[str], tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Any]:
    """Every model of CONFIGS and QUANTIZED, trained on the pages labelled with their language
    (the four commonest, else 'other'), and the package's predictions on the pages and edge
    cases for each setting."""
    work = tmp_path_factory.mktemp("fasttext")
    langs = [r["lang"] for r in lid_model().predict(pa.array(eval_texts)).to_pylist()]
    common = sorted(set(langs), key=langs.count, reverse=True)[:4]
    docs = [(lang if lang in common else "other", t) for lang, t in zip(langs, eval_texts)]
    write_training_file(work / "train.txt", docs)
    texts = eval_texts + EDGE_TEXTS
    train = [{"name": name, "input": str(work / "train.txt"), "args": args}
             for name, args in CONFIGS.items()]
    train += [{"name": name, "input": str(work / "train.txt"), "args": args, "quantize": q}
              for name, (args, q) in QUANTIZED.items()]
    results = run_jobs({"train": train, "predict": {
        "texts": [one_line(t) for t in texts], "settings": SETTINGS}}, work)
    return {"texts": texts, **results}


def compare(ours: list[Any], theirs: list[list], texts: list[str]) -> list[str]:
    """Rows where mdfql's [{label, score}] differ from the package's [labels, probabilities]."""
    bad = []
    for i, (o, (labels, probs)) in enumerate(zip(ours, theirs, strict=True)):
        got = [p["label"] for p in o]
        close = len(o) == len(probs) and all(
            math.isclose(p["score"], q, abs_tol=PROB_TOLERANCE) for p, q in zip(o, probs))
        if got != labels or not close:
            bad.append(f"row {i}: ours {o} theirs {labels} {probs} text {texts[i][:60]!r}")
    return bad


@pytest.mark.parametrize("name", [*CONFIGS, *QUANTIZED])
def test_predictions_match_fasttext(trained: dict[str, Any], name: str) -> None:
    entry, texts = trained["models"][name], trained["texts"]
    model = fasttext_model(entry["path"])
    assert model.labels == entry["labels"]
    arr = pa.array(texts, pa.large_utf8())
    for key, theirs in entry["predictions"].items():
        k, threshold = int(key.split(",")[0]), float(key.split(",")[1])
        k = len(entry["labels"]) if k == -1 else k
        ours = model.predict_top(arr, k, threshold).to_pylist()
        bad = compare(ours, theirs, texts)
        assert not bad, f"{name} k={k} threshold={threshold}: {len(bad)} rows differ\n" + \
            "\n".join(bad[:5])
    # Every label's score is the package's probability for it with k=-1 (0 where it omits it).
    every = entry["predictions"]["-1,0.0"]
    for label in entry["labels"]:
        ours = model.label_score(arr, label).to_pylist()
        theirs = [dict(zip(labels, probs)).get(label, 0.0) for labels, probs in every]
        off = [i for i, (a, b) in enumerate(zip(ours, theirs))
               if not math.isclose(a, b, abs_tol=PROB_TOLERANCE)]
        assert not off, f"{name} {label}: rows {off[:5]} differ"


def test_models_exercise_what_they_claim(trained: dict[str, Any]) -> None:
    """The comparisons above covered several labels per text, thresholds that cut, equal
    scores (whose order is libstdc++'s heap order) and each loss."""
    models = trained["models"]
    pages = len(trained["texts"]) - len(EDGE_TEXTS)
    # Softmax and one-vs-all give every label (5) a score; hierarchical softmax prunes paths
    # below 1e-5.
    assert all(len(labels) == 3 for name, m in models.items() if not name.startswith("hs")
               for labels, _ in m["predictions"]["3,0.0"][:pages])
    cut = [labels for m in models.values() for labels, _ in m["predictions"]["3,0.2"]]
    assert any(0 < len(labels) < 3 for labels in cut)
    ties = sum(len(set(probs)) < len(probs) for m in models.values()
               for _, probs in m["predictions"]["3,0.0"])
    assert ties > 0
    losses = {"softmax": "Softmax", "hs": "HierarchicalSoftmax", "ova": "OneVsAll"}
    for name, m in models.items():
        assert f"loss={losses[name.split('_')[0]]}," in repr(fasttext_model(m["path"]))


def test_model_is_loaded_once_per_file(trained: dict[str, Any], tmp_path: Path) -> None:
    path = trained["models"]["softmax_ng2_sub0"]["path"]
    assert fasttext_model(path) is fasttext_model(path)
    # A file replaced under the same name is loaded afresh.
    other = tmp_path / "m.bin"
    other.write_bytes(Path(path).read_bytes())
    first = fasttext_model(other)
    os.replace(trained["models"]["hs_ng1_sub0"]["path"], other)
    assert fasttext_model(other) is not first
    assert fasttext_model(other).labels == trained["models"]["hs_ng1_sub0"]["labels"]


# --- SQL, on the bundled sample -----------------------------------------------------------
@pytest.fixture(scope="module")
def sample(fasttext_trainer: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A DCLM-style hq/cc bigram classifier trained on the sample's pages (hq: English by
    lang_id with at least 80 words), and the package's predictions on those pages."""
    work = tmp_path_factory.mktemp("fasttext_sample")
    warc = work / "sample.warc.gz"
    write_sample(warc, n_records=300)
    session = mdfql.Session()
    texts = [r["text"] for r in session.sql(
        f"SELECT extract_text(html, url) AS text FROM read_warc('{warc}') "
        "WHERE status = 200").to_pylist() if r["text"]]
    lids = lid_model().predict(pa.array(texts)).to_pylist()
    docs = [("hq" if lid["lang"] == "en" and lid["score"] >= 0.65 and len(t.split()) >= 80
             else "cc", t) for lid, t in zip(lids, texts)]
    assert {label for label, _ in docs} == {"hq", "cc"}
    write_training_file(work / "train.txt", docs)
    args = {**BASE, "loss": "softmax", "wordNgrams": 2, "minn": 0, "maxn": 0}
    results = run_jobs({"train": [{"name": "hq", "input": str(work / "train.txt"),
                                   "args": args}],
                        "predict": {"texts": [one_line(t) for t in texts],
                                    "settings": [(2, 0.0), (-1, 0.0)]}}, work)
    return {"warc": warc, "texts": texts, **results["models"]["hq"]}


def test_sql_functions_match_fasttext(sample: dict[str, Any]) -> None:
    texts, model = sample["texts"], sample["path"]
    rows = mdfql.sql(
        f"SELECT fasttext_predict(text, model := '{model}', k := 2) AS top, "
        f"fasttext_score(text, model := '{model}') AS hq, "
        f"fasttext_score(text, model := '{model}', label := '__label__cc') AS cc FROM t",
        t=daft.from_pydict({"text": texts + [None]})).to_pylist()
    assert rows[-1] == {"top": None, "hq": None, "cc": None}
    rows = rows[:-1]
    bad = compare([r["top"] for r in rows], sample["predictions"]["2,0.0"], texts)
    assert not bad, "\n".join(bad[:5])
    every = [dict(zip(labels, probs)) for labels, probs in sample["predictions"]["-1,0.0"]]
    for field, label in (("hq", "__label__hq"), ("cc", "__label__cc")):
        assert all(math.isclose(r[field], e.get(label, 0.0), abs_tol=PROB_TOLERANCE)
                   for r, e in zip(rows, every))
    assert {r["top"][0]["label"] for r in rows} == {"__label__hq", "__label__cc"}


def test_pipeline_filters_on_the_score(sample: dict[str, Any], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A DCLM-style filter step over the WARC; the model named by a relative path."""
    monkeypatch.chdir(Path(sample["path"]).parent)
    relative = Path(sample["path"]).name
    kept = mdfql.sql(
        f"SELECT url, fasttext_score(extract_text(html, url), model := '{relative}') AS hq "
        f"FROM read_warc('{sample['warc']}') WHERE status = 200 "
        f"AND fasttext_score(extract_text(html, url), model := '{relative}') >= 0.5"
    ).to_pylist()
    every = [dict(zip(labels, probs)) for labels, probs in sample["predictions"]["-1,0.0"]]
    want = sum(e.get("__label__hq", 0.0) >= 0.5 for e in every)
    assert 0 < len(kept) == want < len(sample["texts"])
    assert all(r["hq"] >= 0.5 for r in kept)


def test_catalog_describes_both_functions() -> None:
    predict = "\n".join(describe(default_registry().get("fasttext_predict")))
    assert predict.startswith("fasttext_predict(text, model, k := 1, threshold := 0.0) -> "
                              "List[Struct[label: String, score: Float64]]"), predict
    assert "label" in predict and "score" in predict
    score = "\n".join(describe(default_registry().get("fasttext_score")))
    assert "label := '__label__hq'" in score


# --- checks at plan time --------------------------------------------------------------------
def plan_error(sql: str) -> MdfqlError:
    session = mdfql.Session()
    session.attach("t", daft.from_pydict({"text": ["a"]}))
    with pytest.raises(MdfqlError) as info:
        session.compile(sql, "pipe.sql")
    return info.value


def test_missing_model_is_a_positioned_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.bin"
    err = plan_error(f"SELECT text,\n  fasttext_predict(text, model := '{missing}') FROM t")
    head, source, caret, *_ = err.render().splitlines()
    assert head.startswith("pipe.sql:2:3: error: fasttext_predict(): "), head
    assert str(missing) in head and "No such file" in head
    assert caret.index("^") == 4


def test_other_files_are_not_supervised_models(sample: dict[str, Any], tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a model\n" * 20)
    err = plan_error(f"SELECT fasttext_score(text, model := '{text_file}') FROM t")
    assert "not a fastText supervised model" in err.message and "magic" in err.message
    # A real fastText file, but word vectors (train_unsupervised): no labels to predict.
    vectors = run_jobs({"train": [{"name": "vectors", "input": str(Path(sample["path"]).parent
                                                                    / "train.txt"),
                                   "unsupervised": True,
                                   "args": {"dim": 8, "epoch": 1, "bucket": 1000, "minn": 0,
                                            "maxn": 0, "thread": 1}}]}, tmp_path)
    path = vectors["models"]["vectors"]["path"]
    err = plan_error(f"SELECT fasttext_predict(text, model := '{path}') FROM t")
    assert "not a supervised model" in err.message
    with pytest.raises(ValueError, match="not a supervised model"):
        _native.FastText(path)


def test_unknown_label_names_the_models_labels(sample: dict[str, Any]) -> None:
    err = plan_error(f"SELECT fasttext_score(text, model := '{sample['path']}', "
                     "label := 'hq') FROM t")
    assert "label := 'hq' is not a label of" in err.message
    assert "__label__hq" in err.message and "__label__cc" in err.message
    with pytest.raises(ValueError, match="__label__cc"):
        fasttext_model(sample["path"]).label_score(pa.array(["x"]), "hq")


def test_option_values_are_checked(sample: dict[str, Any]) -> None:
    model = sample["path"]
    assert "k" in plan_error(f"SELECT fasttext_predict(text, model := '{model}', k := 0) "
                             "FROM t").message
    assert "threshold" in plan_error(f"SELECT fasttext_predict(text, model := '{model}', "
                                     "threshold := 2) FROM t").message
    assert "model" in plan_error("SELECT fasttext_predict(text) FROM t").message
