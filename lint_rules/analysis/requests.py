"""What the headers in request-building code are: the LLM's pinned ones, or the caller's.

LLA004 needs two judgements about an expression inside one function:

- **pinned headers**: the LLM-level or conversation-level headers (`llm.extra_headers`,
  `self.extra_headers` inside an LLM class, `self.agent.llm.extra_headers`, a dict literal that
  carries a conversation-scoped header key), possibly copied (`dict(...)`, `.copy()`,
  `copy.copy(...)`, `... or {}`, `{**...}`) or bound to a local first;
- **call-site headers**: what the caller passed (`kwargs.get("extra_headers")`,
  `kwargs["headers"]`, `kwargs.pop("extra_headers", None)`, a parameter named like a header
  keyword), possibly wrapped or bound to a local the same way.

Both are decided syntactically and locally (one function, its parameters and its plain
assignments), so the answers are cheap and never depend on other files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from lint_rules.config import Config
from lint_rules.semantic import ClassInfo, FunctionInfo, SemanticModel, dotted_name, string_value

_COPY_FUNCTIONS = frozenset({"dict", "copy.copy", "copy.deepcopy", "collections.OrderedDict"})
_COPY_METHODS = frozenset({"copy"})
_LOOKUP_METHODS = frozenset({"get", "pop"})


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def matches_class(qualified: str | None, config: Config) -> bool:
    """Whether a (resolved) class name is one of the configured LLM classes."""
    if not qualified:
        return False
    for name in config.llm_classes:
        if qualified == name or ("." not in name and _last(qualified) == name):
            return True
    return False


def is_llm_class(cls: ClassInfo | None, config: Config) -> bool:
    """An LLM class of this file: named like one, or deriving directly from one."""
    if cls is None:
        return False
    return matches_class(cls.name, config) or any(matches_class(b, config) for b in cls.bases)


@dataclass
class FunctionFacts:
    """Plain `name = value` bindings of one function body (nested scopes excluded)."""

    bindings: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)

    @classmethod
    def of(cls, fn: FunctionInfo | None) -> FunctionFacts:
        facts = cls()
        if fn is None:
            return facts
        stack: list[cst.CSTNode] = [fn.node.body]
        while stack:
            node = stack.pop()
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                continue
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    if isinstance(target.target, cst.Name):
                        facts.bindings.setdefault(target.target.value, []).append(node.value)
            elif isinstance(node, cst.AnnAssign) and node.value is not None:
                if isinstance(node.target, cst.Name):
                    facts.bindings.setdefault(node.target.value, []).append(node.value)
            elif isinstance(node, (cst.For, cst.With, cst.AugAssign, cst.NamedExpr)):
                for name in _bound_names(node):
                    facts.bindings.setdefault(name, []).append(cst.Name("__unknown__"))
            stack.extend(node.children)
        return facts


def _bound_names(node: cst.CSTNode) -> list[str]:
    targets: list[cst.BaseExpression] = []
    if isinstance(node, cst.For):
        targets.append(node.target)
    elif isinstance(node, cst.With):
        targets.extend(i.asname.name for i in node.items if i.asname is not None)  # type: ignore[misc]
    elif isinstance(node, (cst.AugAssign, cst.NamedExpr)):
        targets.append(node.target)
    names = []
    for target in targets:
        if isinstance(target, cst.Name):
            names.append(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            names.extend(e.value.value for e in target.elements if isinstance(e.value, cst.Name))
    return names


class HeaderJudge:
    """Classifies header expressions inside one function of one file."""

    def __init__(self, model: SemanticModel, config: Config, fn: FunctionInfo | None) -> None:
        self.model = model
        self.config = config
        self.fn = fn
        self.facts = FunctionFacts.of(fn)
        self.keywords = frozenset(config.header_keywords)
        self.scoped_keys = frozenset(k.lower() for k in config.scoped_header_keys)
        self.llm_attrs = frozenset(config.llm_attributes)
        self._in_llm_class = fn is not None and fn.self_name is not None and is_llm_class(fn.cls, config)

    # ------------------------------------------------------------------ keys
    def header_keyword(self, node: cst.BaseExpression | None) -> str | None:
        """`"extra_headers"` (a literal or a module constant holding it) -> the keyword."""
        value = self.string(node)
        return value if value in self.keywords else None

    def string(self, node: cst.BaseExpression | None) -> str | None:
        value = string_value(node)
        if value is None and isinstance(node, cst.Name):
            value = string_value(self.model.globals.get(node.value))
        return value

    def is_scoped_key(self, node: cst.BaseExpression | None) -> bool:
        value = self.string(node)
        return value is not None and value.lower() in self.scoped_keys

    # ------------------------------------------------------------------ LLM objects
    def is_llm(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        if isinstance(node, cst.Attribute):
            return node.attr.value in self.llm_attrs
        if isinstance(node, cst.Call):
            func = self.model.resolve_expr(node.func)
            if matches_class(func, self.config):
                return True
            return (isinstance(node.func, cst.Attribute) and node.func.attr.value == "model_copy"
                    and self.is_llm(node.func.value, depth + 1))
        if not isinstance(node, cst.Name):
            return False
        name = node.value
        if self.fn is not None and name == self.fn.self_name:
            return self._in_llm_class
        if name in self.llm_attrs or name.endswith("_llm"):
            return True
        if self.fn is not None:
            param = self.fn.param(name)
            if param is not None and param.annotation is not None:
                if matches_class(self.model.resolve(param.annotation), self.config):
                    return True
        values = self.facts.bindings.get(name)
        if values and depth < 4:
            return all(self.is_llm(v, depth + 1) for v in values)
        return False

    # ------------------------------------------------------------------ pinned headers
    def is_pinned(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """LLM-level or conversation-level headers, or a copy of them."""
        if isinstance(node, cst.Attribute):
            return node.attr.value in self.keywords and self.is_llm(node.value)
        if isinstance(node, cst.Dict):
            return any(
                isinstance(e, cst.DictElement) and self.is_scoped_key(e.key) for e in node.elements
            ) or self._all_starred(node, self.is_pinned, depth)
        inner = self.copied(node)
        if inner is not None:
            return self.is_pinned(inner, depth + 1)
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            return self.is_pinned(node.left, depth + 1) and _is_empty(node.right)
        if isinstance(node, cst.Name) and depth < 4:
            values = self.facts.bindings.get(node.value)
            return bool(values) and all(self.is_pinned(v, depth + 1) for v in values)
        return False

    # ------------------------------------------------------------------ call-site headers
    def lookup(self, node: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
        """`kwargs.get("extra_headers"[, d])` / `kwargs.pop(...)` / `kwargs["headers"]` ->
        (the mapping, the keyword)."""
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            if node.func.attr.value in _LOOKUP_METHODS and node.args and node.args[0].keyword is None:
                key = self.header_keyword(node.args[0].value)
                if key is not None:
                    return node.func.value, key
        if isinstance(node, cst.Subscript) and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index):
                key = self.header_keyword(index.value)
                if key is not None:
                    return node.value, key
        return None

    def is_call_site(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        if self.lookup(node) is not None:
            return not self.is_llm(chain_object(node))
        inner = self.copied(node)
        if inner is not None:
            return self.is_call_site(inner, depth + 1)
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            return self.is_call_site(node.left, depth + 1) and _is_empty(node.right)
        if isinstance(node, cst.Name):
            if self.is_header_param(node.value):
                return True
            values = self.facts.bindings.get(node.value)
            if values and depth < 4:
                return all(self.is_call_site(v, depth + 1) for v in values)
        return False

    def is_header_param(self, name: str) -> bool:
        """A parameter of the function named like a header keyword: the caller's headers."""
        return (self.fn is not None and name in self.keywords and self.fn.param(name) is not None
                and name != self.fn.self_name)

    # ------------------------------------------------------------------ helpers
    def copied(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        """The argument of a copy: `dict(x)`, `x.copy()`, `copy.copy(x)`, `{**x}`."""
        if isinstance(node, cst.Call):
            if (isinstance(node.func, cst.Attribute) and node.func.attr.value in _COPY_METHODS
                    and not node.args):
                return node.func.value
            if (self.model.resolve_expr(node.func) in _COPY_FUNCTIONS and len(node.args) == 1
                    and node.args[0].keyword is None and not node.args[0].star):
                return node.args[0].value
        if (isinstance(node, cst.Dict) and len(node.elements) == 1
                and isinstance(node.elements[0], cst.StarredDictElement)):
            return node.elements[0].value
        return None

    def _all_starred(self, node: cst.Dict, test, depth: int) -> bool:
        return bool(node.elements) and depth < 4 and all(
            isinstance(e, cst.StarredDictElement) and test(e.value, depth + 1) for e in node.elements
        )


def chain_object(node: cst.BaseExpression) -> cst.BaseExpression:
    """The mapping a lookup reads: `kwargs` in `kwargs.get(...)` / `kwargs[...]`."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value
    if isinstance(node, cst.Subscript):
        return node.value
    return node


def _is_empty(node: cst.BaseExpression) -> bool:
    """`{}`, `dict()`, `None`: the neutral fallback of `x or {}`."""
    if isinstance(node, cst.Dict):
        return not node.elements
    if isinstance(node, cst.Call):
        return dotted_name(node.func) == "dict" and not node.args
    return isinstance(node, cst.Name) and node.value == "None"
