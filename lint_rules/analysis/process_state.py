"""Process-global state, and values that belong to one conversation, LLM or tenant.

Used by LLA005. Two questions, both answered inside one function of one file:

- `GlobalSinks.target(expr, fn)` / `GlobalSinks.call(call, fn)`: does this assignment target or
  call write into state the whole process shares? `os.environ` (however imported), `os.putenv`,
  a module-level mutable container or a module global rebound under `global`, a class attribute
  (`LLM.x`, `type(self).x`, `self.__class__.x`, `cls.x` in a classmethod, or a container held
  by one), and configured library globals (`library-globals`, default `litellm.*`,
  `openai.*`, `vertexai.*`, `google.cloud.aiplatform.*`, `google.generativeai.*`).
- `InstanceData.describe(value, fn)`: is the value conversation-scoped (`ScopedValues`), a
  credential (`credential-names`, matched on the last identifier or a string key: `self.api_key`, `tenant.openai_api_key`, `cfg["api_key"]`), or a field of an LLM object
  (`self.<field>` inside an LLM class, `llm.model`) or of an LLM config object (`self.<field>`
  in a class whose name contains an LLM class name: `TenantLLMConfig`)? Local variables are
  followed.

`instance_data_tokens(config)`: substrings of which one occurs in every file where
`describe` can return something (the rule's prefilter tokens).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis import llm_objects as llm_analysis
from lint_rules.analysis.context import FileContext
from lint_rules.analysis.header_keys import header_key_tokens
from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.analysis.provenance import Provenance
from lint_rules.analysis.scoped_values import ScopedValues
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import (
    FunctionInfo,
    SemanticModel,
    dotted_name,
    string_value,
)
from lint_rules.syntax.tree import child_nodes, small_statements

ENVIRON = frozenset({"os.environ", "os.environb"})
PUTENV = frozenset({"os.putenv"})
# Mutating methods of dicts, lists, sets and deques: (method, index of the first value argument).
MUTATORS = {"update": 0, "setdefault": 1, "append": 0, "appendleft": 0, "add": 0, "extend": 0,
            "extendleft": 0, "insert": 1, "__setitem__": 1}
# Not `weakref.WeakSet`: it can only hold objects by identity (a string or number cannot be
# weakly referenced), so it registers live objects, it never shares one caller's value.
_MUTABLE_FACTORIES = frozenset({
    "dict", "list", "set", "collections.defaultdict", "collections.OrderedDict",
    "collections.Counter", "collections.deque", "collections.ChainMap", "weakref.WeakValueDictionary",
    "weakref.WeakKeyDictionary",
})


def instance_data_tokens(config: Config) -> tuple[str, ...]:
    tokens = set(config.credential_names) | set(config.scoped_attributes)
    tokens |= set(config.conversation_id_expressions)  # matched only when spelled plainly
    tokens |= set(header_key_tokens(config))
    tokens |= set(llm_analysis.trigger_tokens(config))
    tokens |= set(library_tokens(config))  # any caller data written into a library global
    return tuple(sorted(t for t in tokens if t))


def library_tokens(config: Config) -> tuple[str, ...]:
    """A library global is reached through an import that spells the library's top-level
    name (`import litellm`); a pattern with a wildcard there needs some import."""
    heads = {p.split(".")[0] for p in config.library_globals if p}
    return tuple(sorted("import" if any(c in h for c in "*?[") else h for h in heads))


# Library functions that set the library's process-wide state (`sdk.init(credentials=...)`,
# `litellm.register_model(...)`, `lib.set_default_headers(...)`).
LIBRARY_CONFIG_CALL = re.compile(r"^_*(init|initialize|configure|setup|set_\w+|register\w*|add_\w+|enable\w*)$")


def credential_matcher(config: Config) -> Callable[[str], bool]:
    """Is an identifier or string key a credential (`credential-names`): the bare name, or one
    ending in `_<name>` (`openai_api_key`), leading underscores ignored. Memoised: a file
    repeats its identifiers."""
    names = frozenset(c for c in config.credential_names if c)
    suffixes = tuple("_" + c for c in names)
    seen: dict[str, bool] = {}

    def is_credential(identifier: str) -> bool:
        known = seen.get(identifier)
        if known is None:
            bare = identifier.lstrip("_")
            known = seen[identifier] = bare in names or bare.endswith(suffixes)
        return known
    return is_credential


@dataclass(frozen=True)
class Sink:
    description: str  # for the message: "`os.environ`", "the module-level dict `CACHE`"
    global_name: str | None = None  # a module global that must not be a local of the function
    library: str | None = None  # the library global written (`litellm.api_key`)


class GlobalSinks:
    def __init__(self, config: Config, model: SemanticModel, llms: LLMFacts) -> None:
        self.config = config
        self.model = model
        self.llms = llms
        self.library_patterns = tuple(config.library_globals)

    # ------------------------------------------------------------------ targets
    def target(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> Sink | None:
        """What an assignment (or augmented assignment) to `node` writes into."""
        if isinstance(node, cst.Subscript):
            return self.container(node.value, fn)
        if self.model.resolve_expr(node) in ENVIRON:
            return Sink("`os.environ`")  # `os.environ |= {...}`
        if isinstance(node, cst.Attribute):
            return self._attribute_sink(node, fn)
        if isinstance(node, cst.Name) and fn is not None and node.value in declared_global(fn):
            return Sink(f"the module global `{node.value}`")
        return None

    def container(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> Sink | None:
        """A shared container written into: `os.environ`, a module-level dict, `litellm.x`,
        a container held by a class attribute."""
        resolved = self.model.resolve_expr(node)
        if resolved in ENVIRON or (isinstance(node, cst.Name) and self._environ_alias(node.value, fn)):
            return Sink("`os.environ`")
        if isinstance(node, cst.Name) and node.value in self.model.imports:
            imported = self._imported_library(node.value, fn)  # `from litellm import headers`
            return None if imported is None else Sink(f"the library global `{imported}`",
                                                      library=imported)
        if isinstance(node, cst.Name):
            # Whether the module binds a mutable object to it is only known at the end of the
            # file: the rule checks `is_module_container(sink.global_name, fn)` then.
            if fn is not None and not _is_local(fn, node.value):
                return Sink(f"the module-level `{node.value}`", global_name=node.value)
            return None
        if isinstance(node, cst.Attribute):
            return self._attribute_sink(node, fn)
        return None

    def _attribute_sink(self, node: cst.Attribute, fn: FunctionInfo | None) -> Sink | None:
        """`litellm.api_key` (a library global) or `LLM.x` / `type(self).x` (a class attribute)."""
        library = self.library_global(node, fn)
        if library is not None:
            return Sink(f"the library global `{library}`", library=library)
        owner = self.class_expr(node.value, fn)
        if owner is not None:
            return Sink(f"the class attribute `{owner}.{node.attr.value}`")
        return None

    def _environ_alias(self, name: str, fn: FunctionInfo | None) -> bool:
        """A local bound only to the environment itself: `env = os.environ`."""
        if fn is None:
            return False
        defs = local_defs(fn, name)
        return bool(defs) and all(d.kind == ASSIGN and d.value is not None
                                  and self.model.resolve_expr(d.value) in ENVIRON for d in defs)

    # ------------------------------------------------------------------ calls
    def call(self, node: cst.Call, fn: FunctionInfo | None) -> tuple[Sink, list[cst.BaseExpression]] | None:
        """A call that writes into process-global state, and the values it writes."""
        func = node.func
        resolved = self.model.resolve_expr(func)
        values = [a.value for a in node.args]
        if resolved in PUTENV:
            return Sink("the process environment (`os.putenv`)"), values[1:]
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATORS:
            sink = self.container(func.value, fn)
            if sink is not None:
                first = MUTATORS[func.attr.value]
                positional = [a.value for a in node.args if a.keyword is None]
                keywords = [a.value for a in node.args if a.keyword is not None]
                return sink, positional[first:] + keywords
            return None
        if isinstance(func, cst.Attribute) and LIBRARY_CONFIG_CALL.match(func.attr.value):
            library = self._library_name(func.value, func.attr.value, fn)
            if library is not None:
                return _settings_sink(library), values
        if isinstance(func, cst.Name):
            # `from vertexai import init as vertexai_init`, then `vertexai_init(project=...)`.
            imported = self._imported_library(func.value, fn)
            if imported is not None and LIBRARY_CONFIG_CALL.match(imported.rpartition(".")[2]):
                return _settings_sink(imported), values
        if resolved == "setattr" and len(node.args) == 3:
            owner, name = node.args[0].value, string_value(node.args[1].value)
            library = self._library_name(owner, name, fn)
            if library is not None:
                return Sink(f"the library global `{library}`", library=library), [node.args[2].value]
            cls = self.class_expr(owner, fn)
            if cls is not None:
                return Sink(f"the class attribute `{cls}.{name or '...'}`"), [node.args[2].value]
        return None

    # ------------------------------------------------------------------ kinds of state
    def library_global(self, node: cst.Attribute, fn: FunctionInfo | None = None) -> str | None:
        return self._library_name(node.value, node.attr.value, fn)

    def _library_name(self, owner: cst.BaseExpression, attr: str | None,
                      fn: FunctionInfo | None = None) -> str | None:
        spelled = dotted_name(owner)
        if spelled is None or spelled.split(".")[0] not in self.model.imports:
            return None  # only modules reached through an import
        full = f"{self.model.resolve_in(spelled, fn)}.{attr or '*'}"
        return full if self._is_library(full) else None

    def _imported_library(self, name: str, fn: FunctionInfo | None) -> str | None:
        """What a bare name is imported as, when that is in a library and no local binding
        shadows the import (in `fn`, its imports win over the module's)."""
        if name not in self.model.imports or (fn is not None and _shadows_import(fn, name)):
            return None
        imported = self.model.resolve_in(name, fn)
        return imported if self._is_library(imported) else None

    def _is_library(self, qualified: str | None) -> bool:
        return qualified is not None and any(fnmatch.fnmatchcase(qualified, p)
                                             for p in self.library_patterns)

    def is_module_container(self, name: str, fn: FunctionInfo | None) -> bool:
        value = self.model.globals.get(name)
        if value is None or fn is None or _is_local(fn, name):
            return False
        if isinstance(value, (cst.Dict, cst.List, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)):
            return True
        if isinstance(value, cst.Call):
            return self.model.resolve_expr(value.func) in _MUTABLE_FACTORIES
        return False

    def class_expr(self, node: cst.BaseExpression, fn: FunctionInfo | None) -> str | None:
        """The spelling of an expression that denotes a class (not an instance)."""
        if fn is not None:
            me = fn.self_name
            if isinstance(node, cst.Call) and dotted_name(node.func) == "type" and len(node.args) == 1:
                if me is not None and dotted_name(node.args[0].value) == me:
                    return f"type({me})"
            if isinstance(node, cst.Attribute) and node.attr.value == "__class__":
                if me is not None and dotted_name(node.value) == me:
                    return f"{me}.__class__"
            if isinstance(node, cst.Name) and _is_classmethod(fn) and fn.params \
                    and node.value == fn.params[0].name:
                return node.value
        if not isinstance(node, cst.Name) or (fn is not None and _is_local(fn, node.value)):
            return None
        name = node.value
        if self.model.class_named(name) is not None and name not in self.model.globals:
            return name
        target = self.model.imports.get(name)
        if target is not None:
            last = target.rsplit(".", 1)[-1]
            if self.llms.is_llm_class(name) or (last[:1].isupper() and not last.isupper()):
                return name
        return None


class InstanceData:
    """Is a value conversation-scoped, a credential, or a field of one LLM object?"""

    def __init__(self, ctx: FileContext, llms: LLMFacts) -> None:
        self.ctx = ctx
        self.config: Config = ctx.config
        self.llms = llms
        self.scoped = _PlainlySpelledScopedValues(ctx)
        self.is_credential = credential_matcher(ctx.config)
        self.provenance = Provenance(ctx.model)

    def describe(self, value: cst.BaseExpression, fn: FunctionInfo | None, depth: int = 0,
                 expanded: set[str] | None = None) -> str | None:
        """`None`, or a phrase naming the instance data the value carries."""
        if self.scoped.is_scoped(value, fn) and self.provenance.from_caller(value, fn):
            return f"`{_short(self.ctx, value)}`, a conversation-scoped value,"
        return self._walk(value, fn, depth, set() if expanded is None else expanded)

    def caller_data(self, value: cst.BaseExpression, fn: FunctionInfo | None) -> str | None:
        """Any value of the caller (not a literal, constant or function), or of the instance
        when it is one LLM or LLM config object (a `Settings` object may be the process's own
        start-up configuration)."""
        per_tenant = fn is not None and fn.cls is not None and (
            self.llms.is_llm_class(fn.cls.name) or any(b in fn.cls.name for b in self.llms.bare))
        if self.provenance.from_caller(value, fn, instance=per_tenant):
            return f"`{_short(self.ctx, value)}`, data of the caller or of this instance,"
        return None

    def _walk(self, value: cst.BaseExpression, fn: FunctionInfo | None, depth: int,
              expanded: set[str]) -> str | None:
        """Credentials and LLM fields in the value. Like `ScopedValues`, a call's result carries
        its receiver and the arguments of converters and constructors (`str(key)`,
        `key.strip()`, `Secret(key)`), not the arguments of an arbitrary call (`lookup(token)`);
        an attribute is judged by its own name (`token.address` is not a credential)."""
        stack: list[cst.CSTNode] = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(node, cst.Call):
                stack.extend(self._carried_by_call(node))
                continue
            if isinstance(node, cst.Attribute):
                # Instance data only when read from the caller's data or the instance
                # (`self.api_key`, `tenant.api_key`), not from the process's own settings
                # (`settings.api_key`, `os.environ`).
                if not self.provenance.from_caller(node.value, fn):
                    continue
                if self.is_credential(node.attr.value):
                    return f"`{_short(self.ctx, node)}`, a credential,"
                if self.llms.is_llm(node.value, fn) and not self.llms.is_llm(node, fn):
                    return f"`{_short(self.ctx, node)}`, a field of one LLM object,"
                if self._llm_config_field(node, fn):
                    return f"`{_short(self.ctx, node)}`, a field of one LLM config object,"
                continue
            if isinstance(node, cst.Name):
                # A name is a credential by its name only when its value may be the caller's:
                # a parameter, or a local defined from one (`token = os.getenv(...)` is not).
                if self.is_credential(node.value) and self.provenance.from_caller(node, fn):
                    return f"`{node.value}`, a credential,"
                # Each variable is expanded once per value: a module that rebinds one name
                # hundreds of times would otherwise cost (definitions ** depth).
                if fn is not None and depth < 3 and node.value not in expanded:
                    expanded.add(node.value)
                    for d in local_defs(fn, node.value):
                        if d.kind == ASSIGN and d.value is not None:
                            inner = self.describe(d.value, fn, depth + 1, expanded)
                            if inner is not None:
                                return inner
                continue
            if isinstance(node, cst.Subscript):
                key = _string_key(node)
                if key is not None and self.is_credential(key) \
                        and self.provenance.from_caller(node.value, fn):
                    return f"`{_short(self.ctx, node)}`, a credential,"
                continue  # an element of a container is judged by its key only
            if isinstance(node, (cst.Comparison, cst.UnaryOperation)):
                continue  # a bool says nothing about whose data it is
            stack.extend(c for c in child_nodes(node) if isinstance(c, cst.BaseExpression)
                         or isinstance(c, (cst.Element, cst.DictElement, cst.StarredDictElement,
                                           cst.StarredElement, cst.FormattedStringExpression,
                                           cst.FormattedString)))
        return None

    def _llm_config_field(self, node: cst.Attribute, fn: FunctionInfo | None) -> bool:
        """`self.<field>` in a class named after an LLM class (`LLMConfig`, `TenantLLMConfig`):
        one LLM's or tenant's settings. Other config classes (`Settings`) may be the process's
        own start-up configuration and are left alone."""
        if fn is None or fn.cls is None or fn.self_name is None:
            return False
        if not (isinstance(node.value, cst.Name) and node.value.value == fn.self_name):
            return False
        return any(bare in fn.cls.name for bare in self.llms.bare)

    def _carried_by_call(self, node: cst.Call) -> list[cst.BaseExpression]:
        func = node.func
        name = dotted_name(func)
        args = [a.value for a in node.args]
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in ("get", "pop", "setdefault") and node.args:
                key = string_value(node.args[0].value)
                if key is not None and self.is_credential(key):
                    return [cst.Subscript(func.value, [cst.SubscriptElement(cst.Index(node.args[0].value))])]
            carried = [func.value]  # `key.strip()`, `secret.get_secret_value()`
            if method in ("format", "join", "format_map") or method[:1].isupper():
                carried += args  # ... and a qualified constructor: `pydantic.SecretStr(key)`
            return carried
        if name in _CONVERTERS:
            return args
        if name and any(part[:1].isupper() for part in name.split(".")):
            return args  # constructor-like: `SecretStr(key)`
        return []


_CONVERTERS = frozenset({"str", "repr", "format", "bytes", "dict", "list", "tuple", "set",
                         "frozenset", "bytearray"})


def _string_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    return string_value(node.slice[0].slice.value)


class _PlainlySpelledScopedValues(ScopedValues):
    """`ScopedValues` that only counts conversation ids spelled as configured (`self.id`, not
    `self . id`), so that the configured spellings are true prefilter tokens."""

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx.config, ctx.model)
        self.ctx = ctx

    def is_conversation_id(self, node: cst.BaseExpression | None) -> bool:
        if not super().is_conversation_id(node):
            return False
        return self.ctx.code(node) == dotted_name(node)  # type: ignore[arg-type]



