"""`c4_lines` against a Python definition of the lines TFDS's C4 line dedup compares
(c4_utils `_emit_url_to_lines` / `_remove_lines_from_text`): `text.split("\\n")`, keyed by
`line.strip().lower()`. Over the 300 real pages of extraction-eval (their HTML, whose lines
repeat with every variation of case and indentation, and their main text) and hand-written
edge cases: each line's span, in Python string indices, is the line and its newline, and two
lines hash equal iff their keys are equal, across all texts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from mdfql import _native
from mdfql.eval.extraction import load_cases
from mdfql.functions import kernels

EDGE_CASES = [
    "",
    "\n",
    "\n\n",
    "one line",
    "ends with a newline\n",
    "a\n\n \n\t\nb",
    "Same Line.\n  same line.  \nSAME LINE.\r\nsame  line.",
    "Grüße aus Köln.\n日本語のテキスト\n\U0001F600 emoji é\nGRÜSSE AUS KÖLN.",
    "ΟΔΟΣ ΣΟΦΙΑΣ\nοδος σοφιας\nİstanbul\ni\u0307stanbul",
    "\u00a0nbsp\u3000\nnbsp\n\u200bnbsp\n\x1cnbsp\x85",
    "cr\r\nline\u2028sep\x0bvt\x0cff",
]


def reference(text: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of each line as TFDS splits and keys it: the span, in characters,
    covers the line and the newline after it (none after the last line)."""
    out, start = [], 0
    pieces = text.split("\n")
    for k, line in enumerate(pieces):
        end = start + len(line) + (1 if k + 1 < len(pieces) else 0)
        assert text[start:end] == (line if k + 1 == len(pieces) else line + "\n")
        out.append((start, end, line.strip().lower()))
        start = end
    assert start == len(text)
    return out


def check(texts: list[str]) -> int:
    """Asserts c4_lines agrees with `reference` on `texts`; returns the number of lines."""
    got = _native.c4_lines(pa.array([*texts, None], pa.large_string()))
    assert got.type == pa.large_list(pa.struct([
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64(), nullable=False),
        pa.field("hash", pa.uint64(), nullable=False)]))
    rows = got.to_pylist()
    assert rows[-1] is None
    key_of: dict[int, str] = {}
    hash_of: dict[str, int] = {}
    n = 0
    for text, row in zip(texts, rows[:-1], strict=True):
        want = reference(text)
        assert [(r["start"], r["end"]) for r in row] == [(s, e) for s, e, _ in want], text[:200]
        for r, (_, _, key) in zip(row, want, strict=True):
            # equal hashes iff equal keys, over all texts
            assert key_of.setdefault(r["hash"], key) == key, (key, key_of[r["hash"]])
            assert hash_of.setdefault(key, r["hash"]) == r["hash"], key
        n += len(row)
    return n


def test_edge_cases():
    assert check(EDGE_CASES) == sum(t.count("\n") + 1 for t in EDGE_CASES)
    rows = _native.c4_lines(pa.array(EDGE_CASES[6:7])).to_pylist()[0]
    assert len({r["hash"] for r in rows}) == 2  # "same  line." differs inside


def test_spans_cover_line_and_newline():
    text = "Grüße\n\n日本\nend\n"
    rows = _native.c4_lines(pa.array([text])).to_pylist()[0]
    assert [text[r["start"]:r["end"]] for r in rows] == ["Grüße\n", "\n", "日本\n", "end\n", ""]


@pytest.fixture(scope="module")
def real_texts(shared_data: Path) -> list[str]:
    """The extraction-eval pages' HTML and their main text."""
    cases = load_cases(shared_data / "extraction-eval")
    html = [c.html for c in cases]
    main = kernels.extract_text_batch(pa.array(html), pa.array([c.url for c in cases]))
    texts = [t for t in main.to_pylist() if t]
    assert len(texts) > 250
    return html + texts


def test_real_pages(real_texts):
    assert check(real_texts) > 100_000
