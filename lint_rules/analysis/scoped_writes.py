"""What the three scope-leak rules share: scoped writes with their ownership, guard shapes, and
the pin helper a write could be routed through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from lint_rules.analysis.context import FileContext, FileFacts
from lint_rules.analysis.llm_writes import Write
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.ownership import Ownership, Verdict
from lint_rules.analysis.pin_values import Pin, names_of
from lint_rules.analysis.pins import calls_with_statement, copy_pins, is_pin_helper, method_pins
from lint_rules.syntax.semantic import FunctionInfo, dotted_name, string_value
from lint_rules.syntax.tree import walk


@dataclass(frozen=True)
class ScopedWrite:
    write: Write
    verdict: Verdict


def borrowed_scoped_writes(ctx: FileContext, fn: FunctionInfo) -> tuple[FileFacts, list[ScopedWrite]]:
    """Writes of conversation-scoped values onto objects the function borrowed."""
    analysis = ctx.facts
    out: list[ScopedWrite] = []
    for write in analysis.writes.writes(fn):
        if not write.pins:
            continue
        verdict = analysis.ownership.verdict(write.container, fn, write.statement)
        if verdict.kind is Ownership.BORROWED:
            out.append(ScopedWrite(write, verdict))
    return analysis, out


def describe_pins(pins: frozenset[Pin]) -> str:
    return " and ".join(pin.describe() for pin in sorted(pins))


def written_spelling(ctx: FileContext, write: Write) -> str:
    """`llm.extra_headers["x-litellm-session-id"]`, `self.agent.llm._prompt_cache_key`, ..."""
    llm = _short(ctx.code(write.llm))
    if write.kind == "attr":
        return f"{llm}.{write.name}" if write.name else llm
    field = write.name or "..."
    if write.key is not None and write.kind in ("item", "setdefault"):
        return f"{llm}.{field}[{_short(ctx.code(write.key))}]"
    return f"{llm}.{field}"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- stale guards
def stale_guard_reason(write: Write, fn: FunctionInfo, analysis: FileFacts) -> str | None:
    """Why the write keeps an existing value, or None when it always overwrites."""
    headers = names_of(write.pins, "header")
    attrs = names_of(write.pins, "attr")
    if write.kind == "setdefault":
        return "`setdefault` keeps any value already there"
    # For a header pin, a test that the whole dict is missing guards the key as well.
    fields = attrs | ({write.name} if headers and write.name else set())
    for guard in write.guards:
        for atom, unset in _atoms(guard.test, guard.holds):
            if unset and _tests_presence(atom, headers, fields, fn, analysis):
                return "it only runs when no value is set yet"
    value = write.value
    if write.kind in ("attr", "merge", "update") and value is not None:
        if _old_mapping_wins(value, headers, fn, analysis):
            return "the dict merge lets the existing headers override the new value"
        if write.kind == "attr" and isinstance(value, cst.BooleanOperation) \
                and isinstance(value.operator, cst.Or) and _reads_attr(value.left, attrs, fn, analysis):
            return "`existing or new` keeps the existing value"
    return None


def _atoms(test: cst.BaseExpression, holds: bool):
    """(atom, unset?) pairs that are known when `test` evaluates to `holds`.

    An atom is a presence test; `unset` is True when what is known is "absent / None / falsy".
    """
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from _atoms(test.expression, not holds)
        return
    if isinstance(test, cst.BooleanOperation):
        both = (isinstance(test.operator, cst.And) and holds) or (isinstance(test.operator, cst.Or) and not holds)
        if both:
            yield from _atoms(test.left, holds)
            yield from _atoms(test.right, holds)
        return
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op = test.comparisons[0].operator
        if isinstance(op, cst.NotIn):
            yield test, holds  # `k not in d` true: absent
            return
        if isinstance(op, cst.In):
            yield test, not holds
            return
        if isinstance(op, (cst.Is, cst.Equal)) and _is_none(test.comparisons[0].comparator):
            yield test.left, holds
            return
        if isinstance(op, (cst.IsNot, cst.NotEqual)) and _is_none(test.comparisons[0].comparator):
            yield test.left, not holds
            return
        return
    # A bare value: truthy means "set".
    yield test, not holds


def _tests_presence(atom: cst.BaseExpression, headers: set[str], attrs: set[str],
                    fn: FunctionInfo, analysis: FileFacts) -> bool:
    if isinstance(atom, cst.Comparison):  # `key (not) in mapping`
        key = analysis.scoped.header_key(atom.left, fn)
        return key is not None and key in headers and _refers_to_llm_dict(
            atom.comparisons[0].comparator, fn, analysis)
    if _reads_attr(atom, attrs, fn, analysis):
        return True
    if isinstance(atom, cst.Call) and isinstance(atom.func, cst.Attribute) \
            and atom.func.attr.value == "get" and atom.args:
        key = analysis.scoped.header_key(atom.args[0].value, fn)
        return key is not None and key in headers and _refers_to_llm_dict(atom.func.value, fn, analysis)
    return False


def _reads_attr(node: cst.BaseExpression, attrs: set[str], fn: FunctionInfo,
                analysis: FileFacts) -> bool:
    """`llm.attr`, `getattr(llm, "attr", None)`, `hasattr(llm, "attr")` for a written attr."""
    if isinstance(node, cst.Attribute):
        return node.attr.value in attrs and analysis.llms.is_llm(node.value, fn)
    if isinstance(node, cst.Call) and dotted_name(node.func) in ("getattr", "hasattr") and len(node.args) >= 2:
        return string_value(node.args[1].value) in attrs and analysis.llms.is_llm(node.args[0].value, fn)
    return False


def _refers_to_llm_dict(node: cst.BaseExpression, fn: FunctionInfo, analysis: FileFacts,
                        depth: int = 0) -> bool:
    """The current contents of an LLM's dict: `llm.extra_headers`, `(llm.extra_headers or {})`,
    `dict(llm.extra_headers)`, `.copy()`, or a local bound to one of these."""
    if depth > 4:
        return False
    if isinstance(node, cst.Attribute):
        return analysis.llms.is_llm(node.value, fn) and not analysis.llms.is_llm_attribute(node.attr.value)
    if isinstance(node, cst.BooleanOperation):
        return _refers_to_llm_dict(node.left, fn, analysis, depth + 1)
    if isinstance(node, cst.Call):
        if dotted_name(node.func) == "dict" and node.args:
            return _refers_to_llm_dict(node.args[0].value, fn, analysis, depth + 1)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "copy":
            return _refers_to_llm_dict(node.func.value, fn, analysis, depth + 1)
        return False
    if isinstance(node, cst.Name):
        return any(d.kind == ASSIGN and _refers_to_llm_dict(d.value, fn, analysis, depth + 1)
                   for d in local_defs(fn, node.value))
    return False


def _old_mapping_wins(value: cst.BaseExpression, headers: set[str], fn: FunctionInfo,
                      analysis: FileFacts, depth: int = 0) -> bool:
    """`{key: v, **old}`, `{key: v} | old`, `dict({key: v}, **old)` with `old` the LLM's dict."""
    if depth > 4:
        return False
    scoped = analysis.scoped
    if isinstance(value, cst.Name):
        return any(d.kind == ASSIGN and _old_mapping_wins(d.value, headers, fn, analysis, depth + 1)
                   for d in local_defs(fn, value.value))
    if isinstance(value, cst.Dict):
        seen_key = False
        for el in value.elements:
            if isinstance(el, cst.DictElement):
                if scoped.header_key(el.key, fn) in headers:
                    seen_key = True
            elif seen_key and _refers_to_llm_dict(el.value, fn, analysis):
                return True
        return False
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.BitOr):
        return bool(scoped.scoped_keys(value.left, fn) & headers) and _refers_to_llm_dict(value.right, fn, analysis)
    if isinstance(value, cst.Call) and dotted_name(value.func) == "dict":
        positional = [a for a in value.args if a.keyword is None and not a.star]
        spreads = [a for a in value.args if a.star == "**"]
        return bool(positional) and bool(scoped.scoped_keys(positional[0].value, fn) & headers) and any(
            _refers_to_llm_dict(a.value, fn, analysis) for a in spreads)
    return False


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


