"""Parse an mdfql script into statements that keep their source positions.

The dialect is DuckDB's, with every function call kept as a generic call node (sqlglot would turn
known names into typed nodes that lose their positions and argument names), so the binder sees
one uniform shape: `Anonymous(name, args)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from mdfql.errors import MdfqlError, Span


class MdfqlDialect(DuckDB):
    """DuckDB syntax; all functions parsed as generic calls resolved by mdfql's registry."""

    class Parser(DuckDB.Parser):
        FUNCTIONS: dict = {}


@dataclass
class Statement:
    """One parsed statement: its AST, whether it was prefixed by EXPLAIN, and where it starts."""

    node: exp.Expression
    span: Span
    explain: bool = False


@dataclass
class LoadStatement:
    """`LOAD 'python.module'`: imports a plugin module that registers functions."""

    module: str
    span: Span


def _mask(text: str, start: int, end: int) -> str:
    """Blank everything outside [start, end) but newlines, so positions stay absolute."""
    def blank(s: str) -> str:
        return "".join(c if c == "\n" else " " for c in s)

    return blank(text[:start]) + text[start:end] + blank(text[end:])


def locate(text: str, start: int, end: int) -> Span:
    """Span of the characters [start, end] (inclusive) of `text`.

    Computed from character offsets because sqlglot's own line/column counters drift after
    some tokens (e.g. `$name`), while its offsets stay right.
    """
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(line, col, max(1, end - start + 1))


def _split(text: str) -> list[tuple[list[Token], int]]:
    """Token lists per statement, each with the offset where its text ends."""
    try:
        tokens = MdfqlDialect().tokenize(text)
    except TokenError as e:
        raise MdfqlError(f"syntax error: {e}") from None
    chunks: list[tuple[list[Token], int]] = []
    current: list[Token] = []
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if current:
                chunks.append((current, tok.start))
            current = []
        else:
            current.append(tok)
    if current:
        chunks.append((current, len(text)))
    return chunks


def _parse_error(e: ParseError, text: str, src: str, first: Token) -> MdfqlError:
    err = e.errors[0] if e.errors else {}
    desc = str(err.get("description", e)).split(". Line")[0]
    hl = err.get("highlight") or ""
    missing = re.match(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>", desc)
    if missing:
        desc = f"incomplete {missing.group(1).upper()}: something is missing here"
    if "<Token" in desc:  # sqlglot names tokens by repr: keep the message short
        desc = desc.split(" but got <Token")[0] + f" but got '{hl}'"
    # Map sqlglot's (line, col) back to an offset through its own tokens, then to a true span.
    start, end = first.start, first.end
    for tok in MdfqlDialect().tokenize(src):
        if tok.line == err.get("line") and tok.col == err.get("col"):
            start, end = tok.start, tok.end
            break
    return MdfqlError(f"syntax error: {desc}", locate(text, start, end))


def parse_script(text: str) -> list[Statement | LoadStatement]:
    """Split a script on `;` and parse each statement with absolute positions."""
    out: list[Statement | LoadStatement] = []
    for toks, stop in _split(text):
        first = toks[0]
        head = first.text.upper()
        here = locate(text, first.start, first.end)
        if head == "LOAD":
            if len(toks) != 2 or toks[1].token_type not in (TokenType.STRING, TokenType.VAR):
                raise MdfqlError("LOAD takes one module name, e.g. LOAD 'my_plugin'", here)
            out.append(LoadStatement(toks[1].text, here))
            continue
        explain = head == "EXPLAIN"
        begin = first.end + 1 if explain else first.start
        if not text[begin:stop].strip():
            raise MdfqlError("EXPLAIN needs a statement after it", here)
        src = _mask(text, begin, stop)
        try:
            node = sqlglot.parse_one(src, dialect=MdfqlDialect)
        except ParseError as e:
            raise _parse_error(e, text, src, first) from None
        if isinstance(node, exp.Command):
            raise MdfqlError(f"unsupported statement '{first.text}'", here)
        out.append(Statement(node, here, explain))
    return out


def node_span(node: exp.Expression, text: str) -> Span | None:
    """The span of the earliest name in a node's subtree (sqlglot keeps offsets on names)."""
    best: dict | None = None
    for sub in node.walk():
        meta = sub.meta if isinstance(sub, exp.Expression) else None
        if meta and "start" in meta and (best is None or meta["start"] < best["start"]):
            best = meta
    if best is None:
        return None
    return locate(text, best["start"], best["end"])
