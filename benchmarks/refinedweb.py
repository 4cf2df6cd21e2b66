"""Run pipelines/refinedweb.sql on the bundled sample (or a WARC you name) and print docs/s,
wall time and peak memory. Not a test: it prints figures.

    python benchmarks/refinedweb.py [--records 2000] [--warc path.warc.gz] [--runner native]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--warc", default=None)
    parser.add_argument("--runner", default="native", choices=["native", "ray"])
    args = parser.parse_args()

    from mdfql import Session
    from mdfql.demo.sample import write_sample

    with tempfile.TemporaryDirectory() as tmp:
        warc = args.warc
        if warc is None:
            warc = str(Path(tmp) / "sample.warc.gz")
            write_sample(warc, n_records=args.records)
        os.environ["MDFQL_WAREHOUSE"] = str(Path(tmp) / "warehouse")
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = Session().run_file(ROOT / "pipelines" / "refinedweb.sql",
                                     params={"input": warc}, runner=args.runner)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"input            {warc if args.warc else f'generated sample, {args.records} records'}")
    print(f"records read     {summary.rows_read:,}")
    print(f"rows written     {summary.rows_written:,}")
    for step in summary.steps:
        print(f"  {step.name[:60]:<60} {step.rows_in:>7,} -> {step.rows_out:>7,}")
    print(f"wall time        {wall:.2f} s (cores: {os.cpu_count()})")
    print(f"CPU time         {cpu:.2f} s (this process)")
    print(f"docs/s           {summary.rows_read / wall:,.0f}")
    print(f"docs/CPU-second  {summary.rows_read / cpu:,.0f}")
    print(f"peak RSS         {peak_mib:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