# ---------------------------------------------------------------------------- the helper route
@dataclass(frozen=True)
class HelperRoute:
    name: str
    takes_llm: bool
    local: FunctionInfo | None  # the helper's code when it is in this file's class


def acts_as_pin_helper(ctx: FileContext, fn: FunctionInfo) -> bool:
    """A configured helper always; one recognised from behaviour only while no configured helper
    of the class (or a base class) already applies the same pins: then it is a bypass."""
    analysis = ctx.facts
    if fn.name in ctx.config.pin_helpers:
        return True
    if not is_pin_helper(fn, analysis):
        return False
    pins = method_pins(fn, analysis)
    route = helper_for(ctx, fn, pins, configured_only=True) if pins else None
    return route is None


def helper_for(ctx: FileContext, fn: FunctionInfo, pins: frozenset[Pin], *,
               configured_only: bool = False) -> HelperRoute | None:
    """A pin helper of the enclosing class (or a base class) that applies every pin in `pins`."""
    cls = fn.cls
    if cls is None or fn.self_name is None:
        return None
    analysis = ctx.facts
    overridden: set[str] = set()
    remote_bases: list[str] = []
    for klass in _local_mro(ctx, cls, remote_bases):
        for name, method in klass.methods.items():
            if method is fn or name in overridden:
                continue
            overridden.add(name)
            if configured_only:
                if name not in ctx.config.pin_helpers:
                    continue
            elif not acts_as_pin_helper(ctx, method):
                continue
            if method.self_name is None:
                continue  # a static/class method cannot be called as `self.helper(llm)` safely
            if pins <= method_pins(method, analysis):
                route = _route(name, [p.name for p in method.params], method)
                if route is not None:
                    return route
    index = ctx.index
    if index is None or not remote_bases:
        return None
    try:
        ancestors = index.ancestors(tuple(remote_bases), Path(ctx.path))
    except (OSError, ValueError, RecursionError):
        return None
    for ancestor in ancestors:
        for name, summary in ancestor.methods.items():
            if name in overridden or not summary.is_pin_helper:
                continue
            if configured_only and name not in ctx.config.pin_helpers:
                continue
            if pins <= summary.pins:
                route = _route(name, list(summary.params), None)
                if route is not None:
                    return route
    return None


