#!/usr/bin/env python3
"""Mutation check for LLA007 (context dropped on a derived call) and LLA008 (context dropped on a
sibling path): inject each defect shape, and safe rewrites that must stay silent, into real SDK
code at sites found automatically, run the tool, and print recall and false alarms per shape.

    python benchmarks/mutants_context.py [--per-shape 12] [--wheels DIR]

Sites come from published agent-SDK wheels (default folder `/work/sdk-cache`; a wheel missing
there is fetched with `pip download --no-deps` of the pinned release into a temp folder):

- LLA007 real drops: every LLM call (`.completion/.acompletion/.responses/.aresponses/.generate/
  .agenerate`) that passes `call_context=` in a function that has `call_context` in scope (a
  parameter); the mutant removes the keyword from that one call. Calls that also spread a
  mapping the tool cannot see into (not the function's own `**kwargs` or a copy of it) are
  counted apart: the context may be inside, so silence there is by design.
- LLA007 injected shapes: functions that take a parameter named `llm` (no context of their own);
  the snippet goes first in the body (after the docstring) and binds the context as a local.
- LLA008 real siblings: every constructor/factory call inside a class that passes a
  conversation-scoped keyword (`*call_context*`, `*prompt_cache_key*`); the mutant adds a
  method to the class that makes the same call without it.
- LLA008 injected shapes: classes with an `__init__`; two methods are appended.

Each mutant is one file, checked alone, against a baseline of the same file unchanged (the
injected shapes: without the snippet). A positive is detected when the rule reports the marked
line; a false alarm is any finding of LLA007/LLA008 that is neither the marked line nor in the
baseline (lines shifted by the insertion).
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import corpus  # benchmarks/ is on sys.path when a script here runs

WHEELS = {
    "openhands_sdk-1.58.2": "openhands-sdk==1.58.2",
    "openhands_sdk-1.30.0": "openhands-sdk==1.30.0",
    "openhands_sdk-1.20.0": "openhands-sdk==1.20.0",
    "crewai-1.15.30": "crewai==1.15.30",
    "dspy-3.4.1": "dspy==3.4.1",
    "smolagents-1.26.0": "smolagents==1.26.0",
    "camel_ai-0.2.90": "camel-ai==0.2.90",
    "letta-0.16.8": "letta==0.16.8",
}
MARK = "#MUT"
METHODS = {"completion", "acompletion", "responses", "aresponses", "generate", "agenerate"}
CODES = "LLA007,LLA008"
CONTEXT = "call_context = state.get_llm_call_context()\n"

# (name, rule, positive?, snippet) for functions with a parameter `llm`.
FUNCTION_SHAPES: list[tuple[str, str, bool, str]] = [
    ("007 retry on model_copy", "LLA007", True, CONTEXT + """\
llm.completion([], call_context=call_context)
_no_cache = llm.model_copy(update={"caching_prompt": False})
_no_cache.completion([])  #MUT"""),
    ("007 retry on copy.copy", "LLA007", True, CONTEXT + """\
import copy as _copy
_copy.copy(llm).completion([])  #MUT"""),
    ("007 fallback lambda handed on", "LLA007", True, CONTEXT + """\
llm.completion([], call_context=call_context)
_handle_error(None, lambda fb: fb.completion([]))  #MUT"""),
    ("007 fallback closure handed on", "LLA007", True, CONTEXT + """\
llm.completion([], call_context=call_context)
def _attempt(fallback):
    return fallback.completion([])  #MUT
_run_with_fallbacks(_attempt)"""),
    ("007 router-selected", "LLA007", True, CONTEXT + """\
llms_for_routing = {"fast": llm}
llms_for_routing["fast"].acompletion([])  #MUT"""),
    ("007 typed local context", "LLA007", True, """\
ctx: LLMCallContext = state.get_llm_call_context()
llm.generate([])  #MUT"""),
    ("007 safe retry with context", "LLA007", False, CONTEXT + """\
_no_cache = llm.model_copy(update={"caching_prompt": False})
_no_cache.completion([], call_context=call_context)"""),
    ("007 safe via **mapping", "LLA007", False, CONTEXT + """\
_opts = {"call_context": call_context}
llm.completion([], **_opts)"""),
    ("007 safe no context in scope", "LLA007", False, """\
_no_cache = llm.model_copy(update={"caching_prompt": False})
_no_cache.completion([])"""),
    ("007 safe none guard", "LLA007", False, CONTEXT + """\
if call_context is None:
    llm.completion([])"""),
    ("007 safe not an LLM", "LLA007", False, CONTEXT + """\
tokenizer.generate([])"""),
]

