"""LLA005's second prefilter stage: "may this file hold a finding?", on CPython's `ast`.

Stage one (the trigger tokens) lets a file through when it merely *mentions* a credential name
(`token`, `password`, `secret`...): a tenth of the standard library, a quarter of its bytes. A
finding needs two things in one function, and both are cheap to over-approximate on the `ast`
(about ten times cheaper to build than a libcst tree):

1. instance data (`InstanceData` in `globals.py`): a credential spelled as an identifier or a
   string the way `InstanceData.is_credential` matches it, or one of the rule's other trigger
   tokens (scoped values, LLM tokens) in the text;
2. a write that `GlobalSinks` could call process-global (`os.environ`, `os.putenv`, a name
   declared `global`, a module-level name, a class attribute, a configured library global,
   `setattr` on a class) inside a function.

Every test here answers "maybe" whenever the libcst analysis could answer "yes": names count as
local only where `dataflow.local_defs` records them too (so a one-line `def f(): x = 1` body
has no locals, `import a.b` binds nothing, `try/except*` bodies are not looked into), and
imports count wherever they are in the file. Keep this module in step with `globals.py`:
`tests/test_prefilter.py` compares both on the fixtures and on a standard library sample, sink
by sink.
"""

from __future__ import annotations

import ast
import fnmatch

from lint_rules.analysis.globals import (
    ENVIRON, MUTATORS, PUTENV, credential_matcher, instance_data_tokens,
)
from lint_rules.config import Config

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TRY_STAR = getattr(ast, "TryStar", None)  # Python 3.11+
# How `InstanceData` reads an identifier: by its name, not at all (the object an attribute is
# read from, a function called, a container indexed), or as a method call's callee (its name
# is not read, its receiver is).
_READ, _UNREAD, _CALLEE = 0, 1, 2


def may_leak_into_globals(tree: ast.Module, source: str, config: Config) -> bool:
    facts = _FileFacts(tree, config)
    return facts.has_instance_data(source) and _writes_shared_state(facts, source)


def holds_instance_data(tree: ast.Module, source: str, config: Config) -> bool:
    """Half 1 alone: could `InstanceData.describe` name anything in this file?"""
    return _FileFacts(tree, config).has_instance_data(source)


def writes_shared_state(tree: ast.Module, source: str, config: Config) -> bool:
    """Half 2 alone: could `GlobalSinks` see a write into shared state in a function?"""
    return _writes_shared_state(_FileFacts(tree, config), source)


def _writes_shared_state(facts: _FileFacts, source: str) -> bool:
    # Python's own line breaks only (`str.splitlines` also splits at form feeds).
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for fn, targets, calls in facts.functions:
        if not targets and not calls:
            continue
        scope = _FunctionScope(fn, lines, facts)
        if any(scope.target_is_shared(t) for t in targets):
            return True
        if any(scope.call_is_shared(c) for c in calls):
            return True
    return False


class _FileFacts:
    """One walk over the module: imports, class names, module-level names, credential-like
    identifiers, and per function the assignment targets and calls it holds itself."""

    def __init__(self, tree: ast.Module, config: Config) -> None:
        self.config = config
        self.patterns = tuple(config.library_globals)
        self.llm_classes = frozenset(c.rsplit(".", 1)[-1] for c in config.llm_classes)
        self.imports: dict[str, set[str | None]] = {}  # None: a relative import (not resolved here)
        self.classes: set[str] = set()
        self.credential_seen = False
        # (function, assignment targets, calls) in the function's own body and decorators
        self.functions: list[tuple[ast.AST, list[ast.expr], list[ast.Call]]] = []
        self.module_names = _module_level_names(tree)
        is_credential = credential_matcher(config)
        own: dict[int, tuple[list[ast.expr], list[ast.Call]]] = {}
        # (node, enclosing function or None, how `InstanceData` would read the node)
        stack: list[tuple[ast.AST, ast.AST | None, int]] = [(tree, None, _READ)]
        pop, push = stack.pop, stack.append
        while stack:
            node, fn, role = pop()
            kind = type(node)
            if kind is ast.Name:
                if role == _READ and not self.credential_seen and is_credential(node.id):
                    self.credential_seen = True
                continue
            if kind is ast.Constant:
                value = node.value
                if type(value) is str and not self.credential_seen and is_credential(value):
                    self.credential_seen = True
                continue
            if kind is ast.Attribute:
                if role == _READ and not self.credential_seen and is_credential(node.attr):
                    self.credential_seen = True
                # An attribute is judged by its own name, never by the object it is read
                # from; a method call carries its receiver (`self.api_key.strip()`).
                push((node.value, fn, _READ if role == _CALLEE else _UNREAD))
                continue
            if kind is ast.Call:
                func = node.func
                if fn is not None:
                    own[id(fn)][1].append(node)
                callee = type(func)
                push((func, fn, _CALLEE if callee is ast.Attribute
                      else _UNREAD if callee is ast.Name else _READ))
                for child in (*node.args, *node.keywords):
                    push((child, fn, _READ))
                continue
            if kind is ast.Subscript:
                push((node.value, fn, _UNREAD))  # an element is judged by its key only
                push((node.slice, fn, _READ))
                continue
            if kind in _FUNCTIONS:
                own[id(node)] = ([], [])
                self.functions.append((node, *own[id(node)]))
                fn = node
            elif kind is ast.ClassDef:
                self.classes.add(node.name)
            elif kind is ast.Import:
                for alias in node.names:
                    if alias.asname:
                        self.imports.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        head = alias.name.split(".")[0]
                        self.imports.setdefault(head, set()).add(head)
            elif kind is ast.ImportFrom:
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    full = f"{node.module}.{alias.name}" if node.module else alias.name
                    self.imports.setdefault(alias.asname or alias.name, set()).add(
                        None if node.level else full)
            elif fn is not None and kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
                if kind is ast.Assign:
                    own[id(fn)][0].extend(node.targets)
                elif kind is ast.AugAssign or node.value is not None:
                    own[id(fn)][0].append(node.target)
            for child in ast.iter_child_nodes(node):
                push((child, fn, _READ))

    def has_instance_data(self, source: str) -> bool:
        if self.credential_seen:
            return True
        others = _other_tokens(self.config)
        return any(token in source for token in others)

    # ------------------------------------------------------------------ names
    def resolutions(self, spelled: str) -> set[str] | None:
        """What a dotted spelling may resolve to through the imports (None: unknown)."""
        head, _, rest = spelled.partition(".")
        out = {spelled}
        for target in self.imports.get(head, ()):
            if target is None:
                return None
            out.add(f"{target}.{rest}" if rest else target)
        return out

    def library_global(self, spelled: str) -> bool:
        if spelled.split(".")[0] not in self.imports:
            return False
        resolved = self.resolutions(spelled)
        return resolved is None or any(fnmatch.fnmatchcase(r, p) for r in resolved
                                       for p in self.patterns)

    def resolves_into(self, node: ast.expr, names: frozenset[str]) -> bool:
        spelled = _dotted(node)
        if spelled is None:
            return False
        resolved = self.resolutions(spelled)
        return resolved is None or not resolved.isdisjoint(names)


