"""The HTML report of a run: one self-contained file (styles, script and charts inlined)."""

from __future__ import annotations

from pathlib import Path

from mdfql.history import RunRecord
from mdfql.report.html import render


def write_report(record: RunRecord, path: str | Path) -> Path:
    """Write the report of `record` to `path` (its folder is created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(record), encoding="utf-8")
    return out


__all__ = ["render", "write_report"]
