"""Start lines of libcst nodes, from CPython's `ast` where it can say.

libcst knows no positions until a position pass, which costs a code generation of the whole
module (about as much as the parse). Summaries and evidence need the lines of a few nodes:
definitions, statements, and calls inside a statement. `ast` has them for free: its statements
and libcst's, taken in source order, pair one to one (same count, same kinds, same definition
names), so a statement's line is its partner's `lineno`, and any node inside a statement that
stands on one line (`lineno == end_lineno`) is on that line. Anything else asks the fallback
(libcst's positions), once per module.
"""

from __future__ import annotations

import ast
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
            self._lines = statement_lines(self._module, tree)
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