# ---------------------------------------------------------------------- helpers
def declared_global(fn: FunctionInfo) -> frozenset[str]:
    """Names a function declares `global` (nested scopes excluded); cached on the function."""
    cached = fn.derived.get("declared_globals")
    if cached is None:
        # Statement lines only, like `local_bindings`: a one-line body (`def f(): global X; ...`)
        # records neither locals nor globals.
        names = {n.name.value for small, line in small_statements(fn.node.body)
                 if isinstance(small, cst.Global) and isinstance(line, cst.SimpleStatementLine)
                 for n in small.names}
        cached = frozenset(names)
        fn.derived["declared_globals"] = cached
    return cached


def _is_local(fn: FunctionInfo, name: str) -> bool:
    """Bound in the function or an enclosing one (and not declared `global` there)."""
    scope: FunctionInfo | None = fn
    while scope is not None:
        if name in declared_global(scope):
            return False
        if local_defs(scope, name):
            return True
        scope = scope.parent
    return False


def _settings_sink(library: str) -> Sink:
    return Sink(f"the process-wide settings of the library (`{library}(...)`)", library=library)


def _shadows_import(fn: FunctionInfo, name: str) -> bool:
    """Bound in the function (or an enclosing one) other than by an import: a function-local
    `from vertexai import init` still names the library's function."""
    scope: FunctionInfo | None = fn
    while scope is not None:
        if name in declared_global(scope):
            return False
        defs = local_defs(scope, name)
        if defs:
            return any(not isinstance(d.node, (cst.Import, cst.ImportFrom)) for d in defs)
        scope = scope.parent
    return False


is_local_name = _is_local


def _is_classmethod(fn: FunctionInfo) -> bool:
    return fn.cls is not None and any(
        dotted_name(d.decorator) == "classmethod" for d in fn.node.decorators)


def _short(ctx: FileContext, node: cst.CSTNode) -> str:
    text = " ".join(ctx.code(node).split())
    return text if len(text) <= 40 else text[:37] + "..."
