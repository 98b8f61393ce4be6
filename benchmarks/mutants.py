#!/usr/bin/env python3
"""Mutation benchmark on real SDK code: inject the domain's defects by script, measure recall.

    python benchmarks/mutants.py                   # default packages, 3 sites per operator/package
    python benchmarks/mutants.py --cap 6 --seed 2  # more sites, another sample
    python benchmarks/mutants.py --only openhands-sdk@1.30.0 --operators leak-subscript,swap-drop-pin
    python benchmarks/mutants.py --write-docs      # regenerate docs/mutation.md
    python benchmarks/mutants.py --list            # the operators

For each package of the chosen corpus releases (benchmarks/corpus.py), the script copies the
release root once to `benchmarks/.work/mutants/<name>-<version>/`, finds the sites of every
mutation operator in the real code with CPython's `ast` (a method of a class whose `__init__`
keeps a caller's agent/LLM by reference, a method or function with an LLM parameter, a pin
helper, a swap method that re-applies a pin, a call that threads `call_context=`...), samples at
most `--cap` sites per operator and package (seeded: the same sites every run), and applies each
mutant as a text edit of one file of the copy. The tool checks the mutated file in its package
(the engine, in-process, with a fresh project index over the copy, so cross-module facts such as
base classes in other files are seen), and the original file once.

A *defect* operator names the rule that must fire and the lines it must fire on (the inserted or
changed lines; for a swap operator, the swap method). It is detected when a finding of that code,
not present in the unmutated file (compared as a multiset of (code, line text)), lands on one of
those lines. A *safe* operator is a rewrite the domain says is fine (a write onto an owned copy, a
non-scoped value, a constant set at start-up, a swap that delegates, a merge where the pinned
header wins...): any new finding of any code is a false alarm.

The file is restored after each mutant; the copy is rebuilt when the release changes.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import platform
import random
import re
import shutil
import sys
import textwrap
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

WORK = HERE / ".work" / "mutants"
DOC = REPO / "docs" / "mutation.md"
HAND = "<!-- hand-written: kept by --write-docs -->"
DEFAULT_PACKAGES = ["openhands-sdk", "openai-agents", "camel-ai"]
# The attribute of an agent that holds its LLM, per package (default: `llm`, as in openhands).
AGENT_LLM_ATTR = {"openai-agents": "model", "smolagents": "model", "camel-ai": "model_backend"}
_agent_llm_attr = "llm"  # set per release by mutants_for
KEY = '"x-litellm-session-id"'
SID = "str(self.id)"  # documentation only: each site uses the id expression its class has


def _config():
    from lint_rules.core.config import Config

    return Config()


CONFIG = _config()
# Conversation-id expressions a method of a class can use, best first (the tool's defaults).
ID_EXPRS = ("self.id", "self._state.id", "self.state.id", "self.session_id", "self.conversation_id",
            "self._conversation_id")
ID_PARAMS = ("session_id", "conversation_id")
# Check each release with the settings its maintainers get from their pyproject.toml: the
# defaults and the SDK's preset, inferred from `[project] name` (corpus.mark_project writes it).
USE_PRESETS = True
LLM_NAME = re.compile(r"(^|_)(llm|model|agent|llms)($|_)", re.I)
PIN_NAME = re.compile(r"(^|_)(pin|bind)(_|$)", re.I)
SWAP_NAME = re.compile(r"switch|swap|set_llm|use_llm|replace_llm|update_llm", re.I)
CRED_NAME = re.compile(r"api_key|secret|token|password", re.I)
CALL_METHODS = {"completion", "acompletion", "responses", "aresponses", "generate", "agenerate"}


# ---------------------------------------------------------------------------- mutants
@dataclass
class Mutant:
    operator: str
    rule: str | None  # expected code; None for a safe rewrite
    path: str  # relative to the release root
    site: str  # qualname:line in the original file
    source: str  # the whole mutated file
    expected: frozenset[int]  # 1-based lines of the mutated file where the rule must fire


@dataclass
class FileCtx:
    path: str
    source: str
    tree: ast.Module
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.source.splitlines(keepends=True)


def _indent_of(ctx: FileCtx, lineno: int) -> str:
    line = ctx.lines[lineno - 1]
    return line[: len(line) - len(line.lstrip())]


def insert(ctx: FileCtx, before_line: int, indent: str, block: str) -> tuple[str, frozenset[int]]:
    """Insert `block` (dedented text) before 1-based line `before_line`; return text and its lines."""
    new = [indent + ln if ln.strip() else ln for ln in textwrap.dedent(block).strip("\n").split("\n")]
    lines = ctx.lines[: before_line - 1] + [ln + "\n" for ln in new] + ctx.lines[before_line - 1:]
    return "".join(lines), frozenset(range(before_line, before_line + len(new)))


def body_start(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt | None:
    """First statement after the docstring; None for one-line defs or docstring-only bodies."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body or body[0].lineno == func.lineno:
        return None
    return body[0]


def end_of(node: ast.AST) -> int:
    return node.end_lineno or node.lineno  # type: ignore[attr-defined]


def is_method(func: ast.AST) -> bool:
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    args = func.args.posonlyargs + func.args.args
    if not args or args[0].arg != "self":
        return False
    names = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in func.decorator_list}
    return not names & {"staticmethod", "classmethod", "overload", "abstractmethod"}


