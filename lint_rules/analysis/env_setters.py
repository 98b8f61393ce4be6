"""Functions that write a parameter into the process environment, and records of one tenant.

Used by LLA005. Two questions, both inside one file:

- `EnvSetters.of(fn)`: which parameters of a function end up in `os.environ` (or `os.putenv`)?
  Written there directly (`os.environ.update(env_vars)`, `os.environ[key] = value` for
  `key, value in env_vars.items()`, `os.putenv(k, v)`), or handed on to another such function of
  the same file: a module-level function called by name, a method of the same class called
  through `self.<method>(...)` (also as a context manager: `with self.temporary_env(env):`).
  Computed for the whole file at once, to a fixpoint (bounded by the number of functions).
  A setter's own write is judged where it is called, with what the caller passes.
- `TenantRecords.holds(value, fn)`: does the value carry a record looked up for one user or
  tenant: the result of a call that passes an identity of the caller or the instance
  (`manager.get_env_vars(actor=self.user)`, `store.secrets_for(user_id=user_id)`,
  `load_vars(self.organization_id)`)? A local is followed through its assignments and through
  what is merged into it in place (`env.update(...)`, `env[k] = ...`, `env.setdefault(k, ...)`):
  a dict built from `os.environ.copy()` and then updated with an organisation's variables holds
  them.
- `variable_holds(key, is_credential)`: what an environment variable holds by its name (an
  upper-case literal): a credential (`OPENAI_API_KEY`, `GOOGLE_APPLICATION_CREDENTIALS`) or an
  identity (`LANGFUSE_PROJECT_ID`), so caller data written there is judged by the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import libcst as cst

from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.process_state import GlobalSinks, Sink
from lint_rules.analysis.provenance import TOO_LONG, UNKNOWN, Provenance
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name
from lint_rules.syntax.tree import child_nodes, nodes_of

# Whose data a value is: one user's, one tenant's (`actor`, `user_id`, `organization_id`,
# `tenant`, `team_id`...). A call passing one of these looks up that principal's records.
IDENTITY = re.compile(
    r"(^|_)(actor|user|tenant|account|org|organization|customer|principal|owner|team|workspace)"
    r"(_?id)?$")
# Environment variables whose name says what they hold: a secret (the credential names, upper
# case, ending in one: `HF_TOKEN`, `OPENAI_API_KEY`; a credentials file:
# `GOOGLE_APPLICATION_CREDENTIALS`) or whose data it is (`LANGFUSE_PROJECT_ID`, `X_TENANT_ID`).
# Only upper-case names (the convention for environment variables), so a file holding such a
# key spells the upper-case credential name.
_CREDENTIALS_VARIABLE = re.compile(r"(^|_)CREDENTIALS?(_(FILE|PATH|JSON))?$")
_IDENTITY_VARIABLE = re.compile(
    r"(^|_)(USER|TENANT|ACCOUNT|ORG|ORGANIZATION|CUSTOMER|PROJECT|WORKSPACE|TEAM)_ID$")
# (Kept in step with `_IDENTITY_WORDS` below, the words' prefilter tokens.)


_IDENTITY_WORDS = ("USER", "TENANT", "ACCOUNT", "ORG", "ORGANIZATION", "CUSTOMER", "PROJECT",
                   "WORKSPACE", "TEAM")


def variable_name_tokens(credential_names: Iterable[str]) -> tuple[str, ...]:
    """Every name `variable_holds` recognises spells one of these (the upper-case credential
    names, `CREDENTIAL`, `<WORD>_ID`): the prefilter tokens of that judgement."""
    tokens = {c.upper() for c in credential_names if c} | {"CREDENTIAL"}
    tokens |= {f"{w}_ID" for w in _IDENTITY_WORDS}
    return tuple(sorted(tokens))


def variable_holds(key: cst.BaseExpression | None, is_credential) -> str | None:
    """What an environment variable named by a string literal holds, by its name: "a
    credential" or "an identity" (of a user, tenant, project), else None."""
    if not isinstance(key, cst.SimpleString):
        return None
    try:
        name = key.evaluated_value
    except Exception:  # a malformed literal: unknown
        return None
    if not isinstance(name, str) or not name.isidentifier() or name != name.upper() \
            or name not in key.value:  # spelled plainly (no escapes): its text holds the tokens
        return None
    if is_credential(name.lower()) or _CREDENTIALS_VARIABLE.search(name):
        return "a credential"
    if _IDENTITY_VARIABLE.search(name):
        return "an identity"
    return None


