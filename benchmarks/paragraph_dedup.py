"""paragraph_dedup's stage at scale: wall time and peak RSS of `paragraph_dedup_files` on spilled
rows, at several document counts.

Generates N documents of `--paragraphs` paragraphs of 99 random lowercase characters and
spaces (numpy, a row group at a time, written as a stage spills: `__node`, `__key`,
`__text`); a `--boilerplate` share of the paragraphs is drawn from a pool of 1,000 shared
ones, so they repeat across documents as boilerplate does. Then a fresh process runs the
stage's computation on the spill and prints its wall time, peak RSS, and what it found; the
expected duplicate count (every boilerplate occurrence after the first of its paragraph) is
printed beside it. With memory bounded by one bucket, peak RSS grows with the node column
(8 + 4 bytes a document), not with the text.

    python benchmarks/paragraph_dedup.py --docs 500000 2000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WIDTH = 100  # 99 characters and a newline per paragraph
GROUP = 20_000  # documents per row group

CHILD = """
import json, resource, sys, time
from pathlib import Path
from mdfql import threads
from mdfql.dedup.paragraphs import paragraph_dedup_files
import pyarrow.compute as pc
import pyarrow.parquet as pq
threads.ensure()
files = sorted(str(p) for p in Path(sys.argv[1]).glob("*.parquet"))
start = time.perf_counter()
out = paragraph_dedup_files(files, Path(sys.argv[2]), node="__node", key="__key", text="__text")
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
docs = sum(pq.ParquetFile(p).metadata.num_rows for p in out)
spans = sum(pc.sum(pc.list_value_length(pq.read_table(p).column(1))).as_py() or 0 for p in out)
print(json.dumps({"wall_s": wall, "peak_rss_mb": peak, "docs_with_duplicates": docs,
                  "duplicate_spans": spans}))
"""


def generate(directory: Path, docs: int, paragraphs: int, boilerplate: float,
             seed: int) -> int:
    """Write the spill; returns the number of duplicate occurrences it holds."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz    ", np.uint8)
    pool = alphabet[rng.integers(0, len(alphabet), (1000, WIDTH))]
    pool[:, 0] = ord("b")  # no paragraph blank after strip
    used = np.zeros(len(pool), np.int64)
    directory.mkdir(parents=True)
    writer = None
    for start in range(0, docs, GROUP):
        n = min(GROUP, docs - start)
        chars = alphabet[rng.integers(0, len(alphabet), (n, paragraphs, WIDTH))]
        chars[:, :, 0] = ord("u")
        shared = rng.random((n, paragraphs)) < boilerplate
        picks = rng.integers(0, len(pool), int(shared.sum()))
        chars[shared] = pool[picks]
        used += np.bincount(picks, minlength=len(pool))
        chars[:, :, -1] = ord("\n")
        data = pa.py_buffer(chars.tobytes())
        offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * paragraphs * WIDTH).tobytes())
        table = pa.table({
            "__node": pa.array(rng.permutation(n).astype(np.uint64) + np.uint64(start << 8)),
            "__key": pa.array(rng.integers(0, 1 << 30, n)),
            "__text": pa.Array.from_buffers(pa.string(), n, [None, offsets, data])})
        if writer is None:
            writer = pq.ParquetWriter(str(directory / "part-0.parquet"), table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return int(np.maximum(used - 1, 0).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--paragraphs", type=int, default=10)
    parser.add_argument("--boilerplate", type=float, default=0.3)
    args = parser.parse_args()
    for docs in args.docs:
        with tempfile.TemporaryDirectory() as tmp:
            spill = Path(tmp) / "spill"
            expected = generate(spill, docs, args.paragraphs, args.boilerplate, seed=docs)
            text_mb = docs * args.paragraphs * WIDTH / 2**20
            run = subprocess.run([sys.executable, "-c", CHILD, str(spill), str(Path(tmp) / "out")],
                                 capture_output=True, text=True, check=True)
            got = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{docs:>10,} docs  {text_mb:>8,.0f} MB text  wall {got['wall_s']:6.1f} s  "
                  f"peak RSS {got['peak_rss_mb']:7,.0f} MB  duplicates {got['duplicate_spans']:,} "
                  f"(expected {expected:,}) in {got['docs_with_duplicates']:,} docs", flush=True)


if __name__ == "__main__":
    main()