def classes(tree: ast.Module) -> Iterator[ast.ClassDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield node


def methods(cls: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in cls.body if is_method(n)]


def init_of(cls: ast.ClassDef):
    return next((m for m in methods(cls) if m.name == "__init__"), None)


def borrowed_attr(cls: ast.ClassDef) -> str | None:
    """`self.agent.llm` / `self.llm`: an LLM the class keeps by reference from `__init__`'s caller."""
    init = init_of(cls)
    if init is None:
        return None
    # A parameter annotated as a scalar is a model name or a flag (`AnyLLMModel(model: str)`).
    params = {a.arg for a in init.args.args + init.args.kwonlyargs if not _scalar_annotated(a)}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                    and isinstance(node.value, ast.Name) and node.value.id in params
                    and LLM_NAME.search(t.attr)):
                if "agent" in t.attr.lower():
                    return f"self.{t.attr}.{_agent_llm_attr}"
                if t.attr.lower() in ("llms",):
                    continue
                return f"self.{t.attr}"
    return None


def _scalar_annotated(arg: ast.arg) -> bool:
    """Annotated as a string, a number or a flag (`model: str | ChatModel`, where `ChatModel`
    is a literal of model names; `model_is_explicit: bool`): no LLM object."""
    return arg.annotation is not None and re.search(r"\b(str|bool|int|float)\b",
                                                    ast.unparse(arg.annotation)) is not None


def qual(cls: ast.ClassDef | None, func) -> str:
    return f"{cls.name}.{func.name}" if cls is not None else func.name


# Site finders: each yields (qualname, anchor statement, context) tuples for the operators.
def conversation_id(cls: ast.ClassDef | None, func) -> str | None:
    """`str(<id>)` for a conversation id the code at hand has: an id attribute its class uses or
    defines (`self.id`, `self._state.id`, ...), else a `session_id`/`conversation_id` parameter;
    None when it has none (then it is no conversation code, and no scoped value is injected)."""
    if cls is not None:
        if id(cls) not in _CLASS_ID:
            _CLASS_ID[id(cls)] = (cls, _class_id(cls))  # keep cls alive: ids stay unique
        found = _CLASS_ID[id(cls)][1]
        if found is not None:
            return found
    params = [a.arg for a in func.args.args + func.args.kwonlyargs]
    for p in ID_PARAMS:
        if p in params:
            return f"str({p})"
    return None


_CLASS_ID: dict[int, tuple] = {}


def _class_id(cls: ast.ClassDef) -> str | None:
    text = ast.unparse(cls)
    defines_id = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "id"
                     for n in cls.body) or re.search(r"^\s*id\s*:", text, re.M)
    for expr in ID_EXPRS:
        if re.search(re.escape(expr) + r"\b(?!\()", text) or (expr == "self.id" and defines_id):
            return f"str({expr})"
    return None


def borrowed_method_sites(ctx: FileCtx):
    """Methods (not set-up methods, not pin helpers) of classes that borrow an LLM and have a
    conversation id: (qual, stmt, B, cls, sid)."""
    for cls in classes(ctx.tree):
        b = borrowed_attr(cls)
        if b is None:
            continue
        for m in methods(cls):
            if m.name.startswith("__") or PIN_NAME.search(m.name) or m.name in CONFIG.setup_methods:
                continue
            stmt = body_start(m)
            sid = conversation_id(cls, m)
            if stmt is not None and sid is not None:
                yield qual(cls, m), stmt, b, cls, sid


def _enclosing_classes(tree: ast.Module) -> dict[ast.AST, ast.ClassDef]:
    out = {}
    for cls in classes(tree):
        for m in cls.body:
            out[m] = cls
    return out


def llm_param_sites(ctx: FileCtx, need_kwargs: bool = False, need_self: bool = True):
    """(name, stmt, llm param, kwargs name, sid) of functions with an LLM parameter (`llm`/`model`,
    not annotated as a string)."""
    owner = _enclosing_classes(ctx.tree)
    for node in ast.walk(ctx.tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if need_self and not is_method(node):
            continue
        if node.name.startswith("__") or PIN_NAME.search(node.name):
            continue
        if need_kwargs and node.args.kwarg is None:
            continue
        params = [a for a in node.args.args + node.args.kwonlyargs if a.arg != "self"]
        llm = next((a for a in params if a.arg.lower() in ("llm", "model") and not _scalar_annotated(a)),
                   None)
        stmt = body_start(node)
        if llm is None or stmt is None:
            continue
        sid = conversation_id(owner.get(node), node) if need_self else "-"
        if sid is None:
            continue
        yield node.name, stmt, llm.arg, (node.args.kwarg.arg if node.args.kwarg else None), sid


def pin_helpers(cls: ast.ClassDef) -> list:
    """Methods named like a pin helper that a set-up method (`__init__`, ...) calls."""
    called: set[str] = set()
    for setup in (m for m in methods(cls) if m.name in CONFIG.setup_methods):
        called |= {n.func.attr for n in ast.walk(setup) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                   and n.func.value.id == "self"}
    return [m for m in methods(cls) if m.name in called
            and (PIN_NAME.search(m.name) or m.name in CONFIG.pin_helpers)]


def swap_sites(ctx: FileCtx):
    """(cls, swap method, pin-call statement) for swap methods that call a pin helper __init__ calls."""
    for cls in classes(ctx.tree):
        helpers = {m.name for m in pin_helpers(cls)}
        if not helpers:
            continue
        for m in methods(cls):
            if m.name in CONFIG.setup_methods or m.name in helpers:
                continue
            installs = any(isinstance(n, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Attribute) and LLM_NAME.search(t.attr)
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])) for n in ast.walk(m))
            if not (installs or SWAP_NAME.search(m.name)):
                continue
            for st in ast.walk(m):
                if (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
                        and isinstance(st.value.func, ast.Attribute) and st.value.func.attr in helpers):
                    yield cls, m, st


