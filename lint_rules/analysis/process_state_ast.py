"""LLA005's second prefilter stage: "may this file hold a finding?", on CPython's `ast`.

Stage one (the trigger tokens) lets a file through when it merely *mentions* a credential name
(`token`, `password`, `secret`...): a tenth of the standard library, a quarter of its bytes. A
finding needs two things in one function, both cheap to over-approximate on the `ast` (about a
tenth of the cost of a libcst tree):

1. instance data (`InstanceData` in `process_state.py`): in the function itself, an identifier or
   string that `describe` could take for a credential, a conversation id or a scoped attribute
   (read where `describe` reads them: an attribute by its own name, a call's receiver, not the
   function called); anywhere in the file, a scoped header key string; an LLM field, when the
   file spells an LLM (`llm_objects.LLMSpellings`) and the function may hold an LLM
   expression: it names an LLM spelling (`_LLMWords`), a class of the file that may be an LLM
   class, an import renaming one, or it is in such a class;
2. a write that `GlobalSinks` could call process-global (`os.environ`, `os.putenv`, a name
   declared `global`, a module-level name, a class attribute, a configured library global,
   `setattr` on a class).

A library global takes any data of the caller, not only instance data: in a file that spells
a configured library, a function without instance data passes when it may write a library
global.

A record looked up for one tenant, or a same-file environment setter, carries no token of its
own: a file that writes into the environment (`writes_environment`) may hold one.

Every test here answers "maybe" whenever the libcst analysis could answer "yes": names count as
local only where `local_bindings.local_defs` records them too (so a one-line `def f(): x = 1` body
has no locals, `import a.b` binds nothing, `try/except*` bodies are not looked into), and
imports count wherever they are in the file. Keep this module in step with `process_state.py` and
`scoped_values.py`: `tests/test_prefilter_ast.py` compares it with them sink by sink and value by
value, on the fixtures and on a standard library sample.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from lint_rules.analysis import llm_objects as llm_analysis
from lint_rules.analysis.global_setters_ast import storing_facts
from lint_rules.analysis.header_keys import HeaderKeys
from lint_rules.analysis.process_state import (
    ENVIRON,
    LIBRARY_CONFIG_CALL,
    MUTATORS,
    PUTENV,
    credential_matcher,
    library_tokens,
)
from lint_rules.analysis.token_filter import token_filter
from lint_rules.core.config import Config
from lint_rules.syntax.ast_fields import child_nodes, walk
from lint_rules.syntax.semantic import IMPORT_MODULE, relative_base

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_STAR = getattr(ast, "TryStar", None)  # Python 3.11+
# How `InstanceData` reads an identifier: by its name, not at all (the object an attribute is
# read from, a function called, a container indexed), or as a method call's callee (its name
# is not read, its receiver is).
_READ, _UNREAD, _CALLEE = 0, 1, 2


def may_leak_into_globals(tree: ast.Module, source: str, config: Config,
                          stores: StoresGlobally | None = None,
                          module_name: str | None = None,
                          facts: ModuleFacts | None = None) -> bool:
    """Some function both writes into shared state and holds instance data. `stores` answers
    for the hop across modules (`ProjectIndex.may_store_globally`); without it every call of
    an imported function with arguments may hop. `module_name`: the file's
    (`module_name_for`), when known; it qualifies the names an LLM class may be matched by.
    `facts`: `file_facts` of the same arguments, when the caller has them."""
    if facts is None:
        facts = file_facts(tree, source, config, module_name)
    lines = _lines(source)
    described: list[_Function] = []
    others: list[_Function] = []
    for fn in facts.functions:
        (described if facts.function_data(fn, source) else others).append(fn)
    if any(_writes_shared(fn, facts, lines) for fn in described):
        return True
    # A library global takes any caller data (`library_tokens`: the import spells it), not
    # only what `InstanceData.describe` names.
    if facts.library_seen and any(_writes_shared(fn, facts, lines, library=True)
                                  for fn in others):
        return True
    # One hop across modules: a call of an imported function, which may store its parameter
    # into shared state there, with instance data (`InstanceData.describe` only).
    return any(_calls_imported(fn, facts, stores) for fn in described)


def file_facts(tree: ast.Module, source: str, config: Config,
               module_name: str | None = None) -> ModuleFacts:
    """One walk's facts of a module, which LLA005's stage and the scope rules' stages share
    (`rule_stages.StageInput.process_facts` owns them for the checked file)."""
    return ModuleFacts(tree, config, source, module_name)


def functions_holding_llm(facts: ModuleFacts) -> frozenset[int]:
    """`id()` of each function node of the module (nested ones included) in which
    `LLMFacts.is_llm` may take some expression for an LLM (`_Function.llm`), for the stages of
    the scope rules."""
    return frozenset(id(fn.node) for fn in facts.functions if fn.llm)


@dataclass(frozen=True)
class StoresGlobally:
    """The project index's answer to "may `module.name` store a parameter into process-global
    state?" (`ask(module, name)`), and the checked file's own module, which relative imports
    are resolved against as `SemanticBuilder.visit_ImportFrom` does."""
    ask: Callable[[str, str], bool]
    module_name: str
    is_package: bool

    def absolute(self, target: str) -> str:
        """An import target as `ModuleFacts.imports` keeps it (`..x.y` for a relative one)."""
        rest = target.lstrip(".")
        level = len(target) - len(rest)
        if not level:
            return target
        base = relative_base(self.module_name, level, self.is_package)
        return ".".join(p for p in (base, rest) if p)


def _calls_imported(fn: _Function, facts: ModuleFacts, stores: StoresGlobally | None) -> bool:
    """A call of an imported name with arguments that `EffectSummaries.resolve_remote` may
    resolve to a function storing its parameter (the libcst side resolves through the last
    import of the name; every import of it is tried here)."""
    for call in fn.calls:
        if not call.args and not call.keywords:
            continue  # nothing passed: nothing to store (LLA005 skips such calls too)
        spelled = _dotted(call.func)
        if spelled is None:
            continue
        head, _, rest = spelled.partition(".")
        targets = facts.imports.get(head)
        if not targets:
            continue
        if stores is None:
            return True
        for target in targets:
            qualname = stores.absolute(target)
            qualname = f"{qualname}.{rest}" if rest else qualname
            module, _, name = qualname.rpartition(".")
            if module and stores.ask(module, name):
                return True
    return False


def holds_instance_data(tree: ast.Module, source: str, config: Config,
                        module_name: str | None = None) -> bool:
    """Half 1 alone: could `InstanceData.describe` name anything in some function?"""
    facts = ModuleFacts(tree, config, module_name=module_name)
    return facts.file_data(source) or any(fn.has_data for fn in facts.functions)


def writes_shared_state(tree: ast.Module, source: str, config: Config) -> bool:
    """Half 2 alone: could `GlobalSinks` see a write into shared state in some function?"""
    facts = ModuleFacts(tree, config, source)
    lines = _lines(source)
    return any(_writes_shared(fn, facts, lines) for fn in facts.functions)


def writes_environment(tree: ast.Module, source: str, config: Config) -> bool:
    """Could `GlobalSinks` see a write into the process environment (`os.environ`,
    `os.putenv`) in some function? An environment setter of the file writes there itself."""
    facts = ModuleFacts(tree, config, source)
    lines = _lines(source)
    return any(_writes_shared(fn, facts, lines, environment=True) for fn in facts.functions)


def _writes_shared(fn: _Function, facts: ModuleFacts, lines: list[str],
                   environment: bool = False, library: bool = False) -> bool:
    """A write into shared state in `fn`; with `environment`, into the environment only; with
    `library`, into a library global only (`GlobalSinks` sets `sink.library`)."""
    if not fn.targets and not fn.calls:
        return False
    scope = _FunctionScope(fn.node, lines, facts, library)
    if environment:
        return any(scope.target_is_environment(t) for t in fn.targets) or any(
            scope.call_is_environment(c) for c in fn.calls)
    return any(scope.target_is_shared(t) for t in fn.targets) or any(
        scope.call_is_shared(c) for c in fn.calls)


def _lines(source: str) -> list[str]:
    # Python's own line breaks only (`str.splitlines` also splits at form feeds).
    return source.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass(eq=False)
class _Function:
    """What one function holds itself (nested functions excluded; decorators, defaults and
    lambdas included, as libcst's scopes count them)."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    targets: list[ast.expr] = field(default_factory=list)  # of assignments
    calls: list[ast.Call] = field(default_factory=list)
    # An identifier or string `InstanceData` may call instance data: the value it describes
    # and the local definitions it follows are all in the function's own body.
    has_data: bool = False
    # An expression of the function may be an LLM (`LLMFacts.is_llm`, whose field is then
    # instance data): it names an LLM spelling (`_LLMWords`), a class of the file that may be
    # an LLM class, or a rename of one, or it is in such a class (`self`, the class's typed
    # fields, its methods' return types). `names` keeps its other identifiers until the
    # file's classes are known.
    cls: _Class | None = None  # the innermost enclosing class
    llm: bool = False
    names: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Class:
    """A class of the file, for `_Function.llm`: `LLMFacts.class_is_llm` may hold for it when
    its name is an LLM spelling, or its body (bases, fields, annotations and methods
    included) names one (a configured base, a model-name field), a rename of one, or another
    such class of the file (a local base, a field's or return type)."""
    name: str
    parent: _Class | None
    llm: bool = False
    names: set[str] = field(default_factory=set)


class ModuleFacts:
    """One walk over the module: imports, class names, module-level names, and per function
    its assignment targets, calls and instance-data spellings."""

    def __init__(self, tree: ast.Module, config: Config, source: str = "",
                 module_name: str | None = None) -> None:
        self.config = config
        self.module_name = module_name  # None: not known (any LLM token then counts)
        # A library global may be written one call away, through a module-level function of
        # this file (`install(handler)`): any call of one counts as a shared write.
        self.library_seen = any(t in source for t in library_tokens(config))
        self._tree = tree
        self._library_setters: frozenset[str] | None = None
        self.patterns = tuple(config.library_globals)
        self.llm_classes = frozenset(c.rsplit(".", 1)[-1] for c in config.llm_classes)
        # local name -> what it may be imported as; a relative import keeps its dots (".x.y"):
        # the package it is relative to is not known here
        self.imports: dict[str, set[str]] = {}
        self.classes: set[str] = set()
        self.functions: list[_Function] = []
        self.header_key_seen = False  # may reach any function through a module/class constant
        self._file_data: bool | None = None
        # What `LLMSpellings.mentioned` reads: identifiers, class names, annotation strings.
        self.identifiers: set[str] = set()
        self.class_names: list[str] = []
        self.annotations: list[ast.expr] = []
        identifiers = self.identifiers
        self.module_names = _module_level_names(tree)
        data = _InstanceDataSpellings(config)
        llm_word = _llm_words(config)
        renamed: set[str] = set()  # `import x.LLM as Brain`: `Brain` may name an LLM class
        classes: list[_Class] = []

        def note(word: str, holder: _Function | _Class | None, dotted: bool = False) -> None:
            if holder is not None and not holder.llm:
                found = llm_word(word)
                if found == _SPELLED or (found == _BY_PATTERN and dotted):
                    holder.llm = True
                else:
                    holder.names.add(word)

        def note_strings(annotation: ast.expr, fn: _Function | None, cls: _Class | None) -> None:
            """`x: "Optional[Brain]"`: `annotation_names` reads the names in a string."""
            for inner in walk(annotation):
                if type(inner) is ast.Constant and type(inner.value) is str:
                    for word in llm_analysis.WORD.findall(inner.value):  # maybe dotted
                        note(word, fn, dotted=True)
                        note(word, cls, dotted=True)

        # (node, enclosing function or None, how `InstanceData` would read the node, the
        # innermost enclosing class or None)
        stack: list[tuple[ast.AST, _Function | None, int, _Class | None]] = [
            (tree, None, _READ, None)]
        pop, push = stack.pop, stack.append
        while stack:
            node, fn, role, cls = pop()
            kind = type(node)
            if kind is ast.Name:
                identifiers.add(node.id)
                if fn is not None:
                    if role == _READ and not fn.has_data and data.name(node.id):
                        fn.has_data = True
                    if not fn.llm:
                        note(node.id, fn)
                if cls is not None and not cls.llm:
                    note(node.id, cls)
                continue
            if kind is ast.Constant:
                value = node.value
                if type(value) is str:
                    if not self.header_key_seen and data.header_key(value):
                        self.header_key_seen = True
                    if fn is not None and not fn.has_data and data.string(value):
                        fn.has_data = True
                continue
            if kind is ast.Attribute:
                identifiers.add(node.attr)
                if fn is not None:
                    if role == _READ and not fn.has_data and data.attribute(node):
                        fn.has_data = True
                    if not fn.llm:
                        note(node.attr, fn, dotted=True)
                if cls is not None and not cls.llm:
                    note(node.attr, cls, dotted=True)
                # An attribute is judged by its own name, never by the object it is read
                # from; a method call carries its receiver (`self.api_key.strip()`).
                push((node.value, fn, _READ if role == _CALLEE else _UNREAD, cls))
                continue
            if kind is ast.Call:
                func = node.func
                if fn is not None:
                    fn.calls.append(node)
                callee = type(func)
                push((func, fn, _CALLEE if callee is ast.Attribute
                      else _UNREAD if callee is ast.Name else _READ, cls))
                for child in (*node.args, *node.keywords):
                    push((child, fn, _READ, cls))
                continue
            if kind is ast.Subscript:
                push((node.value, fn, _UNREAD, cls))  # an element is judged by its key only
                push((node.slice, fn, _READ, cls))
                continue
            if kind is ast.AnnAssign:
                self.annotations.append(node.annotation)
                note_strings(node.annotation, fn, cls)  # a class's typed field
            elif kind is ast.Assign and len(node.targets) == 1 and type(node.targets[0]) is ast.Name:
                module = _dynamic_import(node.value)
                if module is not None:
                    self.imports.setdefault(node.targets[0].id, set()).add(module)
            if kind in _FUNCTIONS:
                note(node.name, cls)  # a model-call method of the class
                fn = _Function(node, cls=cls)
                self.functions.append(fn)
                if node.returns is not None:
                    self.annotations.append(node.returns)
                    note_strings(node.returns, fn, cls)  # `self.make()` may return an LLM
            elif kind is ast.ClassDef:
                self.classes.add(node.name)
                self.class_names.append(node.name)
                identifiers.add(node.name)
                cls = _Class(node.name, cls)
                note(node.name, cls)
                classes.append(cls)
            elif kind is ast.arg:
                if node.annotation is not None:
                    self.annotations.append(node.annotation)
                    note_strings(node.annotation, fn, cls)
            elif kind is ast.Import:
                for alias in node.names:
                    identifiers.update(alias.name.split("."))
                    if alias.asname and llm_word(alias.name.rpartition(".")[2]):
                        renamed.add(alias.asname)
                    if alias.asname:
                        identifiers.add(alias.asname)
                        self.imports.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        head = alias.name.split(".")[0]
                        self.imports.setdefault(head, set()).add(head)
            elif kind is ast.ImportFrom:
                if node.module:
                    identifiers.update(node.module.split("."))
                for alias in node.names:
                    identifiers.add(alias.name)
                    if alias.asname:
                        identifiers.add(alias.asname)
                        found = llm_word(alias.name)
                        if found == _SPELLED or (found == _BY_PATTERN and (
                                node.level or llm_word.pattern_matches(f"{node.module}.{alias.name}"))):
                            renamed.add(alias.asname)
                    if alias.name == "*":
                        continue
                    full = f"{node.module}.{alias.name}" if node.module else alias.name
                    self.imports.setdefault(alias.asname or alias.name, set()).add(
                        "." * node.level + full)
            elif fn is not None and kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
                if kind is ast.Assign:
                    fn.targets.extend(node.targets)
                elif kind is ast.AugAssign or node.value is not None:
                    fn.targets.append(node.target)
            for child in child_nodes(node):
                push((child, fn, _READ, cls))
        # The classes of the file that may be LLM classes, to a fixed point (a class naming
        # one, as a base or a field's type, may be one), then the functions naming or in one.
        spelled = set(renamed)
        for klass in classes:
            klass.llm = klass.llm or self._imports_pattern_class(klass.names, llm_word) or (
                not klass.names.isdisjoint(llm_analysis.MODEL_NAME_FIELDS)
                and not klass.names.isdisjoint(llm_word.behaviour))  # `_acts_as_llm`
        changed = True
        while changed:
            changed = False
            for klass in classes:
                if klass.name not in spelled and (klass.llm or not klass.names.isdisjoint(spelled)):
                    spelled.add(klass.name)
                    changed = True
        for fn in self.functions:
            owner = fn.cls
            while not fn.llm and owner is not None:
                fn.llm = owner.name in spelled
                owner = owner.parent
            if not fn.llm:
                fn.llm = not fn.names.isdisjoint(spelled) or self._imports_pattern_class(
                    fn.names, llm_word)
            fn.names = set()
        for klass in classes:
            klass.names = set()

    def _imports_pattern_class(self, names: set[str], llm_word: _LLMWords) -> bool:
        """One of `names` is imported as a class a configured pattern may match (`from
        .models import FooModel`; a relative import's package is not known here): a bare
        name that is not imported is never matched by a pattern (`_names_llm_class`)."""
        for name in names:
            if llm_word(name) == _BY_PATTERN:
                for target in self.imports.get(name, ()):
                    if target.startswith(".") or llm_word.pattern_matches(target):
                        return True
        return False

    def library_setters(self) -> frozenset[str]:
        """Module-level functions that may store a parameter into a library global (a
        superset of LLA005's `_library_setters`, `global_setters_ast`): calling one with any
        caller data is a shared write one call away."""
        if self._library_setters is None:
            self._library_setters = storing_facts(self._tree).functions
        return self._library_setters

    def function_data(self, fn: _Function, source: str) -> bool:
        """Instance data that `InstanceData.describe` may name in `fn`: its own spellings
        (`has_data`), a scoped header key of the file (through a module or class constant), or
        an LLM field (the file spells an LLM, `file_data`, and the function may hold one)."""
        return fn.has_data or self.header_key_seen or (fn.llm and self.file_data(source))

    def file_data(self, source: str) -> bool:
        """Instance data that may reach any function: a scoped header key (through a module or
        class constant), or an LLM field (`llm.model`, `self.x` in an LLM class: it needs an
        LLM token in the text and an identifier that can start an LLM expression)."""
        if self._file_data is None:
            self._file_data = self.header_key_seen or (
                token_filter(_llm_tokens(self.config)).search(source) and self._mentions_llm(source))
        return self._file_data

    def _mentions_llm(self, source: str) -> bool:
        """`LLMSpellings.mentioned`: some identifier may start an LLM expression (an `LM`
        inside `HTML`, or `typing.Generator`, does not)."""
        if self.module_name is None:
            return True
        strings = [node.value for annotation in self.annotations for node in walk(annotation)
                   if type(node) is ast.Constant and type(node.value) is str]
        return llm_analysis.llm_spellings(self.config).mentioned(
            self.identifiers, self.class_names, self.module_name, strings, source)

    # ------------------------------------------------------------------ names
    def resolutions(self, spelled: str) -> tuple[set[str], list[str]]:
        """What a dotted spelling may resolve to through the imports: full names, and the tails
        of names reached through a relative import (some package's `<tail>`)."""
        head, _, rest = spelled.partition(".")
        full, tails = {spelled}, []
        for target in self.imports.get(head, ()):
            joined = f"{target}.{rest}" if rest else target
            if joined.startswith("."):
                tails.append(joined.lstrip("."))
            else:
                full.add(joined)
        return full, tails

    def library_global(self, spelled: str) -> bool:
        if spelled.split(".")[0] not in self.imports:
            return False
        full, tails = self.resolutions(spelled)
        return bool(tails) or any(fnmatch.fnmatchcase(r, p) for r in full for p in self.patterns)

    def resolves_into(self, node: ast.expr, names: frozenset[str]) -> bool:
        spelled = _dotted(node)
        if spelled is None:
            return False
        full, tails = self.resolutions(spelled)
        return not full.isdisjoint(names) or any(
            name == tail or name.endswith("." + tail) for tail in tails for name in names)


class _FunctionScope:
    """`GlobalSinks.target` / `GlobalSinks.call`, answered "maybe" generously, in one function.
    With `library`, only for sinks that may be library globals (the environment, module-level
    names and class attributes are not)."""

    def __init__(self, fn, lines: list[str], facts: ModuleFacts, library: bool = False) -> None:
        self.facts = facts
        self.library = library
        self.local, self.declared, self.environ_aliases = _scope_names(fn, lines, facts)
        self.cls_param: str | None = None
        if any(isinstance(d, ast.Name) and d.id == "classmethod" for d in fn.decorator_list):
            params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
            self.cls_param = params[0].arg if params else None

    def target_is_environment(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Subscript):
            return self.container_is_environment(target.value)
        return self.facts.resolves_into(target, ENVIRON)

    def call_is_environment(self, call: ast.Call) -> bool:
        func = call.func
        return self.facts.resolves_into(func, PUTENV) or (
            isinstance(func, ast.Attribute) and func.attr in MUTATORS
            and self.container_is_environment(func.value))

    def container_is_environment(self, node: ast.expr) -> bool:
        return self.facts.resolves_into(node, ENVIRON) or (
            isinstance(node, ast.Name) and node.id in self.environ_aliases)

    def target_is_shared(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Subscript):
            return self.container_is_shared(target.value)
        if isinstance(target, ast.Attribute):
            return self.attribute_is_shared(target) or (
                not self.library and self.facts.resolves_into(target, ENVIRON))
        if isinstance(target, ast.Name):
            return not self.library and (target.id in self.declared
                                         or self.facts.resolves_into(target, ENVIRON))
        return False

    def call_is_shared(self, call: ast.Call) -> bool:
        func = call.func
        if not self.library and self.call_is_environment(call):
            return True
        if isinstance(func, ast.Attribute) and func.attr in MUTATORS \
                and self.container_is_shared(func.value):
            return True
        if isinstance(func, ast.Name) and self.facts.library_seen \
                and func.id in self.facts.library_setters():
            return True
        if isinstance(func, ast.Attribute) and LIBRARY_CONFIG_CALL.match(func.attr):
            spelled = _dotted(func.value)
            if spelled is not None and self.facts.library_global(f"{spelled}.{func.attr}"):
                return True
        if isinstance(func, ast.Name) and self.facts.library_global(func.id):
            full, tails = self.facts.resolutions(func.id)
            if any(LIBRARY_CONFIG_CALL.match(name.rpartition(".")[2]) for name in (*full, *tails)):
                return True  # an imported configuration call: `vertexai_init(...)`
        if isinstance(func, ast.Name) and func.id == "setattr" \
                and len(call.args) + len(call.keywords) == 3:
            if call.keywords:
                return True  # libcst reads its arguments in source order: not worth mirroring
            owner = call.args[0]
            spelled = _dotted(owner)
            name = call.args[1] if len(call.args) > 1 else None
            attr = name.value if isinstance(name, ast.Constant) and type(name.value) is str else "*"
            return (not self.library and self.is_class(owner)) or (
                spelled is not None and self.facts.library_global(f"{spelled}.{attr}"))
        return False

    def container_is_shared(self, node: ast.expr) -> bool:
        if not self.library and self.container_is_environment(node):
            return True
        if isinstance(node, ast.Name):
            name = node.id
            # Imports count wherever they are (libcst sees only those above the write), so a
            # name may be both an import and a module-level container.
            return ((name in self.facts.imports and self.facts.library_global(name))
                    or (not self.library and name not in self.local
                        and name in self.facts.module_names))
        if isinstance(node, ast.Attribute):
            return self.attribute_is_shared(node)
        return False

    def attribute_is_shared(self, node: ast.Attribute) -> bool:
        spelled = _dotted(node)
        if spelled is not None and self.facts.library_global(spelled):
            return True
        return not self.library and self.is_class(node.value)

    def is_class(self, node: ast.expr) -> bool:
        """`GlobalSinks.class_expr`: `type(x)`, `x.__class__`, a classmethod's first parameter,
        a class of this file, or an imported capitalised name."""
        if isinstance(node, ast.Call):
            return isinstance(node.func, ast.Name) and node.func.id == "type"
        if isinstance(node, ast.Attribute):
            return node.attr == "__class__"
        if not isinstance(node, ast.Name):
            return False
        if node.id == self.cls_param:
            return True
        if node.id in self.local:
            return False
        if node.id in self.facts.classes:
            return True
        for target in self.facts.imports.get(node.id, ()):
            last = target.rsplit(".", 1)[-1]
            if last[:1].isupper() or last in self.facts.llm_classes:
                return True
        return False


# ---------------------------------------------------------------------- helpers
class _InstanceDataSpellings:
    """The identifiers and strings through which `InstanceData.describe` finds instance data,
    LLM fields aside: credentials (`is_credential`), conversation ids (`ScopedValues.
    is_conversation_id`, suffix-matched on the attribute chain), scoped attributes, and scoped
    header keys (string constants, wherever `header_key` reads them from)."""

    def __init__(self, config: Config) -> None:
        self.is_credential = credential_matcher(config)
        self.scoped_attributes = frozenset(config.scoped_attributes)
        self.keys = HeaderKeys(config)
        self.id_chains = tuple(tuple(e.split(".")) for e in config.conversation_id_expressions if e)
        self.id_ends = frozenset(chain[-1] for chain in self.id_chains)

    def name(self, identifier: str) -> bool:
        return self.is_credential(identifier) or (identifier in self.id_ends
                                                  and (identifier,) in self.id_chains)

    def attribute(self, node: ast.Attribute) -> bool:
        attr = node.attr
        if self.is_credential(attr) or attr in self.scoped_attributes:
            return True
        if attr not in self.id_ends:
            return False
        spelled = _dotted(node)
        if spelled is None:
            return False
        parts = tuple(spelled.split("."))
        return any(len(parts) >= len(e) and parts[-len(e):] == e for e in self.id_chains)

    def string(self, value: str) -> bool:
        # `config["configurable"]["thread_id"]` reads a conversation id by its name
        return self.name(value) or self.header_key(value)

    def header_key(self, value: str) -> bool:
        return self.keys.is_scoped(value)


_llm_tokens_cache: dict[Config, tuple[str, ...]] = {}


def _llm_tokens(config: Config) -> tuple[str, ...]:
    cached = _llm_tokens_cache.get(config)
    if cached is None:
        cached = _llm_tokens_cache[config] = llm_analysis.trigger_tokens(config)
    return cached


_SPELLED, _BY_PATTERN, _NOT = 1, 2, 0  # `_LLMWords` answers


class _LLMWords:
    """Is an identifier one through which `LLMFacts.is_llm` may take an expression of a function
    for an LLM, outside a class (`self`) and apart from the file's own classes and import
    renames (`ModuleFacts` adds those)? `_SPELLED`: a configured attribute or name (`llm`), a
    specific source (`get_all_llms`), the last name of a configured class, the head of a
    configured class's module (`openhands.sdk.LLM`), or a name holding a bare class name, a
    registry hint (`registry.get(...)`, `self.llms`) or an unqualified pattern's text.
    `_BY_PATTERN`: a name the last part of a pattern matches (`*Model`), which is an LLM class
    only when its qualified name is (`mod.FooModel`, `from .x import FooModel`; not
    `from pydantic import BaseModel`). Every step `is_llm` takes inside a function (a
    parameter's annotation, a local's assigned value, a loop's source, a copy's receiver, a
    source or registry call) ends at one of them. Model-name fields (`model`) make a class an
    LLM class only with a model-call method or request-extras field (`behaviour`)."""

    def __init__(self, config: Config) -> None:
        spellings = llm_analysis.llm_spellings(config)
        self.patterns, qualified, bare = llm_analysis.llm_class_names(config)
        named = bare | frozenset(config.llm_attributes) | frozenset(
            s for s in spellings.words if s not in llm_analysis.MODEL_NAME_FIELDS)
        self.exact = named | spellings.heads | frozenset(q.rsplit(".", 1)[-1] for q in qualified)
        self.globs = tuple(sorted({p.rsplit(".", 1)[-1] for p in self.patterns}))
        self.parts = tuple(sorted({*spellings.bare, *spellings.anywhere,
                                   *llm_analysis.REGISTRY_HINTS}))
        self.prefixes = spellings.head_prefixes
        self.behaviour = (llm_analysis.MODEL_CALL_METHODS | llm_analysis.EMBEDDING_CALL_METHODS
                          | frozenset(config.llm_call_methods)
                          | frozenset(config.request_extra_fields))
        self._known: dict[str, int] = {}

    def __call__(self, identifier: str) -> int:
        known = self._known.get(identifier)
        if known is None:
            if identifier in self.exact or any(part in identifier for part in self.parts) \
                    or (bool(self.prefixes) and identifier.startswith(self.prefixes)):
                known = _SPELLED
            elif any(fnmatch.fnmatchcase(identifier, glob) for glob in self.globs):
                known = _BY_PATTERN
            else:
                known = _NOT
            self._known[identifier] = known
        return known

    def pattern_matches(self, qualified: str) -> bool:
        return any(fnmatch.fnmatchcase(qualified, p) for p in self.patterns)


@lru_cache(maxsize=8)
def _llm_words(config: Config) -> _LLMWords:
    return _LLMWords(config)


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _module_level_names(tree: ast.Module) -> frozenset[str]:
    """Names bound by an assignment at module level (in `if`/`try` blocks too)."""
    names: set[str] = set()
    for statement in _statements(tree.body, into_try_star=True):
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            for target in (statement.targets if isinstance(statement, ast.Assign)
                           else [statement.target]):
                if isinstance(target, ast.Name):
                    names.add(target.id)
    return frozenset(names)


def _statements(body: list[ast.stmt], into_try_star: bool):
    """Statements of a body and of the blocks nested in it (and except handlers); nested
    functions and classes are yielded but not entered."""
    stack: list[ast.AST] = list(body)
    while stack:
        statement = stack.pop()
        yield statement
        if isinstance(statement, _SCOPES):
            continue
        if _TRY_STAR is not None and isinstance(statement, _TRY_STAR) and not into_try_star:
            continue
        for name in ("body", "orelse", "finalbody"):
            stack.extend(getattr(statement, name, None) or ())
        for handler in getattr(statement, "handlers", None) or ():
            yield handler
            stack.extend(handler.body)
        for case in getattr(statement, "cases", None) or ():
            stack.extend(case.body)


def _bind(target: ast.AST, names: set[str]) -> None:
    """The names a target binds (`a, (b, *c) = ...`), with a worklist: no recursion."""
    todo = [target]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Starred):
            todo.append(node.value)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            todo.extend(node.elts)


