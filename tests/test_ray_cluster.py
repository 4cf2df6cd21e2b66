"""The bundled pipelines on a real 2-node Ray cluster (`ray start` head + worker, 1 CPU each)
give the same Iceberg tables, row for row, as on the native runner; the work spreads over both
nodes, and the Rust kernels in each node's worker use the 1 thread the node has, not the
machine's cores. The cluster starts once for the module (~10-20 s) and is torn down after,
leaving no process or file behind."""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import warehouse_at
from ray_cluster import local_cluster, processes_mentioning, ray_env

from mdfql import Session, history
from mdfql.demo.sample import write_sample
from mdfql.sinks.catalog import CatalogConfig, open_catalog

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
PARTS = 2  # crawl files
ROWS_PER_FILE = 1000  # rows per Parquet file of the probe input
PROBE = "COPY (SELECT kernel_probe(url) AS p FROM {view}) TO 'probe' (FORMAT parquet);\n"

# The driver: Daft merges files under 96 MB into one scan task, so these small files are each
# made a task of their own, as the multi-GB files of a real crawl are. With --ray-address, the
# Ray runner is selected before mdfql compiles anything: today compiling can pin Daft's native
# runner first (test_plain_cli_runs_on_the_cluster), and the run then never reaches Ray.
CLI = """
import sys, daft
daft.set_execution_config(scan_tasks_min_size_bytes=1, scan_tasks_max_size_bytes=1)
if "--ray-address" in sys.argv:
    daft.set_runner_ray(address=sys.argv[sys.argv.index("--ray-address") + 1])
from mdfql.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def cluster():
    # nodes see tests/ on PYTHONPATH: UDFs of `LOAD 'thread_probe'` unpickle by module name
    with local_cluster(workers=1, cpus_per_node=1, env={"PYTHONPATH": str(TESTS)}) as c:
        dirs = [n.temp_dir for n in c.nodes]
        print(f"2-node cluster up in {c.started_in_s:.1f} s")
        yield c
    for d in dirs:
        assert not d.exists(), d
        assert not processes_mentioning(str(d)), f"processes of {d} still running"


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("crawl")
    for seed in range(PARTS):
        write_sample(work / "sample" / f"part-{seed}.warc.gz", n_records=250, seed=seed)
    return work


def run_mdfql(work: Path, sql: Path, *args: str, warehouse: str, out: str,
              env: dict[str, str] | None = None, plain: bool = False) -> Path:
    """`mdfql run` in a fresh driver process (`CLI`, or `python -m mdfql.cli` when `plain`);
    returns its run directory (probe, warehouse)."""
    run_dir = work / out
    run_dir.mkdir()
    driver = ["-m", "mdfql.cli"] if plain else ["-c", CLI]
    proc = subprocess.run(
        [sys.executable, *driver, "run", str(sql), *args],
        cwd=run_dir, capture_output=True, text=True, timeout=600,
        env=ray_env(PYTHONPATH=str(TESTS), MDFQL_WAREHOUSE=str(run_dir / warehouse),
                    **(env or {})))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return run_dir


def probe_rows(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "probe").column("p").to_pylist()


def table_digest(warehouse: Path, table: str) -> tuple[int, str]:
    """(rows, sha256 of the sorted canonical rows) of an Iceberg table: equal for the same rows
    in any order."""
    with warehouse_at(str(warehouse)):
        rows = Session().sql(f"SELECT * FROM read_iceberg('{table}')").to_pylist()
    lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest()


# fineweb adds minutes on a 2-core machine where the cluster's nodes have 1 CPU each
@pytest.fixture(scope="module",
                params=["refinedweb", pytest.param("fineweb", marks=pytest.mark.slow)])
def pipeline_runs(request, cluster, crawl):
    """The pipeline (its relational operator lsh_cluster included) with a probe of where its
    input's rows were processed, on the native runner and on the cluster."""
    name = request.param
    sql = crawl / f"{name}.sql"
    sql.write_text("LOAD 'thread_probe';\n" + (ROOT / "pipelines" / f"{name}.sql").read_text()
                   + PROBE.format(view="responses"))
    # absolute: Ray workers resolve a relative path against their own cwd (0 rows read)
    crawl_files = ("--param", f"input={crawl}/sample/*.warc.gz")
    native = run_mdfql(crawl, sql, *crawl_files, warehouse="wh", out=f"{name}-native")
    on_ray = run_mdfql(crawl, sql, *crawl_files, "--runner", "ray", "--ray-address",
                       cluster.address, warehouse="wh", out=f"{name}-ray")
    return name, native, on_ray


