"""Does the function own the object it writes onto? OWNED, BORROWED or UNKNOWN, on every path.

An expression has one *origin* per definition that may reach it (flow-sensitive for locals, see
local_bindings.py; every assignment in the class for `self.<attr>`):

- OWNED: created in the function (or, for `self.<attr>`, by the class): a constructor call of an
  LLM class, `copy.deepcopy(x)`, `x.model_copy(deep=True)`, `Model.model_validate(...)` of a dump
  or payload (these own everything reachable: *deep*); a shallow `x.model_copy(update={...})` or
  `copy.copy(x)` owns the new object and the fields `update=` replaced, while every other field
  (a dict such as `extra_headers`) is still `x`'s; a fresh `{}`/`dict(...)`/list owns the
  container but not what others later put in it; another constructor call (`Agent(llm=llm)`)
  owns the new object, whose fields are what was passed in.
- BORROWED: handed in by someone else, so other conversations may hold it too: a parameter
  (except in a private method whose every call in this file passes an owned object);
  `self.<attr>` stored from a parameter (by reference) in any method of the class, a dataclass /
  pydantic field declared on the class (the caller supplies it) or a class attribute (one object
  for all instances); anything yielded by `get_all_llms()` or a registry lookup (unless the
  receiver is owned deep: `copy.deepcopy(agent).get_all_llms()`); attributes and items of a
  borrowed object.
- UNKNOWN: anything else: the result of an arbitrary call, a module global, a name from an
  enclosing scope, `self` inside the LLM class itself, `self.<attr>` never assigned where we can
  see it (a base class in another module), a cycle.

The verdict for a write combines the origins: BORROWED if any path borrows (the object may be
shared), OWNED if every path owns it, UNKNOWN otherwise. The rules report BORROWED only: UNKNOWN
never becomes a finding, so a code base the analysis cannot see through stays quiet.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import libcst as cst

from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.local_bindings import ASSIGN, LOOP, PARAM, function_defs, self_stores
from lint_rules.analysis.self_returns import SELF_CALL_DEPTH, called_self_method, returned_values
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo, dotted_name, string_value
from lint_rules.syntax.trampoline import run
from lint_rules.syntax.tree import walk


Steps = Generator[Any, Any, Any]  # a step of the analysis (see `OwnershipAnalysis.origins`)


class Ownership(str, Enum):
    OWNED = "owned"
    BORROWED = "borrowed"
    UNKNOWN = "unknown"


@dataclass
class Origin:
    kind: Ownership
    source: str  # how the object was obtained, for messages
    deep: bool = False  # OWNED and everything reachable from it is owned too
    members: dict[str, list[Origin]] = field(default_factory=dict)  # known fields (update=, kwargs)
    base: list[Origin] | None = None  # a shallow copy: fields not in `members` are base's
    opaque_fields: bool = False  # an `update=` we cannot read: any field may have been replaced
    # A fresh container's items (`list(agent.get_all_llms())`, `{"h": llm.extra_headers}`):
    # iterating or indexing it yields these, so elements keep their origin.
    items: list[Origin] | None = None
    # The parameter of the analysed function this object is (or is reached from), for summaries.
    param: str | None = None
    # A private method's parameter whose borrowed value comes from a caller in this file: the
    # call site is where the sharing happens (LLA001 reports the call, LLA006 names it).
    via_call: bool = False
    # Evidence: the steps that make the object what it is, oldest first: (text, node or None).
    steps: tuple[tuple[str, object], ...] = ()

    def attribute(self, name: str) -> list[Origin]:
        """Origins of `<this object>.name` (a copy of a copy of ... is followed with
        `syntax.trampoline`: a 2,000-link `model_copy()` chain nests its origins that deep)."""
        return run(self._attribute(name))

    def _attribute(self, name: str) -> Generator[Any, Any, list[Origin]]:
        if self.kind is not Ownership.OWNED:
            return [Origin(self.kind, self.source, param=self.param, via_call=self.via_call,
                           steps=self.steps)]
        if self.deep:
            return [self]
        if name in self.members:
            return self.members[name]
        if self.opaque_fields:
            return [Origin(Ownership.UNKNOWN, "an update we cannot read")]
        if self.base is not None:
            out: list[Origin] = []
            for b in self.base:
                out.extend((yield b._attribute(name)))
            return [Origin(o.kind, f"{self.source} still shares `{name}` with {o.source}",
                           param=o.param, via_call=o.via_call,
                           steps=o.steps + ((f"{self.source} keeps `{name}` of the original", None),))
                    if o.kind is Ownership.BORROWED else o for o in out] or [
                Origin(Ownership.UNKNOWN, "unknown")]
        return [Origin(Ownership.UNKNOWN, "unknown")]

    def with_step(self, text: str, node: object) -> Origin:
        """The same origin, one step further along the evidence chain."""
        if self.kind is Ownership.UNKNOWN or len(self.steps) > 12:
            return self
        return Origin(self.kind, self.source, self.deep, self.members, self.base, self.opaque_fields,
                      self.items, self.param, self.via_call, self.steps + ((text, node),))


@dataclass(frozen=True)
class Verdict:
    kind: Ownership
    source: str  # for BORROWED: the borrowed source; else a short description
    steps: tuple[tuple[str, object], ...] = ()  # evidence of the borrowed origin
    via_call: bool = False  # every borrowed origin is a private method's parameter (see Origin)


def combine(origins: list[Origin]) -> Verdict:
    if not origins:
        return Verdict(Ownership.UNKNOWN, "unknown")
    borrowed = [o for o in origins if o.kind is Ownership.BORROWED]
    if borrowed:
        direct = [o for o in borrowed if not o.via_call]
        first = (direct or borrowed)[0]
        return Verdict(Ownership.BORROWED, first.source, first.steps, via_call=not direct)
    for o in origins:
        if o.kind is Ownership.BORROWED:
            return Verdict(Ownership.BORROWED, o.source)
    if all(o.kind is Ownership.OWNED for o in origins):
        return Verdict(Ownership.OWNED, origins[0].source)
    return Verdict(Ownership.UNKNOWN, next(o.source for o in origins if o.kind is Ownership.UNKNOWN))


_FRESH_CONTAINERS = frozenset({"dict", "list", "set", "tuple", "frozenset", "collections.OrderedDict",
                               "collections.defaultdict"})
# Calls whose result yields the elements of their first argument, unchanged.
_ELEMENT_WRAPPERS = frozenset({"list", "tuple", "set", "frozenset", "sorted", "reversed", "iter"})


_CONSTRUCTION_METHODS = frozenset({"__init__", "__post_init__", "model_post_init", "__new__",
                                   "__setstate__", "__copy__", "__deepcopy__", "__enter__",
                                   "__aenter__", "__init_subclass__"})
_CONSTRUCTION_DECORATORS = frozenset({"model_validator", "field_validator", "validator",
                                      "root_validator", "staticmethod", "classmethod",
                                      "cached_property", "computed_field"})


def _items_of(origins: list[Origin], keep_unknown: bool = True) -> list[Origin]:
    """Origins of an item of a container with these origins: a borrowed container's items are
    borrowed, a deep copy's are owned, a fresh container's are what was put in it (unknown when
    we did not see it; left out with `keep_unknown=False`, for `{**x}` spreads)."""
    out: list[Origin] = []
    for o in origins:
        if o.kind is not Ownership.OWNED or o.deep:
            out.append(o)
        elif o.items:
            out.extend(o.items)
        elif keep_unknown:
            out.append(Origin(Ownership.UNKNOWN, "an item of a container"))
    return out


class OwnershipAnalysis:
    """Origins of expressions inside the functions of one module."""

    def __init__(self, llms: LLMFacts) -> None:
        self.llms = llms
        self.model = llms.model
        self._busy: set[tuple] = set()
        self._class_attrs: dict[tuple[int, str], list[Origin]] = {}
        self._self_calls: dict[int, dict[str, list[tuple]]] = {}
        self._per_conversation: dict[int, bool] = {}  # class -> `_built_per_conversation`
        self._attrs_busy: set[tuple[int, str]] = set()
        # `self.m()` results (`_self_method_result`): exact ones by method, those the bound
        # cut by (method, calls left); the calls left and whether the bound cut anything in
        # the evaluation running now.
        self._method_exact: dict[int, tuple[list[Origin], int]] = {}
        self._method_results: dict[tuple[int, int], list[Origin]] = {}
        self._calls_left = SELF_CALL_DEPTH
        self._bound_hit = False
        self._calls_used = 0  # the longest chain of `self` calls the running evaluation used
        self._attr_cycle = False  # the running evaluation met a `self.<attr>` being computed

    # ------------------------------------------------------------------ public
    def verdict(self, expr: cst.BaseExpression, fn: FunctionInfo, statement: cst.CSTNode | None) -> Verdict:
        """Ownership of the object `expr` evaluates to, at `statement` of `fn`."""
        return combine(self.origins(expr, fn, statement))

    def origins(self, expr: cst.BaseExpression, fn: FunctionInfo,
                statement: cst.CSTNode | None) -> list[Origin]:
        """Where the object `expr` evaluates to comes from. The analysis below is written
        recursively, as generators that yield the generator of each sub-question
        (`(yield self._origins_of(...))`) and run under `syntax.trampoline.run`: a 3,000-term
        `or`, a 2,000-link `x.model_copy().model_copy()...` or a long chain of assignments costs
        heap, never stack."""
        return run(self._origins_of(expr, fn, statement))

    def _origins_of(self, expr: cst.BaseExpression, fn: FunctionInfo,
                    statement: cst.CSTNode | None) -> Steps:
        key = (id(expr), id(statement))
        if key in self._busy:
            return [Origin(Ownership.UNKNOWN, "a cycle")]
        self._busy.add(key)
        try:
            return (yield self._origins(expr, fn, statement))
        finally:
            self._busy.discard(key)

    # ------------------------------------------------------------------ expressions
    def _origins(self, expr: cst.BaseExpression, fn: FunctionInfo,
                 statement: cst.CSTNode | None) -> Steps:
        if isinstance(expr, cst.Name):
            return (yield self._name(expr.value, fn, statement))
        if isinstance(expr, cst.Attribute):
            owner = expr.value
            if isinstance(owner, cst.Name) and owner.value == fn.self_name and fn.cls is not None:
                return (yield self._self_attribute(fn.cls, expr.attr.value))
            return [o for base in (yield self._origins_of(owner, fn, statement))
                    for o in base.attribute(expr.attr.value)]
        if isinstance(expr, cst.Subscript):
            return _items_of((yield self._origins_of(expr.value, fn, statement)))
        if isinstance(expr, (cst.BooleanOperation,)):
            return (yield self._origins_of(expr.left, fn, statement)) + (yield self._origins_of(expr.right, fn, statement))
        if isinstance(expr, cst.IfExp):
            return (yield self._origins_of(expr.body, fn, statement)) + (yield self._origins_of(expr.orelse, fn, statement))
        if isinstance(expr, (cst.List, cst.Set, cst.Tuple, cst.Dict)):
            return [Origin(Ownership.OWNED, "a new container",
                           items=(yield self._display_items(expr, fn, statement)))]
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return [Origin(Ownership.OWNED, "a new container",
                           items=(yield self._comprehension_items(expr, fn, statement)))]
        if isinstance(expr, (cst.SimpleString, cst.Integer, cst.FormattedString)):
            return [Origin(Ownership.OWNED, "a new value")]
        if isinstance(expr, cst.Await):
            return (yield self._origins_of(expr.expression, fn, statement))
        if isinstance(expr, cst.Call):
            return (yield self._call(expr, fn, statement))
        if isinstance(expr, cst.NamedExpr):
            return (yield self._origins_of(expr.value, fn, statement))
        return [Origin(Ownership.UNKNOWN, "an expression")]

    def _name(self, name: str, fn: FunctionInfo, statement: cst.CSTNode | None) -> Steps:
        if name == fn.self_name:
            return self._self_object(fn)
        defs = function_defs(fn)
        reaching = defs.reaching(statement, name) if statement is not None else None
        candidates = list(reaching) if reaching is not None else defs.may_be(name)
        if not candidates:
            return [Origin(Ownership.UNKNOWN, f"`{name}` from an outer scope")]
        out: list[Origin] = []
        for d in candidates:
            if d.kind == PARAM:
                out.extend((yield self._parameter(name, fn)))
            elif d.kind == ASSIGN:
                out.extend(o.with_step(f"`{name}` is bound to it", d.node)
                           for o in (yield self._origins_of(d.value, fn, d.node)))
            elif d.kind == LOOP:
                out.extend(o.with_step(f"`{name}` is an element of the loop", d.node)
                           for o in (yield self._iteration(d.value, fn, d.node)))
            else:
                out.append(Origin(Ownership.UNKNOWN, f"`{name}`"))
        return out

    def _self_object(self, fn: FunctionInfo) -> list[Origin]:
        """`self` inside a method of an LLM class (a router, a wrapper, a provider model) is
        a shared LLM: applications hand one instance to many agents and conversations. Not
        while it is being built (`__init__`, `model_post_init`, validators) nor in a method
        that only runs on a fresh object."""
        me = fn.self_name
        if not self.llms.class_is_llm(fn.cls) or fn.name in _CONSTRUCTION_METHODS \
                or self._built_per_conversation(fn.cls):
            return [Origin(Ownership.UNKNOWN, f"`{me}`")]
        for deco in fn.node.decorators:
            spelled = dotted_name(deco.decorator.func if isinstance(deco.decorator, cst.Call)
                                  else deco.decorator) or ""
            if spelled.rsplit(".", 1)[-1] in _CONSTRUCTION_DECORATORS:
                return [Origin(Ownership.UNKNOWN, f"`{me}`")]
        return [Origin(Ownership.BORROWED,
                       f"`{me}`, an instance of the LLM class `{fn.cls.name}` that every agent "  # type: ignore[union-attr]
                       "and conversation given it shares",
                       steps=((f"`{me}` is the `{fn.cls.name}` the method runs on; LLM "  # type: ignore[union-attr]
                               "objects are shared", None),))]

    def _callers(self, fn: FunctionInfo, name: str, position: int) -> list[tuple]:
        """(calling method, statement, argument) for every `self.<fn.name>(...)` call in this
        file's methods of the class and of its subclasses defined here; an argument we cannot
        match to the parameter makes the caller count as borrowing (None never appears: it is
        skipped)."""
        cls = fn.cls
        classes = [c for c in self.model.classes
                   if c is cls or cls.name in {b.rsplit(".", 1)[-1] for b in c.bases}]  # type: ignore[union-attr]
        found = []
        for klass in classes:
            for method, statement, call in self._self_calls_of(klass).get(fn.name, ()):
                positional = [a for a in call.args if a.keyword is None and not a.star]
                keyword = [a for a in call.args if a.keyword is not None and a.keyword.value == name]
                arg = keyword[0].value if keyword else (
                    positional[position].value if position < len(positional) else None)
                if arg is None:
                    arg = cst.Name(name)  # unmatched: the caller's own `name`, if any
                found.append((method, statement, arg))
        return found

    def _self_calls_of(self, klass: ClassInfo) -> dict[str, list[tuple]]:
        """Method name -> (calling method, its current small statement, call) for every
        `self.<name>(...)` call in the methods of `klass`: one walk per class and file, not one
        per question (pydantic-ai's model classes asked it for each parameter of each private
        method: half of a cold run)."""
        known = self._self_calls.get(id(klass))
        if known is not None:
            return known
        calls: dict[str, list[tuple]] = {}
        for method in klass.methods.values():
            me = method.self_name
            if me is None:
                continue
            current: list[cst.CSTNode | None] = [None]

            def visit(node: cst.CSTNode, me=me, method=method, current=current) -> None:
                if isinstance(node, cst.BaseSmallStatement):
                    current[0] = node
                if isinstance(node, cst.Call):
                    spelled = dotted_name(node.func) or ""
                    owner, _, attr = spelled.rpartition(".")
                    if owner == me:
                        calls.setdefault(attr, []).append((method, current[0], node))

            walk(method.node.body, visit, lambda _n: None)
        self._self_calls[id(klass)] = calls
        return calls

    def _parameter(self, name: str, fn: FunctionInfo) -> Steps:
        """A parameter is borrowed, except for a private method whose every caller in this file
        passes an object it owns (`self._stamp(copy.deepcopy(llm))`)."""
        borrowed = [Origin(Ownership.BORROWED, f"the parameter `{name}`", param=name)]
        if fn.cls is None or fn.self_name is None or not fn.name.startswith("_") \
                or fn.name.startswith("__"):
            return borrowed
        names = [p.name for p in fn.params]
        position = names.index(name) - 1 if name in names else -1
        if position < 0:
            return borrowed
        key = ("param", id(fn), name)
        if key in self._busy:
            return borrowed
        self._busy.add(key)
        try:
            calls = []
            for caller, statement, arg in self._callers(fn, name, position):
                calls.append((caller, statement, arg,
                              combine((yield self._origins_of(arg, caller, statement)))))
        finally:
            self._busy.discard(key)
        verdicts = [v.kind for *_, v in calls]
        if verdicts and all(v is Ownership.OWNED for v in verdicts):
            return [Origin(Ownership.OWNED, f"every caller of `{fn.name}` passes a copy it owns",
                           param=name)]
        out = []
        for caller, statement, _arg, verdict in calls:
            if verdict.kind is Ownership.BORROWED:
                out.append(Origin(
                    Ownership.BORROWED,
                    f"the parameter `{name}`, which `{caller.name}` fills with an object it does "
                    f"not own: {verdict.source}",
                    param=name, via_call=True,
                    steps=verdict.steps + ((f"`{caller.name}` passes it to `{fn.name}` as `{name}`",
                                            statement),)))
        if out:
            return out
        return borrowed

    def _iteration(self, iterable: cst.BaseExpression, fn: FunctionInfo,
                   statement: cst.CSTNode | None) -> Steps:
        """Origins of the elements `for x in iterable` binds."""
        source = self.llms.source_call(iterable)
        if source is not None:
            return (yield self._source(iterable, source, fn, statement))  # type: ignore[arg-type]
        if isinstance(iterable, cst.Call):
            # `enumerate(x)`/`zip(x, ...)` yield tuples whose parts are x's elements; a tuple
            # target is opaque to local_bindings, so only the plain wrappers matter here.
            wrapped = self._wrapped_iterable(iterable)
            if wrapped is not None:
                elements: list[Origin] = []
                for part in wrapped:
                    elements.extend((yield self._iteration(part, fn, statement)))
                return elements
        return _items_of((yield self._origins_of(iterable, fn, statement)))

    def _wrapped_iterable(self, call: cst.Call) -> list[cst.BaseExpression] | None:
        """`list(x)`, `tuple(x)`, `sorted(x)`, `reversed(x)`, `set(x)`, `iter(x)`,
        `itertools.chain(a, b)`, `filter(f, x)`: the iterables whose elements they yield."""
        name = dotted_name(call.func)
        resolved = self.model.resolve(name) if name else None
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        if resolved in _ELEMENT_WRAPPERS and positional:
            return positional[:1]
        if resolved == "filter" and len(positional) == 2:
            return positional[1:]
        if resolved in ("itertools.chain", "chain") and positional:
            return positional
        if resolved in ("itertools.chain.from_iterable",):
            return None
        return None

    def _display_items(self, expr: cst.BaseExpression, fn: FunctionInfo,
                       statement: cst.CSTNode | None) -> Steps:
        out: list[Origin] = []
        for el in expr.elements:  # type: ignore[attr-defined]
            if isinstance(el, cst.DictElement):
                out.extend((yield self._origins_of(el.value, fn, statement)))
            elif isinstance(el, cst.StarredDictElement):
                out.extend(_items_of((yield self._origins_of(el.value, fn, statement)), keep_unknown=False))
            elif isinstance(el, cst.StarredElement):
                out.extend((yield self._iteration(el.value, fn, statement)))
            elif isinstance(el, cst.Element):
                out.extend((yield self._origins_of(el.value, fn, statement)))
        return out

    def _comprehension_items(self, expr: cst.BaseExpression, fn: FunctionInfo,
                             statement: cst.CSTNode | None) -> Steps:
        """`[x for x in src if ...]`, `{k: v for k, v in ...}`: the element is the loop
        variable (or an attribute of it) of a single `for`; anything else is unknown."""
        comp = expr.for_in  # type: ignore[attr-defined]
        element = expr.value if isinstance(expr, cst.DictComp) else expr.elt  # type: ignore[attr-defined]
        if comp.inner_for_in is not None or not isinstance(comp.target, cst.Name):
            return [Origin(Ownership.UNKNOWN, "an element of a comprehension")]
        var = comp.target.value
        path: list[str] = []
        node = element
        while isinstance(node, cst.Attribute):
            path.append(node.attr.value)
            node = node.value
        if not (isinstance(node, cst.Name) and node.value == var):
            return [Origin(Ownership.UNKNOWN, "an element of a comprehension")]
        out = (yield self._iteration(comp.iter, fn, statement))
        for attr in reversed(path):
            out = [o for base in out for o in base.attribute(attr)]
        return out

    def _source(self, call: cst.Call, spelled: str, fn: FunctionInfo,
                statement: cst.CSTNode | None) -> Steps:
        receiver = call.func.value  # type: ignore[attr-defined]
        receivers = (yield self._origins_of(receiver, fn, statement))
        if receivers and all(o.kind is Ownership.OWNED and o.deep for o in receivers):
            return [Origin(Ownership.OWNED, f"`{spelled}` of a deep copy", deep=True)]
        steps: tuple[tuple[str, object], ...] = ()
        param = None
        for o in receivers:
            if o.kind is Ownership.BORROWED:
                steps, param = o.steps, o.param
                break
        return [Origin(Ownership.BORROWED, f"`{spelled}`", param=param,
                       steps=steps + ((f"an element of `{spelled}`, which hands out the "
                                       "agent's own LLMs, not copies", statement),))]

    def _call(self, call: cst.Call, fn: FunctionInfo, statement: cst.CSTNode | None) -> Steps:
        func = call.func
        name = dotted_name(func)
        resolved = self.model.resolve(name) if name else None
        if name is not None and self.llms.is_llm_class(name):
            return [Origin(Ownership.OWNED, f"`{name}(...)`", deep=True)]
        if resolved == "copy.deepcopy":
            return [Origin(Ownership.OWNED, "`copy.deepcopy(...)`", deep=True)]
        if resolved == "copy.copy" and call.args:
            return [Origin(Ownership.OWNED, "a shallow `copy.copy(...)`",
                           base=(yield self._origins_of(call.args[0].value, fn, statement)))]
        if resolved in _FRESH_CONTAINERS or resolved in _ELEMENT_WRAPPERS \
                or resolved in ("itertools.chain", "filter"):
            # A new top-level container; its items are still the originals (`dict(x)`,
            # `list(agent.get_all_llms())`): shallow.
            parts = self._wrapped_iterable(call) if resolved != "dict" else None
            items: list[Origin] = []
            if resolved == "dict":
                for a in call.args:
                    if a.keyword is not None:
                        items.extend((yield self._origins_of(a.value, fn, statement)))
                    else:
                        items.extend(_items_of((yield self._origins_of(a.value, fn, statement)), keep_unknown=False))
            elif parts:
                for part in parts:
                    items.extend((yield self._iteration(part, fn, statement)))
            return [Origin(Ownership.OWNED, f"`{name}(...)`", items=items)]
        source = self.llms.source_call(call)
        if source is not None:
            return (yield self._source(call, source, fn, statement))
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            registry = self.llms.registry_lookup(call)
            if registry is not None:
                return [Origin(Ownership.BORROWED, f"`{registry}`, a registry lookup",
                               steps=((f"`{registry}` hands out the object it holds, the same "
                                       "one on every lookup", statement),))]
            if method == "copy" and not call.args:
                receivers = (yield self._origins_of(func.value, fn, statement))
                if receivers and not self.llms.is_llm(func.value, fn):
                    # `d.copy()` of a dict: a new top-level dict, its values still shared.
                    return [Origin(Ownership.OWNED, "a shallow `.copy()`",
                                   items=_items_of(receivers, keep_unknown=False))]
            if method in ("model_copy", "copy"):
                return [(yield self._model_copy(call, fn, statement))]
            if method in ("model_validate", "parse_obj", "model_validate_json", "parse_raw"):
                if call.args and self.llms.is_llm(call.args[0].value, fn):
                    return [Origin(Ownership.UNKNOWN, "`model_validate` of a model instance")]
                return [Origin(Ownership.OWNED, f"`{method}(...)`", deep=True)]
        method = called_self_method(self.model, fn, call)
        if method is not None:
            return (yield self._self_method_result(method))
        if name is not None and name.split(".")[-1][:1].isupper():
            members = {}
            for kw in (a for a in call.args if a.keyword is not None):
                members[kw.keyword.value] = (yield self._origins_of(kw.value, fn, statement))
            return [Origin(Ownership.OWNED, f"`{name}(...)`", members=members)]
        return [Origin(Ownership.UNKNOWN, f"the result of `{name or '...'}(...)`")]

    def _self_method_result(self, method: FunctionInfo) -> Steps:
        """`self.m(...)`: what `m` returns, evaluated inside `m` (its `self` is the caller's).
        A value that comes from one of `m`'s parameters is unknown here.

        The result depends on `m` and on the calls left alone: a chain of `self.m()` calls
        (the caller's included) is followed `SELF_CALL_DEPTH` calls deep, past that the result
        is unknown (so silent). It is computed once per method with the number of calls its
        own chain used (valid wherever at least that many are left), and once per (method,
        calls left) when the bound cut its chain; not kept when it met a `self.<attr>` of the
        class that was being computed (a cycle: its value depends on who asked first; the
        bound still ends such chains). Each evaluation starts with its own cycle guard
        (`_busy`), so a kept result never depends on who asked first; the calls left strictly
        decrease along a chain, so mutual recursion (`a` returns `self.b()`, `b` returns
        `self.a()`) ends, and each (method, calls left) is evaluated at most once: a web of
        methods calling each other costs linear time, never one evaluation per path."""
        budget = self._calls_left
        exact = self._method_exact.get(id(method))
        if exact is not None and exact[1] <= budget:
            self._calls_used = max(self._calls_used, exact[1])
            return list(exact[0])
        if budget <= 0:
            self._bound_hit = True
            return [Origin(Ownership.UNKNOWN, f"the result of `{method.name}(...)` (more than "
                                              f"{SELF_CALL_DEPTH} `self` calls deep)")]
        key = (id(method), budget)
        cached = self._method_results.get(key)
        if cached is not None:
            self._bound_hit = True  # limited by the bound: so is what is built from it
            return list(cached)
        outer = (self._busy, self._calls_left, self._bound_hit, self._calls_used, self._attr_cycle)
        self._busy, self._calls_left, self._bound_hit, self._calls_used = set(), budget - 1, False, 0
        self._attr_cycle = False
        hit, used, cycle = True, 0, True
        try:
            values = returned_values(method)
            out: list[Origin] = []
            if not values:
                out.append(Origin(Ownership.UNKNOWN, f"the result of `{method.name}(...)`"))
            for ret, value in values:
                for o in (yield self._origins_of(value, method, ret)):
                    out.append(_outside(o, method.name, ret, 3))
            hit, used, cycle = self._bound_hit, self._calls_used + 1, self._attr_cycle
        finally:
            self._busy, self._calls_left = outer[0], outer[1]
            self._bound_hit = outer[2] or hit
            self._calls_used = max(outer[3], used)
            self._attr_cycle = outer[4] or cycle
        if cycle:
            pass  # cut where a `self.<attr>` of the class was being computed: not kept
        elif hit:
            self._method_results[key] = out
        else:
            self._method_exact[id(method)] = (out, used)
        return list(out)

    def _model_copy(self, call: cst.Call, fn: FunctionInfo, statement: cst.CSTNode | None) -> Steps:
        receiver = call.func.value  # type: ignore[attr-defined]
        spelled = dotted_name(receiver) or "..."
        update: cst.BaseExpression | None = None
        for arg in call.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value == "deep" and isinstance(arg.value, cst.Name) and arg.value.value == "True":
                return Origin(Ownership.OWNED, f"`{spelled}.model_copy(deep=True)`", deep=True)
            if arg.keyword.value == "update":
                update = arg.value
        members: dict[str, list[Origin]] = {}
        opaque = False
        if update is not None:
            display = self._dict_display(update, fn)
            if display is None:
                opaque = True
            else:
                for el in display.elements:
                    if isinstance(el, cst.DictElement):
                        key = string_value(el.key)
                        if key is None:
                            opaque = True
                        else:
                            members[key] = (yield self._origins_of(el.value, fn, statement))
                    else:
                        opaque = True
        return Origin(Ownership.OWNED, "a shallow `model_copy()`", members=members,
                      base=(yield self._origins_of(receiver, fn, statement)), opaque_fields=opaque)

    def _dict_display(self, node: cst.BaseExpression, fn: FunctionInfo) -> cst.Dict | None:
        if isinstance(node, cst.Dict):
            return node
        if isinstance(node, cst.Name):
            defs = function_defs(fn).may_be(node.value)
            if len(defs) == 1 and defs[0].kind == ASSIGN and isinstance(defs[0].value, cst.Dict):
                display = defs[0].value
                # Later `update[...] = ...` items are not seen: only trust a display nobody mutates.
                return display if not _mutated_name(fn, node.value) else None
        return None

    # ------------------------------------------------------------------ self.<attr>
    def _self_attribute(self, cls: ClassInfo, attr: str) -> Steps:
        key = (id(cls), attr)
        cached = self._class_attrs.get(key)
        if cached is not None:
            return cached
        if key in self._attrs_busy:
            self._attr_cycle = True  # what is built from this depends on who asked first
            return [Origin(Ownership.UNKNOWN, f"`self.{attr}` (a cycle)")]
        # Computed once for the class: with the whole `self` call bound, whoever asks first.
        # (Its own guard, not `_busy`, which each `self.m()` evaluation starts afresh.)
        self._attrs_busy.add(key)
        outer = (self._calls_left, self._bound_hit, self._calls_used)
        self._calls_left, self._bound_hit, self._calls_used = SELF_CALL_DEPTH, False, 0
        try:
            out = (yield self._compute_self_attribute(cls, attr))
        finally:
            self._attrs_busy.discard(key)
            self._calls_left, self._bound_hit, self._calls_used = outer
        self._class_attrs[key] = out
        return out

    def _built_per_conversation(self, cls: ClassInfo | None) -> bool:
        """Its constructor takes a conversation id and keeps it (`self.conversation_id =
        conversation_id`): each conversation builds its own instance (pydantic-ai's realtime
        `SessionInstrumentation`, a model only by its fields), so its own fields are the
        conversation's, not state that other conversations share."""
        if cls is None:
            return False
        known = self._per_conversation.get(id(cls))
        if known is None:
            ids = {e for e in self.llms.config.conversation_id_expressions if e and "." not in e}
            constructors = [klass.methods[name] for klass in self.model.local_mro(cls, [])
                            for name in _CONSTRUCTION_METHODS & klass.methods.keys()]
            known = self._per_conversation[id(cls)] = any(
                isinstance(value, cst.Name) and value.value in ids
                and method.param(value.value) is not None
                for method in constructors
                for stores in self_stores(method).values()
                for _statement, value in stores)
        return known

    def _compute_self_attribute(self, cls: ClassInfo, attr: str) -> Steps:
        out: list[Origin] = []
        for method in cls.methods.values():
            me = method.self_name
            if me is None:
                continue
            for statement, value in self_stores(method).get(attr, ()):
                for o in (yield self._origins_of(value, method, statement)):
                    if o.kind is Ownership.BORROWED and o.param is not None and not o.via_call:
                        o = Origin(Ownership.BORROWED,
                                   f"`self.{attr}`, which `{method.name}` stores by reference from "
                                   f"its parameter `{o.param}`",
                                   steps=((f"`self.{attr}` <- `{method.name}` stores its parameter "
                                           f"`{o.param}` by reference", statement),))
                    elif o.kind is Ownership.BORROWED:
                        o = o.with_step(f"`self.{attr}` <- `{method.name}` stores it", statement)
                    out.append(o)
        for statement in cls.node.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) \
                        and small.target.value == attr:
                    if small.value is None or _is_field_call(small.value):
                        out.append(Origin(Ownership.BORROWED,
                                          f"`self.{attr}`, a field the caller supplies"))
                    else:
                        out.append(Origin(Ownership.BORROWED,
                                          f"`{cls.name}.{attr}`, a class attribute every instance shares"))
                elif isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Name) and t.target.value == attr for t in small.targets):
                    out.append(Origin(Ownership.BORROWED,
                                      f"`{cls.name}.{attr}`, a class attribute every instance shares"))
        return out or [Origin(Ownership.UNKNOWN, f"`self.{attr}` (not assigned in this class)")]


