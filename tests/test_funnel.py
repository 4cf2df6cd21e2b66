"""The run's funnel on the bundled sample: every view and predicate of fineweb.sql and
refinedweb.sql named, counts that add up and equal plain Daft counts, a view read by two
statements counted for each (its failures once), rejects that account for every dropped row,
signals and examples, and counters that can be turned off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from mdfql import Session
from mdfql.demo.sample import write_sample
from mdfql.errors import MdfqlError
from mdfql.lang.parse import parse_script
from mdfql.session import catalog_config
from mdfql.sinks.iceberg import table_exists

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = {"fineweb": ROOT / "pipelines" / "fineweb.sql",
             "refinedweb": ROOT / "pipelines" / "refinedweb.sql"}
REJECTS = "SET rejects = 'audit.rejects';\n"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("funnel") / "sample.warc.gz").path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MDFQL_WAREHOUSE", str(tmp_path_factory.mktemp("warehouse")))
    yield
    mp.undo()


@pytest.fixture(scope="module", params=sorted(PIPELINES))
def run(request, sample, warehouse):
    """A pipeline run on the sample with rejects kept: its name, summary and rejects rows."""
    name = request.param
    session = Session()
    summary = session.run(REJECTS + PIPELINES[name].read_text(), {"input": str(sample)})
    rejects = session.sql("SELECT * FROM read_iceberg('audit.rejects') "
                          f"WHERE run_id = '{summary.run_id}'").to_pylist()
    return name, summary, rejects


def _filtered_views(text: str) -> dict[str, list[str]]:
    """Views (and '<query>' for the final statement) with a WHERE or DISTINCT ON, and how many
    steps each has: WHERE conjuncts, plus one for DISTINCT ON."""
    found: dict[str, list[str]] = {}
    for stmt in parse_script(text):
        node = stmt.node
        if not isinstance(node, exp.Create):
            continue
        name = node.this.name.lower() if node.args.get("kind") == "VIEW" else "<query>"
        select = node.expression
        steps = []
        where = select.args.get("where")
        if where is not None:
            steps += [c.sql() for c in where.this.flatten()] if isinstance(where.this, exp.And) \
                else [where.this.sql()]
        if select.args.get("distinct") is not None:
            steps.append("DISTINCT ON")
        if steps:
            found[name] = steps
    return found


def test_every_view_and_predicate_is_named(run):
    name, summary, _ = run
    expected = _filtered_views(PIPELINES[name].read_text())
    got: dict[str, list[str]] = {}
    for step in summary.funnel.steps:
        got.setdefault(step.view, []).append(step.predicate)
    assert {v: len(p) for v, p in got.items()} == {v: len(p) for v, p in expected.items()}
    assert got["in_language"][0] == "lid.lang = 'en'"
    assert got["identified"] == ["text IS NOT NULL", "text <> ''"]
    distinct = "deduplicated" if name == "fineweb" else "exact_deduplicated"
    assert got[distinct][0].startswith("DISTINCT ON (")


def test_counts_add_up_along_the_chain(run):
    """Each step's rows out are the next one's rows in (both pipelines are linear chains);
    the first sees the rows read less those whose HTTP message failed; the last gives the
    rows written."""
    name, summary, _ = run
    steps = [s for s in summary.funnel.steps if s.statement == 0]
    assert all(0 <= s.rows_out <= s.rows_in for s in steps)
    for before, after in zip(steps, steps[1:]):
        assert before.rows_out == after.rows_in, (before, after)
    unparsed = summary.failures[("parse_http", "bad status line")]
    assert steps[0].rows_in == summary.rows_read - unparsed
    table = next(w for w in summary.writes if w.ident == f"curated.{name}")
    assert steps[-1].rows_out == table.rows_written > 0
    assert any(s.dropped for s in steps)


def test_counts_equal_plain_daft_counts(run, sample):
    """Each filtering view's rows (its last step's rows out), and in_language's first
    conjunct, equal counts of the same views compiled without counters (plain Daft filters)."""
    name, summary, _ = run
    text = PIPELINES[name].read_text()
    views = text.split("CREATE OR REPLACE TABLE")[0]
    filtering = [v for v, steps in _filtered_views(text).items()
                 if v != "<query>" and "DISTINCT ON" not in steps]
    queries = "".join(f"SELECT count(*) AS n FROM {v};\n" for v in filtering)
    queries += "SELECT count(*) AS n FROM identified WHERE lid.lang = 'en';\n"
    plain = Session(options={"funnel": False}).run(views + queries, {"input": str(sample)})
    assert plain.funnel.steps == []
    counts = [r.to_pydict()["n"][0] for r in plain.results]
    last = {s.view: s.rows_out for s in summary.funnel.steps if s.statement == 0}
    assert counts[:-1] == [last[v] for v in filtering]
    lang = next(s for s in summary.funnel.steps if s.predicate == "lid.lang = 'en'")
    assert counts[-1] == lang.rows_out


def test_rejects_account_for_every_dropped_row(run):
    """Rejected rows by predicate are the steps' dropped rows: rejects + kept = input."""
    _, summary, rejects = run
    by_step: dict[tuple[str, str], int] = {}
    for r in rejects:
        by_step[(r["view"], r["predicate"])] = by_step.get((r["view"], r["predicate"]), 0) + 1
    for step in summary.funnel.steps:
        assert by_step.get((step.view, step.predicate), 0) + step.rows_out == step.rows_in, step
    assert sum(by_step.values()) == sum(s.dropped for s in summary.funnel.steps) > 0
    written = next(w for w in summary.writes if w.ident == "audit.rejects")
    assert written.rows_written == len(rejects)