def scoped_writes(ctx: FileCtx):
    """Existing unconditional writes of a scoped value: `X._prompt_cache_key = v`, `H[KEY] = v`."""
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        t = node.targets[0]
        if not isinstance(t, (ast.Attribute, ast.Subscript)):
            continue
        holder = ast.unparse(t.value)
        if "llm" not in holder.lower() and "header" not in holder.lower():
            continue  # the conversation's own attribute, not a write onto an LLM
        prev = next((ln.strip() for ln in reversed(ctx.lines[: node.lineno - 1]) if ln.strip()), "")
        if prev.startswith("if ") and (ast.unparse(t) in prev or holder in prev):
            continue  # already guarded
        if isinstance(t, ast.Attribute) and t.attr in CONFIG.scoped_attributes:
            yield node
        elif isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) \
                and isinstance(t.slice.value, str) and t.slice.value.lower() in CONFIG.scoped_header_keys:
            yield node


def context_calls(ctx: FileCtx):
    """(function, call statement, call) for LLM calls passing `call_context=`."""
    for func in ast.walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        found = []
        for st in ast.walk(func):
            if not isinstance(st, (ast.Expr, ast.Assign, ast.Return, ast.AnnAssign)):
                continue
            for call in ast.walk(st):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in CALL_METHODS
                        and any(k.arg == "call_context" for k in call.keywords)):
                    found.append((st, call))
        yield func, found


def module_insert_line(ctx: FileCtx) -> int:
    """The line after the last top-level import (and any module docstring)."""
    last = 0
    for node in ctx.tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                last == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            last = end_of(node)
        else:
            break
    return last + 1


# ---------------------------------------------------------------------------- operators
Operator = Callable[[FileCtx], Iterator[Mutant]]
OPERATORS: dict[str, tuple[str | None, str, Operator]] = {}


def operator(name: str, rule: str | None, doc: str):
    def register(fn: Operator) -> Operator:
        OPERATORS[name] = (rule, doc, fn)
        return fn
    return register


def _inject(name: str, rule: str | None, ctx: FileCtx, block: Callable[[str, str], str | None],
            sites=None) -> Iterator[Mutant]:
    for q, stmt, b, _cls, sid in (sites if sites is not None else borrowed_method_sites(ctx)):
        text = block(b, sid)
        if text is None:
            continue
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), text)
        yield Mutant(name, rule, ctx.path, f"{q}:{stmt.lineno}", src, lines)


def simple_injection(name: str, rule: str | None, doc: str, template: str, when=None) -> None:
    def fn(ctx: FileCtx) -> Iterator[Mutant]:
        yield from _inject(name, rule, ctx,
                           lambda b, sid: template.format(B=b, KEY=KEY, SID=sid) if (when is None or when(b)) else None)
    operator(name, rule, doc)(fn)


# --- LLA001: scope leak onto a borrowed LLM
simple_injection("leak-subscript", "LLA001", "`B.extra_headers[KEY] = str(self.id)` on a borrowed LLM",
                 "{B}.extra_headers[{KEY}] = {SID}")
simple_injection("leak-cache-key-attr", "LLA001", "`B._prompt_cache_key = str(self.id)` on a borrowed LLM",
                 "{B}._prompt_cache_key = {SID}")
simple_injection("leak-update", "LLA001", "`B.extra_headers.update({KEY: ...})` on a borrowed LLM",
                 "{B}.extra_headers.update({{{KEY}: {SID}}})")
simple_injection("leak-setattr", "LLA001", "`setattr(B, \"_prompt_cache_key\", ...)` on a borrowed LLM",
                 'setattr({B}, "_prompt_cache_key", {SID})')
simple_injection("leak-merge-reassign", "LLA001", "`B.extra_headers = {**old, KEY: ...}` on a borrowed LLM",
                 "{B}.extra_headers = {{**({B}.extra_headers or {{}}), {KEY}: {SID}}}")
simple_injection("leak-get-all-llms", "LLA001", "a write onto each LLM of `self.agent.get_all_llms()`",
                 "for _llm in {B}_owner.get_all_llms():\n    _llm.extra_headers[{KEY}] = {SID}",
                 when=lambda b: b.endswith(".llm") and "get_all_llms" in CORPUS_TEXT_HINT)
simple_injection("leak-alias", "LLA001", "`h = B.extra_headers; h[KEY] = ...` (write through an alias)",
                 "_h = {B}.extra_headers\n_h[{KEY}] = {SID}")
simple_injection("leak-shallow-copy", "LLA001", "a write into the dict a shallow `B.model_copy()` shares",
                 "_llm = {B}.model_copy()\n_llm.extra_headers[{KEY}] = {SID}")


@operator("leak-param", "LLA001", "`llm.extra_headers[KEY] = str(self.id)` on a method's LLM parameter")
def _leak_param(ctx: FileCtx) -> Iterator[Mutant]:
    for name, stmt, p, _, sid in llm_param_sites(ctx):
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), f"{p}.extra_headers[{KEY}] = {sid}")
        yield Mutant("leak-param", "LLA001", ctx.path, f"{name}:{stmt.lineno}", src, lines)


HELPER = f'''

def _lla_tag_session(llm, session_id):
    llm.extra_headers[{KEY}] = session_id
'''


@operator("leak-via-helper", "LLA001",
          "a borrowed LLM passed to a new module function that writes the key onto its parameter")
def _leak_via_helper(ctx: FileCtx) -> Iterator[Mutant]:
    for q, stmt, b, _cls, sid in borrowed_method_sites(ctx):
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), f"_lla_tag_session({b}, {sid})")
        src = src.rstrip("\n") + "\n"
        # The helper's lines are changed lines too: its write onto the parameter is the leak
        # when the analysis reports it there (a parameter is borrowed), else the call is.
        start = src.count("\n") + 1
        src += HELPER
        helper = frozenset(range(start, src.count("\n") + 2))
        yield Mutant("leak-via-helper", "LLA001", ctx.path, f"{q}:{stmt.lineno}", src, lines | helper)


