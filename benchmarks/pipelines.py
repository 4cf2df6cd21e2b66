"""Every pipeline of pipelines/ on the bundled sample: wall time, documents read per second and
the peak RSS of the process that ran it. Not a test: it prints figures.

    python benchmarks/pipelines.py [--only fineweb,dclm] [--records N]

`mdfql sample` writes the sample (WARC, image-text Parquet, demo models) into a scratch folder,
and each pipeline runs there with its default parameters, in a fresh process (so the peak RSS
is that pipeline's alone), into one scratch warehouse: pipelines that read another's table
(fineweb_edu.sql reads curated.fineweb) run after it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Pipelines that read a table another one writes, after it
AFTER = {"fineweb_edu": "fineweb"}

_CHILD = """
import json, resource, sys
from mdfql import Session
summary = Session().run_file(sys.argv[1])
print(json.dumps({"wall_s": summary.wall_s, "rows_read": summary.rows_read,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "written": [[w.ident, w.rows_written] for w in summary.writes]}))
"""


def ordered(names: list[str]) -> list[str]:
    """`names` with each pipeline after the one whose table it reads."""
    out: list[str] = []
    for name in names:
        before = AFTER.get(name)
        if before and before not in out:
            out.append(before)
        if name not in out:
            out.append(name)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=None, help="comma list of pipeline names")
    parser.add_argument("--records", type=int, default=None, help="sample records (default: "
                        "the bundled sample's)")
    args = parser.parse_args()
    names = sorted(p.stem for p in (ROOT / "pipelines").glob("*.sql"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    env = {**os.environ, "DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp:
        env["MDFQL_WAREHOUSE"] = str(Path(tmp) / "warehouse")
        sample = [sys.executable, "-m", "mdfql.cli", "sample"]
        if args.records:
            sample += ["--records", str(args.records)]
        subprocess.run(sample, cwd=tmp, env=env, check=True, capture_output=True)
        print(f"{'pipeline':<14} {'wall s':>7} {'docs read':>9} {'docs/s':>8} {'peak MiB':>9}"
              "  tables written (rows)")
        for name in ordered(names):
            done = subprocess.run([sys.executable, "-c", _CHILD,
                                   str(ROOT / "pipelines" / f"{name}.sql")],
                                  cwd=tmp, env=env, capture_output=True, text=True)
            lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
            if done.returncode or not lines:
                print(f"{name:<14} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(lines[-1])
            rate = r["rows_read"] / r["wall_s"] if r["wall_s"] else 0.0
            tables = ", ".join(f"{t} ({n:,})" for t, n in r["written"])
            print(f"{name:<14} {r['wall_s']:7.2f} {r['rows_read']:9,} {rate:8,.0f} "
                  f"{r['peak_rss_mib']:9,.0f}  {tables}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