def test_a_rejected_row_names_its_first_failing_predicate(run):
    _, _, rejects = run
    score = [r for r in rejects if r["view"] == "in_language"
             and r["predicate"].startswith("lid.score")]
    language = [r for r in rejects if r["predicate"] == "lid.lang = 'en'"]
    assert score and language
    for r in score:  # passed the first conjunct, failed the second
        lid = json.loads(r["row"])["lid"]
        assert lid["lang"] == "en" and lid["score"] < 0.66
    assert all(json.loads(r["row"])["lid"]["lang"] != "en" for r in language)
    assert all(r["url"] and r["record_id"] for r in rejects)


def test_signals_sample_the_compared_values(run):
    name, summary, _ = run
    signal = next(s for s in summary.funnel.signals if s.view == "in_language")
    assert signal.name == "lid.score"
    step = next(s for s in summary.funnel.steps if s.predicate.startswith("lid.score"))
    assert signal.count == step.rows_in
    assert len(signal.kept) == min(step.rows_out, 2000)
    assert len(signal.dropped) == min(step.dropped, 2000)
    threshold = 0.65
    assert all(v > threshold for v in signal.kept) if name == "fineweb" \
        else all(v >= threshold for v in signal.kept)
    assert all(v <= threshold for v in signal.dropped)


def test_examples_preview_kept_and_dropped_rows(run):
    _, summary, rejects = run
    rejected = {(r["view"], r["predicate"], r["url"]) for r in rejects}
    dropped = [e for e in summary.funnel.examples if not e.kept]
    assert dropped
    for e in summary.funnel.examples:
        assert "url" in e.fields and len(e.fields.get("text", "")) <= 300
    for e in dropped:
        assert (e.view, e.predicate, e.fields["url"]) in rejected
    per_step: dict[tuple, int] = {}
    for e in summary.funnel.examples:
        key = (e.statement, e.view, e.predicate, e.kept)
        per_step[key] = per_step.get(key, 0) + 1
    assert max(per_step.values()) <= 3