# --- LLA002: swap without the pin
@operator("swap-drop-pin", "LLA002", "delete the pin-helper call from a swap method that has one")
def _swap_drop_pin(ctx: FileCtx) -> Iterator[Mutant]:
    for cls, m, st in swap_sites(ctx):
        indent = _indent_of(ctx, st.lineno)
        lines = ctx.lines[: st.lineno - 1] + [indent + "pass\n"] + ctx.lines[end_of(st):]
        removed = end_of(st) - st.lineno
        span = frozenset(range(m.lineno, end_of(m) - removed + 1))
        yield Mutant("swap-drop-pin", "LLA002", ctx.path, f"{qual(cls, m)}:{st.lineno}", "".join(lines), span)


def _new_method(ctx: FileCtx, cls: ast.ClassDef, text: str) -> tuple[str, frozenset[int]]:
    last = cls.body[-1]
    indent = _indent_of(ctx, methods(cls)[0].lineno) if methods(cls) else "    "
    return insert(ctx, end_of(last) + 1, indent, "\n" + text)


def _pinning_classes(ctx: FileCtx):
    for cls in classes(ctx.tree):
        b = borrowed_attr(cls)
        if b is not None and pin_helpers(cls):
            yield cls, b


def _swap_stmt(b: str, new: str) -> str:
    if b.endswith(".llm"):
        owner = b[: -len(".llm")]
        return f'{owner} = {owner}.model_copy(update={{"llm": {new}}})'
    return f"{b} = {new}"


@operator("swap-new-method", "LLA002", "a new method that installs a new LLM and pins nothing")
def _swap_new_method(ctx: FileCtx) -> Iterator[Mutant]:
    for cls, b in _pinning_classes(ctx):
        src, lines = _new_method(ctx, cls, f"def _lla_use_llm(self, new_llm):\n    {_swap_stmt(b, 'new_llm')}\n")
        yield Mutant("swap-new-method", "LLA002", ctx.path, f"{cls.name}:{cls.lineno}", src, lines)


# --- LLA003: stale guard
@operator("guard-existing-write", "LLA003", "wrap an existing scoped write in `if T is None:` / `if K not in H:`")
def _guard_existing(ctx: FileCtx) -> Iterator[Mutant]:
    for node in scoped_writes(ctx):
        t = node.targets[0]
        indent = _indent_of(ctx, node.lineno)
        if isinstance(t, ast.Subscript):
            cond = f"if {ast.unparse(t.slice)} not in {ast.unparse(t.value)}:"
        else:
            cond = f"if {ast.unparse(t)} is None:"
        body = "".join("    " + ln if ln.strip() else ln for ln in ctx.lines[node.lineno - 1: end_of(node)])
        lines = ctx.lines[: node.lineno - 1] + [indent + cond + "\n", body] + ctx.lines[end_of(node):]
        n = end_of(node) - node.lineno + 2
        yield Mutant("guard-existing-write", "LLA003", ctx.path, f"{ast.unparse(t)}:{node.lineno}",
                     "".join(lines), frozenset(range(node.lineno, node.lineno + n)))


simple_injection("guard-is-none", "LLA003", "`if B._prompt_cache_key is None: B._prompt_cache_key = ...`",
                 "if {B}._prompt_cache_key is None:\n    {B}._prompt_cache_key = {SID}")
simple_injection("guard-not-in", "LLA003", "`if KEY not in B.extra_headers: B.extra_headers[KEY] = ...`",
                 "if {KEY} not in {B}.extra_headers:\n    {B}.extra_headers[{KEY}] = {SID}")
simple_injection("guard-setdefault", "LLA003", "`B.extra_headers.setdefault(KEY, ...)`",
                 "{B}.extra_headers.setdefault({KEY}, {SID})")
simple_injection("guard-existing-wins", "LLA003", "`B.extra_headers = {KEY: v, **B.extra_headers}` (existing wins)",
                 "{B}.extra_headers = {{{KEY}: {SID}, **{B}.extra_headers}}")


# --- LLA004: header bypass
@operator("header-replace", "LLA004",
          "`if \"extra_headers\" not in kwargs: kwargs[\"extra_headers\"] = dict(llm.extra_headers)`")
def _header_replace(ctx: FileCtx) -> Iterator[Mutant]:
    for name, stmt, p, kw, _ in llm_param_sites(ctx, need_kwargs=True, need_self=False):
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno),
                            f'if "extra_headers" not in {kw}:\n    {kw}["extra_headers"] = dict({p}.extra_headers)')
        yield Mutant("header-replace", "LLA004", ctx.path, f"{name}:{stmt.lineno}", src, lines)


# --- LLA005: process-global leak
def _cred_attr(cls: ast.ClassDef) -> str | None:
    for node in ast.walk(cls):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
                and CRED_NAME.search(node.attr) and isinstance(node.ctx, ast.Load)):
            return node.attr
    return None


@operator("env-credential", "LLA005", "`os.environ[\"X\"] = self.<credential>` in a method")
def _env_credential(ctx: FileCtx) -> Iterator[Mutant]:
    for cls in classes(ctx.tree):
        attr = _cred_attr(cls)
        if attr is None:
            continue
        for m in methods(cls):
            stmt = body_start(m)
            if stmt is None or m.name == "__init__":
                continue
            src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno),
                                f'import os\nos.environ["LLA_MUTANT_API_KEY"] = str(self.{attr})')
            yield Mutant("env-credential", "LLA005", ctx.path, f"{qual(cls, m)}:{stmt.lineno}", src, lines)


simple_injection("env-session-id", "LLA005", "`os.environ[\"SESSION_ID\"] = str(self.id)` in a conversation method",
                 'import os\nos.environ["LLA_SESSION_ID"] = {SID}')
