"""edu_score on the CPU vs the plain transformers loop, same weights, same texts.

The plain loop is the FineWeb-Edu classifier's model card run over batches: per batch of
texts in their order, `tokenizer(batch, return_tensors="pt", padding="longest",
truncation=True)` then `model(**inputs).logits.squeeze(-1)` (under torch.inference_mode, as
mdfql runs it). mdfql runs `SELECT edu_score(text, ...)` on Daft's native runner: a batch of
4 x batch_size texts is tokenized once, sorted by token count and cut into forward passes of
batch_size texts of similar lengths, so short texts are not padded to 512 tokens.

The model is a randomly initialised BertForSequenceClassification of the classifier's kind
(1 regression output, 512 positions) at a size that makes the forward pass dominate as it
does for the real 110M-parameter model: 4 layers, hidden 256, 4 heads, a WordPiece
vocabulary trained on the texts. The texts are the main text of the 300 real pages of
../shared/data/extraction-eval (many languages, a line to many thousand tokens), repeated
`--repeat` times. Both warm up first (model loads excluded), print docs/s and check the
scores agree (max |difference| <= 1e-4).

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


def timed(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="times the 300 pages are scored")
    ap.add_argument("--batch", type=int, default=32, help="texts per forward pass")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--init", type=float, default=0.1, help="weight standard deviation")
    args = ap.parse_args()
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")
    import torch

    from mdfql.demo.weights import write_edu

    pages = page_texts()
    texts = pages * args.repeat
    with tempfile.TemporaryDirectory() as folder:
        edu = write_edu(folder, pages, vocab_size=8000, hidden=args.hidden,
                        layers=args.layers, heads=4, seed=0, init=args.init)
        tokens = [len(ids) for ids in edu.tokenizer(pages, truncation=True)["input_ids"]]
        plain_loop(edu.model, edu.tokenizer, texts[: args.batch], args.batch)  # warm-up
        mdfql_scores(folder, texts[: args.batch], args.batch)  # loads the model
        ref, t_plain = timed(plain_loop, edu.model, edu.tokenizer, texts, args.batch)
        got, t_mdfql = timed(mdfql_scores, folder, texts, args.batch)
    diff = float(np.abs(got - ref).max())
    params = sum(p.numel() for p in edu.model.parameters()) / 1e6
    print(f"BERT {args.layers} layers x {args.hidden} ({params:.1f}M parameters), "
          f"{len(texts)} texts ({len(pages)} real pages x {args.repeat}; tokens after "
          f"truncation: median {int(np.median(tokens))}, {np.mean(np.array(tokens) >= 512):.0%}"
          f" at 512), batch {args.batch}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}")
    print(f"plain transformers loop: {len(texts) / t_plain:8.1f} docs/s ({t_plain:.2f} s)")
    print(f"mdfql edu_score:         {len(texts) / t_mdfql:8.1f} docs/s ({t_mdfql:.2f} s)")
    print(f"speedup {t_plain / t_mdfql:.2f}x; max |score difference| {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("scores differ by more than 1e-4")


if __name__ == "__main__":
    main()
