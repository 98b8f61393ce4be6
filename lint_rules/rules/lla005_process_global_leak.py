"""LLA005 process-global-leak: one conversation's or tenant's data written into shared state."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePath

import libcst as cst

from lint_rules.analysis.call_effects import effects_of
from lint_rules.analysis.context import FileContext
from lint_rules.analysis.env_setters import (
    ENVIRONMENT_TOKENS,
    EnvSetters,
    TenantRecords,
    is_environment,
    variable_holds,
    variable_name_tokens,
)
from lint_rules.analysis.process_state import (
    GlobalSinks,
    credential_matcher,
    InstanceData,
    Sink,
    instance_data_tokens,
)
from lint_rules.analysis.process_state import (
    is_local_name as _is_local,
)
from lint_rules.analysis.process_state_ast import (
    ModuleFacts,
    StoresGlobally,
    may_leak_into_globals,
    writes_environment,
)
from lint_rules.analysis.provenance import TOO_LONG, UNKNOWN, any_part
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.rules.base import Evidence, Example, Rule
from lint_rules.syntax.semantic import FunctionInfo
from lint_rules.syntax.tree import nodes_of

# Module-level functions that run once when the process starts: they may set process-wide
# values from constants, command-line arguments or their own config.
STARTUP_FUNCTION = re.compile(
    r"^_*(main|cli|\w+_main|main_\w+"
    r"|(create|make|build|init)_(app|application|server)|app_factory|application_factory"
    r"|(configure|setup|bootstrap|startup)(_(process|logging|environment|env|app|application))?"
    r"|initiali[sz]e|on_startup|\w*_?lifespan)$"
)


# Names of whom a cache slot belongs to (`user_id`, `tenant`, `account_id`, `org_id`...).
IDENTITY = re.compile(r"(^|_)(user|tenant|account|org|organization|customer|principal|owner)(_?id)?$")


@dataclass
class _Candidate:
    node: cst.CSTNode
    sink: Sink
    values: list[cst.BaseExpression]
    fn: FunctionInfo | None
    key: cst.BaseExpression | None = None  # the slot written: `CACHE[key] = v`, `setdefault(key, v)`
    related: tuple[Evidence, ...] = ()  # where a callee in another module makes the write


def _subscript_key(target: cst.Subscript) -> cst.BaseExpression | None:
    if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    return target.slice[0].slice.value


def _owned_slot(data: InstanceData, key: cst.BaseExpression, value: cst.BaseExpression,
                fn: FunctionInfo | None) -> bool:
    """A slot of a shared cache or registry that only its owner reads: keyed by a fresh
    unguessable token (`uuid4()`, `secrets.token_urlsafe()`), by the conversation or the
    credential itself (the key holds conversation or tenant data), or by everything the value
    is computed from (a memo: `_cache[sa_config] = fetch_token(sa_config)` hands a caller only
    what its own key yields)."""
    provenance = data.provenance
    if provenance.unguessable(key, fn):
        return True
    if data.describe(key, fn) is not None or _names_a_conversation(data, key, fn):
        return True
    key_roots = provenance.roots(key, fn)
    if TOO_LONG in key_roots:
        return True  # too long to follow: unknown, never a finding
    # Built (through any helper: `_cache_key(user_id, api_key)`) from the caller's credential
    # or identity: one slot per tenant.
    if any(data.is_credential(r.rsplit(".", 1)[-1]) or IDENTITY.search(r.rsplit(".", 1)[-1])
           or data.scoped.is_conversation_id(cst.parse_expression(r))
           for r in key_roots if r != UNKNOWN):
        return True
    value_roots = provenance.roots(value, fn)
    if TOO_LONG in value_roots:
        return True
    return UNKNOWN not in value_roots and bool(key_roots) and value_roots <= key_roots


def _spells_all(source: str, *groups: Iterable[str]) -> bool:
    """The text holds a token of every group."""
    return all(any(t in source for t in group) for group in groups)


def _display(here: str, path: str) -> str:
    try:
        return os.path.relpath(path, os.path.dirname(os.path.abspath(here)) or ".")
    except ValueError:
        return path


def _setter_parameter(value: cst.BaseExpression, fn: FunctionInfo | None) -> bool:
    """A module-level function handing its own parameter to a library (`def install(h):
    litellm.callbacks.append(h)`): judged where it is called, with what the caller passes."""
    return (fn is not None and fn.cls is None and fn.parent is None
            and isinstance(value, cst.Name) and fn.param(value.value) is not None)


def _names_a_conversation(data: InstanceData, key: cst.BaseExpression,
                          fn: FunctionInfo | None) -> bool:
    """A key holding a conversation id anywhere (`(app, ctx.session_id)`), locals followed."""
    return any_part(key, fn, lambda node: isinstance(node, (cst.Attribute, cst.Name))
                    and data.scoped.is_conversation_id(node), limit=200, exhausted=True)


class ProcessGlobalLeak(Rule):
    code = "LLA005"
    name = "process-global-leak"
    summary = "Conversation or tenant data written into process-global state"
    rationale = """\
