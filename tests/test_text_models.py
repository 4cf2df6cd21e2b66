"""Text classifiers (`edu_score`, `hf_classify`) against transformers' own forward on the same
weights: tiny randomly initialised BERT classifiers of the FineWeb-Edu classifier's
architecture with WordPiece tokenizers trained here (no downloads), saved with
save_pretrained and loaded through SQL as users load real weights, scoring real web pages
(the shared extraction set) as the model card does; NULL rows, check-time errors for missing
or unfit models, one load per worker, and a core that never imports torch."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import daft
import numpy as np
import pyarrow as pa
import pytest

import mdfql
from mdfql import MdfqlError, Session

torch = pytest.importorskip("torch", reason="pip install 'mdfql[models]'")
transformers = pytest.importorskip("transformers", reason="pip install 'mdfql[models]'")

from mdfql import _native  # noqa: E402
from mdfql.demo.weights import spread_head, wordpiece_tokenizer, write_edu  # noqa: E402
from mdfql.models import text as text_models  # noqa: E402

MAX_LENGTH = 512  # the FineWeb-Edu classifier's tokenizer model_max_length


@pytest.fixture(scope="module")
def pages(shared_data: Path) -> list[str]:
    """Main text of real web pages in many languages (the shared extraction set), from a
    line to many thousand tokens, plus an empty text."""
    folder = shared_data / "extraction-eval"
    cases = [json.loads(line) for line in (folder / "cases.jsonl").read_text().splitlines()]
    html = [gzip.decompress((folder / c["file"]).read_bytes()).decode("utf-8", "replace")
            for c in cases[:80]]
    rows = _native.extract_text(pa.array(html, pa.large_utf8())).to_pylist()
    texts = [r["text"] for r in rows if r["text"]]
    short = [t.split("\n")[0] for t in texts[:10]]  # one line: a few tokens
    return texts + short + [""]


@pytest.fixture(scope="module")
def edu(tmp_path_factory: pytest.TempPathFactory, pages: list[str]):
    """A tiny FineWeb-Edu-architecture classifier (BertForSequenceClassification, 1
    regression output), its head spread so int_score takes every value 0..5."""
    return write_edu(tmp_path_factory.mktemp("edu"), pages, vocab_size=3000, seed=0,
                     spread=(2.5, 2.0))


def card_scores(model, tokenizer, texts: list[str], batch: int) -> np.ndarray:
    """The model card's loop: tokenize a batch (padding longest, truncation), forward,
    logits.squeeze(-1)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            inputs = tokenizer(texts[i:i + batch], return_tensors="pt", padding="longest",
                               truncation=True)
            out.append(model(**inputs).logits.squeeze(-1).float().numpy())
    return np.concatenate(out)


def card_int_score(score: float) -> int:
    return int(round(max(0, min(score, 5))))


def test_edu_score_matches_the_model_card(edu, pages: list[str]) -> None:
    lengths = [len(edu.tokenizer(t)["input_ids"]) for t in pages]
    assert max(lengths) > MAX_LENGTH and min(lengths) < 20  # truncation and padding matter
    df = daft.from_pydict({"text": pages})
    rows = mdfql.sql(f"SELECT edu_score(text, model := '{edu.folder}', batch_size := 8) AS e "
                     "FROM t", t=df).to_pylist()
    got = np.array([r["e"]["score"] for r in rows])
    want = card_scores(edu.model, edu.tokenizer, pages, 16)
    assert np.abs(got - want).max() <= 1e-4
    ints = [r["e"]["int_score"] for r in rows]
    assert ints == [card_int_score(s) for s in got]
    # the reference's own int_score, except where its score sits on a rounding edge
    edge = np.abs((np.clip(want, 0, 5) % 1) - 0.5) < 1e-4
    assert all(i == card_int_score(float(w)) for i, w, e in zip(ints, want, edge) if not e)
    assert set(ints) == {0, 1, 2, 3, 4, 5}, "the test model should reach every int_score"


def test_nulls_and_fields(edu) -> None:
    df = daft.from_pydict({"text": ["A page about photosynthesis.", None, "", None]})
    rows = mdfql.sql(f"SELECT edu_score(text, model := '{edu.folder}').score AS s, "
                     f"edu_score(text, model := '{edu.folder}').int_score AS i, "
                     f"edu_score(text, model := '{edu.folder}') AS e FROM t", t=df).to_pylist()
    assert [r["e"] is None for r in rows] == [False, True, False, True]
    assert rows[1] == {"s": None, "i": None, "e": None}
    want = card_scores(edu.model, edu.tokenizer, ["A page about photosynthesis.", ""], 2)
    assert abs(rows[0]["s"] - want[0]) <= 1e-4 and abs(rows[2]["s"] - want[1]) <= 1e-4
    assert rows[0]["i"] == rows[0]["e"]["int_score"] == card_int_score(rows[0]["s"])


