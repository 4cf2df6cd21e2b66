"""User-facing errors: every mistake in a pipeline is reported as `file:line:col: message`, the
source line with a caret under the culprit and, where one is close, a "did you mean" hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A 1-based line/column position and length in a source text."""

    line: int
    col: int
    length: int = 1


class MdfqlError(Exception):
    """An error in the user's SQL or its inputs; rendered without a traceback."""

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source: str | None = None
        self.filename: str = "<sql>"
        # the exception behind an error mdfql reports without understanding it (a Daft
        # failure its checks let through); `MDFQL_TRACEBACK=1 mdfql ...` prints it
        self.internal: BaseException | None = None

    def attach_source(self, source: str, filename: str) -> MdfqlError:
        """Remember the text the span points into (set once, by the outermost caller)."""
        if self.source is None:
            self.source, self.filename = source, filename
        return self

    def render(self) -> str:
        """The full report: location, message, source line, caret and hint."""
        if self.span is None:
            head = f"{self.filename}: error: {self.message}"
            return head + (f"\n  hint: {self.hint}" if self.hint else "")
        s = self.span
        lines = [f"{self.filename}:{s.line}:{s.col}: error: {self.message}"]
        if self.source is not None:
            src_lines = self.source.splitlines()
            if 1 <= s.line <= len(src_lines):
                text, col = _window(src_lines[s.line - 1].expandtabs(1), s.col)
                lines.append(f"  {text}")
                width = min(max(1, s.length), max(1, len(text) - col + 1))
                lines.append("  " + " " * (col - 1) + "^" * width)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


SHOWN_LINE = 120  # characters of a long source line shown around the culprit


def _window(text: str, col: int) -> tuple[str, int]:
    """A long line cut to SHOWN_LINE characters around `col`, and where `col` lands in it."""
    if len(text) <= SHOWN_LINE:
        return text, col
    start = max(0, min(col - 1 - SHOWN_LINE // 3, len(text) - SHOWN_LINE))
    cut = text[start:start + SHOWN_LINE]
    head = "..." if start > 0 else ""
    tail = "..." if start + SHOWN_LINE < len(text) else ""
    return head + cut + tail, col - start + len(head)


def did_you_mean(name: str, candidates: Iterable[str], n: int = 1, cutoff: float = 0.6
                 ) -> str | None:
    """A 'did you mean' hint for the (up to `n`) candidates closest to `name`, if any is."""
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=cutoff)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{lowered[c]}'" for c in close) + "?"