def _local_mro(ctx: FileContext, cls, remote_bases: list[str]):
    """The class and its base classes defined in this file (breadth-first); bases defined
    elsewhere are appended to `remote_bases` for the project index."""
    seen: set[int] = set()
    queue = [cls]
    while queue:
        klass = queue.pop(0)
        if id(klass) in seen:
            continue
        seen.add(id(klass))
        yield klass
        for base in klass.bases:
            local = ctx.model.class_named(base) if "." not in base else None
            if local is None and ctx.model.module_name and base.startswith(ctx.model.module_name + "."):
                local = ctx.model.class_named(base[len(ctx.model.module_name) + 1:])
            if local is not None:
                queue.append(local)
            elif base not in remote_bases:
                remote_bases.append(base)


def _route(name: str, params: list[str], local: FunctionInfo | None) -> HelperRoute | None:
    rest = params[1:]  # after `self`
    if len(rest) > 1:
        return None
    return HelperRoute(name, bool(rest), local)


def suggested_helper(config, pins: frozenset[Pin]) -> str:
    """A configured helper name that fits the pins, for "add a helper" messages."""
    words = {w for p in pins for w in p.name.replace("-", "_").split("_") if len(w) > 3}
    if any(p.kind == "header" for p in pins):
        words |= {"header"}
    best, best_score = None, -1
    for name in config.pin_helpers:
        score = sum(1 for w in words if w in name)
        if score > best_score:
            best, best_score = name, score
    return best or "_pin_conversation_values"


