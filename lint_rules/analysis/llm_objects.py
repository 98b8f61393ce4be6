"""Is this expression an LLM object? (the objects conversation-scoped values must not leak onto)

An expression is an LLM when:

- its type says so: a parameter annotated with a configured LLM class (`llm_classes`, matched by
  qualified name through the imports, or by bare class name: `LLM`, `Optional[LLM]`, `"LLM"`),
  or `self` inside a method of such a class;
- its spelling says so: an attribute chain ending in a configured attribute (`llm_attributes`:
  `self.agent.llm`, `agent.condenser.llm`), or a bare name equal to one (`llm`);
- it comes from a source of LLMs: a constructor call of an LLM class, `LLM.model_validate(...)`,
  `x.model_copy(...)` / `copy.copy(x)` / `copy.deepcopy(x)` of an LLM, a call of a configured
  source method (`llm_sources`: `get_all_llms()` anywhere; generic names such as `get` and
  `values` only on a receiver that names a registry or a collection of LLMs,
  `self.llm_registry.get(...)`, `self._llms.values()`), or a method of the class annotated
  `-> LLM`;
- it is a local variable bound to any of those (assignment, or `for llm in <source>`).

Usage:

    llms = LLMFacts(ctx.config, ctx.model)
    llms.is_llm(expr, fn)            # -> bool
    llms.source_call(call)           # -> "self.agent.get_all_llms()" | None: yields shared LLMs
    llms.is_llm_class("agentsdk.llm.LLM")

The tokens every one of these paths needs in the source text are `trigger_tokens(config)`: a
file without any of them has no LLM expression (the prefilter relies on it).
"""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis.local_bindings import ASSIGN, LOOP, PARAM, local_defs
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import (
    ClassInfo,
    FunctionInfo,
    SemanticModel,
    dotted_name,
    string_value,
)

_FACTORY_PREFIXES = ("create", "build", "new", "make", "copy", "clone", "fork")
COPY_METHODS = frozenset({"model_copy", "copy"})
VALIDATE_METHODS = frozenset({"model_validate", "model_construct", "parse_obj", "construct"})
_ELEMENT_WRAPPERS = frozenset({"list", "tuple", "sorted", "reversed", "set", "frozenset", "iter"})
_REGISTRY_HINTS = ("registry", "Registry", "REGISTRY", "llms", "Llms", "LLMs", "LLMS")


# Characters that can precede an identifier in Python source: an identifier spelled `llm` (not
# `fullmatch`) is always preceded by one of these (a function body never starts a file).
_BEFORE_IDENTIFIER = " \t\n\r\f([{,.:;=+-*/%&|^~<>!@\\"


def trigger_tokens(config: Config) -> tuple[str, ...]:
    """Substrings of which one must occur in a file that contains an LLM expression inside a
    function: an LLM class name (also the only way a generic `registry.get()` counts, see
    `LLMFacts._mentions_llm_class`), a configured attribute or name as a whole identifier, or a
    specific source method."""
    tokens = {c.rsplit(".", 1)[-1] for c in config.llm_classes}
    tokens |= {before + a for a in config.llm_attributes for before in _BEFORE_IDENTIFIER}
    tokens |= {s for s in config.llm_sources if _specific_source(s)}
    return tuple(sorted(t for t in tokens if t.strip(_BEFORE_IDENTIFIER)))


def _specific_source(method: str) -> bool:
    """`get_all_llms` names LLMs itself; `get`/`values` need a registry-like receiver."""
    return "llm" in method.lower()


def _registry_like(receiver: cst.BaseExpression) -> bool:
    name = dotted_name(receiver)
    if name is None and isinstance(receiver, cst.Call):
        name = dotted_name(receiver.func)
    if name is None:
        return False
    last = name.split(".")[-1]
    return any(h in last for h in _REGISTRY_HINTS)


