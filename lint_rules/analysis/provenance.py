"""Where a value comes from: the caller (tenant or conversation data) or the process itself.

Used by LLA005. A value written into process-global state leaks one tenant's or conversation's
data only when it comes from outside the process's own configuration:

- a **parameter** of the function (the caller's data),
- a **field of the instance** (`self.x`: the object is one tenant's LLM, config, conversation),
  or, where the instance may be the process's own settings (`instance=False`), a field the
  function itself stored from caller data (`self.project = project`, then `self.project`);
- a local variable defined from either (followed through its definitions).

A value read from the process's own environment or start-up configuration is not tenant data:
`os.environ[...]`, `os.getenv(...)`, module constants and globals, imported names, class
attributes, literals, function objects (`def` / `lambda`), and the result of a plain function
call whose result does not carry its arguments (`requests.get(url, params=...)` returns the
response of the process's own request). A call's result carries what `InstanceData` says it
carries: its receiver (`key.strip()`, `self._resolve()`), and the arguments of converters and
constructors (`str(x)`, `Secret(x)`).

`Provenance.from_caller(expr, fn)` answers "may this expression hold data of the caller or of
the instance?"; a definition the analysis cannot follow (a loop variable, a `with` target, an
unpacked tuple) counts as the caller's, as the analysis did before it looked at provenance.

`Provenance.roots(expr, fn)` is the broad version used to compare a cache key with the value
stored under it: the parameters and instance fields the expression may depend on, every
argument of every call counted (`_get_cache_key(sa_config)` depends on `sa_config`).
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from lint_rules.analysis.local_bindings import (
    ASSIGN,
    LOOP,
    OPAQUE,
    PARAM,
    WITH,
    local_defs,
    self_stores,
)
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name
from lint_rules.syntax.tree import child_nodes

ENV_READS = frozenset({"os.getenv", "os.getenvb", "os.environ.get", "os.environb.get",
                       "os.environ.copy", "os.environ.setdefault"})
ENVIRON = frozenset({"os.environ", "os.environb"})
# Fresh unguessable values: a key built from one cannot be guessed by another caller.
UNGUESSABLE = frozenset({"uuid.uuid4", "uuid.uuid1", "os.urandom", "secrets.token_hex",
                         "secrets.token_urlsafe", "secrets.token_bytes", "secrets.randbits"})
CONVERTERS = frozenset({"str", "repr", "format", "bytes", "dict", "list", "tuple", "set",
                        "frozenset", "bytearray", "int", "float"})
UNKNOWN = "<unknown>"
# `roots` of a value too long to follow (more than `_MAX_STEPS` nodes): nothing is known of it,
# and a rule stays silent on it (UNKNOWN, by contrast, is a definition that cannot be followed).
TOO_LONG = "<too long>"
# Nodes looked at per question: a long module must not cost quadratic time. Each local name is
# followed once per question, so a chain of a few thousand assignments or a long expression
# (`'a' + 'b' + ... + key`) is still followed to its end; past the cap the answer is unknown,
# and an unknown answer never makes a finding (issue 17).
_MAX_STEPS = 10_000


class Provenance:
    def __init__(self, model: SemanticModel) -> None:
        self.model = model

    # ------------------------------------------------------------------ narrow: may it be the caller's?
    def from_caller(self, expr: cst.BaseExpression, fn: FunctionInfo | None,
                    instance: bool = True) -> bool:
        """`instance=False`: fields of `self` do not count (the instance may be the process's
        own settings object)."""
        if fn is None:
            return False
        stack: list[tuple[cst.CSTNode, FunctionInfo]] = [(expr, fn)]
        seen: set[tuple[int, str]] = set()
        steps = 0
        while stack:
            steps += 1
            if steps > _MAX_STEPS:
                return False  # too long to follow: unknown, and unknown is never a finding
            node, scope = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef, cst.BaseString,
                                 cst.Integer, cst.Float, cst.Imaginary, cst.Comparison,
                                 cst.UnaryOperation)):
                continue
            if isinstance(node, cst.Name):
                if not instance and scope.self_name == node.value \
                        and scope.param(node.value) is not None:
                    continue
                verdict = self._name(node.value, scope, seen, stack)
                if verdict:
                    return True
                continue
            if isinstance(node, cst.Attribute):
                if self.model.resolve_expr(node) in ENVIRON:
                    continue
                if not instance and _own_field(node, scope):
                    # Not the instance's data as such, but what this very function stored in
                    # it (`self.project = project` in `__init__`, read back below).
                    key = (id(scope), "." + node.attr.value)
                    if key not in seen:
                        seen.add(key)
                        stack.extend((value, scope) for _statement, value
                                     in self_stores(scope).get(node.attr.value, ()))
                    continue
                stack.append((node.value, scope))  # a field of whatever it is read from
                continue
            if isinstance(node, cst.Subscript):
                if self.model.resolve_expr(node.value) in ENVIRON:
                    continue
                stack.append((node.value, scope))  # an element is as much the caller's as its container
                continue
            if isinstance(node, cst.Call):
                stack.extend((c, scope) for c in self._carried(node))
                continue
            stack.extend((c, scope) for c in child_nodes(node)
                         if isinstance(c, (cst.BaseExpression, cst.Element, cst.DictElement,
                                           cst.StarredDictElement, cst.StarredElement,
                                           cst.FormattedStringExpression, cst.Arg)))
        return False

    def _name(self, name: str, fn: FunctionInfo, seen: set[tuple[int, str]],
              stack: list[tuple[cst.CSTNode, FunctionInfo]]) -> bool:
        """True: the caller's for sure (a parameter, `self`); else pushes its definitions."""
        scope: FunctionInfo | None = fn
        while scope is not None:
            defs = local_defs(scope, name)
            if defs:
                key = (id(scope), name)
                if key in seen:
                    return False
                seen.add(key)
                for d in defs:
                    if d.kind == PARAM:
                        return True  # `self` included: a field of the instance
                    if d.kind == ASSIGN and d.value is not None or d.kind in (LOOP, WITH) and d.value is not None:
                        stack.append((d.value, scope))
                    elif d.kind == OPAQUE and _unpacked_from(d.node) is not None:
                        stack.append((_unpacked_from(d.node), scope))  # `a, b = value`
                    elif d.kind == OPAQUE and not isinstance(d.node, (cst.Import, cst.ImportFrom,
                                                                     cst.FunctionDef, cst.ClassDef)):
                        return True  # walrus, except-as...: not followed
                return False
            scope = scope.parent
        return False  # a module global, an import, a builtin: the process's own

    def _carried(self, node: cst.Call) -> list[cst.BaseExpression]:
        func = node.func
        resolved = self.model.resolve_expr(func)
        if resolved in ENV_READS or resolved in UNGUESSABLE:
            return []
        args = [a.value for a in node.args]
        if isinstance(func, cst.Attribute):
            if self.model.resolve_expr(func.value) in ENVIRON:
                return []
            carried: list[cst.BaseExpression] = [func.value]
            if func.attr.value in ("format", "join", "format_map", "get", "pop", "setdefault") \
                    or func.attr.value[:1].isupper():  # a qualified constructor: `models.Config(x)`
                carried += args
            return carried
        name = dotted_name(func)
        if name in CONVERTERS or (name and any(p[:1].isupper() for p in name.split("."))):
            return args
        return []

    # ------------------------------------------------------------------ broad: what may it depend on?
    def roots(self, expr: cst.BaseExpression, fn: FunctionInfo | None) -> frozenset[str]:
        """Parameters (`name`) and instance fields (`self.attr`) the value may depend on;
        `UNKNOWN` when a definition cannot be followed."""
        if fn is None:
            return frozenset()
        out: set[str] = set()
        stack: list[tuple[cst.CSTNode, FunctionInfo]] = [(expr, fn)]
        seen: set[tuple[int, str]] = set()
        steps = 0
        while stack:
            steps += 1
            if steps > _MAX_STEPS:
                out.add(TOO_LONG)
                break
            node, scope = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef, cst.BaseString,
                                 cst.Integer, cst.Float, cst.Imaginary)):
                continue
            if isinstance(node, cst.Attribute):
                spelled = dotted_name(node)
                me = scope.self_name
                if spelled is not None and me is not None and spelled.split(".")[0] == me:
                    out.add(".".join(spelled.split(".")[:2]))
                    continue
                stack.append((node.value, scope))
                continue
            if isinstance(node, cst.Name):
                found: FunctionInfo | None = scope
                while found is not None and not local_defs(found, node.value):
                    found = found.parent
                if found is None or (id(found), node.value) in seen:
                    continue
                seen.add((id(found), node.value))
                for d in local_defs(found, node.value):
                    if d.kind == PARAM:
                        out.add(node.value)
                    elif d.value is not None and d.kind in (ASSIGN, LOOP, WITH):
                        stack.append((d.value, found))
                    elif d.kind == OPAQUE and _unpacked_from(d.node) is not None:
                        stack.append((_unpacked_from(d.node), found))  # type: ignore[arg-type]
                    elif d.kind == OPAQUE and not isinstance(d.node, (cst.Import, cst.ImportFrom,
                                                                     cst.FunctionDef, cst.ClassDef)):
                        out.add(UNKNOWN)
                continue
            stack.extend((c, scope) for c in child_nodes(node)
                         if isinstance(c, (cst.BaseExpression, cst.Element, cst.DictElement,
                                           cst.StarredDictElement, cst.StarredElement,
                                           cst.FormattedStringExpression, cst.Arg,
                                           cst.SubscriptElement, cst.Index)))
        return frozenset(out)

    def unguessable(self, expr: cst.BaseExpression, fn: FunctionInfo | None) -> bool:
        """The value is (built from) a fresh random token: `uuid4()`, `secrets.token_urlsafe()`.
        True too when the value is too long to follow (unknown: a slot that may be owned)."""
        return any_part(expr, fn, lambda node: isinstance(node, cst.Call)
                        and self.model.resolve_expr(node.func) in UNGUESSABLE,
                        into=_VALUE_PARTS, exhausted=True)