simple_injection("class-attr-session", "LLA005", "`type(self).current_session_id = str(self.id)`",
                 "type(self).current_session_id = {SID}")


@operator("module-dict-session", "LLA005", "`_SESSIONS[\"current\"] = str(self.id)` into a new module-level dict")
def _module_dict(ctx: FileCtx) -> Iterator[Mutant]:
    at = module_insert_line(ctx)
    for q, stmt, b, _cls, sid in borrowed_method_sites(ctx):
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), f'_LLA_SESSIONS["current"] = {sid}')
        src2 = "".join(src.splitlines(keepends=True)[: at - 1]) + "_LLA_SESSIONS: dict = {}\n" + \
            "".join(src.splitlines(keepends=True)[at - 1:])
        yield Mutant("module-dict-session", "LLA005", ctx.path, f"{q}:{stmt.lineno}", src2,
                     frozenset(n + 1 for n in lines))


# --- LLA006: pin helper mutates a shared LLM
@operator("helper-in-place", "LLA006", "an in-place write on the borrowed LLM added to an existing pin helper")
def _helper_in_place(ctx: FileCtx) -> Iterator[Mutant]:
    for cls in classes(ctx.tree):
        b = borrowed_attr(cls)
        for m in pin_helpers(cls):
            params = [a.arg for a in m.args.args[1:]]
            target = next((p for p in params if LLM_NAME.search(p)), None) or b
            stmt = body_start(m) or (m.body[-1] if m.body and m.body[-1].lineno != m.lineno else None)
            sid = conversation_id(cls, m)
            if target is None or stmt is None or sid is None:
                continue
            src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), f"{target}._prompt_cache_key = {sid}")
            yield Mutant("helper-in-place", "LLA006", ctx.path, f"{qual(cls, m)}:{stmt.lineno}", src, lines)


@operator("new-helper-in-place", "LLA006",
          "a new pin helper `_pin_session_affinity_header(llm)` writing in place, called on the borrowed LLM")
def _new_helper(ctx: FileCtx) -> Iterator[Mutant]:
    for q, stmt, b, cls, sid in borrowed_method_sites(ctx):
        if not sid.startswith("str(self."):
            continue
        src, _ = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno), f"self._pin_session_affinity_header({b})")
        sub = FileCtx(ctx.path, src, ast.parse(src))
        scls = next(c for c in classes(sub.tree) if c.name == cls.name and c.lineno == cls.lineno)
        src2, lines = _new_method(sub, scls, "def _pin_session_affinity_header(self, llm):\n"
                                  f"    llm.extra_headers[{KEY}] = {sid}\n")
        yield Mutant("new-helper-in-place", "LLA006", ctx.path, f"{q}:{stmt.lineno}", src2,
                     frozenset([max(lines)]))


# --- LLA007: context dropped on a derived call
def _without_context(call: ast.Call) -> ast.Call:
    new = ast.Call(func=call.func, args=call.args, keywords=[k for k in call.keywords if k.arg != "call_context"])
    return new


@operator("drop-call-context", "LLA007", "drop `call_context=` from one of two LLM calls in a function")
def _drop_context(ctx: FileCtx) -> Iterator[Mutant]:
    for func, found in context_calls(ctx):
        if len(found) < 2:
            continue
        for st, call in found:
            kw = next(k for k in call.keywords if k.arg == "call_context")
            # remove the keyword's text: the whole line when it is alone on it, else the span
            line = ctx.lines[kw.value.lineno - 1]
            if line.strip().startswith("call_context=") and line.strip().endswith(","):
                lines = ctx.lines[: kw.value.lineno - 1] + ctx.lines[kw.value.lineno:]
                src = "".join(lines)
                span = frozenset(range(call.lineno, end_of(call)))
            else:
                seg = ast.get_source_segment(ctx.source, call)
                if seg is None or "\n" in seg:
                    continue
                new = ast.unparse(_without_context(call))
                lines = list(ctx.lines)
                lines[call.lineno - 1] = lines[call.lineno - 1].replace(seg, new, 1)
                src = "".join(lines)
                span = frozenset([call.lineno])
            yield Mutant("drop-call-context", "LLA007", ctx.path, f"{func.name}:{call.lineno}", src, span)


