"""The HTML report of a real run of pipelines/fineweb.sql: self-contained (no external
reference), the run's numbers on the page, crawled text escaped, and a funnel built from the
run's own views rendered step by step with the signal's histogram."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from html_doc import Document

from mdfql import Session
from mdfql.demo.sample import write_sample
from mdfql.funnel import Example, Funnel, FunnelStep, Signal
from mdfql.history import RunRecord
from mdfql.report import render, write_report
from mdfql.report.charts import bin_values

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "fineweb.sql"
LANGUAGE = "lid.lang = $language AND lid.score > $min_language_score"
HOSTILE = '</dd></dl><script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A fineweb.sql run's record and, from the run's views, the language step's real rows."""
    work = tmp_path_factory.mktemp("report")
    stats = write_sample(work / "sample.warc.gz", n_records=300)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MDFQL_WAREHOUSE", str(work / "warehouse"))
        session, records = Session(), []
        session.run_file(PIPELINE, params={"input": str(stats.path)}, on_record=records.append)
        rows = session.sql("SELECT url, text, lid.lang AS lang, lid.score AS score "
                           "FROM identified").to_pylist()
    return records[0], rows


def _funnel(rows: list[dict]) -> Funnel:
    """The language step of the run: its rows in and out, the score among kept and dropped
    rows and a few of each, one with markup in its text as crawled pages have."""
    kept = [r for r in rows if r["lang"] == "en" and r["score"] > 0.65]
    dropped = [r for r in rows if not (r["lang"] == "en" and r["score"] > 0.65)]
    assert kept and dropped

    def example(r: dict, keep: bool) -> Example:
        return Example(0, "in_language", LANGUAGE, keep, {"url": r["url"], "text": r["text"][:200]})

    return Funnel(
        steps=[FunnelStep(0, "identified", "text IS NOT NULL AND text <> ''", len(rows),
                          len(rows), 0.01),
               FunnelStep(0, "in_language", LANGUAGE, len(rows), len(kept), 0.5)],
        signals=[Signal("in_language", "lid.score", tuple(r["score"] for r in kept),
                        tuple(r["score"] for r in dropped), len(rows))],
        examples=[example(r, True) for r in kept[:3]] + [example(r, False) for r in dropped[:3]]
        + [Example(0, "in_language", LANGUAGE, False, {"url": dropped[0]["url"], "text": HOSTILE})],
    )


def _with_funnel(record: RunRecord, funnel: Funnel) -> RunRecord:
    return dataclasses.replace(record, funnel=funnel.as_dict())


def _own_scripts(doc: Document) -> int:
    return len(doc.tags("script"))


def test_the_run_records_its_funnel(run):
    record, _ = run
    steps = Funnel.from_dict(record.funnel).steps
    assert {s.view for s in steps} >= {"responses", "in_language", "deduplicated"}
    assert all(s.rows_in == s.rows_out + s.dropped for s in steps)


def test_report_of_the_run_without_funnel(run, tmp_path):
    record = _with_funnel(run[0], Funnel())  # as a run with SET funnel = false records it
    path = write_report(record, tmp_path / "out" / "report.html")
    doc = Document.of(path.read_text(encoding="utf-8"))
    assert doc.external_references() == []
    assert record.run_id in doc.text and "succeeded" in doc.text
    # the operators Daft reported, as steps: rows in, kept, dropped
    assert [row[:3] for row in doc.step_rows] == \
        [[s["rows_in"], s["rows_out"], s["rows_in"] - s["rows_out"]] for s in record.steps]
    assert record.steps  # fineweb.sql filters: there is something to show
    for w in record.writes:
        assert str(w["snapshot_id"]) in doc.text and f"{w['rows']:,}" in doc.text
    for f in record.failures:
        assert f["reason"] in doc.text and all(x in doc.text for x in f["examples"])
    for s in record.stages:
        assert s["call"] in doc.text


