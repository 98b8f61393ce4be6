"""Writes onto LLM objects inside one function, with the conditions under which they run.

A write is one of:

- `llm.attr = v` (also annotated / augmented), `setattr(llm, "attr", v)`,
  `object.__setattr__(llm, "attr", v)`: the LLM object itself changes (`container` is the LLM);
- `llm.field[k] = v`, `llm.field.update(...)`, `llm.field.setdefault(k, v)`, `llm.field |= {...}`,
  also through a local alias (`headers = llm.extra_headers; headers[k] = v`): a container the LLM
  holds changes in place (`container` is that dict).

Each write carries its *pins* (`Pin`: a header key or an attribute) when it stores a
conversation-scoped value (see scoped_values.py), and the *guards* that hold when it runs (the tests of
enclosing `if`s, and the negation of earlier `if ...: return` in enclosing blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.scoped_values import ScopedValues, is_constant
from lint_rules.analysis.self_returns import called_self_method, returned_values
from lint_rules.analysis.write_shapes import MUTATING_METHODS, SETATTR_CALLEES, id_keys
from lint_rules.syntax.semantic import FunctionInfo, dotted_name, string_value
from lint_rules.syntax.trampoline import run
from lint_rules.syntax.tree import walk


@dataclass(frozen=True)
class Guard:
    test: cst.BaseExpression
    holds: bool  # True: the test is true where the write runs; False: it is false


@dataclass
class Write:
    node: cst.CSTNode  # what to report (the small statement, or the call inside one)
    statement: cst.BaseSmallStatement  # the small statement holding the write
    llm: cst.BaseExpression  # the LLM expression written onto (or whose container is written)
    container: cst.BaseExpression  # the object that changes: the LLM, or a dict it holds
    kind: str  # "attr" | "item" | "update" | "setdefault" | "merge"
    name: str | None  # the attribute rebound, or the field mutated (None: unknown)
    key: cst.BaseExpression | None = None  # item / setdefault key
    value: cst.BaseExpression | None = None  # the value stored (update: the mapping)
    pins: frozenset[Pin] = frozenset()
    guards: tuple[Guard, ...] = ()
    whole_statement: bool = False  # the write is the entire small statement (a fix may replace it)


class WriteFinder:
    def __init__(self, llms: LLMFacts, scoped: ScopedValues) -> None:
        self.llms = llms
        self.scoped = scoped
        config = scoped.config
        self.hook_attributes = frozenset(getattr(config, "hook_attributes", ()))
        # `llm.kwargs["rollout_id"] = v`: a key spelled like a conversation id names one.
        self.id_keys = id_keys(config)

    # ------------------------------------------------------------------ walking
    def writes(self, fn: FunctionInfo) -> list[Write]:
        cached = fn.derived.get("writes")
        if cached is None:
            cached = []
            fn.derived["guards"] = {}
            body = fn.node.body
            statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
            self._block(fn, statements, (), cached)
            fn.derived["writes"] = cached
        return cached

    def guards_of(self, fn: FunctionInfo, small: cst.CSTNode) -> tuple[Guard, ...]:
        """The guards under which a small statement of `fn` runs."""
        self.writes(fn)
        return fn.derived["guards"].get(id(small), ())

    def _block(self, fn: FunctionInfo, statements, guards: tuple[Guard, ...], out: list[Write]) -> None:
        run(self._block_steps(fn, statements, guards, out))

    # The statement walk, written recursively as generators that yield their sub-walks
    # (`syntax.trampoline`): nested statements (a 2,000-branch `elif` chain) cost no stack.
    def _block_steps(self, fn: FunctionInfo, statements, guards, out):
        guards = tuple(guards)
        for statement in statements:
            yield self._statement(fn, statement, guards, out)
            exit_test = _early_exit_test(statement)
            if exit_test is not None:
                guards = guards + (Guard(exit_test, False),)

    def _suite(self, fn: FunctionInfo, suite: cst.BaseSuite, guards, out):
        if isinstance(suite, cst.IndentedBlock):
            yield self._block_steps(fn, suite.body, guards, out)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self._small(fn, small, guards, out)

    def _statement(self, fn: FunctionInfo, node: cst.CSTNode, guards, out):
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self._small(fn, small, guards, out)
        elif isinstance(node, cst.If):
            yield self._suite(fn, node.body, guards + (Guard(node.test, True),), out)
            other = node.orelse
            negated = guards + (Guard(node.test, False),)
            if isinstance(other, cst.If):
                yield self._statement(fn, other, negated, out)
            elif isinstance(other, cst.Else):
                yield self._suite(fn, other.body, negated, out)
        elif isinstance(node, (cst.For, cst.While, cst.With)):
            yield self._suite(fn, node.body, guards, out)
            orelse = getattr(node, "orelse", None)
            if orelse is not None:
                yield self._suite(fn, orelse.body, guards, out)
        elif isinstance(node, cst.Try):
            yield self._suite(fn, node.body, guards, out)
            for handler in node.handlers:
                yield self._suite(fn, handler.body, guards, out)
            for extra in (node.orelse, node.finalbody):
                if extra is not None:
                    yield self._suite(fn, extra.body, guards, out)
        elif hasattr(cst, "Match") and isinstance(node, getattr(cst, "Match")):
            for case in node.cases:
                yield self._suite(fn, case.body, guards, out)

    # ------------------------------------------------------------------ small statements
    def _small(self, fn: FunctionInfo, small: cst.BaseSmallStatement, guards, out: list[Write]) -> None:
        fn.derived["guards"][id(small)] = tuple(guards)
        found: list[Write] = []
        if isinstance(small, cst.Assign):
            for target in small.targets:
                self._target(fn, small, target.target, small.value, found,
                             whole=len(small.targets) == 1)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self._target(fn, small, small.target, small.value, found, whole=True)
        elif isinstance(small, cst.AugAssign):
            if isinstance(small.operator, cst.BitOrAssign):
                container = self._llm_container(fn, small.target)
                if container is not None:
                    llm, name = container
                    found.append(Write(small, small, llm, small.target, "merge", name,
                                       value=small.value, whole_statement=True))
            elif isinstance(small.target, cst.Attribute) and self.llms.is_llm(small.target.value, fn):
                found.append(Write(small, small, small.target.value, small.target.value, "attr",
                                   small.target.attr.value, value=small.value, whole_statement=True))
        self._calls(fn, small, found)
        for write in found:
            write.guards = tuple(guards)
            write.pins = self._pins(fn, write)
            out.append(write)

    def _target(self, fn, small, target, value, found: list[Write], whole: bool) -> None:
        if isinstance(target, cst.Attribute):
            if self.llms.is_llm(target.value, fn):
                found.append(Write(small, small, target.value, target.value, "attr",
                                   target.attr.value, value=value, whole_statement=whole))
        elif isinstance(target, cst.Subscript) and len(target.slice) == 1 \
                and isinstance(target.slice[0].slice, cst.Index):
            container = self._llm_container(fn, target.value)
            if container is not None:
                llm, name = container
                found.append(Write(small, small, llm, target.value, "item", name,
                                   key=target.slice[0].slice.value, value=value,
                                   whole_statement=whole))

    def _calls(self, fn: FunctionInfo, small: cst.BaseSmallStatement, found: list[Write]) -> None:
        calls: list[cst.Call] = []
        walk(small, lambda n: calls.append(n) if type(n) is cst.Call else None, lambda _n: None)
        whole_call = small.value if isinstance(small, cst.Expr) else None
        for call in calls:
            func = call.func
            whole = call is whole_call
            name = dotted_name(func)
            if name in SETATTR_CALLEES and len(call.args) >= 3:
                target = call.args[0].value
                if self.llms.is_llm(target, fn):
                    attr = string_value(call.args[1].value)
                    found.append(Write(call, small, target, target, "attr", attr,
                                       value=call.args[2].value, whole_statement=whole))
                continue
            if isinstance(func, cst.Attribute) and func.attr.value in MUTATING_METHODS:
                container = self._llm_container(fn, func.value)
                if container is None:
                    continue
                llm, field_name = container
                method = func.attr.value
                positional = [a for a in call.args if a.keyword is None and not a.star]
                if method == "setdefault" or method == "__setitem__":
                    key = positional[0].value if positional else None
                    value = positional[1].value if len(positional) > 1 else None
                    kind = "setdefault" if method == "setdefault" else "item"
                    found.append(Write(call, small, llm, func.value, kind, field_name, key=key,
                                       value=value, whole_statement=whole))
                else:
                    mapping = _update_mapping(call)
                    found.append(Write(call, small, llm, func.value, "update", field_name,
                                       value=mapping, whole_statement=whole))

    def _llm_container(self, fn: FunctionInfo, node: cst.BaseExpression):
        """(llm expression, field name) when `node` is a container an LLM holds."""
        if isinstance(node, cst.Attribute):
            if self.llms.is_llm(node.value, fn) and not self.llms.is_llm_attribute(node.attr.value):
                return node.value, node.attr.value
            return None
        if isinstance(node, cst.Subscript) and len(node.slice) == 1 \
                and isinstance(node.slice[0].slice, cst.Index):
            # `d = {"h": llm.extra_headers}; d["h"][k] = v`: a fresh dict whose values are the
            # LLM's own dicts, written one level down; also when a method of the class builds
            # that dict (`self.headers()["h"][k] = v`, `d = self.headers(); d["h"][k] = v`).
            key = string_value(node.slice[0].slice.value)
            if key is None:
                return None
            if isinstance(node.value, cst.Call):
                return self._returned_field(fn, node.value, key)
            if not isinstance(node.value, cst.Name):
                return None
            for d in local_defs(fn, node.value.value):
                if d.kind != ASSIGN:
                    continue
                if isinstance(d.value, cst.Call):
                    found = self._returned_field(fn, d.value, key)
                    if found is not None:
                        return found
                    continue
                found = self._dict_field(fn, d.value, key)
                if found is not None:
                    return found
            return None
        if isinstance(node, cst.Call):  # `self.headers_of_llm()[k] = v`
            return self._returned_field(fn, node, None)
        if isinstance(node, cst.Name):
            for d in local_defs(fn, node.value):
                if d.kind != ASSIGN:
                    continue
                if isinstance(d.value, cst.Call):
                    found = self._returned_field(fn, d.value, None)
                    if found is not None:
                        return found
                found = self._field(fn, d.value)
                if found is not None:
                    return found
        return None

    def _field(self, fn: FunctionInfo, value: cst.BaseExpression):
        """(llm, field) when `value` is a dict field of an LLM (`llm.extra_headers or {}`)."""
        inner = value
        while isinstance(inner, cst.BooleanOperation):
            inner = inner.left  # `llm.extra_headers or {}` may be the LLM's own dict
        if isinstance(inner, cst.Attribute) and self.llms.is_llm(inner.value, fn) \
                and not self.llms.is_llm_attribute(inner.attr.value):
            return inner.value, inner.attr.value
        return None

    def _dict_field(self, fn: FunctionInfo, value: cst.BaseExpression, key: str):
        """(llm, field) when `value` is a dict display holding an LLM's dict field under `key`."""
        if not isinstance(value, cst.Dict):
            return None
        for el in value.elements:
            if isinstance(el, cst.DictElement) and string_value(el.key) == key:
                inner = el.value
                if isinstance(inner, cst.Attribute) and self.llms.is_llm(inner.value, fn) \
                        and not self.llms.is_llm_attribute(inner.attr.value):
                    return inner.value, inner.attr.value
        return None

    def _returned_field(self, fn: FunctionInfo, call: cst.Call, key: str | None):
        """`self.m(...)` returning an LLM's dict field (key None) or a fresh dict that holds
        one under `key`: (llm expression inside `m`, field). `m`'s `self` is the caller's."""
        method = called_self_method(self.llms.model, fn, call)
        if method is None:
            return None
        for _ret, value in returned_values(method):
            found = self._field(method, value) if key is None else self._dict_field(method, value, key)
            if found is not None:
                return found
        return None

    # ------------------------------------------------------------------ pins
    def _pins(self, fn: FunctionInfo, write: Write) -> frozenset[Pin]:
        s = self.scoped
        value = write.value
        if write.kind in ("attr", "item", "setdefault") and is_constant(value):
            return frozenset()  # a constant (or clearing with None) is nobody's conversation value
        if write.kind == "attr":
            if s.is_scoped_attribute(write.name):
                return frozenset({Pin.attr(write.name)})
            if write.name in self.hook_attributes and not is_fresh_empty(value) \
                    and not _reads_only(value, fn.self_name):
                return frozenset({Pin.attr(write.name)})  # a hook installed on the LLM itself
            return self._value_pins(fn, write)
        if write.kind in ("item", "setdefault"):
            key = s.header_key(write.key, fn)
            if key:
                return frozenset({Pin.header(key)})
            literal = string_value(write.key)
            if literal in self.id_keys:
                return frozenset({Pin.attr(literal)})  # `kwargs["rollout_id"] = rid`
            if s.is_scoped(value, fn):
                literal = string_value(write.key)
                return frozenset({Pin.header(literal) if literal else Pin.attr(write.name or "?")})
            return frozenset()
        return self._value_pins(fn, write)  # update / merge

    def _value_pins(self, fn: FunctionInfo, write: Write) -> frozenset[Pin]:
        """The scoped header keys a written value carries, else the field if it is scoped."""
        keys = self.scoped.scoped_keys(write.value, fn)
        if keys:
            return frozenset(Pin.header(k) for k in keys)
        if isinstance(write.value, cst.Dict):  # `llm.kwargs.update(rollout_id=rid)`
            ids = {string_value(el.key) for el in write.value.elements
                   if isinstance(el, cst.DictElement) and not is_constant(el.value)}
            ids = {k for k in ids if k in self.id_keys}
            if ids:
                return frozenset(Pin.attr(k) for k in ids)
        if self.scoped.is_scoped(write.value, fn):
            return frozenset({Pin.attr(write.name or "?")})
        return frozenset()