def test_a_view_read_by_two_statements_counts_for_each_and_fails_once(sample, warehouse,
                                                                      tmp_path):
    text = PIPELINES["fineweb"].read_text() + (
        f"COPY (SELECT url FROM in_language) TO '{tmp_path / 'lang'}' (FORMAT parquet);\n")
    summary = Session().run(text, {"input": str(sample)})
    first = [s for s in summary.funnel.steps if s.statement == 0]
    second = [s for s in summary.funnel.steps if s.statement == 1]
    assert [s.view for s in second][-1] == "in_language"
    assert [(s.view, s.predicate, s.rows_in, s.rows_out) for s in second] == \
        [(s.view, s.predicate, s.rows_in, s.rows_out) for s in first[:len(second)]]
    # the sample's two bad status lines and one cut record, once each
    assert summary.failures == {("parse_http", "bad status line"): 2,
                                ("read_warc", "truncated record"): 1}
    assert summary.failure_examples[("read_warc", "truncated record")].startswith("file://")
    (path, count), = summary.reads.items()
    assert count.rows == summary.rows_read and count.failed == 3
    idents = [w.ident for w in summary.writes]
    assert idents == ["curated.fineweb", str(tmp_path / "lang")]
    assert summary.writes[1].rows_written == second[-1].rows_out


def test_a_failed_run_commits_no_rejects(sample, warehouse):
    text = REJECTS.replace("audit.", "failed.") + "SET max_failed_fraction = 0;\n" \
        + PIPELINES["fineweb"].read_text()
    with pytest.raises(MdfqlError, match="failed"):
        Session().run(text, {"input": str(sample)})
    assert not table_exists("failed.rejects", catalog_config({}))


def test_having_qualify_and_distinct_are_steps(tmp_path, warehouse):
    n = 500
    pq.write_table(pa.table({"id": list(range(n)), "k": [i % 7 for i in range(n)],
                             "v": [(i * 37) % 101 for i in range(n)]}), tmp_path / "t.parquet")
    src = f"read_parquet('{tmp_path / 't.parquet'}')"
    summary = Session().run(
        f"CREATE VIEW big AS SELECT k, count(*) AS c FROM {src} WHERE v > 10 AND id % 2 = 0 "
        "GROUP BY k HAVING count(*) > 32;\n"
        f"CREATE VIEW top AS SELECT id, k, v FROM {src} "
        "QUALIFY row_number() OVER (PARTITION BY k ORDER BY v DESC, id) <= 2;\n"
        "SELECT * FROM big;\nSELECT * FROM top;\n")
    steps = [(s.statement, s.view, s.predicate, s.rows_in, s.rows_out)
             for s in summary.funnel.steps]
    rows = [(i, v, (i * 37) % 101) for i, v in ((i, i % 7) for i in range(n))]
    after_v = [r for r in rows if r[2] > 10]
    after_id = [r for r in after_v if r[0] % 2 == 0]
    groups = {k: sum(1 for r in after_id if r[1] == k) for k in range(7)}
    assert steps[:3] == [
        (0, "big", "v > 10", n, len(after_v)),
        (0, "big", "id % 2 = 0", len(after_v), len(after_id)),
        (0, "big", "HAVING count(*) > 32", 7, sum(c > 32 for c in groups.values())),
    ]
    assert 0 < steps[2][4] < 7
    assert steps[3][:3] == (1, "top", "QUALIFY row_number() OVER (PARTITION BY k ORDER BY v "
                                      "DESC, id) <= 2")
    assert steps[3][3:] == (n, 14)
    assert len(summary.results[0]) == steps[2][4]


def test_funnel_off_counts_nothing_and_writes_the_same_rows(run, sample, warehouse):
    name, summary, _ = run
    session = Session()
    on = session.sql(f"SELECT record_id FROM read_iceberg('curated.{name}')").to_pydict()
    off = session.run("SET funnel = false;\n" + PIPELINES[name].read_text(),
                      {"input": str(sample)})
    assert off.funnel.steps == [] and off.steps  # Daft's anonymous operators instead
    again = session.sql(f"SELECT record_id FROM read_iceberg('curated.{name}')").to_pydict()
    assert sorted(on["record_id"]) == sorted(again["record_id"])
    assert len(again["record_id"]) == off.writes[0].rows_written > 0


