"""Walking libcst trees: the children that matter, one iterative walk, one statement walker.

Every walk here is iterative: the user's code may nest deeper than Python's recursion limit
(a 500-branch `elif` chain is 500 nested `If` nodes). Nested scopes are an explicit choice of
the caller (`nested=`): a function's own statements usually exclude the functions and classes
it defines, whose bodies do not run when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields as dc_fields
from functools import lru_cache

import libcst as cst

_SKIPPED_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "comma",
    "semicolon", "newline", "colon", "equal", "dot", "star", "operator", "lbracket", "rbracket",
    "lbrace", "rbrace", "asynchronous", "trailing_whitespace", "first_line", "empty_lines",
    "whitespace", "default_indent", "default_newline",
})

# Scopes whose bodies do not run when the enclosing code runs (exact types: libcst's node
# classes are final, and `type(x) in set` avoids the ABC isinstance machinery).
NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
NESTED_SCOPE_TYPES = frozenset(NESTED_SCOPES)
_STATEMENT_SCOPE_TYPES = frozenset({cst.FunctionDef, cst.ClassDef})
_LINE_TYPES = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite})
_BLOCK_FIELDS = ("body", "orelse", "handlers", "finalbody", "cases")


@lru_cache(maxsize=None)
def _child_fields(node_type: type) -> tuple[str, ...]:
    return tuple(
        f.name for f in dc_fields(node_type)
        if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
    )


_IS_NODE_TYPE: dict[type, bool] = {}


def _is_node_type(kind: type) -> bool:
    """`issubclass(kind, CSTNode)`, cached: libcst's node classes are ABCs, whose isinstance
    checks go through `ABCMeta.__instancecheck__`, the largest single cost of a walk."""
    known = _IS_NODE_TYPE.get(kind)
    if known is None:
        known = _IS_NODE_TYPE[kind] = issubclass(kind, cst.CSTNode)
    return known


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children `walk` visits (no whitespace or punctuation), in field order.

    Use this, not libcst's `node.children`, in analysis code: `children` runs a full visitor
    that rebuilds the node (dataclass validation of every child), ~50x slower.
    """
    children: list[cst.CSTNode] = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            children.extend(v for v in value if _is_node_type(type(v)))
        elif _is_node_type(kind):
            children.append(value)
    return children


def _ignore(_node: cst.CSTNode) -> None:
    return None


def walk(root: cst.CSTNode, visit: Callable[[cst.CSTNode], object],
         leave: Callable[[cst.CSTNode], object] = _ignore, *, nested: bool = True) -> None:
    """Pre/post-order walk over the semantic nodes below and including `root`.

    `nested=False` does not enter functions, classes and lambdas below `root` (they are still
    visited themselves, not their insides).
    """
    if leave is _ignore:
        _visit_only(root, visit, nested)
        return
    def children(node: cst.CSTNode) -> list[cst.CSTNode]:
        if not nested and node is not root and type(node) in NESTED_SCOPE_TYPES:
            return []
        return child_nodes(node)

    _pre_post(root, visit, leave, children)


def _pre_post(root: cst.CSTNode, visit: Callable[[cst.CSTNode], object],
              leave: Callable[[cst.CSTNode], object],
              children: Callable[[cst.CSTNode], list[cst.CSTNode]]) -> None:
    """The iterative pre/post-order walk both `walk` and `walk_statements` are made of."""
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, leaving = pop()
        if leaving:
            leave(node)
            continue
        visit(node)
        push((node, True))
        for child in reversed(children(node)):
            push((child, False))


def _visit_only(root: cst.CSTNode, visit: Callable[[cst.CSTNode], object], nested: bool) -> None:
    stack = [root]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        visit(node)
        if not nested and node is not root and type(node) in NESTED_SCOPE_TYPES:
            continue
        children = child_nodes(node)
        children.reverse()
        extend(children)


# (asked type(s), node type) -> is the node one of them: `issubclass` on libcst's ABCs, once.
_MATCHES: dict[tuple[type | tuple[type, ...], type], bool] = {}


def nodes_of(root: cst.CSTNode, kind: type | tuple[type, ...], *, nested: bool = True) -> list:
    """Every node of the given type(s) below `root`, in source order."""
    found: list = []
    append = found.append

    def visit(node: cst.CSTNode) -> None:
        node_type = type(node)
        hit = _MATCHES.get((kind, node_type))
        if hit is None:
            hit = _MATCHES[(kind, node_type)] = issubclass(node_type, kind)
        if hit:
            append(node)

    _visit_only(root, visit, nested)
    return found


def walk_statements(root: cst.CSTNode, visit: Callable[[cst.CSTNode], object],
                    leave: Callable[[cst.CSTNode], object]) -> None:
    """Pre/post-order walk over statements only (compound statements, their blocks, statement
    lines and small statements), never into expressions: what is defined, imported and
    assigned at statement level, at a fraction of a full walk's cost."""
    _pre_post(root, visit, leave, _block_children)


def _block_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    children: list[cst.CSTNode] = []
    for name in _BLOCK_FIELDS:
        value = getattr(node, name, None)
        if value is None:
            continue
        kind = type(value)
        if kind is tuple or kind is list:
            children.extend(v for v in value if _is_node_type(type(v)))
        elif _is_node_type(kind):
            children.append(value)
    return children


def small_statements(body: cst.CSTNode) -> Iterator[tuple[cst.BaseSmallStatement, cst.CSTNode]]:
    """Every small statement of a body in source order, with the line that holds it; statements
    of nested functions and classes are not the body's."""
    stack: list[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in _LINE_TYPES:
            for small in node.body:  # type: ignore[attr-defined]
                yield small, node
            continue
        if kind in _STATEMENT_SCOPE_TYPES and node is not body:
            continue
        children = _block_children(node)
        children.reverse()
        stack.extend(children)


def entries_moved_after(node: cst.Dict, move: list[int], after: int) -> cst.Dict:
    """`node` with its entries at the indices `move` placed right after the entry `after`
    (a merge fix: the pinned keys written after the spread that overrode them). Each position
    keeps its comma, so a trailing comma and the layout stay where they were."""
    elements = list(node.elements)
    moving = set(move)
    moved = ([e for i, e in enumerate(elements[: after + 1]) if i not in moving]
             + [elements[i] for i in move] + elements[after + 1:])
    return node.with_changes(elements=[e.with_changes(comma=elements[i].comma)
                                       for i, e in enumerate(moved)])


def sole_guarded_statement(if_node: cst.If) -> tuple[cst.BaseSmallStatement, list[str]] | None:
    """The one small statement an `if` without `else` guards, with the comments of the `if`
    line and above the statement (a fix that unwraps the `if` keeps them as lines of their
    own); None for any other shape."""
    body = if_node.body
    if if_node.orelse is not None or not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None
    stmt = body.body[0]
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    comments = [body.header.comment.value] if body.header.comment is not None else []
    comments += [line.comment.value for line in stmt.leading_lines if line.comment is not None]
    return stmt.body[0], comments
