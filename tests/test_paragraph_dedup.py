"""paragraph_dedup's external sort against a direct definition of Dolma's paragraph dedup and
against Dolma's own deduper, on real pages, with buckets small enough that they split."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dolma_reference import available, dedupe

from mdfql.dedup import paragraphs
from mdfql.functions import kernels


@pytest.fixture(scope="module")
def docs(shared_data: Path) -> list[tuple[int, int, str | None]]:
    """(node, order key, text) rows: the extraction-eval pages' main text, again with their
    paragraphs shuffled (every paragraph of those is a duplicate of an earlier one when the
    keys put the original first), and pages glued to their neighbours; keys with many ties."""
    eval_dir = shared_data / "extraction-eval"
    cases = [json.loads(line) for line in (eval_dir / "cases.jsonl").read_text().splitlines()]
    pages = [gzip.decompress((eval_dir / c["file"]).read_bytes()).decode("utf-8", "replace")
             for c in cases]
    texts = [t or "" for t in kernels.extract_text_batch(
        pa.array(pages), pa.array([c["url"] for c in cases])).to_pylist()]
    rng = random.Random(7)
    shuffled = []
    for t in texts:
        lines = t.split("\n")
        rng.shuffle(lines)
        shuffled.append("\n".join(lines))
    glued = [a + "\n\n" + b for a, b in zip(texts, texts[1:], strict=False)]
    every: list[str | None] = [*texts, *shuffled, *glued, None, "", " \n\t\n", "x\nx\nx\n"]
    nodes = rng.sample(range(1 << 40), len(every))
    return [(nodes[i], rng.randrange(9), t) for i, t in enumerate(every)]


def _spill(rows: list[tuple[int, int, str | None]], directory: Path, parts: int) -> list[str]:
    """The rows as a stage spills them: several Parquet files, rows in order."""
    directory.mkdir()
    files = []
    step = -(-len(rows) // parts)
    for p in range(parts):
        chunk = rows[p * step:(p + 1) * step]
        files.append(str(directory / f"part-{p}.parquet"))
        pq.write_table(pa.table({
            "__node": pa.array([r[0] for r in chunk], pa.uint64()),
            "__key": pa.array([r[1] for r in chunk], pa.int64()),
            "__text": pa.array([r[2] for r in chunk], pa.string())}), files[-1],
            row_group_size=50)
    return files


def _dolma_paragraphs(text: str) -> list[tuple[int, int, str]]:
    """Dolma's deduper paragraphs: split on newlines, blank ones skipped, offsets in
    characters, a newline counted while the offset is below the text's length in bytes - 1."""
    out, offset, size = [], 0, len(text.encode())
    for p in text.split("\n") if text else []:
        start = offset
        offset += len(p)
        if offset + 1 < size:
            offset += 1
        if p.strip():
            out.append((start, offset, p))
    return out


def _expected(rows: list[tuple[int, int, str | None]]) -> dict[int, list[tuple[int, int]]]:
    """Documents in (key, node, position) order, each paragraph seen before a duplicate."""
    seen: set[str] = set()
    spans: dict[int, list[tuple[int, int]]] = {}
    for pos in sorted(range(len(rows)), key=lambda i: (rows[i][1], rows[i][0], i)):
        node, _, text = rows[pos]
        for start, end, p in _dolma_paragraphs(text or ""):
            if p in seen:
                spans.setdefault(node, []).append((start, end))
            seen.add(p)
    return spans


def _result(files: list[str], out: Path) -> dict[int, list[tuple[int, int]]]:
    paths = paragraphs.paragraph_dedup_files(files, out, node="__node", key="__key",
                                             text="__text")
    table = pa.concat_tables(pq.read_table(p) for p in paths)
    got: dict[int, list[tuple[int, int]]] = {}
    for node, spans in zip(table.column(0).to_pylist(), table.column(1).to_pylist(),
                           strict=True):
        assert node not in got and spans and all(s["score"] == 1.0 for s in spans)
        got[node] = [(s["start"], s["end"]) for s in spans]
    assert not out.with_name(out.name + ".work").exists()
    return got


def test_matches_the_definition(docs, tmp_path):
    expected = _expected(docs)
    assert sum(map(len, expected.values())) > 5000  # the shuffled and glued pages repeat
    assert _result(_spill(docs, tmp_path / "spill", 3), tmp_path / "result") == expected


def test_split_buckets_give_the_same_spans(docs, tmp_path, monkeypatch):
    """Buckets of 48 KB: the first 4 split by further hash bits, again and again, and the
    duplicates come out in many rank ranges."""
    monkeypatch.setattr(paragraphs, "BUCKET_BYTES", 48 << 10)
    monkeypatch.setattr(paragraphs, "MAX_BUCKETS", 4)
    shifts: list[int] = []
    sort_bucket = paragraphs._duplicates_of

    def recorded(path, shift, *args):
        shifts.append(shift)
        return sort_bucket(path, shift, *args)

    monkeypatch.setattr(paragraphs, "_duplicates_of", recorded)
    assert _result(_spill(docs, tmp_path / "spill", 4), tmp_path / "result") == _expected(docs)
    assert shifts.count(2) == 4 and max(shifts) >= 2 + 2 * paragraphs.SPLIT_BITS


def test_no_paragraphs(tmp_path):
    """Nothing to report still writes a readable, typed result."""
    rows: list[tuple[int, int, str | None]] = [(1, 0, None), (2, 0, ""), (3, 1, "a\nb")]
    assert _result(_spill(rows, tmp_path / "spill", 1), tmp_path / "result") == {}


def test_agrees_with_dolmas_deduper(docs, tmp_path):
    """`dolma dedupe` (1.2.1, Bloom filter) reading the texts in order: with the order key the
    position, the same spans in every document."""
    if not available():
        pytest.skip("the dolma package is not installed in .dolma-ref (tests/dolma_reference.py)")
    texts = [t for _, _, t in docs if t is not None]
    rows = [(i, i, t) for i, t in enumerate(texts)]
    ours = _result(_spill(rows, tmp_path / "spill", 2), tmp_path / "result")
    (tmp_path / "dolma").mkdir()
    theirs = dedupe(texts, tmp_path / "dolma")
    assert sum(map(len, theirs)) > 5000
    assert [ours.get(i, []) for i in range(len(texts))] == theirs
