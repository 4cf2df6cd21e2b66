"""Parse an mdfql script into statements that keep their source positions.

The dialect is DuckDB's, with every function call kept as a generic call node (sqlglot would turn
known names into typed nodes that lose their positions and argument names), so the binder sees
one uniform shape: `Anonymous(name, args)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from mdfql.depth import MAX_EXPRESSION, MAX_NESTING
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


_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_FLATTEN_HINT = ("name intermediate results (WITH ... AS, CREATE VIEW), or flatten it: "
                 "CASE WHEN a THEN x WHEN b THEN y ..., x IN (...)")


def check_nesting(tokens: list[Token], text: str) -> None:
    """Refuse more than MAX_NESTING open parentheses, brackets or CASEs before parsing: the
    parser recurses per level (see mdfql.depth)."""
    level = 0
    for tok in tokens:
        if tok.token_type in _OPEN:
            level += 1
            if level > MAX_NESTING:
                raise MdfqlError(
                    f"nested too deep: more than {MAX_NESTING} levels of parentheses, "
                    "brackets or CASE", locate(text, tok.start, tok.end), _FLATTEN_HINT)
        elif tok.token_type in _CLOSE:
            level = max(0, level - 1)


_CHAINS = (exp.And, exp.Or)


def _balanced(kind: type[exp.Expression], items: list[exp.Expression]) -> exp.Expression:
    if len(items) == 1:
        return items[0]
    mid = len(items) // 2
    return kind(this=_balanced(kind, items[:mid]), expression=_balanced(kind, items[mid:]))


def balance_connectors(root: exp.Expression) -> exp.Expression:
    """Long `a AND b AND c ...` (or OR) chains as balanced trees of the same terms in the same
    order: the parser builds them one level per term, and 20,000 conditions would be 20,000
    levels for every pass that recurses (AND and OR are associative, NULLs included)."""
    roots = [n for n in root.walk() if isinstance(n, _CHAINS) and type(n.parent) is not type(n)]
    for chain in roots:
        terms: list[exp.Expression] = []
        stack = [chain]
        while stack:
            node = stack.pop()
            if type(node) is type(chain):
                stack += [node.expression, node.this]
            else:
                terms.append(node)
        if len(terms) > 8:
            tree = _balanced(type(chain), terms)
            if chain is root:
                root = tree
            else:
                chain.replace(tree)
    return root


def check_depth(root: exp.Expression, text: str) -> None:
    """Refuse an expression tree deeper than MAX_EXPRESSION (a CASE counts one level per WHEN:
    it compiles to nested conditions), walking it without recursion."""
    stack: list[tuple[exp.Expression, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION:
            raise MdfqlError(f"expression too deep: more than {MAX_EXPRESSION} nested "
                             "operators", node_span(node, text), _FLATTEN_HINT)
        if isinstance(node, exp.Case):
            ifs = node.args.get("ifs") or []
            stack += [(branch, depth + 1 + i) for i, branch in enumerate(ifs)]
            rest = [c for c in node.iter_expressions() if c.arg_key != "ifs"]
            stack += [(c, depth + len(ifs) + 1) for c in rest]
        else:
            stack += [(c, depth + 1) for c in node.iter_expressions()]


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
        # the tokens we have (their offsets are the same in the masked text), except after
        # EXPLAIN, which the tokenizer reads as a command taking the rest as one string
        tokens = MdfqlDialect().tokenize(src) if explain else toks
        check_nesting(tokens, text)
        try:
            parsed = MdfqlDialect().parser().parse(tokens, src)
        except ParseError as e:
            raise _parse_error(e, text, src, first) from None
        if len(parsed) != 1 or parsed[0] is None:
            raise MdfqlError("syntax error: expected one statement", here)
        node = parsed[0]
        node = balance_connectors(node)
        check_depth(node, text)
        if isinstance(node, exp.Command):
            raise MdfqlError(f"unsupported statement '{first.text}'", here)
        out.append(Statement(node, here, explain))
    return out


def node_span(node: exp.Expression, text: str) -> Span | None:
    """The span of a node's subtree: from its earliest to its last name or literal (sqlglot
    keeps offsets on those), cut at the end of the first line."""
    start: int | None = None
    end = 0
    for sub in node.walk():
        meta = sub.meta if isinstance(sub, exp.Expression) else None
        if meta and "start" in meta:
            start = meta["start"] if start is None else min(start, meta["start"])
            end = max(end, meta["end"])
    if start is None:
        return None
    opener = {exp.Neg: "-", exp.Paren: "("}.get(type(node))
    if opener is not None:  # `-5`, `(a + b)`: from the sign or parenthesis on
        before = text.rfind(opener, 0, start)
        if before >= 0 and not text[before + 1:start].strip():
            start = before
    newline = text.find("\n", start)
    return locate(text, start, end if newline < 0 else min(end, newline - 1))
