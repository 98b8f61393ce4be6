"""Which pins a method applies, and whether it is a pin helper.

A pin (`pin_values.Pin`) is a conversation-scoped header key or LLM attribute. A method *applies* a pin when it writes a conversation-scoped
value onto an LLM (in place, see llm_writes.py) or builds a pinned copy of one
(`llm.model_copy(update={"extra_headers": {..., "x-litellm-session-id": ...}})`,
`LLM(..., extra_headers={...})`). Reading a scoped key is not a pin.

A method is a *pin helper* when its name is configured (`pin-helpers`), or from what it does:
it applies at least one pin, the pinned value comes from the instance itself (`str(self.id)`,
`self.call_context()`: the helper pins *its own* conversation), and every statement with an
effect (an attribute or item store, a call statement) is one of those pins. `restore()` that
also reloads events, or `Agent.init_state(state)` that pins a conversation it is handed, are not
helpers: a write there bypasses the sanctioned route.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis.context import FileFacts
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.scoped_values import is_constant
from lint_rules.analysis.summaries import MethodSummary
from lint_rules.syntax.semantic import FunctionInfo, dotted_name, string_value
from lint_rules.syntax.tree import nodes_of, small_statements


# ---------------------------------------------------------------------------- pins
def method_pins(fn: FunctionInfo, analysis: FileFacts) -> frozenset[Pin]:
    """Pins the function applies directly: scoped writes onto LLMs and pinned copies."""
    cached = analysis.pins.get(id(fn))
    if cached is None:
        cached = frozenset().union(*_pins_by_statement(fn, analysis).values())
        analysis.pins[id(fn)] = cached
    return cached


def statement_pins(small: cst.CSTNode, fn: FunctionInfo, analysis: FileFacts) -> frozenset[Pin]:
    """Pins one small statement of `fn` applies directly (what `method_pins` sums up)."""
    return _pins_by_statement(fn, analysis).get(id(small), frozenset())


def _pins_by_statement(fn: FunctionInfo, analysis: FileFacts) -> dict[int, frozenset[Pin]]:
    cached = fn.derived.get("pins_by_statement")
    if cached is None:
        found: dict[int, set[Pin]] = {}
        for write in analysis.writes.writes(fn):
            if write.pins:
                found.setdefault(id(write.statement), set()).update(write.pins)
        for small, call in calls_with_statement(fn):
            pins = copy_pins(call, fn, analysis)
            if pins:
                found.setdefault(id(small), set()).update(pins)
        cached = {key: frozenset(pins) for key, pins in found.items()}
        fn.derived["pins_by_statement"] = cached
    return cached


def copy_pins(call: cst.Call, fn: FunctionInfo, analysis: FileFacts) -> frozenset[Pin]:
    """`x.model_copy(update={...})` / `LLM(...)` carrying scoped keys or attributes."""
    llms, scoped = analysis.llms, analysis.scoped
    func = call.func
    fields: list[tuple[str | None, cst.BaseExpression]] = []
    if isinstance(func, cst.Attribute) and func.attr.value in ("model_copy", "copy") \
            and llms.is_llm(func.value, fn):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "update":
                display = arg.value
                if isinstance(display, cst.Name):
                    defs = [d.value for d in local_defs(fn, display.value) if d.kind == ASSIGN]
                    display = defs[0] if len(defs) == 1 else display
                if isinstance(display, cst.Dict):
                    for el in display.elements:
                        if isinstance(el, cst.DictElement):
                            fields.append((string_value(el.key), el.value))
    elif llms.is_llm_class(dotted_name(func)):
        fields = [(a.keyword.value, a.value) for a in call.args if a.keyword is not None]
    pins: set[str] = set()
    for name, value in fields:
        if name is not None and scoped.is_scoped_attribute(name) and not is_constant(value):
            pins.add(Pin.attr(name))
        else:
            pins |= {Pin.header(k) for k in scoped.scoped_keys(value, fn)}
    return frozenset(pins)


# ---------------------------------------------------------------------------- helpers
def is_pin_helper(fn: FunctionInfo, analysis: FileFacts) -> bool:
    if fn.name in analysis.config.pin_helpers:
        return True
    cached = analysis.helpers.get(id(fn))
    if cached is None:
        cached = _behaves_like_pin_helper(fn, analysis)
        analysis.helpers[id(fn)] = cached
    return cached


def _behaves_like_pin_helper(fn: FunctionInfo, analysis: FileFacts) -> bool:
    me = fn.self_name
    if me is None:
        return False
    pin_writes = [w for w in analysis.writes.writes(fn) if w.pins]
    pin_statements = {id(w.statement) for w in pin_writes}
    copy_pin_values: list[cst.BaseExpression] = []
    copy_statements: set[int] = set()
    for statement, call in calls_with_statement(fn):
        if copy_pins(call, fn, analysis):
            copy_pin_values.append(call)
            copy_statements.add(id(statement))
    if not pin_writes and not copy_pin_values:
        return False
    from_self = any(analysis.scoped.mentions_name(w.value, me, fn) for w in pin_writes) or any(
        analysis.scoped.mentions_name(v, me, fn) for v in copy_pin_values)
    if not from_self:
        return False
    for small in _small_statements(fn):
        if id(small) in pin_statements or id(small) in copy_statements:
            continue
        if _has_effect(small):
            return False
    return True


def _has_effect(small: cst.BaseSmallStatement) -> bool:
    if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        targets = ([t.target for t in small.targets] if isinstance(small, cst.Assign)
                   else [small.target])
        return any(not isinstance(t, (cst.Name, cst.Tuple, cst.List)) for t in targets)
    if isinstance(small, cst.Expr):
        return not isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis))
    return isinstance(small, (cst.Del, cst.Global, cst.Nonlocal))


# ---------------------------------------------------------------------------- summaries
def self_calls(fn: FunctionInfo) -> frozenset[str]:
    me = fn.self_name
    if me is None:
        return frozenset()
    names = set()
    for call in _calls(fn):
        name = dotted_name(call.func)
        if name and name.startswith(me + ".") and name.count(".") == 1:
            names.add(name.split(".", 1)[1])
    return frozenset(names)


def summarize_method(fn: FunctionInfo, analysis: FileFacts, line: int) -> MethodSummary:
    return MethodSummary(fn.name, line, tuple(p.name for p in fn.params), self_calls(fn),
                         method_pins(fn, analysis), is_pin_helper(fn, analysis),
                         returns_value(fn))


def returns_value(fn: FunctionInfo) -> bool:
    return any(r.value is not None and not (isinstance(r.value, cst.Name) and r.value.value == "None")
               for r in nodes_of(fn.node.body, cst.Return))


# ---------------------------------------------------------------------------- walking
def _small_statements(fn: FunctionInfo) -> list[cst.BaseSmallStatement]:
    return [small for small, _ in small_statements(fn.node.body)]


def _calls(fn: FunctionInfo) -> list[cst.Call]:
    return [call for _, call in calls_with_statement(fn)]


def calls_with_statement(fn: FunctionInfo) -> list[tuple[cst.BaseSmallStatement, cst.Call]]:
    """Every call in the function's own statements (lambdas included, nested defs not), with
    the small statement that holds it."""
    cached = fn.derived.get("calls")
    if cached is None:
        cached = [(small, call) for small, _ in small_statements(fn.node.body)
                  for call in nodes_of(small, cst.Call)]
        fn.derived["calls"] = cached
    return cached
