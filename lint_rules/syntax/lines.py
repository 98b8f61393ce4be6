"""Start lines of libcst nodes, from CPython's `ast` where it can say.

libcst knows no positions until a position pass, which costs a code generation of the whole
module (about as much as the parse). Summaries and evidence need the lines of a few nodes:
definitions, statements, and calls inside a statement. `ast` has them for free: its statements
and libcst's, taken in source order, pair one to one (same count, same kinds, same definition
names), so a statement's line is its partner's `lineno`, and any node inside a statement that
stands on one line (`lineno == end_lineno`) is on that line. Anything else asks the fallback
(libcst's positions), once per module.

When CPython's `ast` cannot read the text (syntax newer than the interpreter, such as 3.12's
`type X = ...` under 3.11), the statements' lines come from `tokenize` instead, paired the same
way (`token_statement_lines`): a tokenization costs a fifth of libcst's position pass.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable

import libcst as cst

from lint_rules.syntax.deep_stack import positions
from lint_rules.syntax.parse import ast_tree

# Block fields in source order (`try`: body, handlers, else, finally), whatever the node.
_SOURCE_ORDER_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")
_BLOCKS_AST = (ast.stmt, ast.excepthandler, ast.match_case)
_CONTAINERS_CST = (cst.BaseSuite, cst.ExceptHandler, cst.ExceptStarHandler, cst.Else,
                   cst.Finally, cst.MatchCase)
_LINES_CST = (cst.SimpleStatementLine, cst.SimpleStatementSuite)
# libcst statement kinds whose `ast` partner has another name.
_AST_NAMES = {
    "Del": ("Delete",),
    "FunctionDef": ("FunctionDef", "AsyncFunctionDef"),
    "For": ("For", "AsyncFor"),
    "With": ("With", "AsyncWith"),
}


def statement_lines(module: cst.Module, tree: ast.Module | None) -> dict[int, tuple[int, int]]:
    """id(libcst statement) -> (its first line, the last line of its `ast` partner), for every
    small and compound statement; empty when the two trees do not pair (no `ast`, e.g. syntax
    newer than this interpreter)."""
    if tree is None:
        return {}
    ast_statements: list[ast.stmt] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.stmt):
            ast_statements.append(node)
        stack.extend(reversed([c for c in _ast_blocks(node) if isinstance(c, _BLOCKS_AST)]))
    cst_statements = _cst_statements(module)
    if len(ast_statements) != len(cst_statements):
        return {}
    out: dict[int, tuple[int, int]] = {}
    for a, c in zip(ast_statements, cst_statements):
        kind = type(c).__name__
        if type(a).__name__ not in _AST_NAMES.get(kind, (kind,)):
            return {}
        if isinstance(c, (cst.FunctionDef, cst.ClassDef)) and a.name != c.name.value:  # type: ignore[attr-defined]
            return {}
        out[id(c)] = (a.lineno, a.end_lineno or a.lineno)
    return out


def _cst_statements(module: cst.Module) -> list[cst.CSTNode]:
    """Every small and compound statement of the module, in source order."""
    cst_statements: list[cst.CSTNode] = []
    todo: list[cst.CSTNode] = [module]
    while todo:
        node = todo.pop()
        if isinstance(node, _LINES_CST):
            cst_statements.extend(node.body)
            continue
        if isinstance(node, cst.BaseCompoundStatement):
            cst_statements.append(node)
        todo.extend(reversed([c for c in _cst_blocks(node)
                              if isinstance(c, (cst.BaseStatement, *_CONTAINERS_CST))]))
    return cst_statements


# The keyword that starts each compound statement (`elif` is an `If` in libcst and in `ast`).
_COMPOUND_KEYWORDS = {
    "if": cst.If, "elif": cst.If, "while": cst.While, "for": cst.For, "try": cst.Try,
    "with": cst.With, "def": cst.FunctionDef, "class": cst.ClassDef, "match": cst.Match,
}
_CLAUSE_KEYWORDS = frozenset({"else", "except", "finally", "case"})  # not statements
_SOFT_KEYWORDS = frozenset({"match", "case"})  # names too: `match = 1`, `case(x)`
_NOT_AFTER_SOFT = frozenset({"=", ".", ":", ",", ")", "]", "}", ";"})
_SKIPPED_TOKENS = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                             tokenize.ENCODING})
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")


def token_statement_lines(module: cst.Module, source: str) -> dict[int, tuple[int, int]]:
    """`statement_lines` from `tokenize` when there is no `ast`: each logical line gives its
    compound statement (by keyword) and its `;`-separated small statements, in source order,
    the order of `_cst_statements`. A compound statement's last line is not known here: it is
    given as its first line + 1, so nothing inside it counts as standing on one line (such
    nodes ask the fallback). Empty when the text does not tokenize or the two sequences do not
    pair, statement for statement and kind for kind."""
    try:
        found = _token_statements(source)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return {}
    cst_statements = _cst_statements(module)
    if len(found) != len(cst_statements):
        return {}
    out: dict[int, tuple[int, int]] = {}
    for (first, last, keyword), c in zip(found, cst_statements):
        if keyword is None:
            if isinstance(c, cst.BaseCompoundStatement):
                return {}
        elif not isinstance(c, _COMPOUND_KEYWORDS[keyword]) and not (
                keyword == "try" and isinstance(c, cst.TryStar)):
            return {}
        out[id(c)] = (first, last)
    return out


def _token_statements(source: str) -> list[tuple[int, int, str | None]]:
    """(first line, last line, compound keyword or None) of every statement, in source order."""
    out: list[tuple[int, int, str | None]] = []
    line: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _SKIPPED_TOKENS:
            continue
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if line:
                _logical_line(line, out)
            line = []
            continue
        line.append(token)
    return out


def _logical_line(tokens: list[tokenize.TokenInfo], out: list) -> None:
    if tokens[0].type == tokenize.OP and tokens[0].string == "@":
        return  # a decorator: the statement's line is its `def` or `class` line, as in `ast`
    i = 0
    while i < len(tokens):
        keyword = _keyword_at(tokens, i)
        if keyword is not None:
            colon = _header_end(tokens, i)
            if keyword in _COMPOUND_KEYWORDS:
                row = tokens[i].start[0]
                out.append((row, row + 1, keyword))
            i = colon + 1  # what follows the colon on the same line is the body's
            continue
        end = _small_statement_end(tokens, i)
        out.append((tokens[i].start[0], tokens[end - 1].end[0], None))
        i = end + 1  # past the `;`


def _keyword_at(tokens: list[tokenize.TokenInfo], i: int) -> str | None:
    """The compound or clause keyword that starts a statement at `tokens[i]`, if any."""
    token = tokens[i]
    if token.type != tokenize.NAME:
        return None
    word = token.string
    if word == "async" and i + 1 < len(tokens) and tokens[i + 1].string in ("def", "for", "with"):
        return tokens[i + 1].string
    if word in _SOFT_KEYWORDS:
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if after is None or after.string in _NOT_AFTER_SOFT or (
                after.type == tokenize.OP and after.string.endswith("=")):
            return None  # a name: `match = 1`, `case.x`, `match == y`
        if not _has_header_colon(tokens, i):
            return None  # `match(x)`: a call
        return word
    if word in _COMPOUND_KEYWORDS or word in _CLAUSE_KEYWORDS:
        return word
    return None


def _header_end(tokens: list[tokenize.TokenInfo], i: int) -> int:
    """The index of the `:` that ends the header starting at `tokens[i]`."""
    return _top_level(tokens, i, ":")


def _has_header_colon(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    return _header_end(tokens, i) < len(tokens)


def _small_statement_end(tokens: list[tokenize.TokenInfo], i: int) -> int:
    """The index of the `;` that ends the small statement at `tokens[i]`, or the line's end."""
    return _top_level(tokens, i, ";")


