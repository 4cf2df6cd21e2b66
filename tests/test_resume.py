"""A run killed at any moment and finished with `--resume` writes exactly the table an
uninterrupted run writes, commits each statement once, and redoes no finished work.

Real processes (`python -m mdfql.cli run`), killed with SIGKILL (by the MDFQL_KILL_AT hook at
named points, or by the test at a random moment), over a multi-file crawl from the sample
generator, into a real Iceberg warehouse."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from mdfql.demo.sample import write_sample
from mdfql.demo.split import split_warc
from mdfql.io.inputs import resolve
from mdfql.plan import split
from mdfql.runstate import changes
from mdfql.session import Session

PIPELINE = """SET $input = 'crawl/*.warc.gz';

CREATE VIEW pages AS
  SELECT record_id, url, warc_date, html
  FROM read_warc($input)
  WHERE status = 200;

CREATE VIEW clustered AS
  SELECT *, lsh_cluster(minhash(html, num_hashes := 64, ngram := 5, seed := 1),
                        bands := 8, rows := 8) OVER () AS cluster
  FROM pages;

CREATE OR REPLACE TABLE web.dedup AS
  SELECT DISTINCT ON (cluster) url, warc_date, record_id, cluster, length(html) AS bytes
  FROM clustered
  ORDER BY warc_date, url;

INSERT INTO web.log
  SELECT url, record_id, status FROM read_warc($input);
