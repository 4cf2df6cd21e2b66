"""edu_score on the CPU vs the plain transformers loop, same weights, same texts.

The plain loop is the FineWeb-Edu classifier's model card run over batches: per batch of
texts in their order, `tokenizer(batch, return_tensors="pt", padding="longest",
truncation=True)` then `model(**inputs).logits.squeeze(-1)` (under torch.inference_mode, as
mdfql runs it). mdfql runs `SELECT edu_score(text, ...)` on Daft's native runner: a batch of
8 x batch_size texts is tokenized once, sorted by token count and cut into forward passes of
batch_size texts of similar lengths, so short texts are not padded to 512 tokens.

The model is a randomly initialised BertForSequenceClassification of the classifier's kind
(1 regression output, 512 positions) at a size that makes the forward pass dominate as it
does for the real 110M-parameter model: 4 layers, hidden 256, 4 heads, a WordPiece
vocabulary trained on the texts. The texts are the main text of the 300 real pages of
../shared/data/extraction-eval (many languages, a line to many thousand tokens), repeated
`--repeat` times. Both warm up first (model loads excluded) and run `--rounds` times,
alternating (the best of each is shown: shared machines are noisy); it prints docs/s (wall
and per CPU-second), the tokens each runs through the model, and checks the scores agree
(max |difference| <= 1e-4).

    python benchmarks/edu_score_cpu.py [--repeat N] [--batch N] [--layers N] [--hidden N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction-eval"


def page_texts(folder: Path = SHARED) -> list[str]:
    """The extracted main text of every page of the shared extraction set (non-empty)."""
    import pyarrow as pa

    from mdfql import _native

    if not folder.is_dir():
        raise SystemExit(f"needs the shared pages at {folder}")
    cases = [json.loads(line) for line in (folder / "cases.jsonl").read_text().splitlines()]
    html = [gzip.decompress((folder / c["file"]).read_bytes()).decode("utf-8", "replace")
            for c in cases]
    rows = _native.extract_text(pa.array(html, pa.large_utf8())).to_pylist()
    return [r["text"] for r in rows if r["text"]]


def plain_loop(model, tokenizer, texts: list[str], batch: int) -> np.ndarray:
    """The model card's call per batch of texts, in their order."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            inputs = tokenizer(texts[i:i + batch], return_tensors="pt", padding="longest",
                               truncation=True)
            out.append(model(**inputs).logits.squeeze(-1).float().numpy())
    return np.concatenate(out)


def mdfql_scores(folder: str, texts: list[str], batch: int) -> np.ndarray:
    import daft

    import mdfql

    df = daft.from_pydict({"text": texts})
    out = mdfql.sql(f"SELECT edu_score(text, model := '{folder}', device := 'cpu', "
                    f"batch_size := {batch}).score AS s FROM t", t=df).to_arrow()
    return out.column("s").to_numpy()


def timed(fn, *args) -> tuple[np.ndarray, float, float]:
    """fn's result, wall seconds and CPU seconds of this process (all its threads)."""
    import resource

    def cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_utime + use.ru_stime

    wall, used = time.perf_counter(), cpu()
    result = fn(*args)
    return result, time.perf_counter() - wall, cpu() - used


def padded_tokens(lengths: np.ndarray, batch: int, window: int) -> int:
    """Tokens the forward passes run (padding included) for texts of `lengths` in batches of
    `batch`, each window of `window` batches sorted by length first (window 1: unsorted)."""
    total = 0
    for start in range(0, len(lengths), batch * window):
        part = lengths[start:start + batch * window]
        part = np.sort(part) if window > 1 else part
        total += sum(int(part[i:i + batch].max()) * len(part[i:i + batch])
                     for i in range(0, len(part), batch))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="times the 300 pages are scored")
    ap.add_argument("--batch", type=int, default=32, help="texts per forward pass")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--init", type=float, default=0.1, help="weight standard deviation")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs of each, alternating")
    args = ap.parse_args()
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    import torch

    from mdfql.demo.weights import write_edu
    from mdfql.functions.models import SORT_WINDOW

    pages = page_texts()
    texts = pages * args.repeat
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as folder:
        edu = write_edu(folder, pages, vocab_size=8000, hidden=args.hidden,
                        layers=args.layers, heads=4, seed=0, init=args.init)
        lengths = np.array([len(ids) for ids in
                            edu.tokenizer(texts, truncation=True)["input_ids"]])
        plain_loop(edu.model, edu.tokenizer, texts[: args.batch], args.batch)  # warm-up
        mdfql_scores(folder, texts[: args.batch], args.batch)  # loads the model
        for _ in range(args.rounds):  # alternating, so a busy spell hits both alike
            ref, *t_plain = timed(plain_loop, edu.model, edu.tokenizer, texts, args.batch)
            got, *t_mdfql = timed(mdfql_scores, folder, texts, args.batch)
            plain.append(t_plain)
            ours.append(t_mdfql)
    diff = float(np.abs(got - ref).max())
    params = sum(p.numel() for p in edu.model.parameters()) / 1e6
    n = len(texts)
    print(f"BERT {args.layers} layers x {args.hidden} ({params:.1f}M parameters), {n} texts "
          f"({len(pages)} real pages x {args.repeat}; tokens after truncation: median "
          f"{int(np.median(lengths))}, {np.mean(lengths >= 512):.0%} at 512), batch "
          f"{args.batch}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"best of {args.rounds} rounds")
    run_plain = padded_tokens(lengths, args.batch, 1)
    run_ours = padded_tokens(lengths, args.batch, SORT_WINDOW)
    print(f"tokens through the model (padding included): plain {run_plain:,}, mdfql "
          f"{run_ours:,} ({run_plain / run_ours:.2f}x fewer; {lengths.sum():,} unpadded)")
    for name, runs in (("plain transformers loop", plain), ("mdfql edu_score", ours)):
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"{name + ':':24} {n / wall:6.1f} docs/s wall ({wall:.2f} s), "
              f"{n / cpu:6.1f} docs per CPU-second")
    best_plain, best_ours = min(r[0] for r in plain), min(r[0] for r in ours)
    cpu_plain, cpu_ours = min(r[1] for r in plain), min(r[1] for r in ours)
    print(f"speedup {best_plain / best_ours:.2f}x wall, {cpu_plain / cpu_ours:.2f}x CPU; "
          f"max |score difference| {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("scores differ by more than 1e-4")


if __name__ == "__main__":
    main()
