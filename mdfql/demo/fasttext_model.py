"""A demo fastText quality classifier of DCLM's kind, written without fastText's trainer.

DCLM's classifier is a supervised fastText model (labels `__label__hq` / `__label__cc`, word
unigrams and bigrams, softmax). `write_fasttext_model` writes any such model's `.bin` file
(fastText 0.9.2's format, version 12, not quantized; native/src/fasttext/model.rs documents the
layout), and `write_demo_classifier` fills one with naive-Bayes weights from the bundled
sample's phrases, so pipelines/dclm.sql runs offline and its classifier step keeps clean prose
and drops page chrome. No training, no torch: it is deterministic and instant.

The weights: word `w` gets `llr(w) = log P(w | hq) - log P(w | cc)` (add-one smoothed counts of
whitespace tokens, as fastText splits words) in dimension 0 and 1.0 in dimension 1, as does
every word-bigram bucket row (0.0 in dimension 0: bigrams carry no evidence here). fastText
averages the rows of a text's words and bigrams, so the hidden vector is (mean llr, 1.0), and
the output rows `±(scale, bias) / 2` make `P(hq) = sigmoid(scale * mean_llr + bias)`.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

MAGIC = 793_712_314
VERSION = 12
SUPERVISED = 3  # fastText's model_name::sup
LOSSES = {"hs": 1, "ns": 2, "softmax": 3, "ova": 4}
LABELS = ("__label__hq", "__label__cc")
# A small bigram hash table: the rows are written out (bucket x dim f32), and a real model's
# 2,000,000 would make the demo file 16 MB of identical rows.
DEMO_BUCKET = 4096
# P(hq) = sigmoid(DEMO_SCALE * mean_llr + DEMO_BIAS). The sample's pages reaching the
# classifier have mean llr 0.17-0.40; these put DCLM's threshold (P(hq) >= 0.018112, logit
# -4.0) near mean llr 0.28, so it keeps about three quarters of them (the prose-richest) and
# scores chrome-only text (negative llr) far below.
DEMO_SCALE = 40.0
DEMO_BIAS = -15.2


def write_fasttext_model(path: str | Path, words: Sequence[tuple[str, int]],
                         labels: Sequence[tuple[str, int]], input_matrix: np.ndarray,
                         output_matrix: np.ndarray, word_ngrams: int = 2,
                         loss: str = "softmax", bucket: int = DEMO_BUCKET) -> Path:
    """A supervised fastText `.bin` at `path`: `words` and `labels` as (entry, count), the
    input matrix (len(words) + bucket rows) and output matrix (len(labels) rows), both `dim`
    wide float32. fastText's own defaults for the arguments that prediction ignores."""
    inp = np.ascontiguousarray(input_matrix, dtype="<f4")
    out = np.ascontiguousarray(output_matrix, dtype="<f4")
    dim = inp.shape[1]
    if inp.shape != (len(words) + bucket, dim) or out.shape != (len(labels), dim):
        raise ValueError(f"matrix shapes {inp.shape}, {out.shape} do not fit {len(words)} "
                         f"words + {bucket} buckets and {len(labels)} labels of dim {dim}")
    # dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate
    args = (dim, 5, 5, 1, 5, word_ngrams, LOSSES[loss], SUPERVISED, bucket, 0, 0, 100)
    parts = [struct.pack("<2i", MAGIC, VERSION), struct.pack("<12i", *args),
             struct.pack("<d", 1e-4)]  # t (sampling threshold)
    entries = [(w, c, 0) for w, c in words] + [(lab, c, 1) for lab, c in labels]
    ntokens = sum(c for _, c, _ in entries)
    # size, nwords, nlabels, ntokens, pruneidx_size (-1: not pruned)
    parts.append(struct.pack("<3i2q", len(entries), len(words), len(labels), ntokens, -1))
    for entry, count, kind in entries:
        raw = entry.encode()
        if b"\0" in raw or not raw or any(c in entry for c in " \t\n\v\f\r"):
            raise ValueError(f"invalid fastText dictionary entry {entry!r}")
        parts.append(raw + b"\0" + struct.pack("<qb", count, kind))
    for quantized, matrix in ((False, inp), (False, out)):  # quant_input, then qout
        parts.append(struct.pack("<?2q", quantized, *matrix.shape) + matrix.tobytes())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(parts))
    return path


def naive_bayes_classifier(path: str | Path, hq: Iterable[str], cc: Iterable[str],
                           scale: float = DEMO_SCALE, bias: float = DEMO_BIAS,
                           bucket: int = DEMO_BUCKET) -> Path:
    """A two-label model (`__label__hq`, `__label__cc`; wordNgrams 2, softmax) whose P(hq)
    is `sigmoid(scale * mean llr + bias)` over a text's words and bigrams (module docstring),
    the log-likelihood ratios counted from the `hq` and `cc` texts."""
    hq_docs, cc_docs = list(hq), list(cc)
    counts = [Counter(t for doc in docs for t in doc.split()) for docs in (hq_docs, cc_docs)]
    vocab = sorted(counts[0].keys() | counts[1].keys(),
                   key=lambda w: (-(counts[0][w] + counts[1][w]), w))  # fastText: by count
    totals = [sum(c.values()) + len(vocab) for c in counts]
    inp = np.zeros((len(vocab) + bucket, 2), dtype=np.float32)
    inp[:, 1] = 1.0
    for i, w in enumerate(vocab):
        inp[i, 0] = (math.log((counts[0][w] + 1) / totals[0])
                     - math.log((counts[1][w] + 1) / totals[1]))
    out = np.array([[scale / 2, bias / 2], [-scale / 2, -bias / 2]], dtype=np.float32)
    words = [(w, counts[0][w] + counts[1][w]) for w in vocab]
    labels = list(zip(LABELS, (len(hq_docs), len(cc_docs)), strict=True))
    return write_fasttext_model(path, words, labels, inp, out, bucket=bucket)


def demo_texts() -> tuple[list[str], list[str]]:
    """The sample's article prose (hq) and its chrome, spam and list lines (cc), slot
    placeholders such as `{thing}` left out (mdfql.demo.text)."""
    from mdfql.demo import text
    from mdfql.demo.corpus import walk_strings

    def strings(*values: object) -> list[str]:
        return [" ".join(t for t in s.split() if "{" not in t and "}" not in t)
                for s in walk_strings(values)]

    hq = strings(text.TEMPLATES, text.TOPICS)
    cc = strings(text.BOILERPLATE_NAV, text.COMMENTS, text.SIDEBAR, text.LIST_ITEMS,
                 text.REPEATED_LINES, text.SHORT_PAGES, text.SITE_WORDS)
    return hq, cc


def write_demo_classifier(path: str | Path) -> Path:
    """The demo DCLM-style classifier (`dclm-demo.bin` under sample/models)."""
    hq, cc = demo_texts()
    return naive_bayes_classifier(path, hq, cc)
