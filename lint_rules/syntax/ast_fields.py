"""Walking CPython `ast` trees: the fields a walk descends into.

`ast.iter_child_nodes` and `ast.walk` yield every child, including the expression context
(`Load`, `Store`) of every name, attribute and subscript and the operator of every operation:
a third of a module's nodes, none of which the `ast` stages read as a node of their own (they
read `node.op` where it matters). The walks of the stages skip those fields, and look each node
type's field names up once.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator

_SKIPPED = frozenset({"ctx", "op", "ops"})
_FIELDS: dict[type, tuple[str, ...]] = {}
_AST = ast.AST


def child_fields(kind: type) -> tuple[str, ...]:
    """The fields of an `ast` node type that may hold nodes a walk reads, in `_fields` order."""
    found = _FIELDS.get(kind)
    if found is None:
        found = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _SKIPPED)  # type: ignore[attr-defined]
    return found


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """`ast.iter_child_nodes(node)` without contexts and operators, in the same order."""
    children: list[ast.AST] = []
    for name in child_fields(type(node)):
        value = getattr(node, name, None)
        if type(value) is list:
            children.extend(v for v in value if isinstance(v, _AST))
        elif isinstance(value, _AST):
            children.append(value)
    return children


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk(node)` (breadth first) without contexts and operators."""
    queue = deque([node])
    pop, extend = queue.popleft, queue.extend
    while queue:
        current = pop()
        extend(child_nodes(current))
        yield current
