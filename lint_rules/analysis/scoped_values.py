"""Is this value conversation-scoped? (keys, attributes and values derived from conversation ids)

A value is *conversation-scoped* when each conversation must have its own: a configured header
key (`x-litellm-session-id`, matched case-insensitively), a configured LLM attribute
(`_prompt_cache_key`, `_call_context`, ...), or anything derived from a conversation id
expression (`self.id`, `state.id`, `conversation_id`, ... suffix-matched on attribute chains):

- through `str()`/`repr()`/`format()`, f-strings, `%` and `.format()`, `+` concatenation,
  `.join`, string methods on a scoped receiver (`cid.lower()`), `hashlib`/`uuid` calls;
- through dict displays (a scoped key, a scoped value, or a `**` spread of a scoped mapping) and
  `dict(...)`;
- through constructor-like calls with a scoped argument (`CallContext(session_id=cid)`,
  `CallContext.for_conversation(state.id)`: a callee chain with a capitalised segment);
- through local variables (`key = str(self.id)`; any binding in the function counts: "may be").

Deliberately NOT scoped: literal constants (the same for every conversation, even under a scoped
key or attribute), the result of an arbitrary function or method called with a
conversation id (`self.pick(conversation_id)` maps it to a deployment name), and reads of an
LLM's dict fields (`llm.extra_headers` is the LLM's state, not a conversation's value).

Usage (one instance per checked file is cheap):

    scoped = ScopedValues(ctx.config, ctx.model)
    scoped.is_scoped(expr, fn)          # -> bool
    scoped.header_key(expr, fn)         # -> "x-litellm-session-id" | None
    scoped.scoped_keys(expr, fn)        # -> header keys a dict value carries
    scoped.is_scoped_attribute("_prompt_cache_key")
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import libcst as cst

from lint_rules.analysis.header_keys import HeaderKeys
from lint_rules.analysis.local_bindings import ASSIGN, local_defs, local_item_stores, local_names
from lint_rules.analysis.write_shapes import ARGUMENT_METHODS, HASH_MODULES, STRING_BUILTINS
from lint_rules.core.config import Config
from lint_rules.syntax.search import depth_first_any
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name, string_value
from lint_rules.syntax.trampoline import run
from lint_rules.syntax.tree import walk



def is_constant(node: cst.BaseExpression | None) -> bool:
    """A literal that is the same for every conversation (`"static"`, `0`, `None`, `True`).

    A constant stored under a scoped key or attribute is not one conversation's value leaking."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False")
    if isinstance(node, cst.FormattedString):
        return not any(isinstance(p, cst.FormattedStringExpression) for p in node.parts)
    return False


