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

import libcst as cst

from lint_rules.analysis.header_keys import HeaderKeys
from lint_rules.analysis.local_bindings import ASSIGN, local_defs, local_item_stores, local_names
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name, string_value
from lint_rules.syntax.tree import walk

_STRING_BUILTINS = frozenset({"str", "repr", "format", "bytes", "dict", "frozenset", "tuple"})
_HASH_MODULES = ("hashlib.", "uuid.", "base64.", "zlib.")


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
        if node is None:
            return False
        key = id(node)
        if key in self._visiting:
            return False  # a cycle through local variables
        self._visiting.add(key)
        try:
            return self._scoped(node, fn)
        finally:
            self._visiting.discard(key)

    def _scoped(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> bool:
        if isinstance(node, (cst.Name, cst.Attribute)):
            if self.is_conversation_id(node):
                return True
            if isinstance(node, cst.Attribute):
                return self.is_scoped_attribute(node.attr.value)
            if fn is not None:
                return node.value in self._scoped_locals_of(fn)
            return False
        if isinstance(node, cst.FormattedString):
            return any(isinstance(p, cst.FormattedStringExpression) and self.is_scoped(p.expression, fn)
                       for p in node.parts)
        if isinstance(node, cst.BinaryOperation):
            return self.is_scoped(node.left, fn) or self.is_scoped(node.right, fn)
        if isinstance(node, cst.BooleanOperation):
            return self.is_scoped(node.left, fn) or self.is_scoped(node.right, fn)
        if isinstance(node, cst.IfExp):
            return self.is_scoped(node.body, fn) or self.is_scoped(node.orelse, fn)
        if isinstance(node, (cst.Await, cst.NamedExpr)):
            return self.is_scoped(node.value if isinstance(node, cst.NamedExpr) else node.expression, fn)
        if isinstance(node, cst.Dict):
            return bool(self.scoped_keys(node, fn)) or any(
                self.is_scoped(el.value, fn) for el in node.elements)
        if isinstance(node, cst.Subscript):
            # `headers["x-litellm-session-id"]`: reading a scoped header's value;
            # `config["configurable"]["thread_id"]`: reading a conversation id by its name.
            return any(isinstance(el.slice, cst.Index) and (
                self.header_key(el.slice.value, fn)
                or (string_value(el.slice.value) or "") in self._id_names)
                for el in node.slice)
        if isinstance(node, cst.Call):
            return self._scoped_call(node, fn)
        return False

    def _scoped_call(self, node: cst.Call, fn: FunctionInfo | None) -> bool:
        args_scoped = any(self.is_scoped(a.value, fn) for a in node.args)
        func = node.func
        name = dotted_name(func)
        resolved = self.model.resolve(name) if (self.model is not None and name) else name
        if name in _STRING_BUILTINS:
            return args_scoped
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if self.is_scoped(func.value, fn):
                return True  # `cid.lower()`, `digest.hexdigest()`
            if method in ("format", "join", "format_map") and args_scoped:
                return True
        if resolved and resolved.startswith(_HASH_MODULES):
            return args_scoped
        if name and any(part[:1].isupper() for part in name.split(".")):
            return args_scoped  # constructor-like: `CallContext(...)`, `Ctx.for_conversation(...)`
        return False

    def scoped_keys(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> frozenset[str]:
        """Scoped header keys a mapping value carries: keys of a dict display (spreads included),
        `dict(...)` arguments, `a | b`, and local variables bound to such values."""
        if node is None:
            return frozenset()
        key = ("keys", id(node))
        if key in self._visiting:
            return frozenset()
        self._visiting.add(key)  # type: ignore[arg-type]
        try:
            return self._keys(node, fn)
        finally:
            self._visiting.discard(key)  # type: ignore[arg-type]

    def _keys(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> frozenset[str]:
        found: set[str] = set()
        if isinstance(node, cst.Dict):
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    k = self.header_key(el.key, fn)
                    if k and not is_constant(el.value):
                        found.add(k)
                elif isinstance(el, cst.StarredDictElement):
                    found |= self.scoped_keys(el.value, fn)
        elif isinstance(node, cst.Call) and dotted_name(node.func) == "dict":
            for arg in node.args:
                if arg.keyword is not None:  # `dict(session_id=v)`: the keyword is the key
                    if self.keys.is_scoped(arg.keyword.value) and not is_constant(arg.value):
                        found.add(arg.keyword.value.lower())
                found |= self.scoped_keys(arg.value, fn)
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            found |= self.scoped_keys(node.left, fn) | self.scoped_keys(node.right, fn)
        elif isinstance(node, cst.BooleanOperation):
            found |= self.scoped_keys(node.left, fn) | self.scoped_keys(node.right, fn)
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
        """Does the value use `name` (e.g. `self`), directly or through a local variable?"""
        if node is None or not name:
            return False
        found: list[bool] = []
        locals_seen: list[str] = []

        def visit(n: cst.CSTNode) -> None:
            if isinstance(n, cst.Name):
                if n.value == name:
                    found.append(True)
                elif fn is not None:
                    locals_seen.append(n.value)

        walk(node, visit, lambda _n: None)
        if found:
            return True
        if fn is None:
            return False
        key = ("mentions", id(node))
        if key in self._visiting:
            return False
        self._visiting.add(key)  # type: ignore[arg-type]
        try:
            return any(d.kind == ASSIGN and self.mentions_name(d.value, name, fn)
                       for local in locals_seen for d in local_defs(fn, local))
        finally:
            self._visiting.discard(key)  # type: ignore[arg-type]
