"""fasttext_predict vs the fastText package's predict on a word-bigram classifier (DCLM's kind of
model), in documents per CPU-second. Not a test: it prints figures.

    python benchmarks/fasttext_classify.py [--docs 20000] [--dim 100] [--bucket 200000]

The model (softmax, wordNgrams 2, no char n-grams) is trained by the fastText package on real
pages (../shared/data/extraction-eval, else the bundled sample), labelled by language. Both
sides label the same documents, top-1: the package's `predict(text)` per document on the text
already joined into one line (its own cost of joining is left out), timed in its child process
(tests/fasttext_reference.py); mdfql's kernel (`FastText.predict_top`, what fasttext_predict
runs per batch of 64 rows) in this process, with the kernel pool as sized here and with one
thread (a pool's idle threads spin a little between batches). CPU time is process_time: all
threads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from fasttext_reference import run_jobs  # noqa: E402

from mdfql import _native  # noqa: E402
from mdfql.functions.kernels import BATCH_SIZE, fasttext_model, lid_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "extraction-eval"


def page_texts(work: Path) -> tuple[list[str], str]:
    """Extracted texts of the real evaluation pages, else of the generated sample."""
    if SHARED.is_dir():
        from mdfql.eval.extraction import load_cases

        html = pa.array([c.html for c in load_cases(SHARED)], pa.large_utf8())
        texts = _native.extract_text(html).field("text").to_pylist()
        return [t for t in texts if t], f"{len(html)} pages of {SHARED}"
    import mdfql
    from mdfql.demo.sample import write_sample

    warc = work / "sample.warc.gz"
    write_sample(warc, n_records=2000)
    rows = mdfql.sql(f"SELECT extract_text(html, url) AS text FROM read_warc('{warc}') "
                     "WHERE status = 200").to_pylist()
    return [r["text"] for r in rows if r["text"]], "the generated sample"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--bucket", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pages, source = page_texts(work)
        langs = [r["lang"] for r in lid_model().predict(pa.array(pages)).to_pylist()]
        with open(work / "train.txt", "w", encoding="utf-8") as f:
            for lang, text in zip(langs, pages):
                for line in filter(str.strip, text.splitlines()):
                    f.write(f"__label__{lang} {line}\n")
        docs = (pages * (a.docs // len(pages) + 1))[: a.docs]
        one_line = [t.replace("\n", " ") for t in docs]
        args = {"loss": "softmax", "wordNgrams": 2, "minn": 0, "maxn": 0, "dim": a.dim,
                "bucket": a.bucket, "epoch": 5, "lr": 0.5, "thread": 2}
        results = run_jobs({"train": [{"name": "bigram", "input": str(work / "train.txt"),
                                       "args": args}]}, work)
        path = results["models"]["bigram"]["path"]
        reference = run_jobs({"time": {"model": path, "texts": one_line, "k": 1,
                                       "repeat": a.repeat}}, work)
        theirs_cpu = reference["cpu_seconds"]

        model = fasttext_model(path)
        batches = [pa.array(docs[i:i + BATCH_SIZE], pa.large_utf8())
                   for i in range(0, len(docs), BATCH_SIZE)]
        ours = {}
        for threads in sorted({_native.current_threads(), 1}, reverse=True):
            _native.set_threads(threads)
            cpu = wall = float("inf")
            for _ in range(a.repeat):
                start, start_wall = time.process_time(), time.perf_counter()
                for b in batches:
                    model.predict_top(b, 1, 0.0)
                cpu = min(cpu, time.process_time() - start)
                wall = min(wall, time.perf_counter() - start_wall)
            ours[threads] = (len(docs) / cpu, len(docs) / wall)

    theirs = len(docs) / theirs_cpu
    mean_words = sum(len(t.split()) for t in pages) / len(pages)
    print(f"{len(docs)} documents (from {source}; {mean_words:.0f} words on average), model "
          f"{model!r}, {len(results['models']['bigram']['labels'])} labels")
    print(f"fastText package predict ({reference['fasttext']}): {theirs:,.0f} docs/CPU-s")
    for threads, (cpu_rate, wall_rate) in ours.items():
        print(f"mdfql fasttext_predict kernel, {threads} kernel thread(s): {cpu_rate:,.0f} "
              f"docs/CPU-s ({wall_rate:,.0f} docs/s wall), ratio {cpu_rate / theirs:.2f}x")


if __name__ == "__main__":
    main()
