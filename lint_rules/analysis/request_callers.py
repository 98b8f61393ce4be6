"""Do all callers of a header-replacing step re-inject the scoped header later? (LLA004)

A module-level function that replaces the request's headers by the LLM's or the caller's and
returns the dict (openhands-sdk's `apply_extra_headers(user_kwargs, llm) -> dict`) is harmless
when every caller later writes the scoped key into that dict with the conversation's value
winning (`apply_llm_call_context(out, context)`, whose body does
`options["extra_headers"] = {**existing, KEY: context.session_id}`).

The callers are searched in the package tree (the files whose text names the function), with
`ast`, strictly: every occurrence of the name must be an import of it under its own name, or a
call `x = f(...)` that is a statement of a function body followed, in the same block, by a
statement that re-injects into `x`: by itself (`x["extra_headers"] = {**..., KEY: v}`,
`x["extra_headers"][KEY] = v`, `x["extra_headers"].update({KEY: v})`) or by passing `x` to a
function of the package (same module, or imported from a package module by name) whose body
does that to the parameter `x` is bound to. No caller, an alias, a use as a value, a name in
`__all__`, a file that cannot be parsed: unresolved, and the replace is reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from lint_rules.core.config import Config
from lint_rules.core.source import SourceDecodeError, decode_source
from lint_rules.syntax.parse import ast_tree


def _text(path: str, read: Callable[[str], bytes | None]) -> str | None:
    data = read(path)
    if data is None:
        return None
    try:
        return decode_source(data).text
    except SourceDecodeError:
        return None


def _parse(text: str) -> ast.Module | None:
    return ast_tree(text)  # deep code: retried on a deep stack


class _Injection:
    def __init__(self, config: Config) -> None:
        self.keys = frozenset(k.lower() for k in config.scoped_header_keys if k)
        self.keywords = frozenset(config.header_keywords)

    def is_key(self, node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) \
            and node.value.lower() in self.keys

    def _headers_of(self, node: ast.AST, name: str) -> bool:
        """`name["extra_headers"]`."""
        return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id == name and isinstance(node.slice, ast.Constant)
                and node.slice.value in self.keywords)

    def _key_last(self, value: ast.AST) -> bool:
        if not isinstance(value, ast.Dict):
            return False
        spreads = [i for i, k in enumerate(value.keys) if k is None]
        start = spreads[-1] + 1 if spreads else 0
        return any(self.is_key(k) for k in value.keys[start:])

    def statement(self, stmt: ast.stmt, name: str) -> bool:
        """Does the statement (anywhere inside it) write the key into `name`'s headers, the key
        winning?"""
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if self._headers_of(target, name) and self._key_last(node.value):
                        return True
                    if (isinstance(target, ast.Subscript) and self._headers_of(target.value, name)
                            and self.is_key(target.slice)):
                        return True
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "update" and self._headers_of(node.func.value, name):
                if any(self._key_last(a) for a in node.args):
                    return True
        return False

    def function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, param: str) -> bool:
        return any(self.statement(s, param) for s in fn.body)


def callers_reinject(root: Path, path: str, name: str, config: Config,
                     read: Callable[[str], bytes | None], files: list[str]) -> bool:
    """True when every use of the module-level function `name` of `path` in the package tree
    is a call whose result is re-injected later (see the module docstring)."""
    inject = _Injection(config)
    word = re.compile(r"\b%s\b" % re.escape(name))
    trees: dict[str, ast.Module] = {}
    calls = 0
    for file in files:
        text = _text(file, read)
        if text is None:
            return False
        if not word.search(text):
            continue
        tree = _parse(text)
        if tree is None:
            return False
        trees[file] = tree
        verdict = _file_uses(tree, file, path, name, inject, root, read)
        if verdict is None:
            return False
        calls += verdict
    return calls > 0


def _file_uses(tree: ast.Module, file: str, home: str, name: str, inject: _Injection,
               root: Path, read) -> int | None:
    """Number of re-injected calls in the file, None when any use is not one."""
    ok_nodes: set[int] = set()
    count = 0
    imported: dict[str, tuple[str, str]] = {}  # local name -> (module, name) of `from m import g`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
                if alias.name == name and alias.asname not in (None, name):
                    return None  # an alias: its uses are not followed
    local_defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        blocks = [fn.body]
        for inner in ast.walk(fn):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(inner, field, None)
                if inner is not fn and isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    blocks.append(block)
        for block in blocks:
            for i, stmt in enumerate(block):
                if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)
                        and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == name):
                    continue
                target = stmt.targets[0].id
                if any(_reinjects(later, target, inject, local_defs, imported, root, read)
                       for later in block[i + 1:]):
                    ok_nodes.add(id(stmt.value.func))
                    count += 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and id(node) not in ok_nodes:
            return None  # a use that is not a re-injected call
        if isinstance(node, ast.Attribute) and node.attr == name:
            return None
        if isinstance(node, ast.Constant) and node.value == name:
            return None  # `__all__`, getattr: exported or reached by name
    return count


def _reinjects(stmt: ast.stmt, target: str, inject: _Injection, local_defs, imported,
               root: Path, read) -> bool:
    if inject.statement(stmt, target):
        return True
    for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
        if not isinstance(call.func, ast.Name):
            continue
        params = _bound_params(call, target)
        if not params:
            continue
        callee = local_defs.get(call.func.id) or _imported_def(call.func.id, imported, root, read)
        if callee is None:
            continue
        names = [a.arg for a in callee.args.posonlyargs + callee.args.args]
        for index, keyword in params:
            param = keyword if keyword is not None else (names[index] if index < len(names) else None)
            if param is not None and inject.function(callee, param):
                return True
    return False


def _bound_params(call: ast.Call, target: str) -> list[tuple[int, str | None]]:
    out: list[tuple[int, str | None]] = []
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Name) and arg.id == target:
            out.append((i, None))
    for kw in call.keywords:
        if kw.arg is not None and isinstance(kw.value, ast.Name) and kw.value.id == target:
            out.append((-1, kw.arg))
    return out


def _imported_def(local: str, imported: dict[str, tuple[str, str]], root: Path, read):
    found = imported.get(local)
    if found is None:
        return None
    module, original = found
    parts = module.split(".")
    # The module inside the package tree: root is the top package folder.
    if parts[0] != root.name and root.name not in parts:
        return None
    rel = parts[parts.index(root.name) + 1:]
    for candidate in (root.joinpath(*rel).with_suffix(".py") if rel else root / "__init__.py",
                      root.joinpath(*rel, "__init__.py")):
        text = _text(str(candidate), read) if candidate.is_file() else None
        if text is None:
            continue
        tree = _parse(text)
        if tree is None:
            return None
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == original:
                return node
    return None