# (name, positive?, snippet) appended to a class with an `__init__`.
CLASS_SHAPES: list[tuple[str, bool, str]] = [
    ("008 sibling drops call context", True, """\
def _mut_first(self):
    return SubConversation(agent=self.agent, _parent_llm_call_context=self._llm_call_context)

def _mut_retry(self):
    return SubConversation(agent=self.agent)  #MUT"""),
    ("008 sibling drops cache key", True, """\
def _mut_first(self, task):
    return self._create_sub_agent(task, prompt_cache_key=self._prompt_cache_key)

def _mut_resume(self, task):
    sub = self._create_sub_agent(task, max_steps=3)  #MUT
    return sub.run()"""),
    ("008 sibling drops session id", True, """\
def _mut_first(self):
    return build_session_client(session_id=self.session_id)

def _mut_retry(self):
    return build_session_client()  #MUT"""),
    ("008 safe both pass", False, """\
def _mut_first(self):
    return SubConversation(agent=self.agent, call_context=self._llm_call_context)

def _mut_retry(self):
    return SubConversation(agent=self.agent, call_context=self._llm_call_context)"""),
    ("008 safe sibling spreads **kwargs", False, """\
def _mut_first(self):
    return SubConversation(agent=self.agent, call_context=self._llm_call_context)

def _mut_retry(self, **kwargs):
    return SubConversation(agent=self.agent, **kwargs)"""),
    ("008 safe set afterwards", False, """\
def _mut_first(self):
    return SubConversation(agent=self.agent, call_context=self._llm_call_context)

def _mut_retry(self):
    sub = SubConversation(agent=self.agent)
    sub.call_context = self._llm_call_context
    return sub"""),
    ("008 safe create and resume ids", False, """\
def _mut_resume(self, session_id):
    return build_session_client(session_id=session_id)

def _mut_create(self):
    return build_session_client()"""),
]


@dataclass
class Mutant:
    shape: str
    rule: str
    positive: bool
    source: str
    expected_line: int | None
    baseline: str
    inserted_at: int  # first line of the insertion (1-based); lines at/after it shift
    inserted: int  # lines inserted (negative: removed)


def unpack(wheels: Path, into: Path) -> list[Path]:
    return list(corpus.unpack_sources(WHEELS, wheels, into).values())


def parsed_files(roots: list[Path]):
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                text = path.read_text(encoding="utf-8")
                yield root, path, text, ast.parse(text)
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def insert(lines: list[str], at: int, col: int, snippet: str) -> tuple[list[str], int | None, int]:
    text = indent(snippet, " " * col).splitlines()
    marked = None
    out = []
    for k, line in enumerate(text):
        if MARK in line:
            marked = at + k
            line = line.replace("  " + MARK, "").replace(MARK, "")
        out.append(line)
    return lines[: at - 1] + out + lines[at - 1:], marked, len(out)


def first_statement(fn) -> ast.stmt:
    body = fn.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1]
    return body[0]


def _offsets(text: str) -> list[int]:
    out, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        out.append(pos)
    return out


def drop_keyword(text: str, kw: ast.keyword) -> str:
    """`text` without the keyword argument `kw` and one adjacent comma."""
    offs = _offsets(text)
    start = offs[kw.lineno - 1] + kw.col_offset
    end = offs[kw.end_lineno - 1] + kw.end_col_offset  # type: ignore[operator]
    after = text[end:]
    stripped = after.lstrip(" \t\r\n")
    if stripped.startswith(","):
        end += len(after) - len(stripped) + 1
        # keep the layout: drop the whitespace up to the next argument on the same line only
        while end < len(text) and text[end] == " ":
            end += 1
        return text[:start] + text[end:]
    before = text[:start].rstrip(" \t\r\n")
    if before.endswith(","):
        return before[:-1] + text[end:]
    return text[:start] + text[end:]


def _context_params(fn) -> set[str]:
    args = fn.args
    out = set()
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        ann = ast.unparse(a.annotation) if a.annotation is not None else ""
        if a.arg == "call_context" or "CallContext" in ann:
            out.add(a.arg)
    return out