def _top_level(tokens: list[tokenize.TokenInfo], i: int, operator: str) -> int:
    """The index of the first `operator` from `tokens[i]` on outside brackets, or the line's
    end (a header without its colon: the pairing will not match, and says so)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].type != tokenize.OP:
            continue
        text = tokens[j].string
        if text in _OPENING:
            depth += 1
        elif text in _CLOSING:
            depth -= 1
        elif text == operator and depth == 0:
            return j
    return len(tokens)


def _ast_blocks(node: ast.AST) -> list[ast.AST]:
    children: list[ast.AST] = []
    for name in _SOURCE_ORDER_BLOCKS:
        value = getattr(node, name, None)
        if isinstance(value, list):
            children.extend(value)
    return children


def _cst_blocks(node: cst.CSTNode) -> list[cst.CSTNode]:
    children: list[cst.CSTNode] = []
    for name in _SOURCE_ORDER_BLOCKS:
        value = getattr(node, name, None)
        if isinstance(value, (tuple, list)):
            children.extend(value)
        elif isinstance(value, cst.CSTNode):
            children.append(value)
    return children


class NodeLines:
    """`lines(node)` or `lines(node, statement)`: a node's start line. Statements and
    definitions come from the pairing (`statement_lines`, built on first use); a node inside
    a `statement` that stands on one line takes that line; anything else asks `fallback`."""

    def __init__(self, module: cst.Module, source: str,
                 fallback: Callable[[cst.CSTNode], int] | None = None,
                 tree_of: Callable[[], ast.Module | None] | None = None) -> None:
        self._module = module
        self._source = source
        self._fallback = fallback  # None: libcst's positions of the module, on first use
        self._tree_of = tree_of
        self._lines: dict[int, tuple[int, int]] | None = None
        self._positions: dict | None = None

    def __call__(self, node: cst.CSTNode, statement: cst.CSTNode | None = None) -> int:
        if self._lines is None:
            tree = self._tree_of() if self._tree_of is not None else ast_tree(self._source)
            self._lines = statement_lines(self._module, tree) if tree is not None else \
                token_statement_lines(self._module, self._source)
        found = self._lines.get(id(node))
        if found is not None:
            return found[0]
        if statement is not None:
            around = self._lines.get(id(statement))
            if around is not None and around[0] == around[1]:
                return around[0]
        if self._fallback is not None:
            return self._fallback(node)
        if self._positions is None:
            self._positions = positions(self._module)
        return self._positions[node].start.line