def _binds_names(st: ast.AST, call: ast.Call) -> bool:
    """Is `call` inside a lambda or a comprehension of `st`? Its names may be bound there
    (`lambda fb: fb.completion(...)`), so a copy of it lifted out of `st` means nothing."""
    return any(call is inner for scope in ast.walk(st)
               if isinstance(scope, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
               for inner in ast.walk(scope))


def _retry(ctx: FileCtx, keep: bool) -> Iterator[Mutant]:
    for func, found in context_calls(ctx):
        for st, call in [(st, call) for st, call in found if not _binds_names(st, call)][:1]:
            recv = ast.unparse(call.func.value)
            derived = ast.Call(func=ast.Attribute(
                value=ast.parse(f'{recv}.model_copy(update={{"caching_prompt": False}})', mode="eval").body,
                attr=call.func.attr, ctx=ast.Load()), args=call.args,
                keywords=call.keywords if keep else _without_context(call).keywords)
            awaited = any(isinstance(n, ast.Await) and n.value is call for n in ast.walk(st))
            text = f"_lla_retry = {'await ' if awaited else ''}{ast.unparse(derived)}"
            at = end_of(st) + 1
            if isinstance(st, ast.Return):
                at = st.lineno
            src, lines = insert(ctx, at, _indent_of(ctx, st.lineno), text)
            name = "retry-with-context" if keep else "retry-without-context"
            yield Mutant(name, None if keep else "LLA007", ctx.path, f"{func.name}:{call.lineno}", src, lines)


@operator("retry-without-context", "LLA007",
          "a no-cache retry on `X.model_copy(update={\"caching_prompt\": False})` without `call_context=`")
def _retry_without(ctx: FileCtx) -> Iterator[Mutant]:
    yield from _retry(ctx, keep=False)


# --- safe rewrites (must stay silent)
simple_injection("safe-owned-copy-attr", None, "`_llm = B.model_copy(update=...)`, then `_llm._prompt_cache_key = ...`",
                 '_llm = {B}.model_copy(update={{"temperature": 0}})\n_llm._prompt_cache_key = {SID}')
simple_injection("safe-owned-copy-headers", None,
                 "`_llm = B.model_copy(update={\"extra_headers\": {}})`, then `_llm.extra_headers[KEY] = ...`",
                 '_llm = {B}.model_copy(update={{"extra_headers": {{}}}})\n_llm.extra_headers[{KEY}] = {SID}')
simple_injection("safe-deepcopy", None, "`_llm = copy.deepcopy(B)`, then a scoped write onto it",
                 "import copy\n_llm = copy.deepcopy({B})\n_llm.extra_headers[{KEY}] = {SID}")
simple_injection("safe-nonscoped-attr", None, "`B.temperature = 0` (not conversation-scoped)",
                 "{B}.temperature = 0")
simple_injection("safe-nonscoped-header", None, "`B.extra_headers = {\"X-Title\": \"app\"}` (not scoped)",
                 '{B}.extra_headers = {{"X-Title": "app"}}')
simple_injection("safe-read-scoped", None, "`_sid = B.extra_headers.get(KEY)` (a read)",
                 "_sid = ({B}.extra_headers or {{}}).get({KEY})")


@operator("safe-env-setdefault", None, "`os.environ.setdefault(\"TOKENIZERS_PARALLELISM\", \"false\")` at module level")
def _safe_env(ctx: FileCtx) -> Iterator[Mutant]:
    at = module_insert_line(ctx)
    if at <= 1 or not any(True for _ in borrowed_method_sites(ctx)):
        return
    src, lines = insert(ctx, at, "", 'import os\nos.environ.setdefault("TOKENIZERS_PARALLELISM", "false")')
    yield Mutant("safe-env-setdefault", None, ctx.path, f"<module>:{at}", src, lines)


@operator("safe-swap-delegates", None, "a new method that delegates the swap to a method that pins")
def _safe_swap_delegates(ctx: FileCtx) -> Iterator[Mutant]:
    for cls, m, _st in swap_sites(ctx):
        params = [a.arg for a in m.args.args[1:]]
        if len(params) != 1:
            continue
        src, lines = _new_method(ctx, cls, f"def _lla_use_profile(self, new_llm):\n    self.{m.name}(new_llm)\n")
        yield Mutant("safe-swap-delegates", None, ctx.path, f"{qual(cls, m)}", src, lines)


@operator("safe-swap-tools-only", None, "`self.agent = self.agent.model_copy(update={\"tools\": []})` (LLM unchanged)")
def _safe_tools(ctx: FileCtx) -> Iterator[Mutant]:
    for cls, b in _pinning_classes(ctx):
        if not b.endswith(".llm"):
            continue
        owner = b[: -len(".llm")]
        src, lines = _new_method(ctx, cls, f'def _lla_drop_tools(self):\n    {owner} = {owner}.model_copy(update={{"tools": []}})\n')
        yield Mutant("safe-swap-tools-only", None, ctx.path, f"{cls.name}:{cls.lineno}", src, lines)


@operator("safe-header-merge", None, "a new request dict that merges call-site headers, pinned headers winning")
def _safe_merge(ctx: FileCtx) -> Iterator[Mutant]:
    for name, stmt, p, kw, _ in llm_param_sites(ctx, need_kwargs=True, need_self=False):
        src, lines = insert(ctx, stmt.lineno, _indent_of(ctx, stmt.lineno),
                            f'{kw}["extra_headers"] = {{**({kw}.get("extra_headers") or {{}}), **dict({p}.extra_headers or {{}})}}')
        yield Mutant("safe-header-merge", None, ctx.path, f"{name}:{stmt.lineno}", src, lines)


@operator("retry-with-context", None, "the no-cache retry on a derived LLM that keeps `call_context=`")
def _retry_with(ctx: FileCtx) -> Iterator[Mutant]:
    yield from _retry(ctx, keep=True)


# The `leak-get-all-llms` template writes `{B}_owner`; fix it up to the owner of `.llm`.
def _fix_owner(m: Mutant) -> Mutant:
    if m.operator == "leak-get-all-llms":
        m.source = re.sub(r"(\S+)\.llm_owner\.get_all_llms", r"\1.get_all_llms", m.source)
    return m


# ---------------------------------------------------------------------------- checking
def findings(source: str, path: Path, root: Path) -> list[tuple[str, int, str]]:
    """(code, line, stripped line text) of every finding, with a fresh index over the copy."""
    from lint_rules.core.config import Config, load_config
    from lint_rules.engine import check_text
    from lint_rules.analysis.project_index import ProjectIndex

    config = load_config(root / "pyproject.toml") if USE_PRESETS else Config()
    diags = check_text(source, str(path), config, ProjectIndex(config, [root]))
    lines = source.splitlines()
    out = []
    for d in diags:
        row = _row(d)
        out.append((d.code, row, lines[row - 1].strip() if 0 < row <= len(lines) else ""))
    return out


def _row(d) -> int:
    return int(d.start.row)


@dataclass
class Outcome:
    mutant: Mutant
    package: str
    detected: bool
    new: list[tuple[str, int, str]]
    error: str = ""


def evaluate(m: Mutant, package: str, copy_root: Path, baseline: list) -> Outcome:
    path = copy_root / m.path
    original = path.read_text(encoding="utf-8")
    try:
        ast.parse(m.source)
    except SyntaxError as exc:
        return Outcome(m, package, False, [], f"mutant does not parse: {exc.msg} line {exc.lineno}")
    path.write_text(m.source, encoding="utf-8")
    try:
        got = findings(m.source, path, copy_root)
    finally:
        path.write_text(original, encoding="utf-8")
    new = new_findings(got, baseline, m.expected)
    detected = m.rule is not None and any(c == m.rule and row in m.expected for c, row, _ in new)
    return Outcome(m, package, detected, new)


def new_findings(got: list[tuple], baseline: list[tuple], changed: frozenset[int] = frozenset()
                 ) -> list[tuple]:
    """The (code, row, text) findings of `got` that the unmutated file did not have, compared
    by code and text (an injection shifts the rows below it). When the mutant repeats a line
    the file already had a finding on (a second `if llm._prompt_cache_key is None:`), the
    repeat on the changed lines is the new one: the old line is still there, unchanged."""
    extra = Counter((c, t) for c, _, t in got) - Counter((c, t) for c, _, t in baseline)
    new = []
    for c, row, t in sorted(got, key=lambda f: f[1] not in changed):
        if extra[(c, t)] > 0:
            extra[(c, t)] -= 1
            new.append((c, row, t))
    return sorted(new, key=lambda f: f[1])


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".git" not in p.parts)


