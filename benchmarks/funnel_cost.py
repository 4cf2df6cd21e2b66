"""What the funnel's counters and rejects cost: a pipeline's wall time with the default counters
(Daft's operator stats), in detail (`SET funnel = 'detail'`: the batch UDF, signal samples and
examples), off (`SET funnel = false`) and with rejects (`SET rejects = ...`), the variants
alternating, each run in a fresh process and a fresh warehouse; the order rotates each repeat,
because a run right after one that wrote more (rejects) is measurably slower; also the process's
CPU time (user + system), steadier than wall time on a shared machine. Not a test: it prints
figures.

    python benchmarks/funnel_cost.py pipelines/fineweb.sql --warc /work/data/crawl-slice.warc.gz
        [--repeats 3] [--variants counts,off]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = {"counts": "", "detail": "SET funnel = 'detail';\n", "off": "SET funnel = false;\n",
            "rejects": "SET rejects = 'curated.rejects';\n"}

_CHILD = """
import json, os, resource, sys, time
from mdfql import Session
text = sys.argv[1]
start = time.perf_counter()
cpu = resource.getrusage(resource.RUSAGE_SELF)
summary = Session().run(text, {"input": sys.argv[2]})
end = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "cpu_s": end.ru_utime + end.ru_stime - cpu.ru_utime - cpu.ru_stime,
                  "steps": len(summary.funnel.steps),
                  "written": [[w.ident, w.rows_written] for w in summary.writes]}))
"""


def run_once(text: str, warc: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MDFQL_WAREHOUSE": str(Path(tmp) / "warehouse"),
               "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0"}
        done = subprocess.run([sys.executable, "-c", _CHILD, text, warc], env=env, cwd=tmp,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline")
    parser.add_argument("--warc", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of " + ", ".join(VARIANTS))
    args = parser.parse_args()
    text = Path(args.pipeline).read_text()
    chosen = {k: VARIANTS[k] for k in args.variants.split(",")} | {"off": VARIANTS["off"]}
    walls: dict[str, list[float]] = {k: [] for k in chosen}
    cpus: dict[str, list[float]] = {k: [] for k in chosen}
    names = list(chosen)
    for i in range(args.repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            result = run_once(chosen[name] + text, os.path.abspath(args.warc))
            walls[name].append(result["wall_s"])
            cpus[name].append(result["cpu_s"])
            print(f"repeat {i + 1} {name:8s} {result['wall_s']:7.2f} s wall "
                  f"{result['cpu_s']:7.2f} s CPU  "
                  f"steps {result['steps']}  written {result['written']}", flush=True)
    for what, table in (("wall", walls), ("CPU", cpus)):
        for name, values in table.items():
            print(f"{what:4s} {name:8s} min {min(values):7.2f} s  "
                  f"median {statistics.median(values):7.2f} s  "
                  f"all {', '.join(f'{v:.2f}' for v in values)}")
        base = min(table["off"])
        for name in [k for k in table if k != "off"]:
            median = statistics.median(table[name]) / statistics.median(table["off"])
            print(f"{what} {name} vs off: {100 * (min(table[name]) / base - 1):+.1f}% "
                  f"(min of repeats), {100 * (median - 1):+.1f}% (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