def test_pipeline_gives_the_same_table_on_the_cluster(pipeline_runs):
    name, native, on_ray = pipeline_runs
    rows, digest = table_digest(native / "wh", f"curated.{name}")
    print(f"curated.{name}: {rows} rows, sha256 {digest} (native)")
    assert rows > 100
    assert table_digest(on_ray / "wh", f"curated.{name}") == (rows, digest)


def test_pipeline_work_spreads_over_both_nodes(pipeline_runs, cluster):
    _, _, on_ray = pipeline_runs
    rows = probe_rows(on_ray)
    assert {r["node_id"] for r in rows} == set(cluster.node_ids.values())


def probe_sql(work: Path) -> Path:
    """The probe kernel over 8 Parquet files, one scan task each, so both nodes get some."""
    for i in range(8):
        urls = [f"https://e{i}.example/{j}" for j in range(ROWS_PER_FILE)]
        pq.write_table(pa.table({"url": urls}), work / f"urls-{i}.parquet")
    sql = work / "probe.sql"
    sql.write_text("LOAD 'thread_probe';\n" + PROBE.format(
        view=f"read_parquet('{work}/urls-*.parquet')"))
    return sql


def test_plain_cli_runs_on_the_cluster(cluster, tmp_path):
    rows = probe_rows(run_mdfql(tmp_path, probe_sql(tmp_path), "--runner", "ray",
                                "--ray-address", cluster.address, warehouse="wh",
                                out="plain", plain=True))
    # in the driver the pool is sized by the machine's CPU affinity, in a Ray worker by Ray
    assert {r["sized_by"] for r in rows} == {"Ray node CPUs"}


def test_kernels_use_the_cpu_their_ray_node_has(cluster, tmp_path):
    """Each node has 1 CPU: a kernel batch in its worker runs on a 1-thread pool and touches 1
    thread, on both nodes (the machine has more cores than that)."""
    rows = probe_rows(run_mdfql(tmp_path, probe_sql(tmp_path), "--runner", "ray",
                                "--ray-address", cluster.address, warehouse="wh",
                                out="probe-ray"))
    assert len(rows) == 8 * ROWS_PER_FILE
    by_node = collections.Counter(r["node_id"] for r in rows)
    assert set(by_node) == set(cluster.node_ids.values()), by_node
    assert {(r["pool_threads"], r["threads_used"], r["sized_by"]) for r in rows} == {
        (1, 1, "Ray node CPUs")}
    assert len({r["pid"] for r in rows}) == 2  # one worker process per node


def test_the_driver_records_the_run_in_the_history(pipeline_runs):
    """On Ray the driver appends the run's record: the same reads, failures and rows as the
    native run's (the tally actor sums the workers'), and the snapshot it committed."""
    name, native, on_ray = pipeline_runs
    catalogs = [CatalogConfig.resolve(warehouse=str(d / "wh"), uri=f"sqlite:///{d}/wh/catalog.db")
                for d in (native, on_ray)]
    records = [history.load(c, "mdfql.runs", history.recent(c, "mdfql.runs")[0]["run_id"])
               for c in catalogs]
    assert [len(history.recent(c, "mdfql.runs")) for c in catalogs] == [1, 1]
    here, there = records
    assert (here.runner, there.runner) == ("native", "ray")
    assert there.status == "succeeded" and there.rows_read == here.rows_read > 0
    assert [(f["stage"], f["reason"], f["rows"]) for f in there.failures] == \
        [(f["stage"], f["reason"], f["rows"]) for f in here.failures]
    (native_write,), (write,) = ([w for w in r.writes if w["table"] == f"curated.{name}"]
                                 for r in records)
    assert write["rows"] == native_write["rows"] > 0
    table = open_catalog(catalogs[1]).load_table(f"curated.{name}")
    assert table.current_snapshot().snapshot_id == write["snapshot_id"]