"""
TABLES = ("web.dedup", "web.log")
PARTS = 8  # files: 4 groups of 2 (mdfql.resume.group_files)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    """A crawl of 8 WARC files (the sample generator's records, planted defects included)."""
    root = tmp_path_factory.mktemp("crawl")
    write_sample(root / "all.warc.gz", n_records=800, seed=3)
    split_warc(root / "all.warc.gz", PARTS, root / "parts")
    (root / "all.warc.gz").unlink()
    return root / "parts"


def _run(where: Path, crawl: Path, *args: str, kill_at: str | None = None,
         script: str = "dedup.sql", popen: bool = False):
    """`mdfql run` in `where` (its warehouse and run state live there)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MDFQL_WAREHOUSE", "MDFQL_CATALOG", "MDFQL_WORK_DIR"))}
    env.pop("MDFQL_KILL_AT", None)
    if kill_at is not None:
        env["MDFQL_KILL_AT"] = kill_at
    command = [sys.executable, "-m", "mdfql.cli", "run", script,
               "--param", f"input={crawl}/*.warc.gz", *args]
    if popen:
        with open(where / "stderr.txt", "w") as log:
            return subprocess.Popen(command, cwd=where, env=env, stdout=subprocess.DEVNULL,
                                    stderr=log)
    return subprocess.run(command, cwd=where, env=env, capture_output=True, text=True,
                          timeout=300)


def _workspace(root: Path, text: str = PIPELINE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dedup.sql").write_text(text)
    return root


def _counted(stderr: str) -> list[str]:
    """The summary's rows read and failed rows (a resumed run counts the skipped work too)."""
    return [" ".join(line.split()) for line in stderr.splitlines()
            if "rows read" in line or "failed rows" in line]


def _digest(where: Path, ident: str) -> tuple[str, int] | None:
    """The digest of table `ident`'s sorted rows and its number of snapshots (None: no table)."""
    warehouse = where / "warehouse"
    if not (warehouse / "catalog.db").exists():
        return None
    catalog = SqlCatalog("mdfql", uri=f"sqlite:///{warehouse}/catalog.db",
                         warehouse=f"file://{warehouse}")
    if not catalog.table_exists(ident):
        return None
    table = catalog.load_table(ident)
    rows = sorted(json.dumps(r, sort_keys=True, default=str)
                  for r in table.scan().to_arrow().to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest(), len(table.metadata.snapshots)


def _tables(where: Path) -> dict[str, tuple[str, int]]:
    """Each existing table's digest and number of snapshots."""
    return {ident: found for ident in TABLES if (found := _digest(where, ident)) is not None}


def _left(where: Path) -> list[str]:
    """What run state is left besides finished runs' manifests (one per script)."""
    runs = where / ".warehouse-runs"
    left = [str(p.relative_to(runs)) for p in runs.rglob("*")
            if p.is_file() and p.name not in ("state.json", "lock")]
    manifests = [json.loads(p.read_text()) for p in runs.glob("*/state.json")]
    return left + [m["run_id"] for m in manifests if m["status"] != "done" or "done" in m] \
        + (["more than one finished run"] if len(manifests) > 1 else [])


def _started(where: Path, process: subprocess.Popen) -> float:
    """When the run's state appeared (its work began), waiting for it."""
    while not any((where / ".warehouse-runs").glob("*/state.json")) and process.poll() is None:
        time.sleep(0.02)
    return time.perf_counter()


@pytest.fixture(scope="module")
def reference(crawl, tmp_path_factory) -> tuple[dict[str, tuple[str, int]], float, list[str]]:
    """The tables an uninterrupted run writes, how long its work took (from when its state
    appeared) and what its summary counted."""
    where = _workspace(tmp_path_factory.mktemp("reference"))
    process = _run(where, crawl, popen=True)
    started = _started(where, process)
    assert process.wait() == 0
    took = time.perf_counter() - started
    tables = _tables(where)
    assert all(n == 1 for _, n in tables.values())
    assert _left(where) == []  # a finished run leaves only its identity
    counted = _counted((where / "stderr.txt").read_text())
    assert any("failed rows" in line for line in counted)  # the sample's planted defects
    return tables, took, counted


def _killed(result: subprocess.CompletedProcess) -> bool:
    return result.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)


# (where the first run is killed, a point the resumed run would pass again only if it redid
# finished work: it is killed there too, so a test passes only when that work is skipped)
KILLS = [
    ("stage-1/rows/1", "stage-1/rows/0"),  # mid spill: groups 0 and 1 are not spilled again
    ("stage-1/computed", None),  # computed, not recorded: computed again
    ("stage-2/done", "stage-1/computed"),  # both stages recorded: neither runs again
    ("write-0/staged", "stage-2/done"),  # staged whole (its ORDER BY sorts), not committed
    ("write-0/committed", "write-0/staged"),  # committed, not recorded: found by run id
    ("write-1/1", "write-1/0"),  # the INSERT's groups; the replace is done
    ("write-1/committed", "write-1/staged"),  # an INSERT committed, not recorded
]
QUICK = {"stage-1/rows/1", "write-0/committed", "write-1/1"}


@pytest.mark.parametrize("kill_at,trap", [
    pytest.param(k, t, marks=() if k in QUICK else pytest.mark.slow) for k, t in KILLS])
def test_a_killed_run_resumes_to_the_same_tables(crawl, reference, tmp_path, kill_at, trap):
    where = _workspace(tmp_path)
    assert _killed(_run(where, crawl, kill_at=kill_at))
    # what is visible is whole statements, committed once
    committed = {"write-0/committed": 1, "write-1/1": 1, "write-1/committed": 2}.get(kill_at, 0)
    assert _tables(where) == dict(list(reference[0].items())[:committed])
    resumed = _run(where, crawl, "--resume", kill_at=trap)
    assert resumed.returncode == 0, resumed.stderr
    assert _tables(where) == reference[0]  # same rows, one snapshot per table
    assert _counted(resumed.stderr) == reference[2]
    assert _left(where) == []


def test_a_run_killed_at_a_random_moment_resumes(crawl, reference, tmp_path):
    where = _workspace(tmp_path)
    process = _run(where, crawl, popen=True)
    _started(where, process)
    time.sleep(random.uniform(0.1, 0.8) * reference[1])
    process.send_signal(signal.SIGKILL)
    if process.wait() == 0:
        pytest.skip("the run finished before the kill")
    resumed = _run(where, crawl, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _tables(where) == reference[0]


def test_resume_is_refused_when_the_run_would_differ(crawl, reference, tmp_path):
    where = _workspace(tmp_path)
    assert _killed(_run(where, crawl, kill_at="stage-1/rows/0"))

    (where / "dedup.sql").write_text(PIPELINE + "-- changed\n")
    refused = _run(where, crawl, "--resume")
    assert refused.returncode == 1 and "dedup.sql changed since the run started" in refused.stderr
    (where / "dedup.sql").write_text(PIPELINE)

    fewer = _run(where, crawl, "--resume", "--param", f"input={crawl}/part-0[0-6].warc.gz")
    assert fewer.returncode == 1 and "parameter $input was" in fewer.stderr
    assert "input file gone" in fewer.stderr and "part-07.warc.gz" in fewer.stderr

    touched = crawl / "part-03.warc.gz"
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        changed = _run(where, crawl, "--resume")
    finally:
        os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert changed.returncode == 1
    assert "input file changed (size or modification time)" in changed.stderr
    assert "part-03.warc.gz" in changed.stderr

    run_dir = next((where / ".warehouse-runs").iterdir())
    with open(run_dir / "lock", "a") as lock:  # as a process still running the run holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = _run(where, crawl, "--resume")
    assert busy.returncode == 1 and "still running in another process" in busy.stderr

    resumed = _run(where, crawl, "--resume")  # as it was: it resumes
    assert resumed.returncode == 0, resumed.stderr
    assert _tables(where) == reference[0]
    again = _run(where, crawl, "--resume")  # finished: nothing runs, nothing is committed
    assert again.returncode == 0 and "nothing to resume: run" in again.stderr
    assert _tables(where) == reference[0]


def test_resume_without_a_run_is_refused(crawl, tmp_path):
    where = _workspace(tmp_path)
    refused = _run(where, crawl, "--resume")
    assert refused.returncode == 1 and "nothing to resume: no run of" in refused.stderr


@pytest.mark.slow
def test_fineweb_killed_mid_spill_resumes_to_the_same_table(crawl, tmp_path):
    """The bundled FineWeb pipeline (two stages, a write per group of spill files)."""
    script = str(Path(__file__).resolve().parents[1] / "pipelines" / "fineweb.sql")
    tables = {}
    for name, kill in (("whole", None), ("killed", "stage-1/rows/2")):
        where = _workspace(tmp_path / name)
        first = _run(where, crawl, kill_at=kill, script=script)
        if kill is not None:
            assert _killed(first)
            assert _run(where, crawl, "--resume", kill_at="stage-1/rows/0",
                        script=script).returncode == 0
        tables[name] = _digest(where, "curated.fineweb")
    assert tables["killed"] == tables["whole"] and tables["whole"][1] == 1


def test_a_split_crawl_holds_the_same_records(tmp_path):
    write_sample(tmp_path / "all.warc.gz", n_records=300, seed=5)
    parts = split_warc(tmp_path / "all.warc.gz", 4, tmp_path / "parts")
    assert len(parts) == 4
    assert b"".join(p.read_bytes() for p in parts) == (tmp_path / "all.warc.gz").read_bytes()
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in parts)  # each starts a member


def test_a_refusal_names_each_change():
    run = {"script": "/p/x.sql", "script_sha256": "a", "params": {"input": "a/*"},
           "options": {}, "inputs": {"0": ["iceberg://web.t@1|None|None"],
                                     "1": ["/a|1|2", "/b|1|2"]}}
    now = {**run, "script_sha256": "b", "params": {"input": "b/*"},
           "inputs": {"0": ["iceberg://web.t@5|None|None"], "1": ["/a|1|3", "/c|1|2"]}}
    assert changes(run, now) == [
        "the script /p/x.sql changed since the run started",
        "parameter $input was 'a/*', now 'b/*'",
        "table web.t changed (snapshot 1, now 5)",
        "new input file: /c", "input file gone: /b",
        "input file changed (size or modification time): /a"]
    assert changes(run, run) == []


def _compiled(sql: str, crawl: Path):
    program = Session().compile(sql, "<sql>", {"input": f"{crawl}/*.warc.gz"})
    resolve(program.sources())
    return program


@pytest.mark.parametrize("query,splits", [
    ("SELECT url, length(html) AS n FROM read_warc($input) WHERE status = 200", True),
    ("SELECT url FROM read_warc($input) LIMIT 5", False),
    ("SELECT url FROM read_warc($input) ORDER BY url", False),
    ("SELECT count(*) AS n FROM read_warc($input)", False),
    ("SELECT DISTINCT url FROM read_warc($input)", False),
])
def test_only_row_wise_plans_over_one_file_input_split(crawl, query, splits):
    program = _compiled(f"SET $input = 'x';\nCOPY ({query}) TO 'out' (FORMAT parquet);", crawl)
    action = program.actions[0]
    assert (split.feed_of(action.plan, action.df) is not None) is splits


def test_positional_row_ids_stay_unique_across_groups(crawl, tmp_path):
    """DISTINCT ON numbers rows by position: each group's run starts again at 0, so the
    groups' ids are moved apart (a clash would join one row's value onto another)."""
    program = _compiled("SET $input = 'x';\n" + PIPELINE.split("CREATE OR REPLACE")[0]
                        + "CREATE OR REPLACE TABLE web.dedup AS SELECT DISTINCT ON (url) url "
                          "FROM pages;", crawl)
    stage = program.stages()[0]
    fed = split.feed_of(split.stage_input(stage, [program.actions[0].plan]), stage.spill_plan)
    assert fed is not None and fed[1]  # positional ids
    feed, _ = fed
    ids: list[int] = []
    for i, group in enumerate(split.groups(feed.files(), 3)):
        with feed.narrowed(group):
            ids += split.with_group_ids(stage.spill_plan, i).to_pydict()["__node"]
    assert len(ids) == len(set(ids)) > 0
