"""Local definitions of one function: what each local name may be bound to.

Two views, both computed once per function and cached on the `FunctionInfo`:

- `local_defs(fn)`: flow-insensitive, every expression a name is ever bound to in the function
  (assignments, `for` targets, `with ... as`), for "may this name hold X?" questions;
- `reaching_defs(fn)`: flow-sensitive, the definitions that reach the start of each statement on
  some path (branches merge, loops run zero or more times, `return`/`raise` end a path), for
  "on every path before this write, was the object created here?" questions.

Nested functions, classes and lambdas are separate scopes and are not looked into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import libcst as cst

from lint_rules.syntax.semantic import FunctionInfo
from lint_rules.syntax.trampoline import run
from lint_rules.syntax.tree import NESTED_SCOPE_TYPES, child_nodes, walk

# How a name got its value.
ASSIGN = "assign"  # `name = value` (value is the expression)
LOOP = "loop"  # `for name in value` (value is the iterable)
WITH = "with"  # `with value as name`
PARAM = "param"  # a parameter of the function (value is None)
OPAQUE = "opaque"  # tuple unpacking, imports, nested defs, except-as, walrus... (value None)


@dataclass(frozen=True, eq=False)
class Definition:
    name: str
    kind: str
    value: cst.BaseExpression | None
    node: cst.CSTNode | None  # the binding statement (None for parameters)


State = Union[dict[str, frozenset[Definition]], None]  # None: this point is unreachable


@dataclass
class FunctionDefs:
    params: dict[str, Definition]
    by_name: dict[str, list[Definition]]  # flow-insensitive, parameters first
    before: dict[int, dict[str, frozenset[Definition]]]  # id(statement) -> reaching defs

    def may_be(self, name: str) -> list[Definition]:
        return self.by_name.get(name, [])

    def reaching(self, statement: cst.CSTNode, name: str) -> tuple[Definition, ...] | None:
        """Definitions of `name` reaching `statement`, parameters first, then in source order
        (None: statement not analysed). The order is fixed: a set of definitions iterates by
        address, and the first borrowed one is the evidence a finding prints."""
        state = self.before.get(id(statement))
        if state is None:
            return None
        defs = state.get(name, frozenset())
        if len(defs) <= 1:
            return tuple(defs)
        return tuple(d for d in self.by_name[name] if d in defs)


def function_defs(fn: FunctionInfo) -> FunctionDefs:
    cached = fn.derived.get("defs")
    if cached is None:
        cached = _Analyzer(fn).run()
        fn.derived["defs"] = cached
    return cached


def local_defs(fn: FunctionInfo, name: str) -> list[Definition]:
    return function_defs(fn).may_be(name)


# ---------------------------------------------------------------------------- the analysis
def _merge(a: State, b: State) -> State:
    if a is None:
        return b
    if b is None:
        return a
    out = dict(a)
    for name, defs in b.items():
        out[name] = out.get(name, frozenset()) | defs
    return out


class _Analyzer:
    def __init__(self, fn: FunctionInfo) -> None:
        self.fn = fn
        self.by_name: dict[str, list[Definition]] = {}
        self.before: dict[int, dict[str, frozenset[Definition]]] = {}
        self.params: dict[str, Definition] = {}

    def run(self) -> FunctionDefs:
        state: dict[str, frozenset[Definition]] = {}
        params = self.fn.node.params
        all_params = [*params.posonly_params, *params.params, *params.kwonly_params]
        if isinstance(params.star_arg, cst.Param):
            all_params.append(params.star_arg)
        if params.star_kwarg is not None:
            all_params.append(params.star_kwarg)
        for p in all_params:
            d = Definition(p.name.value, PARAM, None, None)
            self.params[d.name] = d
            self.by_name.setdefault(d.name, []).append(d)
            state[d.name] = frozenset({d})
        body = self.fn.node.body
        run(self._block(body.body if isinstance(body, cst.IndentedBlock) else [body], state))
        return FunctionDefs(self.params, self.by_name, self.before)

    # --- bookkeeping ---
    def _record(self, node: cst.CSTNode, state: State) -> None:
        if state is None:
            return
        seen = self.before.get(id(node))
        self.before[id(node)] = state if seen is None else _merge(seen, state)  # type: ignore[assignment]

    def _define(self, state: State, name: str, kind: str, value: cst.BaseExpression | None,
                node: cst.CSTNode) -> State:
        d = Definition(name, kind, value, node)
        self.by_name.setdefault(name, []).append(d)
        if state is None:
            return None
        out = dict(state)
        out[name] = frozenset({d})
        return out

    def _bind_target(self, state: State, target: cst.BaseExpression, kind: str,
                     value: cst.BaseExpression | None, node: cst.CSTNode) -> State:
        if isinstance(target, cst.Name):
            return self._define(state, target.value, kind, value, node)
        # `a, (b, *c) = ...`: each name of an unpacking is opaque, in source order (a worklist).
        todo: list[cst.BaseExpression] = [target]
        while todo:
            current = todo.pop()
            if isinstance(current, cst.StarredElement):
                current = current.value
            if isinstance(current, cst.Name):
                state = self._define(state, current.value, OPAQUE, None, node)
            elif isinstance(current, (cst.Tuple, cst.List)):
                todo.extend(reversed([element.value for element in current.elements]))
        return state

    # --- statements ---
    # Written recursively as generators that yield their sub-walks (`syntax.trampoline`), so
    # nested statements (a 2,000-branch `elif` chain) cost no stack; `run` drives them.
    def _block(self, statements, state: State):
        for statement in statements:
            state = yield self._statement(statement, state)
        return state

    def _suite(self, suite: cst.BaseSuite, state: State):
        if isinstance(suite, cst.IndentedBlock):
            return (yield self._block(suite.body, state))
        if isinstance(suite, cst.SimpleStatementSuite):
            return self._small(suite.body, state)
        return state

    def _small(self, smalls, state: State) -> State:
        for small in smalls:
            self._record(small, state)
            state = self._small_statement(small, state)
        return state

    def _statement(self, node: cst.CSTNode, state: State):
        self._record(node, state)
        if isinstance(node, cst.SimpleStatementLine):
            return self._small(node.body, state)
        if isinstance(node, cst.If):
            then = (yield self._suite(node.body, state))
            other = node.orelse
            if isinstance(other, cst.If):
                rest = (yield self._statement(other, state))
            elif isinstance(other, cst.Else):
                rest = (yield self._suite(other.body, state))
            else:
                rest = state
            return _merge(then, rest)
        if isinstance(node, (cst.For, cst.While)):
            entry = state
            if isinstance(node, cst.For):
                entry = self._bind_target(state, node.target, LOOP, node.iter, node)
            once = (yield self._suite(node.body, entry))
            # A second pass lets definitions made late in the body reach its start.
            again = (yield self._suite(node.body, _merge(entry, once)))
            after = _merge(state, _merge(once, again))
            if node.orelse is not None:
                after = _merge(after, (yield self._suite(node.orelse.body, after)))
            return after
        if isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    state = self._bind_target(state, item.asname.name, WITH, item.item, node)
            return (yield self._suite(node.body, state))
        if isinstance(node, cst.Try):
            body = (yield self._suite(node.body, state))
            anywhere = _merge(state, body)
            out = body
            for handler in node.handlers:
                entry = anywhere
                if handler.name is not None:
                    entry = self._bind_target(entry, handler.name.name, OPAQUE, None, handler)
                out = _merge(out, (yield self._suite(handler.body, entry)))
            if node.orelse is not None:
                out = _merge(out, (yield self._suite(node.orelse.body, body)))
            if node.finalbody is not None:
                final = (yield self._suite(node.finalbody.body, _merge(anywhere, out)))
                out = final if out is not None else None
            return out
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return self._define(state, node.name.value, OPAQUE, None, node)
        match_type = getattr(cst, "Match", None)
        if match_type is not None and isinstance(node, match_type):
            out: State = None
            for case in node.cases:
                out = _merge(out, (yield self._suite(case.body, state)))
            return _merge(out, state)
        return state

    def _small_statement(self, node: cst.BaseSmallStatement, state: State) -> State:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                state = self._bind_target(state, target.target, ASSIGN, node.value, node)
            return state
        if isinstance(node, cst.AnnAssign):
            if node.value is not None:
                return self._bind_target(state, node.target, ASSIGN, node.value, node)
            return state
        if isinstance(node, (cst.Return, cst.Raise)):
            return None  # `break`/`continue` are let through: their state still reaches the loop's exit
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            names = node.names if not isinstance(node.names, cst.ImportStar) else ()
            for alias in names:
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    state = self._define(state, alias.asname.name.value, OPAQUE, None, node)
                elif isinstance(alias.name, cst.Name):
                    state = self._define(state, alias.name.value, OPAQUE, None, node)
            return state
        return state


# ---------------------------------------------------------------------------- stores into `self`
def self_stores(fn: FunctionInfo) -> dict[str, list[tuple[cst.CSTNode, cst.BaseExpression]]]:
    """Attribute -> (statement, value) of every `self.<attribute> = value` in the method's body
    (nested functions included: they close over `self`), computed once per method."""
    cached = fn.derived.get("self_stores")
    if cached is not None:
        return cached
    me = fn.self_name
    stores: dict[str, list[tuple[cst.CSTNode, cst.BaseExpression]]] = {}

    def store(node: cst.CSTNode, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) \
                and target.value.value == me:
            stores.setdefault(target.attr.value, []).append((node, value))

    def visit(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Assign):
            for t in node.targets:
                store(node, t.target, node.value)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            store(node, node.target, node.value)

    if me is not None:
        walk(fn.node.body, visit, lambda _n: None)
    fn.derived["self_stores"] = stores
    return stores


# ---------------------------------------------------------------------------- stores into locals
@dataclass(frozen=True, eq=False)
class ItemStore:
    """`name[key] = value`, `name.setdefault(key, value)`, `name.update(mapping)`, `name |= m`."""

    name: str
    key: cst.BaseExpression | None  # None for update / |= (then `value` is the mapping)
    value: cst.BaseExpression | None


def local_names(fn: FunctionInfo) -> list[str]:
    """Every name the function binds or stores items into, in first-seen order."""
    names = dict.fromkeys(function_defs(fn).by_name)
    local_item_stores(fn, "")  # fills the cache
    names.update(dict.fromkeys(fn.derived["item_stores"]))
    return list(names)


def local_item_stores(fn: FunctionInfo, name: str) -> list[ItemStore]:
    """Items stored into the local container `name` anywhere in the function (not nested scopes)."""
    cached = fn.derived.get("item_stores")
    if cached is None:
        cached = _collect_item_stores(fn)
        fn.derived["item_stores"] = cached
    return cached.get(name, [])


def _collect_item_stores(fn: FunctionInfo) -> dict[str, list[ItemStore]]:
    out: dict[str, list[ItemStore]] = {}
    stack: list[cst.CSTNode] = [fn.node.body]
    # Exact types: libcst's node classes are final, and `isinstance` on its ABCs costs 10x.
    Name = cst.Name
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in NESTED_SCOPE_TYPES:
            continue
        if kind is cst.Assign:
            for target in node.targets:
                t = target.target
                if type(t) is cst.Subscript and type(t.value) is Name and len(t.slice) == 1 \
                        and type(t.slice[0].slice) is cst.Index:
                    out.setdefault(t.value.value, []).append(
                        ItemStore(t.value.value, t.slice[0].slice.value, node.value))
        elif kind is cst.AugAssign and type(node.target) is Name \
                and type(node.operator) is cst.BitOrAssign:
            out.setdefault(node.target.value, []).append(ItemStore(node.target.value, None, node.value))
        elif kind is cst.Call and type(node.func) is cst.Attribute \
                and type(node.func.value) is Name:
            owner, method = node.func.value.value, node.func.attr.value
            positional = [a.value for a in node.args if a.keyword is None and not a.star]
            if method == "setdefault" and positional:
                out.setdefault(owner, []).append(
                    ItemStore(owner, positional[0], positional[1] if len(positional) > 1 else None))
            elif method == "update" and positional:
                out.setdefault(owner, []).append(ItemStore(owner, None, positional[0]))
        stack.extend(child_nodes(node))
    return out
