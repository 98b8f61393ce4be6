"""Depth-first "does any expression this one may come from pass the test?", without recursion.

Value analyses (is this an LLM? is this conversation-scoped?) are an OR over the expressions a
value may come from: the operands of `a or b`, a copy's receiver, a local's assigned values...
Written recursively they recurse on the depth of the user's code (a 3,000-term `or`, a
2,000-link `x.model_copy().model_copy()...`). `depth_first_any` explores the same nodes in the
same order as that recursion, with an explicit stack, and keeps the same cycle guard: the
nodes on the current path are in `visiting` (a node met again on its own path counts as
False), so a question asked again from inside a test sees exactly what it saw before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N")


def depth_first_any(root: N | None, visiting: set[int],
                    step: Callable[[N, list[N]], bool]) -> bool:
    """True when `step(node, children)` is True for `root` or a node it lists (transitively).

    `step` answers for the node itself and appends, in order, the nodes whose answer also
    counts; they are explored in that order, each to the end before the next (depth-first)."""
    if root is None or id(root) in visiting:
        return False
    stack: list[tuple[N, bool]] = [(root, False)]
    try:
        while stack:
            node, leaving = stack.pop()
            key = id(node)
            if leaving:
                visiting.discard(key)
                continue
            if key in visiting:
                continue  # a cycle: this node is already on the path
            visiting.add(key)
            stack.append((node, True))
            children: list[N] = []
            if step(node, children):
                return True
            stack.extend((child, False) for child in reversed(children) if child is not None)
        return False
    finally:
        for node, leaving in stack:
            if leaving:
                visiting.discard(id(node))
