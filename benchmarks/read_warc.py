"""read_warc benchmark: mdfql's streaming reader (HTTP parsing + charset decoding included) vs
bare `daft.read_warc` on the same .warc.gz.

Each side runs in its own subprocess (through a wrapper that reports the child's resources):
  (a) mdfql: `COPY (SELECT url, status, length(html) AS n FROM read_warc(path)) TO dir`
  (b) daft:  `daft.read_warc(path)` selecting `WARC-Target-URI`, `length(warc_content)`,
      written to Parquet.
Prints wall seconds, CPU seconds (user + system, all threads) and peak RSS of each, and the
speed ratio. Without `--warc`, a file of `--pages` responses (real pages of
../shared/data/extraction-eval, each under its own URL, with a request record each, gzip per
record as Common Crawl writes them) is generated first.

    python benchmarks/read_warc.py [--warc PATH] [--pages N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction-eval"

ENV = {"DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0", "RAY_AUTH_MODE": "disabled"}

MDFQL_JOB = """
import sys, mdfql.cli
sys.exit(mdfql.cli.main(["run", sys.argv[1]]))
"""

DAFT_JOB = """
import sys, daft
from daft import col
df = daft.read_warc(sys.argv[1]).select(
    col("WARC-Target-URI").alias("url"), col("warc_content").length().alias("n"))
df.write_parquet(sys.argv[2])
"""


def generate(path: Path, pages: int) -> None:
    """A .warc.gz of `pages` responses (and their requests) built from real pages."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    bodies = [gzip.decompress(p.read_bytes()) for p in sorted((EVAL / "html").glob("*.gz"))]
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for i in range(pages):
            body = bodies[i % len(bodies)]
            url = f"http://site{i % 997}.test/page/{i}"
            request = StatusAndHeaders(
                f"GET /page/{i} HTTP/1.1", [("Host", "x")], is_http_request=True)
            writer.write_record(writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""), http_headers=request))
            headers = StatusAndHeaders("200 OK", [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers))


def measure(argv: list[str]) -> dict:
    """Run `argv` as a child; its wall time, CPU time and peak RSS."""
    import os

    start = time.perf_counter()
    proc = subprocess.run(argv, env={**os.environ, **ENV}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{argv} failed:\n{proc.stdout}\n{proc.stderr}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--warc", type=Path, help="an existing .warc.gz (default: generate one)")
    ap.add_argument("--pages", type=int, default=20_000, help="responses of a generated file")
    ap.add_argument("--measure", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:  # wrapper mode: one fresh process per measurement, so RSS is its own
        print(json.dumps(measure(args.measure)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        warc = args.warc
        if warc is None:
            warc = tmp_dir / "bench.warc.gz"
            start = time.perf_counter()
            generate(warc, args.pages)
            took = time.perf_counter() - start
            print(f"generated {warc.name} ({args.pages} pages) in {took:.0f} s")
        warc = warc.resolve()
        pipeline = tmp_dir / "bench.sql"
        pipeline.write_text(
            f"COPY (SELECT url, status, length(html) AS n FROM read_warc('{warc}')) "
            f"TO '{tmp_dir / 'out_mdfql'}' (FORMAT parquet);\n"
        )
        jobs = {
            "mdfql read_warc": [sys.executable, "-c", MDFQL_JOB, str(pipeline)],
            "daft.read_warc": [
                sys.executable, "-c", DAFT_JOB, str(warc), str(tmp_dir / "out_daft")],
        }
        results = {}
        for name, job in jobs.items():
            out = subprocess.run(
                [sys.executable, __file__, "--measure", *job],
                capture_output=True, text=True, check=True,
            )
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])

        import pyarrow.parquet as pq

        rows = {
            "mdfql read_warc": pq.read_table(tmp_dir / "out_mdfql").num_rows,
            "daft.read_warc": pq.read_table(tmp_dir / "out_daft").num_rows,
        }
        size_mb = warc.stat().st_size / 1e6
        print(f"file: {warc} ({size_mb:,.0f} MB)")
        print(f"{'':18} {'rows':>9} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
        for name, r in results.items():
            print(f"{name:18} {rows[name]:>9,} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} "
                  f"{r['rss_mb']:>12,.0f}")
        ratio = results["daft.read_warc"]["wall_s"] / results["mdfql read_warc"]["wall_s"]
        print(f"mdfql speed / daft.read_warc speed (wall): {ratio:.2f}x  "
              f"(daft counts every record; mdfql only HTTP responses)")


if __name__ == "__main__":
    main()
