"""A real multi-node Ray cluster on this machine for tests: a head and worker nodes started with
the `ray start` CLI, each its own raylet with its own CPUs, object store and temp dir.

Each node runs under `ray start --block` in a process group of its own: SIGTERM makes it stop
its node's processes, and killing its group catches whatever survives. Nothing is shared with
other Ray clusters on the machine: `ray stop` is never used (it would stop every cluster here),
ports are picked free, and each node's files live in a temp dir removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Enough for the tests' small partitions; Ray's floor is 75 MiB.
OBJECT_STORE_BYTES = 80 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env(**extra: str) -> dict[str, str]:
    """Environment of the nodes and of drivers connecting to them."""
    return dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
                DAFT_ANALYTICS_ENABLED="0", DAFT_PROGRESS_BAR="0", **extra)


@dataclass
class Node:
    """One `ray start --block` process and the temp dir its node writes to."""

    name: str
    proc: subprocess.Popen
    temp_dir: Path


@dataclass
class LocalCluster:
    address: str
    nodes: list[Node] = field(default_factory=list)
    node_ids: dict[str, str] = field(default_factory=dict)  # node name -> Ray node id
    started_in_s: float = 0.0


def _start_node(name: str, args: list[str], cpus: int, env: dict[str, str]) -> Node:
    # short path: Ray's unix sockets live below it and paths are capped at 107 bytes
    temp_dir = Path(tempfile.mkdtemp(prefix=f"mdfql-ray-{name}-", dir="/tmp"))
    # this interpreter, not the `ray` on PATH: workers run the raylet's Python, and must import
    # the mdfql under test (a venv's editable install)
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
           f"--temp-dir={temp_dir}", f"--num-cpus={cpus}", "--num-gpus=0",
           f"--object-store-memory={OBJECT_STORE_BYTES}", "--node-ip-address=127.0.0.1",
           "--disable-usage-stats",
           "--resources", json.dumps({f"node_{name}": 1}), *args]
    log = open(temp_dir / "ray-start.log", "wb")  # noqa: SIM115 (lives as long as the node)
    # cwd: the node's own dir, which its workers inherit, so that no relative path resolves
    # there by chance as it would in the driver's cwd
    proc = subprocess.Popen(cmd, env=ray_env(**env), cwd=temp_dir, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    return Node(name, proc, temp_dir)


def _wait_for_nodes(cluster: LocalCluster, timeout_s: float) -> None:
    """Until every node is alive in the GCS; a node whose `ray start` died fails at once."""
    import ray

    deadline = time.monotonic() + timeout_s
    connected = False
    try:
        while time.monotonic() < deadline:
            for node in cluster.nodes:
                if node.proc.poll() is not None:
                    log = (node.temp_dir / "ray-start.log").read_text(errors="replace")
                    raise RuntimeError(f"ray start ({node.name}) exited "
                                       f"{node.proc.returncode}:\n{log[-3000:]}")
            if not connected:
                with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                    ray.init(address=cluster.address, log_to_driver=False,
                             include_dashboard=False, configure_logging=False)
                    connected = True
            if connected:
                alive = {r: n["NodeID"] for n in ray.nodes() if n["Alive"]
                         for r in n["Resources"] if r.startswith("node_")}
                if len(alive) == len(cluster.nodes):
                    cluster.node_ids = {r.removeprefix("node_"): i for r, i in alive.items()}
                    return
            time.sleep(0.2)
        raise TimeoutError(f"Ray nodes not all alive after {timeout_s:.0f} s")
    finally:
        if connected:
            ray.shutdown()


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions `text` (a node's temp dir: its raylet, workers...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


def _stop_node(node: Node, grace_s: float = 20.0) -> None:
    if node.proc.poll() is None:
        node.proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.proc.wait(timeout=grace_s)
    # whatever survived: the node's own process group, then anything still using its dir
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(node.proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        node.proc.wait(timeout=5)
    for pid in processes_mentioning(str(node.temp_dir)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(node.temp_dir, ignore_errors=True)


@contextlib.contextmanager
def local_cluster(workers: int = 1, cpus_per_node: int = 1, env: dict[str, str] | None = None,
                  timeout_s: float = 120.0) -> Iterator[LocalCluster]:
    """A head and `workers` worker nodes, each with `cpus_per_node` CPUs and a custom resource
    `node_<name>` (head, worker1, ...) to pin work to it; stopped on exit, also on errors.
    `env` is added to the nodes' environment, which their worker processes inherit (e.g.
    PYTHONPATH for modules that UDFs pickled by reference need)."""
    env = env or {}
    t0 = time.monotonic()
    port = free_port()
    cluster = LocalCluster(address=f"127.0.0.1:{port}")
    try:
        cluster.nodes.append(_start_node("head", [
            "--head", f"--port={port}", "--include-dashboard=false",
            f"--ray-client-server-port={free_port()}"], cpus_per_node, env))
        # worker nodes start alongside the head: `ray start --address` waits for its GCS
        for i in range(1, workers + 1):
            cluster.nodes.append(_start_node(f"worker{i}", [f"--address={cluster.address}"],
                                             cpus_per_node, env))
        _wait_for_nodes(cluster, timeout_s)
        cluster.started_in_s = time.monotonic() - t0
        yield cluster
    finally:
        for node in reversed(cluster.nodes):  # workers first: the head's GCS outlives them
            _stop_node(node)