def _own_kwargs_spread(fn, call: ast.Call) -> bool | None:
    """None: no `**` spread; True: only the function's own **kwargs (or a local copy of it);
    False: another mapping (the context may be inside)."""
    spreads = [k.value for k in call.keywords if k.arg is None]
    if not spreads:
        return None
    own = fn.args.kwarg.arg if fn.args.kwarg else None
    if own is None or "call_context" not in {a.arg for a in [*fn.args.args, *fn.args.kwonlyargs]}:
        return False
    copies = {own}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            v = node.value
            if (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "copy"
                    and isinstance(v.func.value, ast.Name) and v.func.value.id == own) \
                    or (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "dict"
                        and len(v.args) == 1 and isinstance(v.args[0], ast.Name) and v.args[0].id == own):
                copies.add(node.targets[0].id)
    return all(isinstance(s, ast.Name) and s.id in copies for s in spreads)


def real_drop_mutants(roots: list[Path], limit: int) -> tuple[list[Mutant], dict[str, str]]:
    mutants, baselines = [], {}
    for _root, path, text, tree in parsed_files(roots):
        parents: dict[int, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
        key = f"r{len(baselines)}"
        used = False
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or "call_context" not in _context_params(fn):
                continue
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in METHODS):
                    continue
                kw = next((k for k in call.keywords if k.arg == "call_context"), None)
                if kw is None:
                    continue
                # the call's own function: the innermost def around it must be `fn`
                up, in_lambda = parents.get(id(call)), False
                while up is not None and up is not fn:
                    if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        if _context_params(up):
                            break
                        in_lambda = True
                    if isinstance(up, ast.Lambda):
                        in_lambda = True
                    up = parents.get(id(up))
                if up is not fn:
                    continue
                spread = _own_kwargs_spread(fn, call)
                shape = ("007 drop (spread may carry: silent by design)" if spread is False
                         else "007 drop in handed-on lambda/closure" if in_lambda
                         else "007 drop on a direct LLM call")
                new = drop_keyword(text, kw)
                removed = text.count("\n") - new.count("\n")
                mutants.append(Mutant(shape, "LLA007", spread is not False, new, call.lineno, key,
                                      kw.lineno + 1, -removed))
                used = True
        if used:
            baselines[key] = text
        if len(mutants) >= limit * 4:
            break
    return mutants, baselines


def _scoped_kw(name: str | None) -> bool:
    return name is not None and ("call_context" in name or "prompt_cache_key" in name)


def real_sibling_mutants(roots: list[Path]) -> tuple[list[Mutant], dict[str, str]]:
    mutants, baselines = [], {}
    for _root, path, text, tree in parsed_files(roots):
        lines = text.splitlines()
        key = f"s{len(baselines)}"
        used = False
        for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            for call in ast.walk(cls):
                if not isinstance(call, ast.Call):
                    continue
                name = ast.unparse(call.func)
                last = name.rsplit(".", 1)[-1].lstrip("_")
                if not last or not (last[0].isupper() or last.lower().startswith(
                        ("create", "build", "make", "new", "fork", "spawn", "clone", "resume", "start"))):
                    continue
                kws = [k for k in call.keywords if _scoped_kw(k.arg)]
                if not kws or any(k.arg is None for k in call.keywords):
                    continue
                segment = ast.get_source_segment(text, call)
                if segment is None:
                    continue
                sub = ast.parse("(" + segment + ")", mode="eval").body
                assert isinstance(sub, ast.Call)
                stripped = segment
                for k in sorted((k for k in sub.keywords if _scoped_kw(k.arg)),
                                key=lambda k: (k.lineno, k.col_offset), reverse=True):
                    # positions in `sub` are relative to "(" + segment: shift column on line 1
                    fake = ast.keyword(arg=k.arg, value=k.value)
                    fake.lineno, fake.end_lineno = k.lineno, k.end_lineno
                    fake.col_offset = k.col_offset - (1 if k.lineno == 1 else 0)
                    fake.end_col_offset = k.end_col_offset - (1 if k.end_lineno == 1 else 0)
                    stripped = drop_keyword(stripped, fake)
                col = cls.body[0].col_offset
                head, _, rest = stripped.partition("\n")
                snippet = f"def _mut_sibling_path(self):\n    return {head}  {MARK}" + (f"\n{rest}" if rest else "")
                end = cls.end_lineno + 1  # type: ignore[operator]
                new, marked, n = insert(lines, end, col, snippet)
                mutants.append(Mutant("008 real sibling without the kwarg", "LLA008", True,
                                      "\n".join(new) + "\n", marked, key, end, n))
                used = True
        if used:
            baselines[key] = text
    return mutants, baselines


