"""Stale guards: a conversation-scoped pin that keeps the value already there.

A *pin site* stores a conversation-scoped value:

- an in-place write onto an LLM (`llm_writes.Write` with pins), kind "write";
- a pinned copy, `llm.model_copy(update={...})`, kind "copy";
- a request that carries a scoped header or attribute: a call keyword named like a header
  keyword or a scoped attribute (`completion(extra_headers={...})`, `prompt_cache_key=...`) or
  an item store of one (`kwargs["extra_headers"] = {...}`), kind "request".

The pin is *stale-guarded* when, whenever a value is already there, the value kept is that one:

- a guard of the site tests that the value is absent: `if k not in h`, `if not h.get(k)`,
  `if llm._prompt_cache_key is None`, `if not getattr(llm, "_prompt_cache_key", None)`, and an
  early `if ctx.session_id is not None: return` before the pin;
- `h.setdefault(k, v)` on the LLM's dict;
- the stored value prefers the existing one: `h.get(k) or v`, `existing.key or v`,
  `x.key if x.key else v`, and (for writes and copies: a request dict merged the wrong way
  round is LLA004's) `{k: v, **existing}`, `{k: v} | existing`, `dict({k: v}, **existing)`,
  `dict(k=v, **existing)`.

"Existing" is read from an LLM: the pinned attribute (`llm._prompt_cache_key`), a field of it
(`llm._call_context.session_id`), the pinned key of one of its header dicts
(`llm.extra_headers.get(k)`), or the whole header dict for a header pin (`if not
llm.extra_headers`), directly or through a local (`existing = llm.extra_headers or {}`,
`ctx = llm._call_context`). The finding is the guard expression (the guard is the defect); the
site is where the value is stored. Whether the LLM read may be shared is the caller's question
(`ownership`), asked of `StaleGuard.llm` at `StaleGuard.statement`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.context import FileFacts
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.pin_values import Pin, names_of
from lint_rules.analysis.pins import calls_with_statement, copy_pins
from lint_rules.syntax.semantic import FunctionInfo, dotted_name, string_value
from lint_rules.syntax.tree import nodes_of, small_statements

# `existing`, `pinned_object` and `llm_dict` (and `atoms` through `_disjuncts`) follow a read of the existing value through at
# most this many wrappers and locals (`h = llm.extra_headers; h2 = dict(h) ...`): the cap bounds
# their recursion, and past it the read is unknown, i.e. not a stale guard (silent).
_DEPTH = 4

GUARD_REASON = "it only runs when no value is set yet"
SETDEFAULT_REASON = "`setdefault` keeps any value already there"
MERGE_REASON = "the dict merge lets the existing headers override the new value"
OR_REASON = "`existing or new` keeps the existing value"
IFEXP_REASON = "`existing if existing else new` keeps the existing value"


@dataclass(frozen=True)
class StaleGuard:
    guard: cst.CSTNode  # the guard expression: what is reported
    site: cst.CSTNode  # where the pinned value is stored (the related location)
    statement: cst.BaseSmallStatement  # the small statement of the site
    llm: cst.BaseExpression  # the LLM whose existing value is kept
    pins: frozenset[Pin]
    reason: str
    kind: str  # "write" | "copy" | "request"
    new: cst.BaseExpression | None = None  # `existing or new`, `x if x else new`: the new value


def stale_guards(fn: FunctionInfo, analysis: FileFacts) -> list[StaleGuard]:
    """Every stale-guarded pin site of `fn`, in source order of the sites (cached per function)."""
    cached = fn.derived.get("stale_guards")
    if cached is None:
        cached = _Finder(fn, analysis).run()
        fn.derived["stale_guards"] = cached
    return cached


class _Finder:
    def __init__(self, fn: FunctionInfo, analysis: FileFacts) -> None:
        self.fn = fn
        self.analysis = analysis
        self.config = analysis.config
        self.out: list[StaleGuard] = []
        self.seen: set[int] = set()

    def add(self, guard: cst.CSTNode, site: cst.CSTNode, statement: cst.BaseSmallStatement,
            llm: cst.BaseExpression, pins: frozenset[Pin], reason: str, kind: str,
            new: cst.BaseExpression | None = None) -> None:
        if id(guard) in self.seen:
            return
        self.seen.add(id(guard))
        self.out.append(StaleGuard(guard, site, statement, llm, pins, reason, kind, new))

    def run(self) -> list[StaleGuard]:
        fn, analysis = self.fn, self.analysis
        for write in analysis.writes.writes(fn):
            if write.pins:
                self.write_site(write)
        for statement, call in calls_with_statement(fn):
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("model_copy", "copy"):
                pins = copy_pins(call, fn, analysis)
                if pins:
                    self.copy_site(statement, call, pins)
                continue
            for arg in call.args:
                if arg.keyword is not None:
                    self.request_value(statement, arg, arg.keyword.value, arg.value)
        for small, _ in small_statements(fn.node.body):
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
                if isinstance(target, cst.Subscript) and len(target.slice) == 1 \
                        and isinstance(target.slice[0].slice, cst.Index) \
                        and not analysis.llms.is_llm(target.value, fn):
                    field = string_value(target.slice[0].slice.value)
                    if field is not None:
                        self.request_value(small, small, field, small.value)
        return self.out

    # ------------------------------------------------------------------ sites
    def write_site(self, write) -> None:
        headers = names_of(write.pins, "header")
        attrs = names_of(write.pins, "attr")
        # For a header pin, a test that the whole dict is missing guards the key as well.
        fields = attrs | ({write.name} if headers and write.name else set())
        if write.kind == "setdefault":
            self.add(write.node, write.node, write.statement, write.llm, write.pins,
                     SETDEFAULT_REASON, "write")
            return
        self.guarded(write.guards, write.node, write.statement, headers, fields, write.pins, "write")
        if write.value is not None:
            self.value(write.value, write.node, write.statement, headers, attrs, write.pins,
                       "write", merges=write.kind in ("attr", "merge", "update"))

    def copy_site(self, statement: cst.BaseSmallStatement, call: cst.Call, pins: frozenset[Pin]) -> None:
        fn, analysis = self.fn, self.analysis
        headers = names_of(pins, "header")
        attrs = names_of(pins, "attr")
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
                field = string_value(el.key)
                if field is not None and analysis.scoped.scoped_keys(el.value, fn) & headers:
                    header_fields.add(field)
                if field is not None and field in attrs:
                    self.value(el.value, call, statement, set(), {field}, pins, "copy", merges=True)
                else:
                    self.value(el.value, call, statement, headers, set(), pins, "copy", merges=True)
        elif headers:
            header_fields = set(self.config.header_keywords)
        guards = analysis.writes.guards_of(fn, statement)
        self.guarded(guards, call, statement, headers, attrs | header_fields, pins, "copy")

    def request_value(self, statement: cst.BaseSmallStatement, site: cst.CSTNode, field: str,
                      value: cst.BaseExpression) -> None:
        fn, analysis = self.fn, self.analysis
        if analysis.scoped.is_scoped_attribute(field) or \
                analysis.scoped.is_scoped_attribute("_" + field):
            attrs = {field, "_" + field, field.lstrip("_")}
            pins = frozenset({Pin.attr(field)})
            self.value(value, site, statement, set(), attrs, pins, "request", merges=False)
            return
        if field not in self.config.header_keywords:
            return
        keys = analysis.scoped.scoped_keys(value, fn)
        if not keys:
            return
        pins = frozenset(Pin.header(k) for k in keys)
        self.value(value, site, statement, set(keys), set(), pins, "request", merges=False)
        guards = analysis.writes.guards_of(fn, statement)
        self.guarded(guards, site, statement, set(keys), set(), pins, "request")

    # ------------------------------------------------------------------ guards
    def guarded(self, guards, site, statement, headers: set[str], fields: set[str],
                pins: frozenset[Pin], kind: str) -> None:
        for guard in guards:
            for atom, unset in atoms(guard.test, guard.holds):
                if not unset:
                    continue
                parts = atom if isinstance(atom, tuple) else (atom,)
                found = [self.presence_test(part, headers, fields) for part in parts]
                if found and all(llm is not None for llm in found):
                    report = guard.test if isinstance(atom, tuple) else atom
                    self.add(report, site, statement, found[0], pins, GUARD_REASON, kind)
                    return

    def presence_test(self, atom: cst.BaseExpression, headers: set[str],
                      fields: set[str]) -> cst.BaseExpression | None:
        """The LLM whose value `atom` tests for presence (`k in h`, `h.get(k)`, `llm.attr`)."""
        if isinstance(atom, cst.Comparison):  # `key (not) in mapping`
            key = self.analysis.scoped.header_key(atom.left, self.fn)
            if key is None or key not in headers:
                return None
            return self.llm_dict(atom.comparisons[0].comparator)
        return self.existing(atom, headers, fields)

    # ------------------------------------------------------------------ values
    def value(self, value: cst.BaseExpression, site, statement, headers: set[str], attrs: set[str],
              pins: frozenset[Pin], kind: str, merges: bool) -> None:
        """Forms inside the stored value (and the locals it reads) that keep the existing value."""
        for expr in self.expressions(value):
            for node in nodes_of(expr, (cst.BooleanOperation, cst.IfExp, cst.Dict, cst.Call,
                                        cst.BinaryOperation)):
                found = self.prefers_existing(node, headers, attrs, merges)
                if found is not None:
                    llm, reason, new = found
                    self.add(node, site, statement, llm, pins, reason, kind, new)

    def expressions(self, value: cst.BaseExpression) -> list[cst.BaseExpression]:
        """The value and the values of the locals it is built from (a few levels)."""
        out = [value]
        seen = {id(value)}
        frontier = [value]
        for _ in range(3):
            following = []
            for expr in frontier:
                for name in nodes_of(expr, cst.Name):
                    for d in local_defs(self.fn, name.value):
                        if d.kind == ASSIGN and d.value is not None and id(d.value) not in seen:
                            seen.add(id(d.value))
                            out.append(d.value)
                            following.append(d.value)
            frontier = following
            if not frontier:
                break
        return out

    def prefers_existing(self, node: cst.CSTNode, headers: set[str], attrs: set[str],
                         merges: bool,
                         ) -> tuple[cst.BaseExpression, str, cst.BaseExpression | None] | None:
        """(the LLM whose value is kept, why, the new value when one side holds it)."""
        if isinstance(node, cst.BooleanOperation):
            if isinstance(node.operator, cst.Or) and self.scoped(node.right):
                llm = self.existing(node.left, headers, attrs)
                if llm is not None:
                    return llm, OR_REASON, node.right
            return None
        if isinstance(node, cst.IfExp):
            for kept, other, holds in ((node.body, node.orelse, True), (node.orelse, node.body, False)):
                llm = self.existing(kept, headers, attrs) if self.scoped(other) else None
                if llm is None:
                    continue
                # The existing value is chosen when the test says it is set.
                if any(not unset and not isinstance(atom, tuple)
                       and self.presence_test(atom, headers, attrs) is not None
                       for atom, unset in atoms(node.test, holds)):
                    return llm, IFEXP_REASON, other
            return None
        if not merges or not headers and not attrs:
            return None
        llm = self.old_mapping_wins(node, headers | attrs)
        return (llm, MERGE_REASON, None) if llm is not None else None

    def scoped(self, node: cst.BaseExpression) -> bool:
        """The new value is the conversation's (`str(self.id)`, `conversation_id`)."""
        return self.analysis.scoped.is_scoped(node, self.fn)

    def old_mapping_wins(self, node: cst.CSTNode, keys: set[str]) -> cst.BaseExpression | None:
        """`{key: v, **old}`, `{key: v} | old`, `dict({key: v}, **old)`, `dict(key=v, **old)`
        with `old` an LLM's dict: the LLM whose dict wins."""
        fn, scoped = self.fn, self.analysis.scoped
        if isinstance(node, cst.Dict):
            seen_key = False
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    if self._key(el.key) in keys:
                        seen_key = True
                elif seen_key:
                    llm = self.llm_dict(el.value)
                    if llm is not None:
                        return llm
            return None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            if scoped.scoped_keys(node.left, fn) & keys:
                return self.llm_dict(node.right)
            return None
        if isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
            # Later arguments win (a repeated keyword raises instead: no fresh value either way).
            seen_key = False
            for arg in node.args:
                if arg.star == "**":
                    if seen_key:
                        llm = self.llm_dict(arg.value)
                        if llm is not None:
                            return llm
                    seen_key = seen_key or bool(scoped.scoped_keys(arg.value, fn) & keys)
                elif arg.keyword is not None:
                    name = arg.keyword.value
                    seen_key = seen_key or ((name in keys or self._key(cst.SimpleString(repr(name))) in keys)
                                            and scoped.is_scoped(arg.value, fn))
                elif not arg.star:
                    seen_key = seen_key or bool(scoped.scoped_keys(arg.value, fn) & keys)
        return None

    def _key(self, node: cst.BaseExpression | None) -> str | None:
        key = self.analysis.scoped.header_key(node, self.fn)
        return key if key is not None else string_value(node)

    # ------------------------------------------------------------------ reads of the existing value
    def existing(self, node: cst.BaseExpression, headers: set[str], attrs: set[str],
                 depth: int = 0) -> cst.BaseExpression | None:
        """The LLM when `node` reads the value a pin stores: `llm.attr` / `getattr(llm, "attr")`
        for a pinned attribute, a field of one (`llm._call_context.session_id`), `h.get(k)` /
        `h[k]` for a pinned key of an LLM's dict, or a local bound to one of these."""
        if depth > _DEPTH:
            return None
        llms, fn = self.analysis.llms, self.fn
        if isinstance(node, cst.Attribute):
            if node.attr.value in attrs and llms.is_llm(node.value, fn):
                return node.value
            return self.pinned_object(node.value, attrs, depth + 1)  # a field of a pinned value
        if isinstance(node, cst.Call):
            name = dotted_name(node.func)
            if name in ("getattr", "hasattr") and len(node.args) >= 2:
                owner = node.args[0].value
                if string_value(node.args[1].value) in attrs and llms.is_llm(owner, fn):
                    return owner
                return self.pinned_object(owner, attrs, depth + 1)
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "get" and node.args:
                key = self.analysis.scoped.header_key(node.args[0].value, fn)
                if key is not None and key in headers:
                    return self.llm_dict(node.func.value)
            return None
        if isinstance(node, cst.Subscript) and len(node.slice) == 1 \
                and isinstance(node.slice[0].slice, cst.Index):
            key = self.analysis.scoped.header_key(node.slice[0].slice.value, fn)
            if key is not None and key in headers:
                return self.llm_dict(node.value)
            return None
        if isinstance(node, cst.Name):
            for d in local_defs(fn, node.value):
                if d.kind == ASSIGN and d.value is not None:
                    llm = self.existing(d.value, headers, attrs, depth + 1)
                    if llm is not None:
                        return llm
        return None

    def pinned_object(self, node: cst.BaseExpression, attrs: set[str],
                      depth: int) -> cst.BaseExpression | None:
        """The LLM when `node` is the value of a pinned attribute (`llm._call_context`)."""
        if depth > _DEPTH:
            return None
        if isinstance(node, cst.Attribute):
            if node.attr.value in attrs and self.analysis.llms.is_llm(node.value, self.fn):
                return node.value
            return None
        if isinstance(node, cst.Name):
            for d in local_defs(self.fn, node.value):
                if d.kind == ASSIGN and d.value is not None:
                    llm = self.pinned_object(d.value, attrs, depth + 1)
                    if llm is not None:
                        return llm
        return None

    def llm_dict(self, node: cst.BaseExpression, depth: int = 0) -> cst.BaseExpression | None:
        """The LLM when `node` is the current contents of one of its dicts: `llm.extra_headers`,
        `(llm.extra_headers or {})`, `dict(llm.extra_headers)`, `.copy()`, or a local bound to
        one of these."""
        if depth > _DEPTH:
            return None
        llms, fn = self.analysis.llms, self.fn
        if isinstance(node, cst.Attribute):
            if llms.is_llm(node.value, fn) and not llms.is_llm_attribute(node.attr.value):
                return node.value
            return None
        if isinstance(node, cst.BooleanOperation):
            return self.llm_dict(node.left, depth + 1)
        if isinstance(node, cst.Call):
            if dotted_name(node.func) == "dict" and node.args:
                return self.llm_dict(node.args[0].value, depth + 1)
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "copy":
                return self.llm_dict(node.func.value, depth + 1)
            return None
        if isinstance(node, cst.Name):
            for d in local_defs(fn, node.value):
                if d.kind == ASSIGN and d.value is not None:
                    llm = self.llm_dict(d.value, depth + 1)
                    if llm is not None:
                        return llm
        return None