def prepare_copy(release: corpus.Release) -> Path:
    dest = WORK / f"{release.entry.name}-{release.entry.version}"
    stamp = dest / ".lla-mutants-copy"
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(release.root, dest, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        stamp.write_text(str(release.root))
    corpus.mark_project(dest, release.entry.name)  # also brings an older copy's marker up to date
    return dest


CORPUS_TEXT_HINT = ""  # "get_all_llms" when the package defines it


def mutants_for(root: Path, ops: list[str], package: str = "") -> dict[str, list[Mutant]]:
    global _agent_llm_attr, CORPUS_TEXT_HINT
    _agent_llm_attr = AGENT_LLM_ATTR.get(package, "llm")
    CORPUS_TEXT_HINT = "get_all_llms" if any(
        "def get_all_llms" in p.read_text(encoding="utf-8", errors="replace") for p in python_files(root)) else ""
    by_op: dict[str, list[Mutant]] = defaultdict(list)
    for path in python_files(root):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        ctx = FileCtx(path.relative_to(root).as_posix(), source, tree)
        _CLASS_ID.clear()
        for name in ops:
            for m in OPERATORS[name][2](ctx):
                by_op[name].append(_fix_owner(m))
    return by_op


def sample(items: list[Mutant], cap: int, seed: int, salt: str) -> list[Mutant]:
    if len(items) <= cap:
        return items
    rng = random.Random(seed * 1_000_003 + zlib.crc32(salt.encode()))
    return sorted(rng.sample(items, cap), key=lambda m: (m.path, m.site))


# ---------------------------------------------------------------------------- report
def table(outcomes: list[Outcome], ops: list[str]) -> list[str]:
    per_op: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        per_op[o.mutant.operator].append(o)
    lines = ["| operator | rule | sites | detected | recall | flagged otherwise | shape |",
             "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for name in ops:
        rule, doc, _ = OPERATORS[name]
        if rule is None:
            continue
        os_ = [o for o in per_op.get(name, []) if not o.error]
        d = sum(o.detected for o in os_)
        other = Counter(c for o in os_ if not o.detected for c in sorted({c for c, _, _ in o.new}))
        other_text = ", ".join(f"{c} x{n}" for c, n in sorted(other.items()))
        lines.append(f"| {name} | {rule} | {len(os_)} | {d} | {_pct(d, len(os_))} | {other_text} | {_cell(doc)} |")
    lines += ["", "| rule | sites | detected | recall |", "| --- | ---: | ---: | ---: |"]
    per_rule: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.mutant.rule and not o.error:
            per_rule[o.mutant.rule].append(o)
    tot = det = 0
    for rule in sorted(per_rule):
        os_ = per_rule[rule]
        d = sum(o.detected for o in os_)
        tot, det = tot + len(os_), det + d
        lines.append(f"| {rule} | {len(os_)} | {d} | {_pct(d, len(os_))} |")
    lines.append(f"| all | {tot} | {det} | {_pct(det, tot)} |")
    lines += ["", "| safe rewrite | sites | false alarms | codes | shape |", "| --- | ---: | ---: | --- | --- |"]
    fa_tot = s_tot = 0
    for name in ops:
        rule, doc, _ = OPERATORS[name]
        if rule is not None:
            continue
        os_ = [o for o in per_op.get(name, []) if not o.error]
        fa = [o for o in os_ if o.new]
        codes = Counter(c for o in fa for c, _, _ in o.new)
        s_tot, fa_tot = s_tot + len(os_), fa_tot + len(fa)
        lines.append(f"| {name} | {len(os_)} | {len(fa)} | {', '.join(f'{c} x{n}' for c, n in sorted(codes.items()))} "
                     f"| {_cell(doc)} |")
    lines.append(f"| all safe rewrites | {s_tot} | {fa_tot} | | |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _pct(a: int, b: int) -> str:
    return f"{a / b:.0%}" if b else "n/a"


def write_doc(lines: list[str], outcomes: list[Outcome], releases, args, seconds: float) -> None:
    today = datetime.date.today().isoformat()
    sites = defaultdict(Counter)
    for o in outcomes:
        sites[o.package][o.mutant.operator] += 1
    misses = [o for o in outcomes if o.mutant.rule and not o.detected and not o.error]
    alarms = [o for o in outcomes if o.mutant.rule is None and o.new]
    errs = [o for o in outcomes if o.error]
    cmd = "python benchmarks/mutants.py --write-docs" + (f" --cap {args.cap}" if args.cap != 3 else "") + (
        f" --seed {args.seed}" if args.seed != 0 else "") + (" --no-preset" if not USE_PRESETS else "")
    text = [
        "# Mutation benchmark on real SDK code",
        "",
        "The domain's defects injected by script into copies of real, published SDK files, one",
        "change per mutant, each checked by the tool in its package (cross-module facts included).",
        "Recall is the share of defect mutants where the expected rule fires on the changed lines",
        "with a finding the unmutated file did not have; a false alarm is a safe rewrite that adds",
        "any finding. `benchmarks/mutants.py` holds every operator (`--list`) and the site finders.",
        "\"Flagged otherwise\" counts missed mutants where the tool added a finding of another code or on",
        "another line (per code: e.g. LLA006 where LLA001 was expected, or LLA001 reported inside a",
        "helper instead of at its call site).",
        "",
        "```sh",
        cmd,
        "```",
        "",
        f"Generated {today}; Python {platform.python_version()}; seed {args.seed}, at most {args.cap} sites per "
        f"operator and package; {len(outcomes)} mutants in {seconds:.0f} s. Packages: "
        + ", ".join(f"{r.entry.name} {r.entry.version}" for r in releases) + ". Settings: "
        + ("the defaults (`--no-preset`)." if not USE_PRESETS else "what each package's maintainers "
           "get from their `pyproject.toml`, the defaults and the preset the tool infers from "
           "`[project] name` (`--no-preset`: the defaults alone)."),
        "",
        *lines,
        "",
        "## Misses",
        "",
    ]
    if misses:
        text += ["| operator | rule | package | site | findings added |", "| --- | --- | --- | --- | --- |"]
        for o in misses:
            added = ", ".join(f"{c}@{r}" for c, r, _ in o.new) or "none"
            text.append(f"| {o.mutant.operator} | {o.mutant.rule} | {o.package} | `{o.mutant.path}` `{o.mutant.site}` | {added} |")
    else:
        text.append("None.")
    text += ["", "## False alarms", ""]
    if alarms:
        text += ["| operator | package | site | findings added |", "| --- | --- | --- | --- |"]
        for o in alarms:
            added = ", ".join(f"{c}@{r} `{t[:60]}`" for c, r, t in o.new)
            text.append(f"| {o.mutant.operator} | {o.package} | `{o.mutant.path}` `{o.mutant.site}` | {added} |")
    else:
        text.append("None.")
    if errs:
        text += ["", "## Mutants that could not be built", ""]
        text += [f"- {o.mutant.operator} `{o.mutant.path}` `{o.mutant.site}`: {o.error}" for o in errs]
    keep = ""
    if DOC.exists() and HAND in DOC.read_text():
        keep = "\n" + HAND + DOC.read_text().split(HAND, 1)[1]  # hand-written notes survive
    DOC.write_text("\n".join(text) + "\n" + keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutation benchmark: inject the domain's defects into real "
                                     "SDK code and measure the tool's recall and false alarms.")
    corpus.add_arguments(parser)
    parser.add_argument("--cap", type=int, default=3, help="sites per operator and package (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    parser.add_argument("--operators", default="", help="comma list of operators (default: all)")
    parser.add_argument("--list", action="store_true", help="list the operators and exit")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOC.relative_to(REPO)}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant's outcome")
    parser.add_argument("--no-preset", action="store_true",
                        help="check with the defaults, without the preset the tool infers from "
                             "the package's name")
    args = parser.parse_args(argv)
    global USE_PRESETS
    USE_PRESETS = not args.no_preset
    if args.list:
        for name, (rule, doc, _) in OPERATORS.items():
            print(f"{name:24s} {rule or 'safe':7s} {doc}")
        return 0
    ops = [o.strip() for o in args.operators.split(",") if o.strip()] or list(OPERATORS)
    unknown = [o for o in ops if o not in OPERATORS]
    if unknown:
        print(f"error: unknown operator(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    entries = corpus.select(args.only or DEFAULT_PACKAGES)
    releases = corpus.fetch_all(entries, args.cache_dir)
    ok = [r for r in releases if r.ok]
    if not ok:
        print("error: no release could be fetched: " + "; ".join(r.error for r in releases), file=sys.stderr)
        return 2
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    for rel in ok:
        copy_root = prepare_copy(rel)
        by_op = mutants_for(copy_root, ops, rel.entry.name)
        chosen = [m for name in ops for m in sample(by_op.get(name, []), args.cap, args.seed, f"{rel.entry.key}:{name}")]
        print(f"  {rel.entry.key}: {sum(len(v) for v in by_op.values())} sites, {len(chosen)} mutants",
              file=sys.stderr, flush=True)
        base_cache: dict[str, list] = {}
        for m in chosen:
            if m.path not in base_cache:
                path = copy_root / m.path
                base_cache[m.path] = findings(path.read_text(encoding="utf-8"), path, copy_root)
            o = evaluate(m, rel.entry.key, copy_root, base_cache[m.path])
            outcomes.append(o)
            if args.verbose:
                state = o.error or ("detected" if o.detected else ("silent" if not o.new else "added"))
                print(f"    {m.operator:24s} {m.path}:{m.site} -> {state} {[(c, r) for c, r, _ in o.new]}",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    lines = table(outcomes, ops)
    print("\n".join(lines))
    print(f"\n{len(outcomes)} mutants in {seconds:.0f} s")
    if args.write_docs:
        write_doc(lines, outcomes, ok, args, seconds)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