# In-place merges into a local dict: (method, index of the merged value among positionals).
_MERGES = {"update": 0, "setdefault": 1, "__setitem__": 1, "__ior__": 0}
_MAX_STEPS = 400
# Every write into the environment spells one of these (`os.environ`, `from os import environ`,
# `os.putenv`): the prefilter tokens of what this module finds.
ENVIRONMENT_TOKENS = ("environ", "putenv")


def is_environment(sink: Sink) -> bool:
    """`os.environ` or `os.putenv` (not a module dict, a class attribute or a library global)."""
    return sink.global_name is None and sink.library is None and (
        sink.description.startswith("`os.environ`") or "os.putenv" in sink.description)


class EnvSetters:
    """Per file: function -> {parameter: the function that writes it into `os.environ`}."""

    def __init__(self, model: SemanticModel, sinks: GlobalSinks) -> None:
        self.model = model
        self.sinks = sinks
        self.provenance = Provenance(model)
        self._setters: dict[int, dict[str, str]] | None = None

    # ------------------------------------------------------------------ the summaries
    def of(self, fn: FunctionInfo) -> dict[str, str]:
        return self._all().get(id(fn.node), {})

    def _all(self) -> dict[int, dict[str, str]]:
        if self._setters is None:
            self._setters = {}
            functions = [f for f in self.model.functions if f.params]
            for fn in functions:
                direct = self._direct(fn)
                if direct:
                    self._setters[id(fn.node)] = direct
            # Handing a parameter on to a setter makes a setter; one more function per round
            # at least, so at most len(functions) rounds.
            for _ in range(len(functions)):
                changed = False
                for fn in functions:
                    mine = self._setters.setdefault(id(fn.node), {})
                    for call, callee in self.calls_of_setters(fn):
                        for param, arg in self.bound_arguments(call, callee):
                            if param not in self._setters.get(id(callee.node), {}):
                                continue
                            for root in self._param_roots(arg, fn):
                                if root not in mine:
                                    mine[root] = self._setters[id(callee.node)][param]
                                    changed = True
                if not changed:
                    break
            self._setters = {k: v for k, v in self._setters.items() if v}
        return self._setters

    def _direct(self, fn: FunctionInfo) -> dict[str, str]:
        """Parameters a function writes into the environment itself."""
        written: dict[str, str] = {}
        values: list[cst.BaseExpression] = []
        for node in nodes_of(fn.node.body, (cst.Assign, cst.AugAssign, cst.Call), nested=False):
            if isinstance(node, cst.Call):
                found = self.sinks.call(node, fn)
                if found is not None and is_environment(found[0]):
                    values.extend(found[1])
                continue
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                sink = self.sinks.target(target, fn)
                if sink is not None and is_environment(sink):
                    values.append(node.value)
                    break
        for value in values:
            for root in self._param_roots(value, fn):
                written.setdefault(root, fn.name)
        return written

    def _param_roots(self, value: cst.BaseExpression, fn: FunctionInfo) -> set[str]:
        """The function's own parameters (not `self`) the value is, or is taken from."""
        roots = self.provenance.roots(value, fn)
        if TOO_LONG in roots:
            return set()
        return {r for r in roots if r != UNKNOWN and "." not in r and r != fn.self_name
                and fn.param(r) is not None}

    # ------------------------------------------------------------------ calls
    def calls_of_setters(self, fn: FunctionInfo) -> list[tuple[cst.Call, FunctionInfo]]:
        """Calls in `fn` of functions of this file that may be setters, with the callee."""
        cached = fn.derived.get("env_setter_calls")
        if cached is None:
            cached = []
            for call in nodes_of(fn.node.body, cst.Call, nested=False):
                callee = self.callee(call, fn)
                if callee is not None:
                    cached.append((call, callee))
            fn.derived["env_setter_calls"] = cached
        return cached  # type: ignore[return-value]

    def callee(self, call: cst.Call, fn: FunctionInfo) -> FunctionInfo | None:
        func = call.func
        if isinstance(func, cst.Name):
            if any(d for d in local_defs(fn, func.value)):
                return None
            return next((f for f in self.model.functions if f.name == func.value
                         and f.cls is None and f.parent is None), None)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) \
                and fn.cls is not None and fn.self_name == func.value.value:
            return next((f for f in self.model.functions if f.name == func.attr.value
                         and f.cls is fn.cls and f.parent is None), None)
        return None

    @staticmethod
    def bound_arguments(call: cst.Call, callee: FunctionInfo) -> list[tuple[str, cst.BaseExpression]]:
        names = [p.name for p in callee.params]
        if callee.self_name is not None:
            names = names[1:]  # called through `self.`: the instance is bound
        out: list[tuple[str, cst.BaseExpression]] = []
        for i, arg in enumerate(call.args):
            if arg.star:
                continue
            if arg.keyword is not None:
                out.append((arg.keyword.value, arg.value))
            elif i < len(names):
                out.append((names[i], arg.value))
        return out


