"""The conversation's call context in a function's scope, and mappings that cannot carry it.

A function *has the call context in scope* when a parameter or a local is named by one of
`call-context-keywords` (`call_context`), or is typed as (or built from) one of the configured
`call-context-classes` (`ctx: LLMCallContext`, `ctx = LLMCallContext(...)`). LLA007 asks such a
function to pass the context on every LLM call it makes.

Usage:

    scope = contexts_in_scope(fn, config, model)       # [ContextName(name, kind, node)]
    binds_context(params, config, model)               # a nested scope binds its own context
    from_own_kwargs(expr, fn, keywords)                # `**kwargs` that cannot hold `call_context`

The tokens every one of these needs in the source are `trigger_tokens(config)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from lint_rules.core.config import Config
from lint_rules.syntax.semantic import (
    FunctionInfo,
    SemanticModel,
    annotation_names,
    dotted_name,
    string_value,
)
from lint_rules.syntax.tree import NESTED_SCOPE_TYPES, child_nodes

_COPY_CALLS = frozenset({"dict", "copy.copy", "copy.deepcopy"})


@dataclass(frozen=True)
class ContextName:
    name: str
    kind: str  # "parameter" | "local"
    node: cst.CSTNode | None  # the binding statement of a local (None for a parameter)


def trigger_tokens(config: Config) -> tuple[str, ...]:
    """A function with the context in scope spells a keyword name or a context class name."""
    return tuple(sorted({*config.call_context_keywords,
                         *(c.rsplit(".", 1)[-1] for c in config.call_context_classes)}))


def is_context_class(name: str | None, config: Config, model: SemanticModel) -> bool:
    if not name:
        return False
    resolved = model.resolve(name) or name
    classes = set(config.call_context_classes)
    return (name in classes or resolved in classes
            or resolved.rsplit(".", 1)[-1] in {c.rsplit(".", 1)[-1] for c in classes})


def annotation_is_context(node: cst.BaseExpression | None, config: Config, model: SemanticModel) -> bool:
    """`LLMCallContext`, `LLMCallContext | None`, `Optional["LLMCallContext"]`."""
    return any(is_context_class(name, config, model) for name in annotation_names(node))


def _param_nodes(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params, *params.kwonly_params]
    if isinstance(params.star_arg, cst.Param):
        out.append(params.star_arg)
    return out


def param_contexts(params: cst.Parameters, config: Config, model: SemanticModel) -> list[str]:
    """Parameters named by a call-context keyword or annotated with a context class."""
    keywords = set(config.call_context_keywords)
    return [p.name.value for p in _param_nodes(params)
            if p.name.value in keywords
            or (p.annotation is not None and annotation_is_context(p.annotation.annotation, config, model))]


def param_names(params: cst.Parameters) -> set[str]:
    names = {p.name.value for p in _param_nodes(params)}
    if isinstance(params.star_kwarg, cst.Param):
        names.add(params.star_kwarg.name.value)
    return names


def contexts_in_scope(fn: FunctionInfo, config: Config, model: SemanticModel) -> list[ContextName]:
    """The context names of `fn`: its parameters first, then its locals (not nested scopes)."""
    found = [ContextName(n, "parameter", None) for n in param_contexts(fn.node.params, config, model)]
    seen = {c.name for c in found}
    keywords = set(config.call_context_keywords)
    for node in body_nodes(fn.node.body):
        target: cst.BaseExpression | None = None
        value: cst.BaseExpression | None = None
        annotated = False
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            target, value = node.targets[0].target, node.value
        elif isinstance(node, cst.AnnAssign):
            target, value = node.target, node.value
            annotated = annotation_is_context(node.annotation.annotation, config, model)
        if not isinstance(target, cst.Name) or target.value in seen or value is None:
            continue
        if isinstance(value, cst.Name) and value.value == "None":
            continue
        name = target.value
        built = isinstance(value, cst.Call) and is_context_class(dotted_name(value.func), config, model)
        if name in keywords or annotated or built:
            found.append(ContextName(name, "local", node))
            seen.add(name)
    return found


def body_nodes(root: cst.CSTNode) -> Iterable[cst.CSTNode]:
    """Nodes under `root` in source order, not entering nested functions, classes or lambdas."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed([c for c in child_nodes(node) if type(c) not in NESTED_SCOPE_TYPES]))


def from_own_kwargs(expr: cst.BaseExpression, fn: FunctionInfo, keywords: frozenset[str]) -> bool:
    """`expr` is built only from the function's own `**kwargs` (`kwargs`, `kwargs.copy()`,
    `dict(kwargs)`, `{**kwargs, "stream": True}`, a local bound only to one of these): when a
    call-context keyword is a named parameter of the function, such a mapping cannot hold it."""
    star = fn.node.params.star_kwarg
    if not isinstance(star, cst.Param) or not any(fn.param(k) is not None for k in keywords):
        return False
    own = star.name.value
    assigns = _local_assigns(fn)
    stack: list[tuple[cst.BaseExpression, int]] = [(expr, 0)]
    seen_names: set[str] = set()
    while stack:
        node, depth = stack.pop()
        if depth > 8:
            return False
        if isinstance(node, cst.Name):
            if node.value == own:
                continue
            bound = assigns.get(node.value)
            if node.value in seen_names:
                continue
            if not bound or node.value in _stored_keys(fn, keywords):
                return False
            seen_names.add(node.value)
            stack.extend((v, depth + 1) for v in bound)
        elif isinstance(node, cst.Call):
            func = dotted_name(node.func)
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "copy" and not node.args:
                stack.append((node.func.value, depth + 1))
            elif func in _COPY_CALLS and len(node.args) == 1 and not node.args[0].keyword:
                stack.append((node.args[0].value, depth + 1))
            else:
                return False
        elif isinstance(node, cst.Dict):
            for element in node.elements:
                if isinstance(element, cst.StarredDictElement):
                    stack.append((element.value, depth + 1))
                else:
                    key = string_value(element.key)
                    if key is None or key in keywords:
                        return False
        elif isinstance(node, cst.BooleanOperation):
            stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
        elif isinstance(node, cst.IfExp):
            stack.extend(((node.body, depth + 1), (node.orelse, depth + 1)))
        else:
            return False
    return True


def _local_assigns(fn: FunctionInfo) -> dict[str, list[cst.BaseExpression]]:
    cached = fn.derived.get("call_context.assigns")
    if cached is None:
        out: dict[str, list[cst.BaseExpression]] = {}
        opaque: set[str] = set()
        for node in body_nodes(fn.node.body):
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        out.setdefault(t.target.value, []).append(node.value)
            elif isinstance(node, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr)) \
                    and isinstance(node.target, cst.Name):
                opaque.add(node.target.value)
            elif isinstance(node, (cst.For, cst.CompFor)) and isinstance(node.target, cst.Name):
                opaque.add(node.target.value)
        for name in opaque:
            out[name] = []  # bound to something else somewhere: not known to come from kwargs
        cached = out
        fn.derived["call_context.assigns"] = cached
    return cached  # type: ignore[return-value]


def _stored_keys(fn: FunctionInfo, keywords: frozenset[str]) -> set[str]:
    """Locals that get a call-context key stored into them (`opts["call_context"] = ...`,
    `opts.update(call_context=...)`, `opts.setdefault("call_context", ...)`)."""
    out: set[str] = set()
    for node in body_nodes(fn.node.body):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                target = t.target
                if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                    out.add(target.value.value)  # any item store: be conservative
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and isinstance(node.func.value, cst.Name) \
                and node.func.attr.value in ("update", "setdefault", "__setitem__"):
            out.add(node.func.value.value)
    return out