def _scope_names(fn, lines: list[str], facts: ModuleFacts):
    """(locals, names declared `global`, locals bound to `os.environ`), as `local_bindings` and
    `globals.declared_global` see them, or fewer locals / more globals."""
    args = fn.args
    local = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            local.add(extra.arg)
    declared: set[str] = set()
    for statement in _statements(fn.body, into_try_star=True):
        if isinstance(statement, ast.Global):
            declared.update(statement.names)
    aliases: set[str] = set()
    first = fn.body[0]
    row = first.lineno - 1
    if row >= len(lines) or lines[row][: first.col_offset].strip() \
            or (row and lines[row - 1].rstrip().endswith("\\")):
        # The body shares the `def` line (maybe through a backslash): libcst's suite holds no
        # statement lines, and the local analysis records only the parameters.
        return local - declared, declared, aliases
    for statement in _statements(fn.body, into_try_star=False):
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                _bind(target, local)
                if isinstance(target, ast.Name) and facts.resolves_into(statement.value, ENVIRON):
                    aliases.add(target.id)
        elif isinstance(statement, ast.AnnAssign):
            if statement.value is not None:
                _bind(statement.target, local)
                if isinstance(statement.target, ast.Name) \
                        and facts.resolves_into(statement.value, ENVIRON):
                    aliases.add(statement.target.id)
        elif isinstance(statement, (ast.For, ast.AsyncFor)):
            _bind(statement.target, local)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                if item.optional_vars is not None:
                    _bind(item.optional_vars, local)
        elif isinstance(statement, ast.ExceptHandler):
            if statement.name:
                local.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                if alias.asname:
                    local.add(alias.asname)
                elif alias.name != "*" and "." not in alias.name:
                    local.add(alias.name)
        elif isinstance(statement, _SCOPES):
            local.add(statement.name)
    return local - declared, declared, aliases


def _dynamic_import(value: ast.expr) -> str | None:
    """`semantic.dynamic_import` on CPython's tree: `importlib.import_module("a.b")`, also
    inside `cast(T, ...)`."""
    if type(value) is not ast.Call:
        return None  # asked of every assignment of the file: most values are no call
    callee = _dotted(value.func)
    if callee in ("cast", "typing.cast") and len(value.args) == 2 and not value.keywords:
        value = value.args[1]
        callee = _dotted(value.func) if isinstance(value, ast.Call) else None
    if not (callee in IMPORT_MODULE and isinstance(value, ast.Call)
            and len(value.args) == 1 and not value.keywords):
        return None
    arg = value.args[0]
    name = arg.value if isinstance(arg, ast.Constant) and type(arg.value) is str else None
    return name if name and not name.startswith(".") else None