def _outside(o: Origin, method: str, ret: cst.CSTNode, depth: int) -> Origin:
    """An origin computed inside `method`, as its caller sees the returned value: what comes
    from `method`'s parameters is unknown there (so are parts nested deeper than `depth`)."""
    if o.param is not None or o.via_call or depth <= 0:
        return Origin(Ownership.UNKNOWN, f"a value `{method}` returns")
    if o.kind is Ownership.BORROWED:
        return o.with_step(f"returned by `{method}()`", ret)
    if o.kind is not Ownership.OWNED or o.deep:
        return o
    return Origin(o.kind, o.source, o.deep,
                  {k: [_outside(v, method, ret, depth - 1) for v in vs] for k, vs in o.members.items()},
                  None if o.base is None else [_outside(b, method, ret, depth - 1) for b in o.base],
                  o.opaque_fields,
                  None if o.items is None else [_outside(i, method, ret, depth - 1) for i in o.items],
                  None, False, o.steps)


def _is_field_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and (dotted_name(node.func) or "").split(".")[-1] in ("Field", "field")


def _mutated_name(fn: FunctionInfo, name: str) -> bool:
    hits: list[bool] = []

    def visit(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == name:
            hits.append(True)
        elif isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) \
                and node.value.value == name and node.attr.value in ("update", "setdefault", "pop"):
            hits.append(True)

    walk(fn.node.body, visit, lambda _n: None)
    return bool(hits)
