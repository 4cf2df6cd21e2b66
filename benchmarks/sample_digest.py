"""Run a pipeline on a WARC (default: the bundled sample) into a fresh warehouse and print the
table's row count and a digest of its sorted rows: two builds that print the same digest wrote
the same table. Not a test: it prints figures.

    python benchmarks/sample_digest.py pipelines/fineweb.sql curated.fineweb [--warc PATH]
        [--runner ray --ray-address HOST:PORT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline")
    parser.add_argument("table")
    parser.add_argument("--warc", default="sample/sample.warc.gz")
    parser.add_argument("--runner", default="native", choices=["native", "ray"])
    parser.add_argument("--ray-address", default=None, help="a running Ray cluster")
    args = parser.parse_args()

    from mdfql import Session

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MDFQL_WAREHOUSE"] = str(Path(tmp) / "warehouse")
        session = Session()
        summary = session.run_file(args.pipeline, params={"input": os.path.abspath(args.warc)},
                                   runner=args.runner, ray_address=args.ray_address)
        rows = session.sql(f"SELECT * FROM {args.table}").to_pylist()
    canon = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    digest = hashlib.sha256("\n".join(canon).encode()).hexdigest()[:16]
    print(f"{args.table} ({args.runner}): {len(rows):,} rows, digest {digest}, "
          f"run {summary.wall_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