class TenantRecords:
    """Is a value (built from) a record looked up for one user or tenant?"""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.provenance = Provenance(model)

    def holds(self, value: cst.BaseExpression, fn: FunctionInfo | None) -> cst.Call | None:
        """The lookup call that makes the value one tenant's records, or None."""
        if fn is None:
            return None
        stack: list[cst.CSTNode] = [value]
        seen: set[str] = set()
        steps = 0
        while stack:
            steps += 1
            if steps > _MAX_STEPS:
                return None  # too long to follow: unknown, never a finding
            node = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef, cst.BaseString,
                                 cst.Integer, cst.Float, cst.Comparison, cst.UnaryOperation)):
                continue
            if isinstance(node, cst.Call):
                if self._identity_lookup(node, fn):
                    return node
                func = node.func
                if isinstance(func, cst.Attribute):
                    stack.append(func.value)  # `record.copy()`, `vars.items()`
                elif dotted_name(func) in ("dict", "list", "tuple", "str", "ChainMap"):
                    stack.extend(a.value for a in node.args)
                continue
            if isinstance(node, cst.Name):
                if node.value in seen:
                    continue
                seen.add(node.value)
                stack.extend(d.value for d in local_defs(fn, node.value)
                             if d.kind == ASSIGN and d.value is not None)
                stack.extend(self._merged_into(fn).get(node.value, ()))
                continue
            stack.extend(c for c in child_nodes(node)
                         if isinstance(c, (cst.BaseExpression, cst.Element, cst.DictElement,
                                           cst.StarredDictElement, cst.StarredElement)))
        return None

    def _identity_lookup(self, call: cst.Call, fn: FunctionInfo) -> bool:
        """`get_vars(actor=self.user)`, `secrets_for(user_id)`: an identity of the caller."""
        for arg in call.args:
            named = arg.keyword.value if arg.keyword is not None else None
            spelled = dotted_name(arg.value)
            last = spelled.rsplit(".", 1)[-1] if spelled else None
            if not ((named and IDENTITY.search(named)) or (last and IDENTITY.search(last))):
                continue
            if self.provenance.from_caller(arg.value, fn):
                return True
        return False

    @staticmethod
    def _merged_into(fn: FunctionInfo) -> dict[str, list[cst.BaseExpression]]:
        """Local name -> values merged into it in place (`env.update(x)`, `env[k] = x`)."""
        cached = fn.derived.get("env_merged_into")
        if cached is None:
            cached = {}
            for node in nodes_of(fn.node.body, (cst.Call, cst.Assign, cst.AugAssign), nested=False):
                if isinstance(node, cst.Call):
                    func = node.func
                    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) \
                            and func.attr.value in _MERGES:
                        positional = [a.value for a in node.args if a.keyword is None]
                        first = _MERGES[func.attr.value]
                        cached.setdefault(func.value.value, []).extend(
                            positional[first:] + [a.value for a in node.args if a.keyword is not None])
                    continue
                targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                        cached.setdefault(target.value.value, []).append(node.value)
                    elif isinstance(node, cst.AugAssign) and isinstance(target, cst.Name):
                        cached.setdefault(target.value, []).append(node.value)  # `env |= x`
            fn.derived["env_merged_into"] = cached
        return cached  # type: ignore[return-value]
