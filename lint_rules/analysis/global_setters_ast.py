"""May a module-level function store a parameter into process-global state? Read on `ast`.

The gate in front of LLA005's hop across modules (`EffectSummaries.resolve_remote`): the hop
needs the callee's `FunctionSummary.globals_written` (global_setters.py), which costs a libcst
parse and the summary of every function of the callee's module. Most functions a call site
hands tenant data to store nothing anywhere, so the index first answers this on CPython's tree
(`ProjectIndex.may_store_globally`): an over-approximation of `globals_written`, which records
only a *bare parameter* written by an assignment, an augmented assignment or a call into a
sink. So a function may store one only when its body (nested code included, to stay simple)
has

- an assignment (plain, augmented, annotated) whose value is one of its parameters, or
- a call passing one of its parameters (positionally or by keyword) to a mutator of a
  container (`MUTATORS`: `.append`, `.update`, `.__setitem__`...), a library's configuration
  call (`LIBRARY_CONFIG_CALL`: `.set_x`, `.configure`...), `putenv` or `setattr`, or to any
  name the module imports (`from os import putenv as p`).

A name bound by an import only (a re-export) may be anything: answered "maybe". A name that is
not a module-level function (a class: its constructor is a bound call, which the hop leaves
alone) or not in the module: "no".
"""

from __future__ import annotations

import ast

from lint_rules.analysis.process_state import LIBRARY_CONFIG_CALL, MUTATORS

_CALLED_BY_NAME = frozenset({"setattr", "putenv"})


def may_store_parameter(tree: ast.Module, name: str) -> bool:
    """Could `globals_written` list a parameter of the module-level function `name`?"""
    return name in storing_names(tree)


def storing_names(tree: ast.Module) -> frozenset[str]:
    """Every name `may_store_parameter` answers True for, in one pass over the module: the
    module-level functions that may store a parameter and the names its top-level imports bind
    (a re-export may be anything). The project index keeps this set per module, not the tree."""
    defined: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    out: set[str] = set()
    for statement in _top_level(tree):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.append(statement)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            out.update(alias.asname or alias.name.split(".")[0] for alias in statement.names)
    imports = _imported_names(tree) if defined else set()
    out.update(fn.name for fn in defined if fn.name not in out and _stores_parameter(fn, imports))
    return frozenset(out)


def _stores_parameter(found: ast.FunctionDef | ast.AsyncFunctionDef, imports: set[str]) -> bool:
    args = found.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    if not params:
        return False
    for node in ast.walk(found):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            if isinstance(node.value, ast.Name) and node.value.id in params:
                return True
        elif isinstance(node, ast.Call):
            if not any(isinstance(v, ast.Name) and v.id in params
                       for v in [*node.args, *(k.value for k in node.keywords)]):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and (
                    func.attr in MUTATORS or func.attr in _CALLED_BY_NAME
                    or LIBRARY_CONFIG_CALL.match(func.attr)):
                return True
            if isinstance(func, ast.Name) and (func.id in _CALLED_BY_NAME or func.id in imports):
                return True
    return False


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


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names