def fix_is_exact(ctx: FileContext, fn: FunctionInfo, write: Write, helper: FunctionInfo,
                 analysis: FileFacts) -> bool:
    """The helper's whole body is the same single write on its LLM parameter: calling it does
    exactly what the removed statement did."""
    body = helper.node.body
    if not isinstance(body, cst.IndentedBlock):
        return False
    statements = list(body.body)
    if statements and _is_docstring(statements[0]):
        statements = statements[1:]
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine) \
            or len(statements[0].body) != 1:
        return False
    params = [p.name for p in helper.params][1:]
    if len(params) != 1:
        return False
    writes = analysis.writes.writes(helper)
    if len(writes) != 1:
        return False
    theirs = writes[0]
    if theirs.guards or not theirs.whole_statement or theirs.kind not in ("attr", "item"):
        return False
    if (theirs.kind, theirs.name, theirs.pins) != (write.kind, write.name, write.pins):
        return False
    if dotted_name(theirs.llm) != params[0] or _container_field(theirs) != _container_field(write):
        return False
    if _code(ctx, theirs.value) != _code(ctx, write.value) or _code(ctx, theirs.key) != _code(ctx, write.key):
        return False
    # The value must mean the same in both places: only `self` and module-level names.
    for name in _names(write.value) | _names(write.key):
        if name == fn.self_name == helper.self_name:
            continue
        if name in params or local_defs(helper, name) or local_defs(fn, name):
            return False
    return True


def _names(node: cst.CSTNode | None) -> set[str]:
    """Variable names a value reads (not attribute names: `self.id` reads `self`)."""
    if node is None:
        return set()
    names: list[cst.Name] = []
    attr_nodes: set[int] = set()

    def visit(n: cst.CSTNode) -> None:
        if isinstance(n, cst.Attribute):
            attr_nodes.add(id(n.attr))
        elif isinstance(n, cst.Name):
            names.append(n)

    walk(node, visit, lambda _n: None)
    return {n.value for n in names if id(n) not in attr_nodes}


def _container_field(write: Write) -> str | None:
    if isinstance(write.container, cst.Attribute) and write.container is not write.llm:
        return write.container.attr.value
    return None if write.container is write.llm else "?alias"


def _code(ctx: FileContext, node: cst.CSTNode | None) -> str | None:
    return None if node is None else ctx.code(node).strip()


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


# ---------------------------------------------------------------------------- copy-on-write pins
@dataclass(frozen=True)
class StaleCopyPin:
    node: cst.Call
    source: cst.BaseExpression  # the LLM copied
    verdict: Verdict
    pins: frozenset[Pin]
    reason: str


def stale_copy_pins(ctx: FileContext, fn: FunctionInfo) -> list[StaleCopyPin]:
    """`llm.model_copy(update={"extra_headers": {key: v, **llm.extra_headers}})` and copy-pins
    under an "if not already set" guard, copied from an LLM that may be shared: the copy keeps
    the value the source carries (an earlier conversation's, once anything pinned it in place
    or the source is an already pinned copy being forked)."""
    analysis = ctx.facts
    out: list[StaleCopyPin] = []
    for statement, call in calls_with_statement(fn):
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ("model_copy", "copy")):
            continue
        pins = copy_pins(call, fn, analysis)
        if not pins:
            continue
        headers = names_of(pins, "header")
        attrs = names_of(pins, "attr")
        reason = None
        update = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "update"), None)
        display = update
        if isinstance(display, cst.Name):
            defs = [d.value for d in local_defs(fn, display.value) if d.kind == ASSIGN]
            display = defs[0] if len(defs) == 1 else None
        # The fields the copy pins headers in (`update={"default_headers": {key: v}}`); when
        # the update is opaque, any configured header field.
        header_fields: set[str] = set()
        if isinstance(display, cst.Dict):
            for el in display.elements:
                if not isinstance(el, cst.DictElement):
                    continue
                if _old_mapping_wins(el.value, headers, fn, analysis):
                    reason = "the dict merge lets the existing headers override the new value"
                field = string_value(el.key)
                if field is not None and analysis.scoped.scoped_keys(el.value, fn) & headers:
                    header_fields.add(field)
        elif headers:
            header_fields = set(ctx.config.header_keywords)
        if reason is None:
            fields = attrs | header_fields
            for guard in analysis.writes.guards_of(fn, statement):
                for atom, unset in _atoms(guard.test, guard.holds):
                    if unset and _tests_presence(atom, headers, fields, fn, analysis):
                        reason = "it only runs when no value is set yet"
        if reason is None:
            continue
        verdict = analysis.ownership.verdict(func.value, fn, statement)
        if verdict.kind is Ownership.BORROWED:
            out.append(StaleCopyPin(call, func.value, verdict, pins, reason))
    return out