An agent server runs many conversations in one process. `os.environ`, module-level dicts and
lists, class attributes and a library's module settings are shared by all of them at once: a
credential or a conversation id written there by one conversation is read by every other one,
and the last writer wins.

Reported: a write, inside a function or method, of data that comes from the caller or from
one tenant's object: a parameter, a field of the instance (`self.x`), or a local defined from
either (followed through its definitions, tuple unpacking and method calls on it). Among those,
what is written must be

- a **conversation-scoped** value (derived from a conversation id such as `self.id` or
  `conversation_id`, a scoped attribute such as `_prompt_cache_key`, a scoped header key),
- a **credential** (`credential-names`: `self.aws_access_key_id`, `tenant.api_key`,
  `cfg["api_key"]`, a parameter named `api_key`), or
- a **field of one LLM object** (`self.<field>` inside an LLM class, `llm.model`) or of one
  LLM config object (`self.<field>` in a class named after an LLM class: `TenantLLMConfig`;
  other config classes such as `Settings` may be the process's own start-up config);
- into the environment, **records looked up for one user or tenant**: the result of a call
  that passes an identity of the caller or the instance (`get_env_vars(actor=self.user)`,
  `store.vars_for(tenant_id)`), also merged into a local dict first (`env = os.environ.copy();
  env.update(records)`);
- into the environment, under an upper-case variable whose name says it holds a credential
  (ending in a credential name: `OPENAI_API_KEY`, `HF_TOKEN`; `*_CREDENTIALS`,
  `*_CREDENTIALS_JSON`) or whose data it is (`*_USER_ID`, `*_TENANT_ID`, `*_PROJECT_ID`,
  `*_WORKSPACE_ID`...), any data of the caller or of the instance
  (`os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = self.config.credentials_path`);
- into a library global, any caller data at all (a handler, a header dict, a base URL); a field
  of the instance counts there when the function itself stored caller data in it
  (`self.project = project or os.getenv(...)`, then `aiplatform.init(project=self.project)` in
  `__init__`), or when the class is an LLM or LLM config class (other instances may be the
  process's own settings object);

written into

- the environment: `os.environ[...] = v`, `os.environ.update(...)`, `os.environ.setdefault(k, v)`,
  `os.environ |= {...}`, `os.putenv(k, v)` (`os` resolved through the imports:
  `from os import environ`, `import os as _os`; a local alias `env = os.environ` counts);
- a module-level mutable object (a dict, list or set bound at module level, written from a
  function that does not bind the name itself), or a module global rebound under `global`;
- a class attribute: `LLM.x = v`, `type(self).x = v`, `self.__class__.x = v`, `cls.x = v` in a
  classmethod (a classmethod's `cls` is the class, shared like any other), `setattr(LLM, ...)`,
  or a container held by one (`type(self).cache[k] = v`);
- a library's process-global settings (`library-globals`, default `litellm.*`, `openai.*`,
  `vertexai.*`, `google.cloud.aiplatform.*`, `google.generativeai.*`:
  `litellm.api_key = self.api_key`, `litellm.callbacks.append(handler)`, a configuration call
  `litellm.register_model(...)` / `sdk.init(...)` / `lib.set_x(...)`, also imported under
  another name: `from vertexai import init as vertexai_init`), the module reached through an
  import (one inside the function wins there over the module's: `genai` may be `google.genai`
  in one function and `google.generativeai` in another; `importlib.import_module("...")`
  counts as an import), also one call away: a call of a module-level
  function of the same file
  that hands its parameter to a library global (`install(tenant.handler)`);
- one hop **across modules**: a call of a module-level function of another module (found
  through the project index) that stores its parameter into the environment, a library global
  or a class attribute (`use_api_key(self.api_key)` where `def use_api_key(key):
  os.environ["OPENAI_API_KEY"] = key`). Reported at the call site, naming the callee and its
  write (file:line, also as evidence), when the caller passes tenant or conversation data (a
  credential, a conversation-scoped value, a field of one LLM object; any other caller data is
  not enough here). A callee whose parameter is named like a credential or a conversation id is
  reported in its own file instead; an unresolved callee gives no finding.
- the environment through a function of the same file that writes its parameter there, any
  number of calls away (a module-level function, or a method of the same class called through
  `self`: `with self.temporary_env_vars(env):`), reported where the data enters: the call that
  passes it.

One write gives one finding, however many tenant values it carries.

Not reported: module-level code and start-up functions (module-level `main`, `cli`,
`create_app`/`make_app`/`build_app`, `app_factory`, `configure`/`setup`/`bootstrap`/`startup`,
optionally suffixed `_process`/`_logging`/`_env`/`_app`, `initialize`, `on_startup`,
`lifespan`/`*_lifespan`, and functions nested in them); values that are the process's own
(`os.environ[...]`/`os.getenv(...)` read at start-up and restored at shutdown, module constants
and settings, class attributes, function objects, the response of a request the process makes
with its own configuration); slots of a shared cache or registry that only their owner reads
(keyed by a fresh `uuid4()`/`secrets` token, by a conversation id, a credential or a user/tenant
id, or by every input the stored value is computed from: a memo); a library configuring its own
globals (`litellm.cache = ...` inside `litellm`); reads; copies (`env = dict(os.environ);
env["KEY"] = self.api_key` for a subprocess); and objects added to a module-level
`weakref.WeakSet`, which registers live objects by identity.
"""
    bad_examples = (
        Example(
            """\
import os

class TenantLLMConfig:
    def model_post_init(self):
        os.environ["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id  # LLA005
""",
            title="a per-tenant credential copied into the environment",
        ),
        Example(
            """\
import litellm

DEFAULT_HEADERS = {"X-Title": "app"}

class Router:
    def enable_sticky_sessions(self, conversation_id):
        DEFAULT_HEADERS["x-litellm-session-id"] = conversation_id  # LLA005

    def configure(self, llm):
        litellm.api_key = llm.api_key  # LLA005
""",
            title="a conversation id in a module-level dict, one LLM's key in a library global",
        ),
    )
    good_examples = (
        Example(
            """\
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

def main(args):
    os.environ["OPENAI_API_KEY"] = args.api_key

class TenantLLMConfig:
    def call(self, client):
        return client.complete(api_key=self.aws_access_key_id)

    def subprocess_env(self):
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
        return env
""",
            title="start-up code, credentials passed per call, a copy of the environment",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        # Every finding needs a value that is instance data; each way of being one spells one
        # of these (the sinks alone, e.g. a module-level dict, have no token of their own).
        # The setter and tenant-record findings are gated on these same tokens (`_env_paths`);
        # a write under an environment variable named for a credential or an identity is
        # gated on the names' own tokens (`HF_TOKEN`, `..._PROJECT_ID`).
        return instance_data_tokens(config) + variable_name_tokens(config.credential_names)

    ast_prefilter = True

    @classmethod
    def may_fire(cls, tree: ast.Module, source: str, config: Config,
                 stores: StoresGlobally | None = None, module_name: str | None = None,
                 facts: ModuleFacts | None = None) -> bool:
        # The tokens are common words (`token`, `password`): most files that hold one have no
        # credential identifier or no write into shared state in a function.
        if may_leak_into_globals(tree, source, config, stores, module_name, facts):
            return True
        # Records of one tenant carry no token of their own: a file that writes into the
        # environment in some function may hold a setter or a tenant's records written there.
        return any(t in source for t in ENVIRONMENT_TOKENS) and writes_environment(tree, source, config)

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        return cls.may_fire(stage.tree, stage.source, stage.config, stage.stores,
                            stage.module_name, stage.process_facts())

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._llms = ctx.facts.llms
        self._sinks = GlobalSinks(ctx.config, ctx.model, self._llms)
        self._candidates: list[_Candidate] = []
        # Calls into another module (`_through_other_module`), resolved at the end: (the number
        # of candidates before it, the call, the function), so findings keep the file's order.
        self._pending: list[tuple[int, cst.Call, FunctionInfo]] = []
        self._startup: dict[int, bool] = {}  # id(function) -> is start-up code
        self._setters: dict[str, dict[str, str]] | None = None
        self._env_setters: EnvSetters | None = None

    # ------------------------------------------------------------------ collecting writes
    def _function(self) -> FunctionInfo | None:
        """The enclosing function, unless this is start-up code (module level included)."""
        fn = self.ctx.model.current_function
        if fn is None or not isinstance(self.ctx.model.current_scope, FunctionInfo):
            return None
        startup = self._startup.get(id(fn))
        if startup is None:
            outermost = fn
            while outermost.parent is not None:
                outermost = outermost.parent
            startup = self._startup[id(fn)] = (outermost.cls is None
                                               and STARTUP_FUNCTION.match(outermost.name) is not None)
        return None if startup else fn

    def _targets(self, node: cst.CSTNode, targets: list[cst.BaseExpression],
                 value: cst.BaseExpression) -> None:
        fn = self._function()
        if fn is None:
            return
        for target in targets:
            sink = self._sinks.target(target, fn)
            if sink is not None:
                key = _subscript_key(target) if isinstance(target, cst.Subscript) else None
                self._candidates.append(_Candidate(node, sink, [value], fn, key))
                return

    def visit_Assign(self, node: cst.Assign) -> None:
        self._targets(node, [t.target for t in node.targets], node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._targets(node, [node.target], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._targets(node, [node.target], node.value)

    def _library_setters(self) -> dict[str, dict[str, str]]:
        """Module-level functions of this file that write a parameter into a library global
        (`def install(h): litellm.callbacks.append(h)`): name -> {parameter: library global}.
        Computed once per file, on first use; a setter's own writes are judged where it is
        called (its parameters are only data when the caller passes data)."""
        if self._setters is None:
            self._setters = {}
            for fn in self.ctx.model.functions:
                if fn.cls is not None or fn.parent is not None:
                    continue
                params = {p.name for p in fn.params}
                written: dict[str, str] = {}
                for small in nodes_of(fn.node.body, (cst.Assign, cst.Call), nested=False):
                    if isinstance(small, cst.Assign):
                        pairs = [(self._sinks.target(t.target, fn), [small.value]) for t in small.targets]
                    else:
                        found = self._sinks.call(small, fn)
                        pairs = [found] if found is not None else []
                    for sink, values in pairs:
                        if sink is None or sink.library is None:
                            continue
                        for value in values:
                            if isinstance(value, cst.Name) and value.value in params:
                                written.setdefault(value.value, sink.library)
                if written:
                    self._setters[fn.name] = written
        return self._setters

    def _through_setter(self, node: cst.Call, fn: FunctionInfo) -> None:
        """A call of a same-file setter with the caller's data: the library global one call away."""
        if not isinstance(node.func, cst.Name) or _is_local(fn, node.func.value):
            return
        setters = self._library_setters()
        written = setters.get(node.func.value)
        target = next((f for f in self.ctx.model.functions
                       if f.name == node.func.value and f.cls is None and f.parent is None), None)
        if not written or target is None:
            return
        names = [p.name for p in target.params]
        for i, arg in enumerate(node.args):
            if arg.star:
                continue
            param = arg.keyword.value if arg.keyword is not None else (names[i] if i < len(names) else None)
            library = written.get(param) if param is not None else None
            if library is not None:
                sink = Sink(f"the library global `{library}` (through `{node.func.value}()`)",
                            library=library)
                self._candidates.append(_Candidate(node, sink, [arg.value], fn))
                return

    def _through_other_module(self, node: cst.Call, fn: FunctionInfo) -> None:
        """A call of a module-level function of another module (project index) that may store
        its parameter into process-global state: kept as a pending candidate, resolved at the
        end only when it passes tenant or conversation data (`_resolve_pending`)."""
        if not isinstance(node.func, (cst.Name, cst.Attribute)) or (
                isinstance(node.func, cst.Name) and _is_local(fn, node.func.value)) \
                or not node.args:
            return
        self._pending.append((len(self._candidates), node, fn))

    def _in_order(self, data: InstanceData) -> Iterator[_Candidate]:
        """The candidates, with each pending call into another module resolved in its place."""
        pending = iter(self._pending)
        waiting = next(pending, None)
        for index, candidate in enumerate([*self._candidates, None]):
            while waiting is not None and waiting[0] <= index:
                found = self._resolve_pending(data, waiting[1], waiting[2])
                if found is not None:
                    yield found
                waiting = next(pending, None)
            if candidate is not None:
                yield candidate

    def _resolve_pending(self, data: InstanceData, node: cst.Call,
                         fn: FunctionInfo) -> _Candidate | None:
        """The callee's write of the parameter this call fills with tenant or conversation data
        (`InstanceData.describe`, not any caller data). The callee is summarised only then
        (the writers gate knows LLM writes only, so it is bypassed here)."""
        if not any(data.describe(arg.value, fn) is not None for arg in node.args):
            return None
        resolved = effects_of(self.ctx).resolve_remote(node, fn)
        if resolved is None or resolved.summary.bound:
            return None
        for write in resolved.summary.globals_written:
            arg = resolved.args.get(write.param)
            if arg is None:
                continue
            where = f"{_display(self.ctx.path, write.path)}:{write.line}"
            sink = Sink(f"{write.sink} by `{resolved.summary.name}()` (`{write.spelled}`, {where})")
            evidence = (Evidence(f"`{resolved.summary.name}` stores its parameter `{write.param}` "
                                 f"into {write.sink} (`{write.spelled}`)", None, write.path,
                                 write.line),)
            return _Candidate(node, sink, [arg], fn, related=evidence)
        return None

    def _through_env_setter(self, node: cst.Call, fn: FunctionInfo) -> None:
        """A call of a function of this file that writes a parameter into `os.environ`
        (`with self.temporary_env_vars(env):`), judged with what this caller passes. An argument
        this function only hands on from its own parameter is judged at its callers; one the
        callee's write names a credential is reported at that write."""
        if not self._env_paths:
            return
        if self._env_setters is None:
            self._env_setters = EnvSetters(self.ctx.model, self._sinks)
        setters = self._env_setters
        callee = setters.callee(node, fn)
        written = setters.of(callee) if callee is not None else {}
        if not written or callee is None:
            return
        mine = setters.of(fn)
        is_credential = credential_matcher(self.ctx.config)
        for param, arg in setters.bound_arguments(node, callee):
            writer = written.get(param)
            if writer is None or is_credential(param):
                continue
            if isinstance(arg, cst.Name) and arg.value in mine:
                continue
            via = "" if writer == callee.name else f", through `{callee.name}()`"
            sink = Sink(f"`os.environ` (by `{writer}()`{via})")
            self._candidates.append(_Candidate(node, sink, [arg], fn))
            return

    def visit_Call(self, node: cst.Call) -> None:
        fn = self._function()
        if fn is None:
            return
        self._through_setter(node, fn)
        self._through_other_module(node, fn)
        self._through_env_setter(node, fn)
        found = self._sinks.call(node, fn)
        if found is not None and found[1]:
            key = None
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("setdefault", "__setitem__") \
                    and node.args and node.args[0].keyword is None:
                key = node.args[0].value
            self._candidates.append(_Candidate(node, found[0], found[1], fn, key))

    def _own_library_global(self, sink: Sink) -> bool:
        """A library configuring its own module globals (`litellm.cache = ...` inside
        `litellm`): that is the library's configuration API, not a caller's leak; the callers
        that hand it tenant data are reported where they call it."""
        if sink.library is None:
            return False
        top = sink.library.split(".")[0]
        if (self.ctx.model.module_name or "").split(".")[0] == top:
            return True
        # A namespace folder (no `__init__.py`) inside the library's tree: its folder names.
        return top in PurePath(self.ctx.path).parts[:-1]

    @cached_property
    def _env_paths(self) -> bool:
        """Setters and tenant records carry no token of their own: they are looked for only in
        files that spell the environment and one of the rule's trigger tokens (so the prefilter
        stays a necessary condition without letting every file that mentions `environ` in).
        Asked at every call: the text is scanned once per file."""
        return _spells_all(self.ctx.source, ENVIRONMENT_TOKENS, instance_data_tokens(self.ctx.config))

    @cached_property
    def _env_names(self) -> bool:
        """The file spells the environment and a credential or identity variable name (the
        prefilter's tokens for `_named_variable`), scanned once per file."""
        return _spells_all(self.ctx.source, ENVIRONMENT_TOKENS,
                           variable_name_tokens(self.ctx.config.credential_names))

    def _tenant_records(self, value: cst.BaseExpression, fn: FunctionInfo | None) -> str | None:
        """Records looked up for one user or tenant (`get_env_vars(actor=self.user)`)."""
        lookup = TenantRecords(self.ctx.model).holds(value, fn)
        if lookup is None:
            return None
        def short(node: cst.CSTNode) -> str:
            text = " ".join(self.ctx.code(node).split())
            return text if len(text) <= 40 else text[:37] + "..."
        if lookup is value:
            return f"`{short(value)}`, records looked up for one user or tenant,"
        return f"`{short(value)}`, holding records looked up for one user or tenant (`{short(lookup)}`),"

    def _named_variable(self, data: InstanceData, key: cst.BaseExpression | None,
                        value: cst.BaseExpression, fn: FunctionInfo | None) -> str | None:
        """Caller or instance data put under an environment variable whose name says it holds
        a credential or a tenant's identity (`os.environ["GOOGLE_APPLICATION_CREDENTIALS"] =
        self.config.credentials_path`, `os.environ["LANGFUSE_PROJECT_ID"] =
        self.api_client.project_id()`): the name tells what the value is when its own spelling
        does not. A module-level function's own parameter is judged where it is called."""
        if not self._env_names:
            return None  # the prefilter's tokens for this judgement (most files stop here)
        kind = variable_holds(key, credential_matcher(self.ctx.config))
        if kind is None or key is None or _setter_parameter(value, fn):
            return None
        if not data.provenance.from_caller(value, fn, instance=True):
            return None
        text = " ".join(self.ctx.code(value).split())
        text = text if len(text) <= 40 else text[:37] + "..."
        return (f"`{text}`, data of the caller or of this instance held as {kind} "
                f"({self.ctx.code(key)}),")

    # ------------------------------------------------------------------ judging them
    def check_module(self) -> None:
        # At the end: module globals bound after the function (lower in the file) count too.
        data = InstanceData(self.ctx, self._llms)
        reported: set[int] = set()  # one finding per write event (statement line)
        for candidate in self._in_order(data):
            sink, fn = candidate.sink, candidate.fn
            if sink.global_name is not None and not self._sinks.is_module_container(sink.global_name, fn):
                continue
            if self._own_library_global(sink):
                continue
            for value in candidate.values:
                what = data.describe(value, fn)
                if what is None and sink.library is not None and not candidate.related \
                        and not _setter_parameter(value, fn):
                    # A library's process-wide settings take nothing of one caller: any
                    # parameter or instance field (a handler, a header dict, a base URL).
                    what = data.caller_data(value, fn)
                if what is None and is_environment(sink) and self._env_paths:
                    what = self._tenant_records(value, fn)
                if what is None and is_environment(sink):
                    what = self._named_variable(data, candidate.key, value, fn)
                if what is not None and candidate.key is not None \
                        and _owned_slot(data, candidate.key, value, fn):
                    break
                if what is not None:
                    # Positions cost a codegen of the module: asked only for a finding.
                    line = self.ctx.position(candidate.node).start.line
                    if line not in reported:
                        reported.add(line)
                        self.report(candidate.node, f"{what} is written into {sink.description}, "
                                                    "which every conversation in the process "
                                                    "shares; pass it with each call instead",
                                    related=candidate.related)
                    break
