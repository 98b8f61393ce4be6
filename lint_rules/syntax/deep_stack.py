"""The one place that still needs a deep stack: libcst's own recursion.

Every analysis of this tool walks the user's code with loops and worklists (or with a
documented depth cap), never by recursion on its depth. libcst is another matter: its code
generator, which both `Module.code_for_node` and the position provider (`PositionProvider`)
run, recurses once or twice per level of the tree, so a 2,000-branch `elif` chain, a 3,000-part
implicitly concatenated string or a long `a or b or ...` needs more frames than CPython's
default limit (1000) allows, although CPython compiles such code. Those two libcst calls are
therefore tried on the caller's stack first and, only when that runs out, once more in a thread
with a large stack and a matching recursion limit (`ast.parse` too, for text CPython compiles:
its conversion to Python objects counts frames as well) (measured on CPython 3.11: 120000 `or` terms
need ~400000 frames and well under 256 MiB). The limit stays far below what that stack holds, so
running out is a RecursionError (an internal error of that one file), never a crash.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

T = TypeVar("T")

DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 400_000
DEEP_THREAD_NAME = "llm-affinity-lint-deep"


def exhausted_stack(exc: BaseException) -> bool:
    """True when `exc` is, or was raised while handling, a RecursionError (libcst's position
    provider turns one into a KeyError as it unwinds)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10_000:
        if isinstance(current, RecursionError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def call_with_deep_stack(fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` in a thread with a large stack and a high recursion limit (raised
    before the thread starts, so it never runs under the old one)."""
    return _in_thread(fn, args, kwargs, DEEP_STACK_BYTES,
                      max(sys.getrecursionlimit(), DEEP_RECURSION_LIMIT))


def call_on_fresh_stack(fn: Callable[..., T], *args) -> T:
    """`fn(*args)` in a thread of the default stack size, at the current recursion limit:
    CPython's compiler counts the frames of its caller, so its verdict on deep code (a
    2,900-term `+`) would otherwise depend on who asks (the CLI, flake8, a test)."""
    return _in_thread(fn, args, {}, 0, sys.getrecursionlimit())


def _in_thread(fn: Callable[..., T], args: tuple, kwargs: dict, stack_bytes: int,
               limit: int) -> T:
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    thread = threading.Thread(target=target, name=DEEP_THREAD_NAME, daemon=True)
    sys.setrecursionlimit(limit)
    try:
        threading.stack_size(stack_bytes)
        try:
            thread.start()
        finally:
            threading.stack_size(old_size)
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome.get("value")  # type: ignore[return-value]


def _with_stack(fn: Callable[..., T], *args) -> T:
    """`fn(*args)`, retried on a deep stack when the caller's runs out (not from the deep
    thread itself: there, running out is final)."""
    try:
        return fn(*args)
    except Exception as exc:
        if not exhausted_stack(exc) or threading.current_thread().name == DEEP_THREAD_NAME:
            raise
    return call_with_deep_stack(fn, *args)


def _positions(module: cst.Module) -> dict[cst.CSTNode, CodeRange]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider)  # type: ignore[return-value]


def positions(module: cst.Module) -> dict[cst.CSTNode, CodeRange]:
    """libcst's positions of every node of `module` (its code generator: deep stack if need be)."""
    return _with_stack(_positions, module)


def code_for_node(module: cst.Module, node: cst.CSTNode) -> str:
    """The source text of `node` as libcst prints it (deep stack if need be)."""
    return _with_stack(module.code_for_node, node)
