"""Memory and speed of the curation pipelines on a crawl and on a 1/20 slice of it.

Each (pipeline, input) pair runs `Session().run_file(...)` in a fresh child process with its own
warehouse, so peak memory is that run's alone. Per run it prints records read, rows written,
wall time (process and run), CPU time, docs/s and peak RSS (the child's own, from wait4, and
the peak summed over its process tree, sampled, which is what counts for Ray workers), then the
big/slice RSS ratio per pipeline against the targets of the memory rework (<= 2 GiB peak on the
big file, <= 1.2x the slice's). Not a test: it prints figures.

    mdfql sample --records 120000 --page-kb 30 --out data/crawl.warc.gz
    mdfql sample --records 120000 --page-kb 30 --slice 20 --out data/crawl-slice.warc.gz
    python benchmarks/crawl_scale.py --slice data/crawl-slice.warc.gz --warc data/crawl.warc.gz

A run whose process tree passes `--rss-cap-gb` is killed and reported as such (so a run that
would exhaust the machine's memory costs a row in the table, not the machine), as is one that
runs past `--timeout`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_PEAK_GIB = 2.0
TARGET_RATIO = 1.2
_MARK = "CRAWL_SCALE_RESULT "


@dataclass
class Result:
    pipeline: str
    input: str
    status: str  # "ok", "timeout", "rss cap", or "exit N"
    records_read: int | None = None
    rows_written: int | None = None
    wall_s: float = 0.0  # the child process, start to exit
    run_s: float | None = None  # Session.run_file inside it
    cpu_s: float = 0.0  # user + system of the child process (its threads included)
    peak_rss_mib: float = 0.0  # the child process's own peak (ru_maxrss)
    tree_rss_mib: float = 0.0  # sampled peak of the child and all its descendants

    @property
    def docs_per_s(self) -> float | None:
        if self.records_read is None or not self.run_s:
            return None
        return self.records_read / self.run_s

    @property
    def peak_mib(self) -> float:
        return max(self.peak_rss_mib, self.tree_rss_mib)


def _child(sql: str, warc: str, runner: str) -> int:
    """Run one pipeline in this (fresh) process and print its summary as one JSON line."""
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    from mdfql import Session

    t0 = time.perf_counter()
    summary = Session().run_file(sql, params={"input": warc}, runner=runner)
    out = {
        "records_read": summary.rows_read,
        "rows_written": summary.rows_written,
        "run_s": time.perf_counter() - t0,
        "steps": [(s.name, s.rows_in, s.rows_out) for s in summary.steps],
    }
    print(_MARK + json.dumps(out), flush=True)
    return 0


def _descendants_rss_kib(root: int) -> int:
    """RSS of `root` and all its descendants, from /proc (Linux); processes that vanish
    between listing and reading count zero."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    # the name field may hold spaces and parentheses: split after its last ")"
                    parent[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def run_one(sql: Path, warc: str, runner: str, timeout: float, rss_cap_gb: float) -> Result:
    """One pipeline on one input in a child process, watched for time and memory."""
    result = Result(sql.stem, warc, "ok")
    with tempfile.TemporaryDirectory(prefix="crawl-scale-") as tmp:
        env = {**os.environ, "MDFQL_WAREHOUSE": str(Path(tmp) / "warehouse"),
               "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0"}
        out_path = Path(tmp) / "stdout"
        with out_path.open("wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, __file__, "--child", str(sql), warc, runner],
                stdout=out, env=env, start_new_session=True,  # its own group: killable whole
            )
            peak_kib, cap_kib = 0, int(rss_cap_gb * 1024 * 1024)
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                peak_kib = max(peak_kib, _descendants_rss_kib(proc.pid))
                over = peak_kib > cap_kib
                if over or time.perf_counter() - t0 > timeout:
                    result.status = "rss cap" if over else "timeout"
                    os.killpg(proc.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.5)
            proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it, not Popen
            result.wall_s = time.perf_counter() - t0
        # Ray's workers may outlive the driver's group: reap what is left of it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        result.cpu_s = usage.ru_utime + usage.ru_stime
        result.peak_rss_mib = usage.ru_maxrss / 1024
        result.tree_rss_mib = peak_kib / 1024
        if result.status == "ok" and proc.returncode != 0:
            result.status = f"exit {proc.returncode}"
        for line in out_path.read_text(errors="replace").splitlines():
            if line.startswith(_MARK):
                data = json.loads(line[len(_MARK):])
                result.records_read = data["records_read"]
                result.rows_written = data["rows_written"]
                result.run_s = data["run_s"]
    return result


def _fmt(x: float | int | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[Result], labels: dict[str, str]) -> None:
    head = (f"{'pipeline':<11} {'input':<6} {'status':<8} {'read':>8} {'written':>8} "
            f"{'wall s':>8} {'run s':>8} {'CPU s':>8} {'docs/s':>7} {'RSS MiB':>8} "
            f"{'tree MiB':>8}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.pipeline:<11} {labels[r.input]:<6} {r.status:<8} "
              f"{_fmt(r.records_read, ',d'):>8} {_fmt(r.rows_written, ',d'):>8} "
              f"{r.wall_s:>8.1f} {_fmt(r.run_s, '.1f'):>8} {r.cpu_s:>8.1f} "
              f"{_fmt(r.docs_per_s, ',.0f'):>7} {r.peak_rss_mib:>8,.0f} {r.tree_rss_mib:>8,.0f}")


def print_ratios(results: list[Result], big: str | None, small: str | None) -> None:
    by = {(r.pipeline, r.input): r for r in results}
    for pipeline in dict.fromkeys(r.pipeline for r in results):
        b, s = by.get((pipeline, big)), by.get((pipeline, small))
        if not (b and s):
            continue
        ratio = b.peak_mib / s.peak_mib if s.peak_mib else float("nan")
        ok = b.status == "ok" and b.peak_mib <= TARGET_PEAK_GIB * 1024 and ratio <= TARGET_RATIO
        print(f"{pipeline}: peak RSS big/slice {ratio:.2f}x ({b.peak_mib:,.0f} / "
              f"{s.peak_mib:,.0f} MiB; big run {b.status}); target <= {TARGET_PEAK_GIB:g} GiB "
              f"and <= {TARGET_RATIO:g}x: {'met' if ok else 'not met'}")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        return _child(*sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warc", default=None, help="the big crawl (.warc.gz)")
    parser.add_argument("--slice", default=None, help="its 1/20 slice")
    parser.add_argument("--pipelines", default="fineweb,refinedweb",
                        help="comma-separated names in pipelines/ or .sql paths")
    parser.add_argument("--runner", default="native", choices=["native", "ray"])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--rss-cap-gb", type=float, default=12.0,
                        help="kill a run whose process tree passes this RSS")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    inputs = [p for p in (args.slice, args.warc) if p]
    if not inputs:
        parser.error("give --slice and/or --warc")
    for p in inputs:
        if not Path(p).is_file():
            parser.error(f"no such file: {p}")
    sqls = [Path(p) if p.endswith(".sql") else ROOT / "pipelines" / f"{p}.sql"
            for p in args.pipelines.split(",")]
    labels = {args.slice: "slice", args.warc: "big"}
    for p in inputs:
        print(f"{labels[p]:<6} {p} ({Path(p).stat().st_size / 2**30:.2f} GiB)")
    print(f"runner {args.runner}, {os.cpu_count()} cores, RSS cap {args.rss_cap_gb:g} GB, "
          f"timeout {args.timeout:g} s\n")
    results = []
    for sql in sqls:
        for warc in inputs:
            r = run_one(sql, warc, args.runner, args.timeout, args.rss_cap_gb)
            print(f"  {sql.stem} on {labels[warc]}: {r.status}, {r.wall_s:.0f} s, "
                  f"{r.peak_mib:,.0f} MiB", flush=True)
            results.append(r)
    print()
    print_table(results, labels)
    print()
    print_ratios(results, args.warc, args.slice)
    if args.json:
        rows = [{**asdict(r), "docs_per_s": r.docs_per_s, "label": labels[r.input]}
                for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