class ScopedValues:
    """Answers "is this expression conversation-scoped?" for one module."""

    def __init__(self, config: Config, model: SemanticModel | None = None) -> None:
        self.config = config
        self.model = model
        self.keys = HeaderKeys(config, model)
        self.attributes = frozenset(config.scoped_attributes)
        self._id_chains = tuple(tuple(e.split(".")) for e in config.conversation_id_expressions if e)
        self._id_names = frozenset(e for e in config.conversation_id_expressions if e and "." not in e)
        self._visiting: set[int] = set()
        # Per function: which locals are scoped, which header keys each local carries. Computed
        # for all locals at once, as a least fixed point (a local is scoped when one of its
        # definitions is, given what is known so far), which is what following definitions
        # depth-first with cycles cut computes, without its cost: chains of locals that each
        # use the previous ones twice (`b = f(a, a); c = g(b, b)...`) made that 2 ** length
        # (numpy's crackfortran.py did not finish).
        self._scoped_locals: dict[int, set[str]] = {}
        self._key_locals: dict[int, dict[str, frozenset[str]]] = {}

    # ------------------------------------------------------------------ keys and attributes
    def is_scoped_attribute(self, name: str | None) -> bool:
        return name is not None and name in self.attributes

    def header_key(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> str | None:
        """The scoped header key a key expression spells (`header_keys.HeaderKeys`)."""
        return self.keys.key_of(node, fn)

    # ------------------------------------------------------------------ conversation ids
    def is_conversation_id(self, node: cst.BaseExpression | None) -> bool:
        """A configured conversation-id expression, suffix-matched on the attribute chain."""
        name = dotted_name(node) if node is not None else None
        if name is None:
            return False
        parts = tuple(name.split("."))
        return any(len(parts) >= len(e) and parts[-len(e):] == e for e in self._id_chains)

    # ------------------------------------------------------------------ values
    def is_scoped(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> bool:
        """Is the value conversation-scoped? An OR over the expressions it is made of, explored
        depth-first with an explicit stack in the order of a recursive walk (`depth_first_any`):
        a 3,000-term `"..." + cid + ...` or `a or b or ...` is a tree that deep."""
        return depth_first_any(node, self._visiting,
                               lambda current, children: self._scoped(current, fn, children))

    def _scoped(self, node: cst.BaseExpression, fn: FunctionInfo | None,
                children: list[cst.BaseExpression]) -> bool:
        """True when `node` itself is scoped; else list, in order, the parts whose being scoped
        makes it scoped."""
        if isinstance(node, (cst.Name, cst.Attribute)):
            if self.is_conversation_id(node):
                return True
            if isinstance(node, cst.Attribute):
                return self.is_scoped_attribute(node.attr.value)
            if fn is not None:
                return node.value in self._scoped_locals_of(fn)
            return False
        if isinstance(node, cst.FormattedString):
            children.extend(p.expression for p in node.parts
                            if isinstance(p, cst.FormattedStringExpression))
        elif isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
            children.extend((node.left, node.right))
        elif isinstance(node, cst.IfExp):
            children.extend((node.body, node.orelse))
        elif isinstance(node, (cst.Await, cst.NamedExpr)):
            children.append(node.value if isinstance(node, cst.NamedExpr) else node.expression)
        elif isinstance(node, cst.Dict):
            if self.scoped_keys(node, fn):
                return True
            children.extend(el.value for el in node.elements)
        elif isinstance(node, cst.Subscript):
            # `headers["x-litellm-session-id"]`: reading a scoped header's value;
            # `config["configurable"]["thread_id"]`: reading a conversation id by its name.
            return any(isinstance(el.slice, cst.Index) and (
                self.header_key(el.slice.value, fn)
                or (string_value(el.slice.value) or "") in self._id_names)
                for el in node.slice)
        elif isinstance(node, cst.Call):
            children.extend(self._scoped_call_parts(node))
        return False

    def _scoped_call_parts(self, node: cst.Call) -> list[cst.BaseExpression]:
        """The parts of a call whose being scoped makes its result scoped: the arguments of
        `str(...)`, `"...".format(...)`, `"-".join(...)`, a hash or a constructor-like call,
        the receiver of a method (`cid.lower()`, `digest.hexdigest()`)."""
        args = [a.value for a in node.args]
        func = node.func
        name = dotted_name(func)
        resolved = self.model.resolve(name) if (self.model is not None and name) else name
        if name in STRING_BUILTINS:
            return args
        parts: list[cst.BaseExpression] = []
        if isinstance(func, cst.Attribute):
            parts.append(func.value)
            if func.attr.value in ARGUMENT_METHODS:
                return args + parts
        if resolved and resolved.startswith(HASH_MODULES):
            return args + parts
        if name and any(part[:1].isupper() for part in name.split(".")):
            return args + parts  # constructor-like: `CallContext(...)`, `Ctx.for_conversation(...)`
        return parts

    def scoped_keys(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> frozenset[str]:
        """Scoped header keys a mapping value carries: keys of a dict display (spreads included),
        `dict(...)` arguments, `a | b`, and local variables bound to such values."""
        return run(self._keys_of(node, fn))

    # Written recursively as generators that yield each sub-question (`syntax.trampoline`):
    # `a | b | c ...` and `{**a, **{**b, ...}}` nest as deep as the code is long.
    def _keys_of(self, node: cst.BaseExpression | None,
                 fn: FunctionInfo | None) -> Generator[Any, Any, frozenset[str]]:
        if node is None:
            return frozenset()
        key = ("keys", id(node))
        if key in self._visiting:
            return frozenset()
        self._visiting.add(key)  # type: ignore[arg-type]
        try:
            return (yield self._keys(node, fn))
        finally:
            self._visiting.discard(key)  # type: ignore[arg-type]

    def _keys(self, node: cst.BaseExpression,
              fn: FunctionInfo | None) -> Generator[Any, Any, frozenset[str]]:
        found: set[str] = set()
        if isinstance(node, cst.Dict):
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    k = self.header_key(el.key, fn)
                    if k and not is_constant(el.value):
                        found.add(k)
                elif isinstance(el, cst.StarredDictElement):
                    found |= yield self._keys_of(el.value, fn)
        elif isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
            for arg in node.args:
                if arg.keyword is not None:  # `dict(session_id=v)`: the keyword is the key
                    if self.keys.is_scoped(arg.keyword.value) and not is_constant(arg.value):
                        found.add(arg.keyword.value.lower())
                found |= yield self._keys_of(arg.value, fn)
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            found |= yield self._keys_of(node.left, fn)
            found |= yield self._keys_of(node.right, fn)
        elif isinstance(node, cst.BooleanOperation):
            found |= yield self._keys_of(node.left, fn)
            found |= yield self._keys_of(node.right, fn)
        elif isinstance(node, cst.Name) and fn is not None:
            found |= self._key_locals_of(fn).get(node.value, frozenset())
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value == "headers":
            pass  # `ctx.headers()`: unknown keys
        return frozenset(found)

    # ------------------------------------------------------------------ locals, all at once
    def _scoped_locals_of(self, fn: FunctionInfo) -> set[str]:
        table = self._scoped_locals.get(id(fn))
        if table is None:
            # Registered before it is filled: lookups made while filling it read what is known.
            table = self._scoped_locals[id(fn)] = set()
            names = local_names(fn)
            changed = True
            while changed:
                changed = False
                for name in names:
                    if name not in table and self._local_is_scoped(name, fn):
                        table.add(name)
                        changed = True
        return table

    def _local_is_scoped(self, name: str, fn: FunctionInfo) -> bool:
        return any(d.kind == ASSIGN and self.is_scoped(d.value, fn)
                   for d in local_defs(fn, name)) or any(
            self.is_scoped(store.value, fn) and not is_constant(store.value)
            for store in local_item_stores(fn, name))

    def _key_locals_of(self, fn: FunctionInfo) -> dict[str, frozenset[str]]:
        table = self._key_locals.get(id(fn))
        if table is None:
            table = self._key_locals[id(fn)] = {}
            names = local_names(fn)
            changed = True
            while changed:
                changed = False
                for name in names:
                    keys = frozenset(self._name_keys(name, fn))
                    if keys != table.get(name, frozenset()):
                        table[name] = keys
                        changed = True
        return table

    def _name_keys(self, name: str, fn: FunctionInfo) -> set[str]:
        found: set[str] = set()
        for d in local_defs(fn, name):
            if d.kind == ASSIGN:
                found |= self.scoped_keys(d.value, fn)
        # `headers = dict(...); headers[key] = str(self.id)`: keys stored into the local.
        for store in local_item_stores(fn, name):
            if store.key is None:
                found |= self.scoped_keys(store.value, fn)
            else:
                k = self.header_key(store.key, fn)
                if k and not is_constant(store.value):
                    found.add(k)
        return found

    # ------------------------------------------------------------------ provenance
    def mentions_name(self, node: cst.BaseExpression | None, name: str | None,
                      fn: FunctionInfo | None = None) -> bool:
        """Does the value use `name` (e.g. `self`), directly or through a local variable?

        Followed through the locals' assigned values depth-first with an explicit stack (a
        chain of 3,000 assignments `b = a; c = b; ...` is that deep); a value already on the
        current path is not followed again."""
        if node is None or not name:
            return False
        visiting = self._visiting
        stack: list[tuple[cst.BaseExpression, bool]] = [(node, False)]
        try:
            while stack:
                value, leaving = stack.pop()
                key = ("mentions", id(value))
                if leaving:
                    visiting.discard(key)  # type: ignore[arg-type]
                    continue
                found: list[bool] = []
                locals_seen: list[str] = []

                def visit(n: cst.CSTNode) -> None:
                    if isinstance(n, cst.Name):
                        if n.value == name:
                            found.append(True)
                        elif fn is not None:
                            locals_seen.append(n.value)

                walk(value, visit, lambda _n: None)
                if found:
                    return True
                if fn is None or key in visiting:
                    continue
                visiting.add(key)  # type: ignore[arg-type]
                stack.append((value, True))
                assigned = [d.value for local in locals_seen for d in local_defs(fn, local)
                            if d.kind == ASSIGN and d.value is not None]
                stack.extend((v, False) for v in reversed(assigned))
            return False
        finally:
            for value, leaving in stack:
                if leaving:
                    visiting.discard(("mentions", id(value)))  # type: ignore[arg-type]