def _classifier(folder: Path, tokenizer, labels: list[str], problem: str, seed: int,
                texts: list[str]):
    """A tiny random BertForSequenceClassification with `labels`, saved to `folder`, its
    outputs spread over `texts` so the top label varies."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=MAX_LENGTH,
                        id2label=dict(enumerate(labels)),
                        label2id={x: i for i, x in enumerate(labels)}, problem_type=problem,
                        initializer_range=0.4)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    spread_head(model, tokenizer, texts, 0.0, 2.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.mark.parametrize("problem", ["single_label_classification",
                                     "multi_label_classification"])
def test_hf_classify_matches_transformers(edu, pages: list[str], tmp_path, problem) -> None:
    labels = ["low", "mid", "high"]
    folder = tmp_path / "clf"
    model = _classifier(folder, edu.tokenizer, labels, problem, 3, pages)
    texts = pages[:40] + [None]
    df = daft.from_pydict({"text": texts})
    rows = mdfql.sql(f"SELECT hf_classify(text, model := '{folder}', batch_size := 4) AS top, "
                     f"hf_classify(text, '{folder}', label := 'mid') AS mid FROM t",
                     t=df).to_pylist()
    assert rows[-1] == {"top": None, "mid": None}
    with torch.no_grad():
        inputs = edu.tokenizer(pages[:40], return_tensors="pt", padding="longest",
                               truncation=True)
        logits = model(**inputs).logits.double()
    probs = (torch.sigmoid(logits) if problem == "multi_label_classification"
             else torch.softmax(logits, -1)).numpy()
    top = probs.argmax(1)
    margin = np.sort(probs, 1)[:, -1] - np.sort(probs, 1)[:, -2]
    assert len(set(top)) > 1, "the test model should pick different labels"
    for row, p, k, m in zip(rows, probs, top, margin):
        if m > 1e-4:  # a near tie may flip under float rounding
            assert row["top"]["label"] == labels[k]
        assert abs(row["top"]["score"] - p.max()) <= 1e-4
        assert row["mid"]["label"] == "mid" and abs(row["mid"]["score"] - p[1]) <= 1e-4


def test_hf_classify_of_a_regression_model_is_its_raw_score(edu, pages: list[str]) -> None:
    df = daft.from_pydict({"text": pages[:12]})
    rows = mdfql.sql(f"SELECT hf_classify(text, model := '{edu.folder}') AS c, "
                     f"edu_score(text, model := '{edu.folder}').score AS s FROM t",
                     t=df).to_pylist()
    want = card_scores(edu.model, edu.tokenizer, pages[:12], 12)
    assert {r["c"]["label"] for r in rows} == {"LABEL_0"}
    assert np.abs(np.array([r["c"]["score"] for r in rows]) - want).max() <= 1e-4
    assert np.abs(np.array([r["s"] for r in rows]) - want).max() <= 1e-4


def test_model_loads_once_and_runs_once_per_row(edu, pages: list[str], tmp_path,
                                                monkeypatch) -> None:
    folder = tmp_path / "edu-copy"  # a configuration no other test loaded in this process
    shutil.copytree(edu.folder, folder)
    loads = []
    real_load = text_models.CACHE.load
    monkeypatch.setattr(text_models.CACHE, "load", lambda key: loads.append(key) or real_load(key))
    texts = pages[:50]
    df = daft.from_pydict({"text": texts, "id": list(range(len(texts)))})
    opts = f"model := '{folder}', batch_size := 4"
    rows = mdfql.sql(f"SELECT id, edu_score(text, {opts}).score AS s, "
                     f"edu_score(text, {opts}).int_score AS i FROM t "
                     f"WHERE edu_score(text, {opts}).score > -100", t=df).to_pylist()
    assert len(rows) == len(texts)
    key = (str(folder), None, "auto", "auto")
    assert loads == [key]
    classifier = text_models.loaded()[key]
    assert classifier.rows == len(texts)  # one forward per row for WHERE and SELECT
    assert classifier.batches >= len(texts) / 4  # forward passes of at most 4 texts


def _error(sql: str, df: daft.DataFrame) -> MdfqlError:
    session = Session()
    session.attach("docs", df)
    with pytest.raises(MdfqlError) as info:
        session.compile(sql, "pipe.sql")
    return info.value


def test_missing_or_unfit_models_are_errors_at_check_time(edu, tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # no network at plan time
    docs = daft.from_pydict({"text": ["a"]})
    clf = tmp_path / "clf"
    _classifier(clf, edu.tokenizer, ["a", "b"], "single_label_classification", 1,
                ["a b", "c d e"])
    (tmp_path / "empty").mkdir()
    cache = tmp_path / "hub"
    cache.mkdir()
    cases = [
        ("SELECT edu_score(text, model := '/nope/edu') FROM docs",
         "edu_score(): edu_score model: no such file or folder: /nope/edu"),
        (f"SELECT edu_score(text, model := '{tmp_path / 'empty'}') FROM docs",
         "has no config.json"),
        (f"SELECT edu_score(text, cache_dir := '{cache}') FROM docs",
         f"'HuggingFaceFW/fineweb-edu-classifier' is not in cache_dir {cache} and the hub "
         "is offline"),
        (f"SELECT edu_score(text, model := '{clf}') FROM docs",
         "has 2 outputs, not FineWeb-Edu's one regression output (use hf_classify)"),
        (f"SELECT hf_classify(text, '{clf}', label := 'c') FROM docs",
         "has no label 'c' (its labels: a, b)"),
        ("SELECT hf_classify(text) FROM docs", "hf_classify() is missing argument 'model'"),
    ]
    for sql, message in cases:
        err = _error(sql, docs)
        head, line, caret = err.render().splitlines()[:3]
        assert head.startswith("pipe.sql:1:8: error: "), head
        assert message in head, head
        assert caret.index("^") == 2 + 7


def test_hub_ids_resolve_in_the_cache(edu, tmp_path, monkeypatch) -> None:
    """A hub id already in the Hugging Face cache checks and runs offline."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    snapshot = cache / "models--org--tiny-edu" / "snapshots" / ("0" * 40)
    shutil.copytree(edu.folder, snapshot)
    (cache / "models--org--tiny-edu" / "refs").mkdir()
    (cache / "models--org--tiny-edu" / "refs" / "main").write_text("0" * 40)
    df = daft.from_pydict({"text": ["Cells divide by mitosis."]})
    [row] = mdfql.sql(f"SELECT edu_score(text, model := 'org/tiny-edu', cache_dir := '{cache}')"
                      " AS e FROM t", t=df).to_pylist()
    want = card_scores(edu.model, edu.tokenizer, ["Cells divide by mitosis."], 1)[0]
    assert abs(row["e"]["score"] - want) <= 1e-4