class _FunctionScope:
    """`GlobalSinks.target` / `GlobalSinks.call`, answered "maybe" generously, in one function."""

    def __init__(self, fn, lines: list[str], facts: _FileFacts) -> None:
        self.facts = facts
        self.local, self.declared, self.environ_aliases = _scope_names(fn, lines, facts)
        self.cls_param: str | None = None
        if any(isinstance(d, ast.Name) and d.id == "classmethod" for d in fn.decorator_list):
            params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
            self.cls_param = params[0].arg if params else None

    def target_is_shared(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Subscript):
            return self.container_is_shared(target.value)
        if self.facts.resolves_into(target, ENVIRON):
            return True
        if isinstance(target, ast.Attribute):
            return self.attribute_is_shared(target)
        if isinstance(target, ast.Name):
            return target.id in self.declared
        return False

    def call_is_shared(self, call: ast.Call) -> bool:
        func = call.func
        if self.facts.resolves_into(func, PUTENV):
            return True
        if isinstance(func, ast.Attribute) and func.attr in MUTATORS:
            return self.container_is_shared(func.value)
        if isinstance(func, ast.Name) and func.id == "setattr" \
                and len(call.args) + len(call.keywords) == 3 and call.args:
            owner = call.args[0]
            spelled = _dotted(owner)
            name = call.args[1] if len(call.args) > 1 else None
            attr = name.value if isinstance(name, ast.Constant) and type(name.value) is str else "*"
            return self.is_class(owner) or (spelled is not None
                                            and self.facts.library_global(f"{spelled}.{attr}"))
        return False

    def container_is_shared(self, node: ast.expr) -> bool:
        if self.facts.resolves_into(node, ENVIRON):
            return True
        if isinstance(node, ast.Name):
            name = node.id
            # Imports count wherever they are (libcst sees only those above the write), so a
            # name may be both an import and a module-level container.
            return (name in self.environ_aliases
                    or (name in self.facts.imports and self.facts.library_global(name))
                    or (name not in self.local and name in self.facts.module_names))
        if isinstance(node, ast.Attribute):
            return self.attribute_is_shared(node)
        return False

    def attribute_is_shared(self, node: ast.Attribute) -> bool:
        spelled = _dotted(node)
        if spelled is not None and self.facts.library_global(spelled):
            return True
        return self.is_class(node.value)

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
            last = target.rsplit(".", 1)[-1] if target is not None else ""
            if target is None or last[:1].isupper() or last in self.facts.llm_classes:
                return True
        return False


# ---------------------------------------------------------------------- helpers
_other_tokens_cache: dict[Config, tuple[str, ...]] = {}


def _other_tokens(config: Config) -> tuple[str, ...]:
    """LLA005's trigger tokens that are not credential names (those are matched on identifiers)."""
    cached = _other_tokens_cache.get(config)
    if cached is None:
        credentials = set(config.credential_names)
        cached = tuple(t for t in instance_data_tokens(config) if t not in credentials)
        _other_tokens_cache[config] = cached
    return cached


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
    if isinstance(target, ast.Name):
        names.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _bind(element.value if isinstance(element, ast.Starred) else element, names)


def _scope_names(fn, lines: list[str], facts: _FileFacts):
    """(locals, names declared `global`, locals bound to `os.environ`), as `dataflow` and
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
