"""The image pipelines (pipelines/laion.sql, datacomp.sql, z_image.sql, imagen3.sql) end to end
on the bundled image-text sample with the demo weights: each writes its Iceberg table, the
planted cases land where the pipeline's steps send them (bad images are counted failures with
their reasons, exact and near duplicates collapse, small images miss DataComp's min side), the
funnel's steps chain into the rows written, and LAION on Ray writes the native table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mdfql import Session
from mdfql.demo.images import write_image_sample

pytest.importorskip("torch", reason="pip install 'mdfql[models]'")
pytest.importorskip("open_clip", reason="pip install 'mdfql[models]'")
pytest.importorskip("transformers", reason="pip install 'mdfql[models]'")
pytest.importorskip("skimage", reason="pip install scikit-image")

from mdfql.demo.weights import write_demo_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("laion", "datacomp", "z_image", "imagen3")
BAD = {"corrupt", "truncated", "zero_byte", "bomb"}
# The demo CLIP's image-text cosines are noise near 0: LAION's thresholds off to test the rest.
LAION_OPEN = {"min_similarity_en": "-1", "min_similarity_other": "-1"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """The image sample and demo weights in a temp dir, the pipelines' params pointing at
    them, and the sample's rows by key."""
    import pyarrow.parquet as pq

    work = tmp_path_factory.mktemp("image-pipelines")
    write_image_sample(work)
    weights = write_demo_weights(work / "models")
    params = {"input": str(work / "image_text.parquet"), **weights.params(),
              "tag_model": str(weights.clip.config), "tag_weights": str(weights.clip.weights)}
    rows = {r["key"]: r for r in pq.read_table(work / "image_text.parquet").to_pylist()}
    return {"work": work, "params": params, "rows": rows}


def _params_for(name: str, params: dict[str, str]) -> dict[str, str]:
    """The params `name`'s file declares (a run refuses undeclared ones)."""
    text = (ROOT / "pipelines" / f"{name}.sql").read_text()
    return {k: v for k, v in params.items() if f"SET ${k} =" in text}


@pytest.fixture(scope="module")
def runs(sample) -> dict:
    """Each pipeline run natively in a fresh warehouse: summary and the table's rows."""
    old = os.environ.get("MDFQL_WAREHOUSE")
    os.environ["MDFQL_WAREHOUSE"] = str(sample["work"] / "warehouse")
    out = {}
    try:
        for name in PIPELINES:
            params = _params_for(name, sample["params"])
            if name == "laion":
                params.update(LAION_OPEN)
            session = Session()
            summary = session.run_file(ROOT / "pipelines" / f"{name}.sql", params=params)
            table = session.sql(f"SELECT * FROM read_iceberg('curated.{name}')").to_pylist()
            out[name] = (summary, table)
        yield out
    finally:
        if old is None:
            os.environ.pop("MDFQL_WAREHOUSE", None)
        else:
            os.environ["MDFQL_WAREHOUSE"] = old


@pytest.mark.parametrize("name", PIPELINES)
def test_table_written_and_funnel_chains(runs, sample, name):
    summary, table = runs[name]
    assert summary.writes[-1].ident == f"curated.{name}"
    assert summary.writes[-1].rows_written == len(table) > 0
    steps = [s for s in summary.funnel.steps if s.statement == summary.funnel.steps[0].statement]
    assert steps[0].rows_in == len(sample["rows"])
    # each step sees what the one before kept, and the last keeps what was written
    for before, after in zip(steps, steps[1:]):
        assert after.rows_in == before.rows_out, (before, after)
    assert steps[-1].rows_out == len(table)
    assert all(s.view and s.predicate for s in steps)


@pytest.mark.parametrize("name", PIPELINES)
def test_bad_images_never_survive_and_are_counted(runs, sample, name):
    summary, table = runs[name]
    assert not {sample["rows"][r["key"]]["category"] for r in table} & BAD
    assert summary.failures and all(reason for _, reason in summary.failures)
    if name != "datacomp":  # DataComp drops the non-English bad rows before decoding them
        bad = sum(sample["rows"][k]["category"] in BAD for k in sample["rows"])
        assert sum(summary.failures.values()) == bad
        assert summary.failures[("image_info", "empty")] == 1
        assert summary.failures[("image_info", "too many pixels")] == 2


@pytest.mark.parametrize("name", ["laion", "z_image", "imagen3"])
def test_exact_duplicates_collapse_to_one(runs, sample, name):
    _, table = runs[name]
    by_bytes: dict[bytes, list[str]] = {}
    for key, row in sample["rows"].items():
        by_bytes.setdefault(row["image"], []).append(key)
    kept = {r["key"] for r in table}
    groups = [keys for keys in by_bytes.values() if len(keys) > 1]
    assert groups and all(len(kept & set(keys)) <= 1 for keys in groups)
    assert len({r["phash"] for r in table}) == len(table)


def test_laion_near_duplicates_and_tags(runs, sample):
    summary, table = runs["laion"]
    step = next(s for s in summary.funnel.steps if s.view == "deduplicated")
    assert step.rows_out < step.rows_in  # crops, resizes and re-encodes of the photos merge
    assert all(len(r["caption"]) >= 5 for r in table)
    assert all(r["width"] and 0 <= r["punsafe"] <= 1 and 0 <= r["pwatermark"] <= 1
               for r in table)
    # NudeNet's real detector (tests/test_nudenet.py checks it against NudeNet's own)
    assert all(r["nudity"] is not None and 0 <= r["nudity"] <= 1 for r in table)
    assert {r["caption_language"] for r in table} >= {"en", "de"}