class LLMFacts:
    """Answers "is this an LLM?" for one module."""

    def __init__(self, config: Config, model: SemanticModel) -> None:
        self.config = config
        self.model = model
        self.qualified = frozenset(c for c in config.llm_classes if "." in c)
        self.bare = frozenset(c.rsplit(".", 1)[-1] for c in config.llm_classes)
        self.attributes = frozenset(config.llm_attributes)
        self.sources = frozenset(config.llm_sources)
        self._visiting: set[int] = set()
        self._mentions: bool | None = None

    def _mentions_llm_class(self) -> bool:
        """The module imports or defines an LLM class: only then is `registry.get(...)` taken
        to hand out LLMs (and only then can the prefilter's class-name token be relied on)."""
        if self._mentions is None:
            self._mentions = any(self.is_llm_class(q) for q in self.model.imports.values()) or any(
                self.class_is_llm(c) or self.is_llm_class(c.name) for c in self.model.classes)
        return self._mentions

    # ------------------------------------------------------------------ classes
    def is_llm_class(self, name: str | None) -> bool:
        """A (dotted, possibly unresolved) class name that denotes a configured LLM class."""
        if not name:
            return False
        resolved = self.model.resolve(name) or name
        if resolved in self.qualified or name in self.qualified:
            return True
        return resolved.rsplit(".", 1)[-1] in self.bare

    def is_llm_annotation(self, text: str | None) -> bool:
        return bool(text) and self.is_llm_class(text.strip().strip("'\""))  # type: ignore[union-attr]

    def class_is_llm(self, cls: ClassInfo | None) -> bool:
        return cls is not None and (cls.name in self.bare or any(self.is_llm_class(b) for b in cls.bases))

    def is_llm_attribute(self, name: str | None) -> bool:
        return name is not None and name in self.attributes

    # ------------------------------------------------------------------ sources
    def source_call(self, node: cst.BaseExpression | None) -> str | None:
        """`x.get_all_llms()`, `registry.get(...)`: a call that hands out LLMs by reference.
        Returns a short spelling of the source for messages."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return None
        method = node.func.attr.value
        if method not in self.sources:
            return None
        receiver = node.func.value
        if not _specific_source(method) and not (_registry_like(receiver) and self._mentions_llm_class()):
            return None
        spelled = dotted_name(receiver)
        if spelled is None and isinstance(receiver, cst.Call):
            inner = dotted_name(receiver.func)
            spelled = f"{inner}(...)" if inner else None
        return f"{spelled or '...'}.{method}({'...' if node.args else ''})"

    def registry_lookup(self, node: cst.BaseExpression | None) -> str | None:
        """`self.llm_registry.load_profile(name)`: any method of a registry-like receiver in a
        module that uses an LLM class, except factories (`create_*`, `build_*`, `new_*`, ...).
        Registries hand out the object they hold, the same one on every lookup."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return None
        method = node.func.attr.value
        if method.startswith(_FACTORY_PREFIXES) or method.startswith("__"):
            return None
        receiver = node.func.value
        if not (_registry_like(receiver) and self._mentions_llm_class()):
            return None
        return f"{dotted_name(receiver) or '...'}.{method}({'...' if node.args else ''})"

    # ------------------------------------------------------------------ expressions
    def is_llm(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> bool:
        if node is None:
            return False
        key = id(node)
        if key in self._visiting:
            return False
        self._visiting.add(key)
        try:
            return self._is_llm(node, fn)
        finally:
            self._visiting.discard(key)

    def _is_llm(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> bool:
        if isinstance(node, cst.Name):
            return self._name_is_llm(node.value, fn)
        if isinstance(node, cst.Attribute):
            return self.is_llm_attribute(node.attr.value)
        if isinstance(node, cst.Call):
            return self._call_is_llm(node, fn)
        if isinstance(node, (cst.Await, cst.NamedExpr)):
            return self.is_llm(node.expression if isinstance(node, cst.Await) else node.value, fn)
        if isinstance(node, cst.BooleanOperation):
            return self.is_llm(node.left, fn) or self.is_llm(node.right, fn)
        if isinstance(node, cst.IfExp):
            return self.is_llm(node.body, fn) or self.is_llm(node.orelse, fn)
        return False

    def _name_is_llm(self, name: str, fn: FunctionInfo | None) -> bool:
        if fn is None:
            return False
        if name == fn.self_name:
            return self.class_is_llm(fn.cls)
        if name in self.attributes:
            return True  # configured names: `llm`
        for d in local_defs(fn, name):
            if d.kind == PARAM:
                param = fn.param(name)
                if param is not None and self.is_llm_annotation(param.annotation):
                    return True
            elif d.kind == ASSIGN and self.is_llm(d.value, fn):
                return True
            elif d.kind == LOOP and self.iterates_llms(d.value, fn):
                return True
        return False

    def iterates_llms(self, node: cst.BaseExpression | None, fn: FunctionInfo | None) -> bool:
        """`for x in <node>` binds LLMs: a source call, or a literal collection of LLMs."""
        if node is None:
            return False
        if self.source_call(node) is not None:
            return True
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            return bool(node.elements) and all(
                not isinstance(el, cst.StarredElement) and self.is_llm(el.value, fn)
                for el in node.elements)
        return self._wrapped_iterates_llms(node, fn)

    def _wrapped_iterates_llms(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> bool:
        """`list(src)`, `sorted(src)`, `itertools.chain(src, ...)`, `[x for x in src]`, or a
        local bound to one of these: the elements are still the source's (issue 13)."""
        if isinstance(node, cst.Call):
            name = self.model.resolve(dotted_name(node.func))
            args = [a.value for a in node.args if a.keyword is None and not a.star]
            if name in _ELEMENT_WRAPPERS and args:
                return self.iterates_llms(args[0], fn)
            if name in ("itertools.chain", "chain") and args:
                return any(self.iterates_llms(a, fn) for a in args)
            return False
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            comp = node.for_in
            return (comp.inner_for_in is None and isinstance(comp.target, cst.Name)
                    and isinstance(node.elt, cst.Name) and node.elt.value == comp.target.value
                    and self.iterates_llms(comp.iter, fn))
        if isinstance(node, cst.Name) and fn is not None and id(node) not in self._visiting:
            self._visiting.add(id(node))
            try:
                return any(d.kind == ASSIGN and self.iterates_llms(d.value, fn)
                           for d in local_defs(fn, node.value))
            finally:
                self._visiting.discard(id(node))
        return False

    def _call_is_llm(self, node: cst.Call, fn: FunctionInfo | None) -> bool:
        func = node.func
        name = dotted_name(func)
        if name is not None and self.is_llm_class(name):
            return True  # `LLM(...)`
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in COPY_METHODS and self.is_llm(func.value, fn):
                return True
            if method in VALIDATE_METHODS and self.is_llm_class(dotted_name(func.value)):
                return True
            if not _plural(method) and (self.source_call(node) is not None
                                        or self.registry_lookup(node) is not None):
                return True
            if fn is not None and fn.cls is not None and dotted_name(func.value) == fn.self_name:
                target = fn.cls.methods.get(method)
                if target is not None and self.is_llm_annotation(_return_annotation(target)):
                    return True
        resolved = self.model.resolve(name) if name else None
        if resolved in ("copy.copy", "copy.deepcopy") and node.args:
            return self.is_llm(node.args[0].value, fn)
        return False


def _plural(method: str) -> bool:
    """`get_all_llms`/`values` yield several LLMs: the call itself is not one."""
    return method.endswith("s") or "all" in method


def _return_annotation(fn: FunctionInfo) -> str | None:
    returns = fn.node.returns
    if returns is None:
        return None
    expr = returns.annotation
    text = string_value(expr)
    return text if text is not None else dotted_name(expr)
