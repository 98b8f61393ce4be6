"""A project fact: can a conversation-scoped header be in an LLM's header field at all?

LLA004 reports a replace of the LLM's headers (`llm.extra_headers`) by call-site headers. That
replace loses a conversation-scoped header only when one can be in the replaced dict: some code
of the project writes a scoped header key (`x-litellm-session-id`, see header_keys.py) into an
LLM object's header field, by an attribute write (`llm.extra_headers = {KEY: ...}`), an item
write (`llm.extra_headers[KEY] = ...`), an `update`/`setdefault`, `setattr`, a pinned copy
(`llm.model_copy(update={"extra_headers": {KEY: ...}})`) or a constructor
(`LLM(extra_headers={KEY: ...})`), directly or through a helper.

The census decides it over the package tree of the file being checked (the top folder of the
chain of `__init__.py` folders around it), cheaply and on the safe side:

1. text: only files whose text holds a scoped key token (any case) can spell the key
   (header_keys.header_key_tokens); those that spell it as a string of its own (not only in a
   comment or a longer text) are the *key files*;
2. each key file is parsed with `ast`; the names that carry the key out of it (a module or
   class constant bound to it, a function or method that returns a value while its body spells
   it) are *carriers*; package files whose text names a carrier are parsed too;
3. a scope of those files (a function with its closures, a class body, the module's own
   statements) that spells a key or names a carrier, and touches a header field (see
   `touches_header_field`), *may* put a scoped header into an LLM's header field.

"Touches a header field" is syntactic and wide on purpose: a store into or through an attribute
named by `header-keywords` (`x.extra_headers = ...`, `x.extra_headers[k] = ...`,
`x.extra_headers.update(...)`), `setattr(x, "extra_headers", ...)`, an alias of such an attribute
(`h = x.extra_headers`), a dict key `"extra_headers"` (`model_copy(update={...})`), or a
header keyword argument to a call that is not a request (`LLM(extra_headers=...)`, a factory).
Which object is written is not asked: an over-wide census only keeps a finding.

A file that cannot be read or parsed, a tree too large to enumerate, or a file that is not in a
package at all gives no census (None): the rule then reports as before. What it cannot see:
code outside the package tree (an application, another distribution of a namespace package)
that writes the key into an LLM it got from the package, and a key spelled dynamically.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lint_rules.analysis.header_keys import header_key_tokens
from lint_rules.core.config import Config
from lint_rules.core.module_files import listing
from lint_rules.core.source import SourceDecodeError, decode_source
from lint_rules.syntax.parse import ast_tree

MAX_FILES = 5000  # a larger tree is not enumerated (no census, the rule reports)


def package_root(path: str | Path) -> Path | None:
    """The top folder of the chain of packages holding the file, None outside a package."""
    try:
        folder = Path(path).resolve().parent
    except (OSError, RuntimeError, ValueError):
        return None
    if not (folder / "__init__.py").is_file():
        return None
    while folder.parent != folder and (folder.parent / "__init__.py").is_file():
        folder = folder.parent
    return folder


@dataclass(frozen=True)
class HeaderCensus:
    root: str
    # Where a scoped header may be written into an LLM's header field ("path:line").
    pinned_at: tuple[str, ...]

    @property
    def may_hold_scoped_header(self) -> bool:
        return bool(self.pinned_at)


@dataclass
class Walked:
    folders: list[str]
    files: list[str]


def walk_package(root: Path) -> Walked | None:
    """Every folder and Python file of the tree, iteratively; None when it is too large or
    cannot be listed."""
    folders: list[str] = []
    files: list[str] = []
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        try:
            entries = listing(folder)
        except OSError:
            return None
        for item in reversed(entries):
            kind, name = item.split(":", 1)
            full = os.path.join(folder, name)
            if kind == "d":
                stack.append(full)
            else:
                files.append(full)
        if len(files) > MAX_FILES:
            return None
    return Walked(folders, files)


def take_census(root: Path, config: Config,
                read: Callable[[str], bytes | None]) -> HeaderCensus | None:
    """The census of one package tree (`read(path)` gives a file's bytes, None if unreadable)."""
    walked = walk_package(root)
    if walked is None:
        return None
    tokens = [t.lower() for t in header_key_tokens(config)]
    if not tokens:
        return HeaderCensus(str(root), ())
    keywords = frozenset(config.header_keywords)
    requests = frozenset(config.llm_call_methods)
    keys = frozenset(k.lower() for k in config.scoped_header_keys if k)
    texts: dict[str, str] = {}
    for path in walked.files:
        data = read(path)
        if data is None:
            return None
        try:
            texts[path] = decode_source(data).text
        except SourceDecodeError:
            return None
    # Pass 1: key files (they spell a key as a string of its own) and their carriers.
    trees: dict[str, ast.Module] = {}
    carriers: set[str] = set()
    for path, text in texts.items():
        lowered = text.lower()
        if not any(t in lowered for t in tokens):
            continue
        tree = _parse(text)
        if tree is None:
            return None  # a key file the census cannot read: no fact
        if any(_is_key(n, keys) for n in ast.walk(tree)):
            trees[path] = tree
            carriers |= _carriers(tree, keys)
    # Pass 2: files that name a carrier (text first, then parsed).
    pinned: list[str] = []
    if carriers:
        word = re.compile(r"\b(?:%s)\b" % "|".join(sorted(map(re.escape, carriers))))
        for path, text in texts.items():
            if path in trees or not word.search(text):
                continue
            tree = _parse(text)
            if tree is None:
                # (a newer grammar than this Python's `ast`): it can touch a header field only
                # where its text names a header keyword.
                if any(re.search(r"\b%s\b" % re.escape(k), text) for k in keywords):
                    pinned.append(f"{path}:0")
                continue
            trees[path] = tree
    # A scope that spells a key or names a carrier, and touches a header field.
    for path, tree in trees.items():
        for scope, in_class in _scopes(tree):
            if not any(_is_key(n, keys) or _names(n, carriers) for n in scope):
                continue
            line = touches_header_field(scope, keywords, requests, in_class)
            if line is not None:
                pinned.append(f"{path}:{line}")
    return HeaderCensus(str(root), tuple(sorted(set(pinned))))


def _names(node: ast.AST, carriers: set[str]) -> bool:
    return (isinstance(node, ast.Name) and node.id in carriers) or \
        (isinstance(node, ast.Attribute) and node.attr in carriers)


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _scopes(tree: ast.Module) -> list[tuple[list[ast.AST], bool]]:
    """The nodes of each scope: every function with everything below it (a closure is judged
    with its function too), and the module's and each class's own statements (without the
    bodies of their functions and classes). True for a class body."""
    out: list[tuple[list[ast.AST], bool]] = []
    pending: list[tuple[list[ast.stmt], bool]] = [(tree.body, False)]
    while pending:
        body, in_class = pending.pop()
        own: list[ast.AST] = []
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                pending.append((stmt.body, True))
                own.extend(stmt.decorator_list)
                own.extend(stmt.bases)
                own.extend(n for k in stmt.keywords for n in ast.walk(k))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nodes = list(ast.walk(stmt))
                out.append((nodes, False))
                pending.extend((n.body, True) for n in nodes if isinstance(n, ast.ClassDef))
            else:
                own.extend(ast.walk(stmt))
        out.append((own, in_class))
    return out


def _parse(text: str) -> ast.Module | None:
    return ast_tree(text)  # deep code: retried on a deep stack


def _is_key(node: ast.AST, keys: frozenset[str]) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in keys


def _carriers(tree: ast.Module, keys: frozenset[str]) -> set[str]:
    """Names that carry a key out of its scope: a module or class constant, or an attribute
    (`self._headers = {KEY: ...}`), bound to a value that spells one; a function or method that
    returns a value while its body spells one (a header-dict builder). A local variable, or a
    function that only writes the key, is judged in its own scope."""
    out: set[str] = set()
    top = {id(n) for n in tree.body} | {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                                        for n in c.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            if any(_is_key(n, keys) for n in ast.walk(node.value)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for part in ast.walk(t) if isinstance(t, (ast.Tuple, ast.List)) else [t]:
                        if isinstance(part, ast.Name) and id(node) in top:
                            out.add(part.id)
                        elif isinstance(part, ast.Attribute):
                            out.add(part.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside = list(ast.walk(node))
            if any(_is_key(n, keys) for n in inside) and any(
                    isinstance(n, (ast.Return, ast.Yield)) and n.value is not None for n in inside):
                out.add(node.name)
    return out


def _field(node: ast.AST, keywords: frozenset[str]) -> bool:
    """`x.extra_headers`, possibly below subscripts (`x.extra_headers[k]`)."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr in keywords


def touches_header_field(nodes: ast.AST | list[ast.AST], keywords: frozenset[str],
                         requests: frozenset[str], in_class: bool = False) -> int | None:
    """The first line, among `nodes` (a tree, or the nodes of one scope), that writes into,
    aliases, or builds an object with a header field. In a class body, a field declared
    with a value (`extra_headers: dict = {...}`) counts too."""
    for node in (ast.walk(nodes) if isinstance(nodes, ast.AST) else nodes):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if in_class and isinstance(target, ast.Name) and target.id in keywords:
                    return node.lineno
                for part in ast.walk(target):
                    if isinstance(part, (ast.Attribute, ast.Subscript)) and _field(part, keywords):
                        return node.lineno
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr in keywords:
                return node.lineno  # an alias of the field: writes through it are writes to it
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and _field(func.value, keywords):
                if func.attr in ("update", "setdefault", "__setitem__", "__ior__"):
                    return node.lineno
            if (isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in keywords):
                return node.lineno
            called = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            if called not in requests and any(k.arg in keywords for k in node.keywords):
                return node.lineno
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in keywords:
                    return node.lineno
    return None