def atoms(test: cst.BaseExpression, holds: bool, depth: int = 0):
    """(atom, unset?) pairs that are known when `test` evaluates to `holds`.

    An atom is a presence test; `unset` is True when what is known is "absent / None / falsy".
    Iterative: the test's nesting is the user's. Only a disjunction nested in a conjunction
    nested in ... (`a or (b and (c or ...))`) asks again, at most `_DEPTH` deep: deeper, nothing
    is known (silent).
    """
    if depth > _DEPTH:
        return
    stack = [(test, holds)]
    while stack:
        test, holds = stack.pop()
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            stack.append((test.expression, not holds))
            continue
        if isinstance(test, cst.BooleanOperation):
            both = (isinstance(test.operator, cst.And) and holds) or (isinstance(test.operator, cst.Or) and not holds)
            if both:
                stack.append((test.right, holds))
                stack.append((test.left, holds))
            else:
                # Either side may be what holds: known only when every side says "unset"
                # (`if ctx is not None and ctx.session_id is not None: return`).
                either = _disjuncts(test, holds, depth)
                if either:
                    yield either, True
            continue
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            op = test.comparisons[0].operator
            if isinstance(op, cst.NotIn):
                yield test, holds  # `k not in d` true: absent
            elif isinstance(op, cst.In):
                yield test, not holds
            elif isinstance(op, (cst.Is, cst.Equal)) and _is_none(test.comparisons[0].comparator):
                yield test.left, holds
            elif isinstance(op, (cst.IsNot, cst.NotEqual)) and _is_none(test.comparisons[0].comparator):
                yield test.left, not holds
            continue
        # A bare value: truthy means "set".
        yield test, not holds


def _disjuncts(test: cst.BooleanOperation, holds: bool,
               depth: int = 0) -> tuple[cst.BaseExpression, ...] | None:
    """The atoms of `a or b` known true (or `a and b` known false) when each side is a
    "value unset" atom; None otherwise."""
    out: list[cst.BaseExpression] = []
    stack: list[cst.BaseExpression] = [test]
    operator = type(test.operator)
    while stack and len(out) < 8:
        node = stack.pop()
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, operator) and not node.lpar:
            stack += [node.right, node.left]
            continue
        found = [(atom, unset) for atom, unset in atoms(node, holds, depth + 1)
                 if not isinstance(atom, tuple)]
        if len(found) != 1 or not found[0][1]:
            return None
        out.append(found[0][0])
    return tuple(out) if out and not stack else None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