_VALUE_PARTS = (cst.BaseExpression, cst.Element, cst.DictElement, cst.FormattedStringExpression,
                cst.Arg)


def any_part(expr: cst.BaseExpression, fn: FunctionInfo | None,
             found: Callable[[cst.CSTNode], bool], *, into: tuple[type, ...] | None = None,
             limit: int = _MAX_STEPS, exhausted: bool = False) -> bool:
    """Some node of the value satisfies `found`, the local names it reads followed to their
    assignments (not into lambdas, functions or classes); `into` limits the child kinds
    entered. Bounded: `limit` nodes at most, after which the answer is `exhausted` (the caller
    says which answer keeps its rule silent)."""
    stack: list[cst.CSTNode] = [expr]
    seen: set[str] = set()
    steps = 0
    while stack:
        if steps >= limit:
            return exhausted
        steps += 1
        node = stack.pop()
        if found(node):
            return True
        if isinstance(node, cst.Name) and fn is not None and node.value not in seen:
            seen.add(node.value)
            stack.extend(d.value for d in local_defs(fn, node.value)
                         if d.kind == ASSIGN and d.value is not None)
            continue
        if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        children = child_nodes(node)
        stack.extend(children if into is None else (c for c in children if isinstance(c, into)))
    return False


def _unpacked_from(node: cst.CSTNode | None) -> cst.BaseExpression | None:
    """The whole value a tuple target is unpacked from (`a, b = value`, `for a, b in value`)."""
    if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and node.value is not None:
        return node.value
    if isinstance(node, (cst.For,)):
        return node.iter
    return None


def _own_field(node: cst.Attribute, fn: FunctionInfo) -> bool:
    """`self.x` in a method (`self` its first parameter)."""
    me = fn.self_name
    return me is not None and isinstance(node.value, cst.Name) and node.value.value == me
