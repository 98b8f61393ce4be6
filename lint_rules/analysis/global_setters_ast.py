"""May a module-level function store a parameter into process-global state? Read on `ast`.

The gate in front of LLA005's hop across modules (`EffectSummaries.resolve_remote`): the hop
needs the callee's `FunctionSummary.globals_written` (global_setters.py), which costs a libcst
parse and the summary of every function of the callee's module. Most functions a call site
hands tenant data to store nothing anywhere, so the index first answers this on CPython's tree
(`ProjectIndex.may_store_globally`): an over-approximation of `globals_written`, which records
only a *bare parameter* written by an assignment or an augmented assignment into a `GlobalSinks`
target, or passed to a sink call. So a function may store one only when its body (nested code
included, to stay simple) has

- an assignment (plain, augmented, annotated) whose value is one of its parameters and whose
  target may be a sink: a subscript or attribute of something `GlobalSinks` can call shared (see
  `_may_be_shared`), or a name the function declares `global` or the module imports;
- a call passing one of its parameters (positionally or by keyword) to a mutator of a
  container (`MUTATORS`: `.append`, `.update`, `.__setitem__`...) that may be shared, a
  library's configuration call (`LIBRARY_CONFIG_CALL`: `.set_x`, `.configure`...) on an
  attribute chain, `putenv` (`os.putenv`, or imported under any name) or `setattr`.

A parameter's own fields are not shared (`GlobalSinks` takes a name bound in the function for
local, unless the module imports the same name); neither is a local variable, unless the
function spells `environ` (`env = os.environ; env[k] = v`).

A name bound by a top-level import (a re-export) is followed one step, as
`EffectSummaries._remote` follows it: `StoringFacts.reexports` gives its qualified name, and the
project index asks the module that defines it. A name that is not a module-level function (a
class: its constructor is a bound call, which the hop leaves alone) or not in the module: "no".
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass

from lint_rules.analysis.process_state import LIBRARY_CONFIG_CALL, MUTATORS
from lint_rules.syntax.ast_fields import walk
from lint_rules.syntax.semantic import relative_base

_CALLED_BY_NAME = frozenset({"setattr", "putenv"})


@dataclass(frozen=True)
class StoringFacts:
    """What the project index keeps per module (not the tree): the module-level functions that
    may store a parameter, and what each top-level import binds (local name -> qualified name,
    relative imports resolved; a plain `import a.b` binds `a` to `a`)."""
    functions: frozenset[str]
    reexports: dict[str, str]


def may_store_parameter(tree: ast.Module, name: str) -> bool:
    """Could `globals_written` list a parameter of the module-level function `name` (a
    re-export: maybe)?"""
    facts = storing_facts(tree)
    return name in facts.functions or name in facts.reexports


def storing_facts(tree: ast.Module, module_name: str = "", is_package: bool = False
                  ) -> StoringFacts:
    """`StoringFacts` of a module, in one pass over its top level; `module_name` and
    `is_package` resolve its relative imports (`semantic.relative_base`)."""
    defined: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    reexports: dict[str, str] = {}
    for statement in _top_level(tree):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.append(statement)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    reexports[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    reexports.setdefault(head, head)
        elif isinstance(statement, ast.ImportFrom):
            module = statement.module or ""
            if statement.level:
                base = relative_base(module_name, statement.level, is_package)
                module = ".".join(p for p in (base, module) if p)
            for alias in statement.names:
                if alias.name != "*":
                    full = f"{module}.{alias.name}" if module else alias.name
                    reexports[alias.asname or alias.name] = full
    imports = _Imports(tree)
    functions = frozenset(fn.name for fn in defined if _stores_parameter(fn, imports))
    return StoringFacts(functions, reexports)


class _Imports:
    """`_imported_names` of the module, walked on first use only: most functions have no
    store or call with a parameter to judge."""

    def __init__(self, tree: ast.Module) -> None:
        self._tree = tree
        self._names: dict[str, str] | None = None

    @property
    def names(self) -> dict[str, str]:
        if self._names is None:
            self._names = _imported_names(self._tree)
        return self._names


def _stores_parameter(found: ast.FunctionDef | ast.AsyncFunctionDef, imports: _Imports) -> bool:
    args = found.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    if not params:
        return False
    declared: set[str] = set()
    environ = False
    stores: list[ast.expr] = []  # targets assigned a bare parameter
    calls: list[ast.Call] = []  # calls passing a bare parameter
    for node in walk(found):
        kind = type(node)
        if kind is ast.Global:
            declared.update(node.names)  # type: ignore[attr-defined]
        elif (kind is ast.Name and node.id == "environ") or (  # type: ignore[attr-defined]
                kind is ast.Attribute and node.attr == "environ"):  # type: ignore[attr-defined]
            environ = True
        elif kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
            value = node.value  # type: ignore[attr-defined]
            if type(value) is ast.Name and value.id in params:
                stores.extend(node.targets if kind is ast.Assign else  # type: ignore[attr-defined]
                              [node.target])  # type: ignore[attr-defined]
        elif kind is ast.Call and any(
                type(v) is ast.Name and v.id in params  # type: ignore[attr-defined]
                for v in [*node.args, *(k.value for k in node.keywords)]):  # type: ignore[attr-defined]
            calls.append(node)  # type: ignore[arg-type]
    if not stores and not calls:
        return False
    shared = _Shared(params, imports, environ)
    if any(shared.target(t, declared) for t in stores):
        return True
    for call in calls:
        func = call.func
        if isinstance(func, ast.Attribute):
            if func.attr in _CALLED_BY_NAME or (
                    func.attr in MUTATORS and shared.container(func.value)):
                return True
            if LIBRARY_CONFIG_CALL.match(func.attr) and _root_name(func.value) is not None:
                return True
        elif isinstance(func, ast.Name) and (
                func.id in _CALLED_BY_NAME or imports.names.get(func.id) in _CALLED_BY_NAME):
            return True
    return False


class _Shared:
    """Which store targets and containers `GlobalSinks` may take for process-global state in a
    module-level function (`container`, `_attribute_sink`), over-approximated."""

    def __init__(self, params: set[str], imports: _Imports, environ: bool) -> None:
        self.params = params
        self.imports = imports
        self.environ = environ

    def target(self, node: ast.expr, declared: set[str]) -> bool:
        if isinstance(node, (ast.Tuple, ast.List)):
            return any(self.target(e, declared) for e in node.elts)
        if isinstance(node, ast.Starred):
            return self.target(node.value, declared)
        if isinstance(node, ast.Name):
            return node.id in declared or node.id in self.imports.names
        if isinstance(node, ast.Subscript):
            return self.container(node.value)
        return self.container(node)

    def container(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            # Imported (`from os import environ`, a library global), or a local alias of the
            # environment; any other name is a parameter, a local or a module-level container
            # of the callee's own module (not recorded).
            return self.environ or node.id in self.imports.names
        if isinstance(node, ast.Attribute):
            # A library global (an attribute chain from an import) or a class attribute
            # (`Config.x`, `type(self).x`, `cls.x`): not a field of a parameter.
            root = _root_name(node)
            return root is None or root not in self.params or root in self.imports.names
        return False


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The module's statements, those under top-level `if`/`try` blocks included (a function
    defined under `if TYPE_CHECKING:` or `try:` is still module-level), iteratively."""
    out: list[ast.stmt] = []
    stack = list(reversed(tree.body))
    while stack:
        statement = stack.pop()
        out.append(statement)
        if isinstance(statement, (ast.If, ast.Try, ast.With)) or type(statement).__name__ == "TryStar":
            inner: list[ast.stmt] = list(getattr(statement, "body", []))
            inner += getattr(statement, "orelse", [])
            inner += getattr(statement, "finalbody", [])
            for handler in getattr(statement, "handlers", []):
                inner += handler.body
            stack.extend(reversed(inner))
    return out


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Every name an import binds anywhere in the module -> the name it imports (`p` ->
    `putenv` for `from os import putenv as p`; `os` -> `os`)."""
    names: dict[str, str] = {}
    for node in _statements(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = alias.name.rsplit(".", 1)[-1] if alias.asname else local
    return names


def _statements(tree: ast.Module):
    """Every statement of the module at any depth (function and class bodies included) in
    `ast.walk`'s order (a name bound by two imports keeps the same one), without visiting
    expressions: imports are statements, and a module holds about ten expression nodes for
    each statement. Except handlers and match cases stand between a statement and the bodies
    they hold, as in the tree."""
    queue: deque[ast.AST] = deque(tree.body)
    while queue:
        node = queue.popleft()
        if isinstance(node, ast.stmt):
            yield node
        for field in node._fields:
            if field in _STATEMENT_FIELDS:
                queue.extend(getattr(node, field))


# Fields that hold statements, or the except handlers and match cases that hold them.
_STATEMENT_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