def test_laion_clip_threshold_applies(sample, tmp_path, monkeypatch):
    """With LAION's own thresholds, rows survive only at cosine >= 0.28 / 0.26."""
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(tmp_path / "warehouse"))
    session = Session()
    params = {**_params_for("laion", sample["params"]), "min_similarity_en": "0.0",
              "min_similarity_other": "0.01"}
    session.run_file(ROOT / "pipelines" / "laion.sql", params=params)
    table = session.sql("SELECT * FROM read_iceberg('curated.laion')").to_pylist()
    assert all(r["similarity"] >= (0.0 if r["caption_language"] == "en" else 0.01)
               for r in table)


def test_datacomp_basic_filter_and_top_30_percent(runs, sample):
    summary, table = runs["datacomp"]
    rows = sample["rows"]
    for r in table:
        w, h = r["width"], r["height"]
        assert min(w, h) >= 200 and max(w, h) <= 3 * min(w, h)
        assert len(r["caption"]) > 5 and len(r["caption"].split()) > 2
        assert len(r["embedding"]) == 768
    # the generated patterns have English captions and sides under 200: min side drops them
    small = [k for k, r in rows.items() if r["category"] == "generated"]
    assert small and not {r["key"] for r in table} & set(small)
    step = next(s for s in summary.funnel.steps if s.predicate.startswith("least("))
    assert step.rows_out < step.rows_in
    ranked = next(s for s in summary.funnel.steps if s.predicate.startswith("QUALIFY percent"))
    assert 0 < ranked.rows_out <= max(1, round(0.3 * ranked.rows_in))


def test_z_image_quality_filter_and_columns(runs):
    _, table = runs["z_image"]
    for r in table:
        assert r["width"] >= 128 and r["height"] >= 128
        assert r["compression_artifacts"] <= 0.8 and r["entropy"] >= 0
        assert len(r["clip_embedding"]) == 768 and len(r["siglip_embedding"]) == 32
        assert r["aesthetic_score"] is not None and 0 <= r["aigc_score"] <= 1


def test_imagen3_filters(runs):
    _, table = runs["imagen3"]
    for r in table:
        assert min(r["width"], r["height"]) >= 128 and r["sharpness"] >= 10
        assert r["nsfw_score"] < 0.5 and r["aesthetic_score"] >= 4.5 and r["aigc_score"] < 0.5


# One runner per process: a process that ran on Ray cannot go back to native.
DRIVER = """
import json, sys
from mdfql import Session
runner, path, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
session = Session()
summary = session.run_file(path, params=params, runner=runner)
print(json.dumps(sorted([list(k), v] for k, v in summary.failures.items())))
"""


@pytest.mark.ray
def test_laion_on_ray_equals_native(runs, sample, tmp_path, monkeypatch):
    params = {**_params_for("laion", sample["params"]), **LAION_OPEN}
    warehouse = tmp_path / "warehouse-ray"
    env = dict(os.environ, DAFT_PROGRESS_BAR="0", RAY_AUTH_MODE="disabled",
               MDFQL_WAREHOUSE=str(warehouse))
    proc = subprocess.run([sys.executable, "-c", DRIVER, "ray",
                           str(ROOT / "pipelines" / "laion.sql"), json.dumps(params)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    failures = json.loads(proc.stdout.strip().splitlines()[-1])
    summary, native = runs["laion"]
    # read Ray's table here, natively (the driver's Ray is gone once its run ends)
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(warehouse))
    ray = Session().sql("SELECT * FROM read_iceberg('curated.laion')").to_pylist()
    ray, native = (sorted(rows, key=lambda r: r["key"]) for rows in (ray, native))
    assert [r["key"] for r in ray] == [r["key"] for r in native]
    for a, b in zip(ray, native):
        assert a["phash"] == b["phash"] and a["image"] == b["image"]
        assert abs(a["similarity"] - b["similarity"]) <= 1e-5
        assert abs(a["punsafe"] - b["punsafe"]) <= 1e-5
        assert abs(a["nudity"] - b["nudity"]) <= 1e-5
    assert failures == sorted([list(k), v] for k, v in summary.failures.items())


def test_demo_weights_are_documented_and_skipped_without_the_extra(sample, tmp_path,
                                                                    monkeypatch, capsys):
    readme = (sample["work"] / "models" / "README.md").read_text()
    assert "randomly initialised" in readme and "mean nothing" in readme
    import mdfql.demo.weights as weights
    from mdfql.cli import main

    monkeypatch.setattr(weights, "missing_models", lambda: "torch not installed (test)")
    assert main(["sample", "--records", "400", "--page-kb", "6",
                 "--out", str(tmp_path / "s" / "sample.warc.gz")]) == 0
    assert "skipped the other demo weights" in capsys.readouterr().out.replace("\n", " ")
    # only the demo fastText classifier, which needs no torch
    assert [p.name for p in (tmp_path / "s" / "models").iterdir()] == [weights.DEMO_CLASSIFIER]
    assert (tmp_path / "s" / "image_text.parquet").exists()