def test_tokenizer_without_max_length_truncates_at_the_positions(tmp_path, pages) -> None:
    """A tokenizer saved without model_max_length is cut at max_position_embeddings (the
    card's truncation=True would not cut it and the model would fail)."""
    tok = wordpiece_tokenizer(tmp_path / "tok", pages, 500)
    tok.model_max_length = int(1e30)
    config = transformers.BertConfig(max_position_embeddings=128)
    assert text_models.max_length(tok, config) == 128
    tok.model_max_length = MAX_LENGTH
    assert text_models.max_length(tok, config) == MAX_LENGTH


def test_core_does_not_import_torch(edu, tmp_path: Path) -> None:
    """Importing mdfql and checking a query that calls edu_score and hf_classify loads none
    of the model libraries: they load on the workers that run the model. (With device :=
    'auto' the plan imports torch to count GPUs for the resource request.)"""
    script = (
        "import sys, daft, mdfql\n"
        "s = mdfql.Session()\n"
        "s.attach('t', daft.from_pydict({'text': ['a']}))\n"
        f"s.compile(\"SELECT edu_score(text, model := '{edu.folder}', device := 'cpu') AS e, "
        f"hf_classify(text, '{edu.folder}', device := 'cpu') AS c FROM t\", 'p.sql')\n"
        "print(sorted(m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules))\n")
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_int_score_is_the_model_cards_rounding() -> None:
    """int_score = int(round(max(0, min(score, 5)))) with Python's round (half to even);
    a NaN score keeps no int_score."""
    from mdfql.functions.models import _edu_result

    scores = [2.5, 3.5, 0.5, 4.5000001, -1.0, 7.2, 2.4999999, 3.0, float("nan")]
    nulls = np.zeros(len(scores) + 1, bool)
    nulls[-1] = True  # a NULL text
    out = _edu_result(len(scores) + 1, list(range(len(scores))), np.array(scores),
                      nulls).to_pylist()
    assert [r["int_score"] for r in out[:-2]] == [card_int_score(s) for s in scores[:-1]]
    assert [r["int_score"] for r in out[:4]] == [2, 4, 0, 5]
    assert out[-2]["int_score"] is None and np.isnan(out[-2]["score"])
    assert out[-1] is None


def test_missing_hub_model_fails_the_load_with_the_message(tmp_path, monkeypatch) -> None:
    """Past the check (the hub answered then), a worker that cannot get the model fails the
    run saying what was looked for and where."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MdfqlError, match=r"text classifier: weights 'org/no-such-model' are "
                                         rf"not in cache_dir {tmp_path}") as info:
        text_models.load_classifier("org/no-such-model", str(tmp_path), "cpu", "auto")
    assert "save_pretrained folder" in info.value.hint
