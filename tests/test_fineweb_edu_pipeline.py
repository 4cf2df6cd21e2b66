"""pipelines/fineweb_edu.sql on the table fineweb.sql writes from the sample: it keeps exactly
the pages whose FineWeb-Edu int_score (the classifier's own forward, computed here with
transformers as the model card does) is at least 3, with their scores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the FineWeb-Edu classifier needs the models extra")

from mdfql import Session  # noqa: E402

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "fineweb_edu.sql"


def _card_scores(folder: Path, texts: list[str]) -> list[float]:
    """The model card's loop: tokenize with padding and truncation, logits.squeeze(-1)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(texts), 32):
            batch = tokenizer(texts[i:i + 32], return_tensors="pt", padding="longest",
                              truncation=True)
            out += model(**batch).logits.squeeze(-1).float().tolist()
    return out


def test_fineweb_edu_keeps_int_score_at_least_3(fineweb_sample, monkeypatch):
    monkeypatch.chdir(fineweb_sample)
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(fineweb_sample / "warehouse"))
    session = Session()
    summary = session.run_file(PIPELINE)
    pages = session.sql("SELECT record_id, text FROM read_iceberg('curated.fineweb')").to_pylist()
    kept = {r["record_id"]: r for r in
            session.sql("SELECT * FROM read_iceberg('curated.fineweb_edu')").to_pylist()}
    scores = _card_scores(fineweb_sample / "sample" / "models" / "fineweb-edu",
                          [p["text"] for p in pages])
    expected = {p["record_id"]: s for p, s in zip(pages, scores)
                if round(min(max(s, 0.0), 5.0)) >= 3}
    assert 0 < len(expected) < len(pages)  # the threshold keeps some and drops some
    assert kept.keys() == expected.keys()
    for rid, row in kept.items():
        assert row["score"] == pytest.approx(expected[rid], abs=1e-4)
        assert row["int_score"] == round(min(max(row["score"], 0.0), 5.0)) >= 3
    assert summary.rows_written == len(kept)
    (step,) = summary.funnel.steps
    assert (step.rows_in, step.rows_out) == (len(pages), len(kept))


def test_fineweb_edu_needs_the_fineweb_table(tmp_path, monkeypatch):
    """Run before fineweb.sql: the check says which table is missing (nothing is written)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "check", str(PIPELINE)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MDFQL_WAREHOUSE": str(tmp_path / "warehouse")})
    assert proc.returncode == 1
    assert "curated.fineweb does not exist" in proc.stderr + proc.stdout
