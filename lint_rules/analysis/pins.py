"""Which pins a method applies, and whether it is a pin helper.

A pin (`pin_values.Pin`) is a conversation-scoped header key or LLM attribute. A method *applies* a pin when it writes a conversation-scoped
value onto an LLM (in place, see llm_writes.py) or builds a pinned copy of one
(`llm.model_copy(update={"extra_headers": {..., "x-litellm-session-id": ...}})`,
`LLM(..., extra_headers={...})`). Reading a scoped key is not a pin.

A method is a *pin helper* when its name is configured (`pin-helpers`), or from what it does:
its job is applying the pin. It applies at least one pin, the pinned value comes from the
instance itself (`str(self.id)`, `self.call_context()`: the helper pins *its own*
conversation), every statement with an effect (an attribute or item store, a call statement) is
one of those pins, and it hands back nothing but the pinned LLM: no property, no `return` of
another result (`generate_title` returning a title, `_should_init()` returning a bool), no body
that always raises. `restore()` that also reloads events, `Agent.init_state(state)` that pins a
conversation it is handed, or an ordinary method holding one scoped write onto
`self.agent.llm`, are not helpers: a write there bypasses the sanctioned route (LLA001).

A write onto a *transient* copy (a local the function owns on every path, e.g.
`_llm = B.model_copy(update={"extra_headers": {}})`, that never leaves the function: not
returned, stored, passed or captured; only its own attributes and methods are used) is not a pin
the method applies: the value lives for this call only, so there is nothing to re-apply after a
swap and nothing that makes the method a helper.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis.context import FileFacts
from lint_rules.analysis.llm_writes import Write
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.ownership import Ownership
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.scoped_values import is_constant
from lint_rules.analysis.summaries import MethodSummary
from lint_rules.syntax.semantic import FunctionInfo, dotted_name, string_value
from lint_rules.syntax.tree import nodes_of, small_statements, walk


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
        for write in pin_writes(fn, analysis):
            found.setdefault(id(write.statement), set()).update(write.pins)
        for small, call in calls_with_statement(fn):
            pins = copy_pins(call, fn, analysis)
            if pins:
                found.setdefault(id(small), set()).update(pins)
        cached = {key: frozenset(pins) for key, pins in found.items()}
        fn.derived["pins_by_statement"] = cached
    return cached


def pin_writes(fn: FunctionInfo, analysis: FileFacts) -> list[Write]:
    """The function's scoped writes that pin something beyond this call: all but the writes onto
    a transient copy (see the module docstring)."""
    cached = fn.derived.get("pin_writes")
    if cached is None:
        cached = [w for w in analysis.writes.writes(fn)
                  if w.pins and not _onto_transient_copy(w, fn, analysis)]
        fn.derived["pin_writes"] = cached
    return cached


def _onto_transient_copy(write: Write, fn: FunctionInfo, analysis: FileFacts) -> bool:
    if not isinstance(write.llm, cst.Name):
        return False  # only a local bound to the copy itself (`_llm`), not `self.x` or `a.llm`
    name = write.llm.value
    defs = local_defs(fn, name)
    if not defs or any(d.kind != ASSIGN for d in defs):
        return False
    if analysis.ownership.verdict(write.container, fn, write.statement).kind is not Ownership.OWNED:
        return False
    return not _escapes(fn, name)


def _escapes(fn: FunctionInfo, name: str) -> bool:
    """Is the local `name` used other than as the receiver of an attribute (`name.x`, `name.f()`)
    or as the target it is bound to? Nested functions count (a closure captures it)."""
    cached = fn.derived.setdefault("escapes", {})
    if name in cached:
        return cached[name]
    harmless: set[int] = set()
    bare: list[cst.Name] = []

    def visit(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Attribute):
            harmless.add(id(node.attr))
            if isinstance(node.value, cst.Name):
                harmless.add(id(node.value))
        elif isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
            harmless.add(id(node.target))
        elif isinstance(node, cst.Name) and node.value == name:
            bare.append(node)

    walk(fn.node.body, visit)
    cached[name] = any(id(n) not in harmless for n in bare)
    return cached[name]


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
    if _is_property(fn) or _always_raises(fn):
        return False
    writes = pin_writes(fn, analysis)
    pin_statements = {id(w.statement) for w in writes}
    copy_pin_values: list[cst.BaseExpression] = []
    copy_statements: set[int] = set()
    for statement, call in calls_with_statement(fn):
        if copy_pins(call, fn, analysis):
            copy_pin_values.append(call)
            copy_statements.add(id(statement))
    if not writes and not copy_pin_values:
        return False
    from_self = any(analysis.scoped.mentions_name(w.value, me, fn) for w in writes) or any(
        analysis.scoped.mentions_name(v, me, fn) for v in copy_pin_values)
    if not from_self:
        return False
    for small in _small_statements(fn):
        if id(small) in pin_statements or id(small) in copy_statements:
            continue
        if _has_effect(small):
            return False
        if isinstance(small, cst.Return) and not _returns_pinned(small.value, fn, writes, analysis):
            return False  # its job is computing something else
    return True


def _returns_pinned(value: cst.BaseExpression | None, fn: FunctionInfo, writes: list[Write],
                    analysis: FileFacts) -> bool:
    """`return`, `return None`, or the LLM it pinned (`return pinned`, `return llm`)."""
    if value is None or (isinstance(value, cst.Name) and value.value == "None"):
        return True
    if isinstance(value, cst.Name) and (
            any(isinstance(w.llm, cst.Name) and w.llm.value == value.value for w in writes)
            or any(p.name == value.value for p in fn.params)):
        return True
    if isinstance(value, cst.Call) and copy_pins(value, fn, analysis):
        return True
    return analysis.llms.is_llm(value, fn)


def _is_property(fn: FunctionInfo) -> bool:
    return any((dotted_name(d.decorator) or "").rsplit(".", 1)[-1] in (
        "property", "cached_property", "setter", "getter", "deleter") for d in fn.node.decorators)


def _always_raises(fn: FunctionInfo) -> bool:
    """The body ends in an unconditional `raise` (`raise NotImplementedError(...)`)."""
    body = fn.node.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return False
    last = body.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Raise) for small in last.body)


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
