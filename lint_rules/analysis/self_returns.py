"""What `self.m(...)` hands back: the method of the caller's class (or a base class in this file)
that the call runs, and the values its `return` statements give.

Used by ownership (`self.headers()` is whatever `headers` returns: `{"h": self.llm.extra_headers}`
is a fresh dict whose value is still the shared LLM's dict) and by the write finder
(`self.headers()["h"][KEY] = v` writes into that inner dict). Only the class's own methods are
followed, and only through `self`: the callee's `self` is the caller's, so its `self.<attr>`
chains mean the same in both places. A value that depends on the callee's parameters is not
followed (the caller's argument would have to be substituted).
"""

from __future__ import annotations

import libcst as cst

from lint_rules.syntax.semantic import FunctionInfo
from lint_rules.syntax.tree import nodes_of

# How many `self.m()` calls deep ownership follows a returned value (`a` returns `self.b()`,
# which returns `self.c()`...): past that the value is unknown, so nothing is reported from it.
# Each method is evaluated at most once per depth left (ownership.py), so the bound keeps the
# cost linear in the number of methods.
SELF_CALL_DEPTH = 4


def called_self_method(model, fn: FunctionInfo, call: cst.Call) -> FunctionInfo | None:
    """The method `self.m(...)` runs, when `m` is defined by the caller's class or one of its
    bases in this module and takes `self` under the same name."""
    func = call.func
    me = fn.self_name
    if me is None or fn.cls is None or not isinstance(func, cst.Attribute) \
            or not isinstance(func.value, cst.Name) or func.value.value != me:
        return None
    name = func.attr.value
    for klass in model.local_mro(fn.cls, []):
        method = klass.methods.get(name)
        if method is not None:
            return method if method.self_name == me and method is not fn else None
    return None


def returned_values(fn: FunctionInfo) -> list[tuple[cst.Return, cst.BaseExpression]]:
    """(return statement, value) of every `return <value>` of the function's own body."""
    cached = fn.derived.get("returned_values")
    if cached is None:
        cached = [(r, r.value) for r in nodes_of(fn.node.body, cst.Return, nested=False)
                  if r.value is not None]
        fn.derived["returned_values"] = cached
    return cached
