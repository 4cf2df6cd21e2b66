"""pipelines/dclm.sql end to end on the bundled sample with the demo classifier `mdfql sample`
writes: the demo model (written in fastText's format by mdfql, not by fastText) predicts as
fastText's own package does, and the classifier step keeps exactly the documents whose
P(__label__hq) reaches DCLM's threshold."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from conftest import warehouse_at
from fasttext_reference import run_jobs

from mdfql import Session
from mdfql.demo.fasttext_model import LABELS, demo_texts, write_demo_classifier
from mdfql.demo.sample import write_sample
from mdfql.functions.kernels import fasttext_model

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "dclm.sql"
THRESHOLD = 0.018112  # the pipeline's $min_hq_score (DCLM's released threshold)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The demo model, the run's summary, the rows of curated.dclm, and record_id and text of
    every document the classifier sees (the pipeline's `deduplicated` view)."""
    work = tmp_path_factory.mktemp("dclm")
    stats = write_sample(work / "sample.warc.gz", n_records=600)
    model = write_demo_classifier(work / "models" / "dclm-demo.bin")
    with warehouse_at(str(work / "warehouse")):
        session = Session()
        summary = session.run_file(PIPELINE, params={"input": str(stats.path),
                                                     "classifier": str(model)})
        kept = session.sql("SELECT * FROM read_iceberg('curated.dclm')").to_pylist()
        seen = session.sql("SELECT record_id, text FROM deduplicated").to_pylist()
        yield model, summary, kept, seen


def test_demo_model_predicts_as_fasttext(run, tmp_path):
    model, _, _, seen = run
    hq, cc = demo_texts()
    texts = [r["text"].replace("\n", " ") for r in seen[:60]] + hq[:20] + cc[:20]
    theirs = run_jobs({"load": [{"name": "demo", "path": str(model)}],
                       "predict": {"texts": texts, "settings": [[2, 0.0]]}}, tmp_path)
    entry = theirs["models"]["demo"]
    assert entry["labels"] == list(LABELS)
    ours = fasttext_model(model).predict_top(pa.array(texts), 2, 0.0).to_pylist()
    for mine, (labels, probs), text in zip(ours, entry["predictions"]["2,0.0"], texts,
                                           strict=True):
        assert [p["label"] for p in mine] == labels, text
        assert [p["score"] for p in mine] == pytest.approx(probs, abs=1e-4), text
    # the weights mean something: article prose above chrome on average
    by_text = {t: dict(zip(*p, strict=True)) for t, p in
               zip(texts, entry["predictions"]["2,0.0"], strict=True)}
    mean = [sum(by_text[t]["__label__hq"] for t in part) / len(part) for part in (hq[:20], cc[:20])]
    assert mean[0] > mean[1]


def test_classifier_keeps_the_documents_at_the_threshold(run):
    model, summary, kept, seen = run
    scores = fasttext_model(model).label_score(
        pa.array([r["text"] for r in seen]), "__label__hq").to_pylist()
    expected = {r["record_id"]: s for r, s in zip(seen, scores, strict=True) if s >= THRESHOLD}
    assert 0 < len(expected) < len(seen)  # the demo model keeps some and drops some
    got = {r["record_id"]: r["hq_score"] for r in kept}
    assert got.keys() == expected.keys()
    for rid, score in got.items():
        assert score == pytest.approx(expected[rid], abs=1e-9) and score >= THRESHOLD
    (step,) = [s for s in summary.funnel.steps if s.view == "classified"]
    assert (step.rows_in, step.rows_out) == (len(seen), len(kept))
    assert step.dropped == sum(s < THRESHOLD for s in scores)
    assert summary.rows_written == len(kept)


def test_kept_documents_are_text(run):
    _, _, kept, _ = run
    assert all(r["text"] and r["url"] and r["record_id"] for r in kept)
