"""Relational operators run as executor stages: compiling reads no data, EXPLAIN shows the
stages `run` executes, and a stage spills only row ids, keys and the columns read later."""

import os

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

import ast
from pathlib import Path

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from daft.io.source import DataSource
from test_dedup_ops import corpus

from mdfql import MdfqlError, Session
from mdfql.cli import main
from mdfql.execute import explain_text

ROOT = Path(__file__).resolve().parents[1]


class Untouchable(DataSource):
    """A source that fails the moment anything tries to read it."""

    def __init__(self, schema: daft.Schema):
        self._schema = schema

    @property
    def name(self) -> str:
        return "untouchable"

    @property
    def schema(self) -> daft.Schema:
        return self._schema

    async def get_tasks(self, pushdowns):
        raise AssertionError("compiling read data")
        yield  # pragma: no cover


DEDUP_SQL = """
CREATE VIEW signed AS SELECT id, text, minhash(text, num_hashes := 64) AS sig FROM docs;
CREATE VIEW clustered AS
  SELECT * EXCLUDE (sig), lsh_cluster(sig, id, bands := 16, rows := 4) OVER () AS cluster
  FROM signed;
COPY (SELECT DISTINCT ON (cluster) id, cluster FROM clustered ORDER BY cluster, id)
  TO '{out}' (FORMAT parquet);
"""


def test_compile_and_explain_read_nothing(tmp_path):
    schema = daft.Schema.from_pydict({"id": daft.DataType.int64(),
                                      "text": daft.DataType.string()})
    session = Session().attach("docs", Untouchable(schema).read())
    program = session.compile(DEDUP_SQL.format(out=tmp_path / "out"))
    stages = program.stages()
    assert [s.name for s in stages] == ["lsh_cluster", "distinct_on"]
    assert all(s.rows.files is None for s in stages)
    text = explain_text(program.actions[0])
    assert "stage 1 lsh_cluster: lsh_cluster(sig, id, bands := 16, rows := 4) OVER ()" in text
    assert "16 band keys of 4 rows" in text
    assert not (tmp_path / "out").exists()


def test_cli_check_and_explain_read_nothing(tmp_path, capsys):
    """A glob that matches no file yet: check and explain still succeed (nothing is read)."""
    sql = tmp_path / "p.sql"
    sql.write_text(
        f"CREATE VIEW docs AS SELECT * FROM read_warc('{tmp_path}/later/*.warc.gz');\n"
        "COPY (SELECT url, lsh_cluster(minhash(html), url) OVER () AS c FROM docs) "
        f"TO '{tmp_path}/out';\n")
    assert main(["check", str(sql)]) == 0
    assert "1 relational stage" in capsys.readouterr().out
    assert main(["explain", str(sql)]) == 0
    shown = capsys.readouterr().out
    assert "stage 1 lsh_cluster" in shown and "Scan  read_warc(" in shown
    assert not (tmp_path / "out").exists()


def test_explain_shows_the_stages_run_executes(tmp_path):
    ids, texts, groups = corpus()
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ids, "text": texts}), path)
    session = Session()
    sql = f"CREATE VIEW docs AS SELECT * FROM read_parquet('{path}');\n" + DEDUP_SQL.format(
        out=tmp_path / "kept.parquet")
    explained = explain_text(session.compile(sql).actions[0])
    summary = Session().run(sql, work_dir=tmp_path / "work")
    assert [s.label for s in summary.stages] == ["stage 1 lsh_cluster", "stage 2 distinct_on"]
    for done in summary.stages:
        assert done.label in explained and done.call_sql in explained
        assert done.rows_spilled == len(ids)
    kept = pq.read_table(tmp_path / "kept.parquet").to_pylist()
    clusters = {r["cluster"] for r in kept}
    assert len(kept) == len(clusters) < len(ids)
    kept_ids = {r["id"] for r in kept}
    for members in groups.values():  # planted copies collapse to one document
        assert len(kept_ids & set(members)) == 1


