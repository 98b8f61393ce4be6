"""Run recursive analyses without recursion: a recursive function written as a generator.

An analysis over statements is most clearly written recursively (a block is its statements, an
`if` is its test and two blocks), but the user's code may nest deeper than Python's recursion
limit: a 2,000-branch `elif` chain is 2,000 nested `If` nodes. Written as a generator that
*yields* the generator of each sub-problem instead of calling it (`state = yield
self._suite(body, state)`), the same code runs under `run`, which keeps the pending calls on a
list: the depth of the code costs heap, never stack. Results and their order are those of the
recursive version, call for call.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

T = TypeVar("T")

Nested = Generator[Any, Any, T]


def run(root: Nested[T]) -> T:
    """Drive `root`: each value it (or a generator it yielded) yields is a generator to run
    first, whose return value is sent back to the one that yielded it (an exception is thrown
    into it, as a call would raise it)."""
    stack: list[Nested[Any]] = [root]
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is not None:
                thrown, error = error, None
                child = stack[-1].throw(thrown)
            else:
                child = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            if not stack:
                return value
            continue
        except BaseException as exc:
            stack.pop()
            if not stack:
                raise
            error = exc
            continue
        stack.append(child)
        value = None
