"""What the scope-leak rules share: scoped writes with their ownership, and the pin helper a
write could be routed through. (Stale guards are in `stale_guards.py`.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from lint_rules.analysis.context import FileContext, FileFacts
from lint_rules.analysis.llm_writes import Write
from lint_rules.analysis.local_bindings import local_defs
from lint_rules.analysis.ownership import Ownership, Verdict
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.pins import is_pin_helper, method_pins
from lint_rules.syntax.semantic import FunctionInfo, dotted_name
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
    for klass in ctx.model.local_mro(cls, remote_bases):
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