def test_stage_spills_keys_not_signatures(tmp_path):
    ids, texts, _ = corpus()
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ids, "text": texts}), path)
    sql = f"CREATE VIEW docs AS SELECT * FROM read_parquet('{path}');\n" + DEDUP_SQL.format(
        out=tmp_path / "kept.parquet")
    summary = Session().run(sql, work_dir=tmp_path / "work")
    spilled = sorted((tmp_path / "work" / summary.run_id / "stage-1" / "rows").glob("*.parquet"))
    names = pq.read_schema(spilled[0]).names
    assert "sig" not in names  # the signature only fed the band keys
    assert names[:2] == ["id", "text"] and "__node" in names
    assert sum(n.startswith("__band_") for n in names) == 16


def _imports(path: Path, package: str, modules: set[str]) -> set[str]:
    """mdfql modules a module imports, anywhere in it (function bodies too). `from pkg import
    mod` imports the submodule (Python runs pkg/__init__ first, which is not a dependency of
    pkg on the importer)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .query import ...
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            subs = {f"{base}.{a.name}" for a in node.names} & modules
            found |= subs if len(subs) == len(node.names) else subs | {base}
    return {m for m in found if m in modules}


def test_no_import_cycles():
    modules = {}
    for path in (ROOT / "mdfql").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = name if rel.name == "__init__" else ".".join(rel.parts[:-1])
        modules[name] = (path, package)
    known = set(modules) | {"mdfql._native"}  # the Rust extension imports nothing of ours
    graph = {name: _imports(path, package, known) - {name} - {"mdfql._native"}
             for name, (path, package) in modules.items()}
    # importing a package's submodule runs the package's __init__ first, not the reverse
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_incremental_dedup_against_an_index_of_earlier_runs(tmp_path, monkeypatch):
    """Run 1 keeps documents and writes their band index; run 2 clusters new documents with
    that index without recomputing the old ones: copies of indexed documents get the indexed
    id (earlier dumps win), new near-duplicates cluster among themselves."""
    monkeypatch.setenv("MDFQL_WAREHOUSE", str(tmp_path / "warehouse"))
    ids, texts, _ = corpus()
    by_id = dict(zip(ids, texts))
    old, new = [3, 5, 100, 7], [110, 111, 101, 120, 121, 10, 11]
    for name, part in (("old", old), ("new", new)):
        pq.write_table(pa.table({"id": part, "text": [by_id[i] for i in part]}),
                       tmp_path / f"{name}.parquet")
    sig = "minhash(text, num_hashes := 64)"
    Session().run(f"CREATE TABLE curated.bands AS SELECT id, lsh_bands({sig}, bands := 16, "
                  f"rows := 4) AS bands FROM read_parquet('{tmp_path / 'old.parquet'}')")
    sql = (f"SELECT id, lsh_cluster({sig}, id, bands := 16, rows := 4, "
           f"against := 'curated.bands') OVER () AS c "
           f"FROM read_parquet('{tmp_path / 'new.parquet'}')")
    session = Session()
    assert "clusters with the index curated.bands" in explain_text(
        session.compile(sql).actions[0])
    got = {r["id"]: r["c"] for r in session.sql(sql).to_pylist()}
    assert got == {110: 3, 111: 5, 101: 100, 120: 120, 121: 120, 10: 10, 11: 11}
    # a missing index is empty (the first run); a table without the index columns is an error
    missing = sql.replace("curated.bands", "curated.nothing_yet")
    assert {r["id"]: r["c"] for r in session.sql(missing).to_pylist()}[110] == 110
    session.attach("plain", daft.from_pydict({"id": [1], "text": ["a b c"]}))
    with pytest.raises(MdfqlError, match="needs columns id and bands"):
        session.compile(sql.replace("curated.bands", "plain"))
