"""Kill a pipeline run at 30%, 60% and 90% of an uninterrupted run's wall, finish it with
`mdfql run --resume`, and print whether the table is the uninterrupted run's and how long the
resume took. Not a test: it prints figures (compare within one run: the machine is shared).

    python benchmarks/resume.py [--warc /work/data/crawl-slice.warc.gz] [--parts 12]
        [--pipeline pipelines/fineweb.sql] [--table curated.fineweb]
        [--baseline-python /path/to/other/python]

The WARC is split at record boundaries into `--parts` files (a multi-file crawl). Walls are
whole processes (start-up included), as a user waits for them. `--baseline-python` also times
an uninterrupted run with another interpreter's mdfql (e.g. main's, which runs stages whole:
the cost of running per file group).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")


def digest(where: Path, ident: str) -> tuple[str, int, int]:
    """(digest of the sorted rows, rows, snapshots) of table `ident` in `where`'s warehouse."""
    from pyiceberg.catalog.sql import SqlCatalog

    warehouse = where / "warehouse"
    catalog = SqlCatalog("mdfql", uri=f"sqlite:///{warehouse}/catalog.db",
                         warehouse=f"file://{warehouse}")
    table = catalog.load_table(ident)
    rows = sorted(json.dumps(r, sort_keys=True, default=str)
                  for r in table.scan().to_arrow().to_pylist())
    return (hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16], len(rows),
            len(table.metadata.snapshots))


def command(python: str, pipeline: str, crawl: Path, *extra: str) -> list[str]:
    return [python, "-m", "mdfql.cli", "run", pipeline, "--param", f"input={crawl}/*.warc.gz",
            *extra]


def timed(cmd: list[str], where: Path, kill_after: float | None = None) -> tuple[int, float]:
    """Run `cmd` in `where`: (exit status, wall seconds); SIGKILLed after `kill_after` s."""
    where.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDFQL_")}
    start = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=where, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        status = process.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        status = process.wait()
    return status, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warc", default="/work/data/crawl-slice.warc.gz")
    parser.add_argument("--parts", type=int, default=12)
    parser.add_argument("--pipeline", default="pipelines/fineweb.sql")
    parser.add_argument("--table", default="curated.fineweb")
    parser.add_argument("--baseline-python", default=None)
    parser.add_argument("--at", default="0.3,0.6,0.9", help="kill moments, fractions of wall")
    args = parser.parse_args()

    from mdfql.demo.split import split_warc

    pipeline = str(Path(args.pipeline).resolve())
    with tempfile.TemporaryDirectory(prefix="mdfql-resume-") as tmp:
        root = Path(tmp)
        crawl = root / "crawl"
        split_warc(args.warc, args.parts, crawl)
        print(f"{args.warc} split into {args.parts} files; {args.pipeline} -> {args.table}")
        if args.baseline_python:
            status, wall = timed(command(args.baseline_python, pipeline, crawl), root / "base")
            print(f"baseline ({args.baseline_python}): exit {status}, {wall:.1f} s, table "
                  f"{digest(root / 'base', args.table)}")
        status, wall = timed(command(sys.executable, pipeline, crawl), root / "whole")
        reference = digest(root / "whole", args.table)
        print(f"uninterrupted: exit {status}, {wall:.1f} s, table {reference}")
        for fraction in (float(f) for f in args.at.split(",")):
            where = root / f"kill-{fraction}"
            killed, _ = timed(command(sys.executable, pipeline, crawl), where,
                              kill_after=fraction * wall)
            status, resumed = timed(command(sys.executable, pipeline, crawl, "--resume"), where)
            table = digest(where, args.table)
            print(f"killed at {fraction:.0%} ({fraction * wall:.1f} s, exit {killed}); resume: "
                  f"exit {status}, {resumed:.1f} s = {resumed / wall:.0%} of uninterrupted; "
                  f"table {table} {'same' if table == reference else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