def test_operator_stats_count_what_the_batch_udf_counts(run, sample, warehouse):
    """The default counters (Daft's operator stats on each conjunct's own Filter) give every
    step of both pipelines the detail counters' rows in and out (the fixture's run counts in
    detail: it keeps rejects), keep no examples, and write the same rows."""
    name, detail, _ = run
    summary = Session().run(PIPELINES[name].read_text(), {"input": str(sample)})
    counts = [(s.statement, s.view, s.predicate, s.rows_in, s.rows_out)
              for s in summary.funnel.steps]
    assert counts == [(s.statement, s.view, s.predicate, s.rows_in, s.rows_out)
                      for s in detail.funnel.steps]
    assert summary.funnel.examples == [] and detail.funnel.examples
    assert [s.name for s in summary.funnel.signals] == ["lsh_cluster cluster size"] \
        or all("lsh_cluster" in s.name for s in summary.funnel.signals)
    assert [w.rows_written for w in summary.writes] == [detail.writes[0].rows_written]


def test_operator_stats_count_a_view_read_twice_in_one_query(sample, warehouse):
    """A view two branches of one query read has a Filter in each: both are counted, as the
    UDF counts every batch that passes it."""
    text = ("SET $input = '';\nCREATE VIEW ok AS SELECT url, status FROM read_warc($input) "
            "WHERE status = 200 AND url LIKE 'https:%';\n"
            "SELECT count(*) AS n FROM (SELECT url FROM ok UNION ALL SELECT url FROM ok);")
    by_mode = {}
    for mode in ("counts", "detail"):
        summary = Session(options={"funnel": mode}).run(text, {"input": str(sample)})
        by_mode[mode] = [(s.predicate, s.rows_in, s.rows_out) for s in summary.funnel.steps]
    assert by_mode["counts"] == by_mode["detail"]
    status = by_mode["counts"][0]
    assert status[0] == "status = 200" and status[1] > status[2] > 0
    single = Session().run(text.replace("UNION ALL SELECT url FROM ok", ""),
                           {"input": str(sample)})
    assert status[1] == 2 * single.funnel.steps[0].rows_in


def test_cli_summary_names_views_and_predicates(sample, tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("MDFQL_WAREHOUSE", str(tmp_path / "wh"))
    proc = subprocess.run([sys.executable, "-m", "mdfql.cli", "run",
                           str(PIPELINES["fineweb"]), "--param", f"input={sample}",
                           "--param", "min_language_score=0.9999"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert re.search(r"lid\.score > 0\.9999[\s│]+[\d,]+[\s│]+0[\s│]+[\d,]+", out), out
    assert "in_language" in out and "gopher_repetition_ok(text)" in out
    assert re.search(r"failed rows: parse_http: bad status line[\s│]+2\b", out), out
    assert "first: " in out and "rows written" not in out


def test_cluster_sizes_are_a_signal_that_matches_the_dedup_step(run):
    """Each MinHash cluster keeps one row: the DISTINCT ON (cluster) step drops the sum of
    (size - 1) over the clusters the lsh_cluster signal lists."""
    name, summary, _ = run
    signal = next(s for s in summary.funnel.signals if "lsh_cluster" in s.name)
    assert signal.view == "clustered" and signal.count == len(signal.kept) > 0
    assert all(size >= 2 for size in signal.kept)
    view = "deduplicated" if name == "fineweb" else "fuzzy_deduplicated"
    dedup = next(s for s in summary.funnel.steps if s.view == view)
    assert dedup.dropped == sum(size - 1 for size in signal.kept)


def test_plans_whose_filters_do_not_pair_up_are_not_counted():
    """keep_filters pairs the logical plan's Filters (which show predicates) with the
    physical plan's (which carry the ids stats use) in order, or not at all."""
    from mdfql.counting_stats import keep_filters

    def filt(predicate: str | None, child: dict, node: int | None = None) -> dict:
        node_info = {"type": "Filter", "children": [child]}
        if predicate is not None:
            node_info["predicate"] = [predicate]
        if node is not None:
            node_info["id"] = node
        return node_info

    scan = {"type": "Source", "children": []}
    logical = filt("col(__keep4_1)", filt("col(x) > lit(3)", filt("col(__keep4_0)", scan)))
    physical = filt(None, filt(None, filt(None, scan, 2), 5), 9)
    assert keep_filters(logical, physical) == {9: (4, 1), 2: (4, 0)}
    assert keep_filters(logical, filt(None, filt(None, scan, 2), 5)) is None