def _reads_only(node: cst.BaseExpression | None, name: str | None) -> bool:
    """The value reads no variable but `name` (`self._callback_manager`): the holder applying
    its own configuration (LlamaIndex's process-wide `Settings` wiring its callback manager
    into its own LLM), not one caller's hook."""
    if node is None or not name:
        return False
    names: list[cst.Name] = []
    attrs: set[int] = set()

    def visit(n: cst.CSTNode) -> None:
        if isinstance(n, cst.Attribute):
            attrs.add(id(n.attr))
        elif isinstance(n, cst.Name):
            names.append(n)

    walk(node, visit, lambda _n: None)
    read = {n.value for n in names if id(n) not in attrs} - {"None", "True", "False"}
    return read == {name}


def is_fresh_empty(node: cst.BaseExpression | None) -> bool:
    """An empty hook that is the same for everyone: `[]`, `{}`, `()`, `list()`,
    `CallbackManager([])`, `CallbackManager()` (a constructor given only empty or constant
    arguments). Installing it takes nobody's hook onto the LLM."""
    # An AND over the constructor calls and their arguments, with a worklist (no recursion).
    todo = [node]
    while todo:
        node = todo.pop()
        if node is None or is_constant(node):
            continue
        if isinstance(node, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
            if node.elements:
                return False
            continue
        if not isinstance(node, cst.Call):
            return False
        name = dotted_name(node.func)
        last = name.rsplit(".", 1)[-1] if name else ""
        if not (last[:1].isupper() or last in ("list", "dict", "tuple", "set")):
            return False
        todo.extend(a.value for a in node.args)
    return True


def _update_mapping(call: cst.Call) -> cst.BaseExpression | None:
    """The mapping an `.update(...)` call merges in, as one expression when it is one."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    keywords = [a for a in call.args if a.keyword is not None or a.star == "**"]
    if positional and not keywords:
        return positional[0].value
    elements: list[cst.BaseDictElement] = []
    for a in call.args:
        if a.keyword is not None:
            elements.append(cst.DictElement(cst.SimpleString(repr(a.keyword.value)), a.value))
        elif a.star == "**":
            elements.append(cst.StarredDictElement(a.value))
        elif not a.star:
            elements.append(cst.StarredDictElement(a.value))
    return cst.Dict(elements) if elements else None



def _early_exit_test(statement: cst.CSTNode) -> cst.BaseExpression | None:
    """`if test: return` (or raise/continue) with no else: the test is false afterwards."""
    if not isinstance(statement, cst.If) or statement.orelse is not None:
        return None
    body = statement.body
    smalls: list[cst.BaseSmallStatement] = []
    if isinstance(body, cst.SimpleStatementSuite):
        smalls = list(body.body)
    elif isinstance(body, cst.IndentedBlock) and len(body.body) == 1 \
            and isinstance(body.body[0], cst.SimpleStatementLine):
        smalls = list(body.body[0].body)
    if smalls and isinstance(smalls[-1], (cst.Return, cst.Raise, cst.Continue)):
        return statement.test
    return None