def function_sites(roots: list[Path], limit: int):
    per_root = []
    for root in roots:
        found = []
        for _r, path, text, tree in parsed_files([root]):
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        and any(a.arg == "llm" for a in node.args.args + node.args.kwonlyargs) \
                        and not _context_params(node) \
                        and node.body and node.body[0].lineno > node.lineno \
                        and not text.splitlines()[first_statement(node).lineno - 1][:first_statement(node).col_offset].strip() \
                        and not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                    found.append((path, node))
        per_root.append(found)
    return _round_robin(per_root, limit)


def class_sites(roots: list[Path], limit: int):
    per_root = []
    for root in roots:
        found = []
        for _r, path, text, tree in parsed_files([root]):
            for cls in tree.body:
                if isinstance(cls, ast.ClassDef) and any(
                        isinstance(f, ast.FunctionDef) and f.name == "__init__" for f in cls.body):
                    found.append((path, cls))
        per_root.append(found)
    return _round_robin(per_root, limit)


def _round_robin(groups: list[list], limit: int) -> list:
    out, i = [], 0
    while len(out) < limit and any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g) and len(out) < limit:
                step = max(1, len(g) // max(1, limit))
                j = i * step
                if j < len(g):
                    out.append(g[j])
        i += 1
    return out


def injected_mutants(roots: list[Path], per_shape: int) -> tuple[list[Mutant], dict[str, str]]:
    mutants, baselines = [], {}
    for s, (path, fn) in enumerate(function_sites(roots, per_shape)):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = first_statement(fn)
        key = f"f{s}"
        baselines[key] = "\n".join(lines) + "\n"
        for name, rule, positive, snippet in FUNCTION_SHAPES:
            new, marked, n = insert(lines, first.lineno, first.col_offset, snippet)
            mutants.append(Mutant(name, rule, positive, "\n".join(new) + "\n", marked, key, first.lineno, n))
    for s, (path, cls) in enumerate(class_sites(roots, per_shape)):
        lines = path.read_text(encoding="utf-8").splitlines()
        key = f"c{s}"
        baselines[key] = "\n".join(lines) + "\n"
        end = cls.end_lineno + 1  # type: ignore[operator]
        col = cls.body[0].col_offset
        for name, positive, snippet in CLASS_SHAPES:
            new, marked, n = insert(lines, end, col, snippet)
            mutants.append(Mutant(name, "LLA008", positive, "\n".join(new) + "\n", marked, key, end, n))
    return mutants, baselines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shape", type=int, default=12)
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mutants-context-") as tmp:
        work = Path(tmp)
        roots = unpack(args.wheels, work / "src")
        mutants, baselines = real_drop_mutants(roots, args.per_shape)
        more, more_base = real_sibling_mutants(roots)
        mutants += more
        baselines.update(more_base)
        more, more_base = injected_mutants(roots, args.per_shape)
        mutants += more
        baselines.update(more_base)
        files = {f"b_{k}": v for k, v in baselines.items()}
        files.update({f"m_{i}": m.source for i, m in enumerate(mutants)})
        found = corpus.check_files(files, work / "files", CODES)
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(mutants):
        base = [(c, ln + m.inserted if ln >= m.inserted_at else ln) for c, ln in found[f"b_{m.baseline}"]]
        mine = found[f"m_{i}"]
        hit = m.expected_line is not None and (m.rule, m.expected_line) in mine
        alarms = [f for f in mine if f not in base and f != (m.rule, m.expected_line)]
        row = rows.setdefault(m.shape, [0, 0, 0, 0])
        row[0] += 1
        row[1] += int(hit)
        row[2] += int(bool(alarms))
        row[3] = int(m.positive)
    print("| shape | kind | mutants | detected | mutants with a false alarm |")
    print("| --- | --- | --- | --- | --- |")
    for shape, (n, hits, alarms, positive) in rows.items():
        kind = "defect" if positive else ("silent by design" if shape.startswith("007 drop") else "safe")
        detected = f"{hits}/{n}" if positive else f"({hits} reported)"
        print(f"| {shape} | {kind} | {n} | {detected} | {alarms} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