def test_report_with_a_funnel(run):
    record, rows = run
    funnel = _funnel(rows)
    doc = Document.of(render(_with_funnel(record, funnel)))
    assert doc.external_references() == []
    assert [row[:3] for row in doc.step_rows] == \
        [[s.rows_in, s.rows_out, s.dropped] for s in funnel.steps]
    assert doc.step_rows[1][3] == round(100 * funnel.steps[1].dropped / len(rows), 2)
    assert "lid.score" in doc.text and "statement 1 (line" in doc.text
    # every sampled value is in one bar of the histogram, kept and dropped apart
    counts = {"kept": 0, "dropped": 0}
    titles = [t for t in doc.texts if t.startswith(("kept: ", "dropped: "))]
    for title in titles:
        kind, _, rest = title.partition(": ")
        counts[kind] += int(rest.split(" ")[0])
    assert counts == {"kept": len(funnel.signals[0].kept),
                      "dropped": len(funnel.signals[0].dropped)}
    for x in funnel.examples[:6]:
        assert x.fields["url"] in doc.text


def test_user_data_is_escaped(run):
    record, rows = run
    funnel = _funnel(rows)
    hostile = dataclasses.replace(
        _with_funnel(record, funnel), status="failed", error=HOSTILE,
        params={"input": HOSTILE},
        failures=[{"stage": "parse_http", "reason": HOSTILE, "rows": 1, "examples": [HOSTILE]}],
        writes=[{"table": HOSTILE, "mode": "append", "rows": 1, "snapshot_id": None,
                 "skipped": False, "note": HOSTILE}])
    doc = Document.of(render(hostile))
    assert _own_scripts(doc) == 2  # the error hook and the page's script, nothing injected
    assert doc.tags("img") == [] and doc.event_handlers() == []
    assert doc.external_references() == []
    assert doc.text.count('<script>alert("x")</script>') >= 5  # shown as text


def test_bins():
    bins = bin_values([0.0, 1.0, 2.0, 9.0], [9.0, float("nan"), float("inf")], n=10)
    assert bins is not None and (bins.low, bins.high) == (0.0, 9.0)
    assert bins.kept == (1, 1, 1, 0, 0, 0, 0, 0, 0, 1)
    assert bins.dropped == (0,) * 9 + (1,)  # NaN and infinity are no values
    same = bin_values([0.5, 0.5], [], n=10)
    assert same is not None and same.kept == (2,) and same.dropped == (0,)
    assert bin_values([], [float("nan")]) is None


def test_reads_sum_per_source_and_list_the_first_files(run):
    """A crawl reads tens of thousands of files: each source's totals, then its first files
    (a record keeps the first 20 of each; one made before it kept totals lists them all)."""
    record, _ = run
    name = "read_warc('crawl/*.warc.gz')"
    files = [{"source": name, "path": f"crawl/{i:05}.warc.gz", "size": 1000 + i}
             for i in range(45)]
    counts = [{"path": f["path"], "rows": 10, "records": 11, "failed": 1} for f in files[:40]]
    totals = {"source": name, "files": 45, "size": sum(f["size"] for f in files),
              "rows": 400, "records": 440, "failed": 40}
    kept = dataclasses.replace(record, sources=[totals], inputs=files[:20], reads=counts[:20])
    older = dataclasses.replace(record, sources=[], inputs=files, reads=counts)
    for made in (kept, older):
        page = render(made)
        doc = Document.of(page[page.index("<h2>Reads"):page.index("<h2>Failures")])
        cells = [a.get("data-v") for tag, a in doc.elements if tag == "td" and "data-v" in a]
        assert cells[:5] == ["45", str(totals["size"]), "400", "440", "40"]
        shown = [f["path"] for f in files if f["path"] in doc.text]
        assert shown == [f["path"] for f in files[:20]]
        assert "45 files, the first 20 of each source shown" in doc.text
