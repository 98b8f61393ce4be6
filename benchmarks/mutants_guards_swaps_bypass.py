#!/usr/bin/env python3
"""Mutation check for LLA002 (swap without pin), LLA003 (stale pin guard) and LLA004 (header
bypass): inject each defect shape, and safe rewrites that must stay silent, into real SDK code at
sites found automatically, run the tool, and print recall and false alarms per shape.

    python benchmarks/mutants_guards_swaps_bypass.py [--per-shape 12] [--wheels DIR]

Sites come from published agent-SDK wheels (default folder `/work/sdk-cache`; a wheel missing
there is fetched with `pip download --no-deps` of the pinned release into a temp folder):

- LLA003 and LLA004: functions that take a parameter named `llm` (an LLM the function borrows);
  the snippet goes first in the body (after the docstring) and binds `conversation_id` from
  `state.id` (a conversation id);
- LLA002: classes with an `__init__`; the control adds a set-up pin to `__init__`
  (`self.agent.llm.extra_headers[KEY] = str(self.id)`), each mutant adds a swap method.

Each mutant is one file, checked alone (no package around it), against a baseline of the same
file without the snippet (for LLA002: with the set-up pin only). A positive is detected when the
rule reports the marked line; a false alarm is any finding of the rule that is neither the
marked line nor in the baseline (lines shifted by the insertion).
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
KEY = '"x-litellm-session-id"'
MARK = "#MUT"

# (name, rule, positive?, snippet). `#MUT` marks the line the rule must report.
FUNCTION_SHAPES: list[tuple[str, str, bool, str]] = [
    # ---- LLA003: keep-what-is-there guards on the borrowed `llm`
    ("003 if not in", "LLA003", True, f"""\
if {KEY} not in (llm.extra_headers or {{}}):  #MUT
    llm.extra_headers = {{**(llm.extra_headers or {{}}), {KEY}: conversation_id}}"""),
    ("003 if not get", "LLA003", True, f"""\
if not (llm.extra_headers or {{}}).get({KEY}):  #MUT
    llm.extra_headers[{KEY}] = conversation_id"""),
    ("003 get or", "LLA003", True, f"""\
llm.extra_headers = {{**(llm.extra_headers or {{}}), {KEY}: (llm.extra_headers or {{}}).get({KEY}) or conversation_id}}  #MUT"""),
    ("003 attr or", "LLA003", True, """\
llm._prompt_cache_key = llm._prompt_cache_key or conversation_id  #MUT"""),
    ("003 if-expression", "LLA003", True, """\
llm._prompt_cache_key = llm._prompt_cache_key if llm._prompt_cache_key else conversation_id  #MUT"""),
    ("003 is None", "LLA003", True, """\
if llm._prompt_cache_key is None:  #MUT
    llm._prompt_cache_key = conversation_id"""),
    ("003 setdefault", "LLA003", True, f"""\
llm.extra_headers.setdefault({KEY}, conversation_id)  #MUT"""),
    ("003 merge old wins", "LLA003", True, f"""\
llm.extra_headers = {{{KEY}: conversation_id, **(llm.extra_headers or {{}})}}  #MUT"""),
    ("003 dict() old wins", "LLA003", True, f"""\
llm.extra_headers = dict({{{KEY}: conversation_id}}, **(llm.extra_headers or {{}}))  #MUT"""),
    ("003 context early return", "LLA003", True, """\
_ctx = llm._call_context
if _ctx is not None and _ctx.session_id is not None:  #MUT
    return None
llm._call_context = CallContext(session_id=conversation_id)"""),
    ("003 copy get or", "LLA003", True, f"""\
_pinned = llm.model_copy(update={{"extra_headers": {{**(llm.extra_headers or {{}}), {KEY}: (llm.extra_headers or {{}}).get({KEY}) or conversation_id}}}})  #MUT"""),
    ("003 request attr or", "LLA003", True, """\
_resp = llm.completion(messages=[], prompt_cache_key=llm._prompt_cache_key or conversation_id)  #MUT"""),
    ("003 safe overwrite", "LLA003", False, f"""\
llm.extra_headers = {{**(llm.extra_headers or {{}}), {KEY}: conversation_id}}"""),
    ("003 safe constant or", "LLA003", False, """\
llm.timeout = llm.timeout or 30"""),
    ("003 safe owned copy", "LLA003", False, """\
_own = llm.model_copy(deep=True)
if _own._prompt_cache_key is None:
    _own._prompt_cache_key = conversation_id"""),
    ("003 safe request new wins", "LLA003", False, f"""\
_resp = llm.completion(messages=[], extra_headers={{**(llm.extra_headers or {{}}), {KEY}: conversation_id}})"""),
    # ---- LLA004: request building
    ("004 guarded default", "LLA004", True, """\
_opts = {}
if "extra_headers" not in _opts:
    _opts["extra_headers"] = dict(llm.extra_headers)  #MUT"""),
    ("004 fallback", "LLA004", True, """\
_opts = {}
_h = _opts.get("extra_headers") or llm.extra_headers  #MUT"""),
    ("004 caller merged last", "LLA004", True, """\
_opts = {}
_h = {**llm.extra_headers, **_opts.get("extra_headers", {})}  #MUT"""),
    ("004 key overridden", "LLA004", True, f"""\
_opts = {{}}
_h = {{{KEY}: conversation_id, **_opts.get("extra_headers", {{}})}}  #MUT"""),
    ("004 injected before replace", "LLA004", True, f"""\
_opts = {{}}
_opts["extra_headers"] = {{**(_opts.get("extra_headers") or {{}}), {KEY}: conversation_id}}
if "extra_headers" not in _opts:
    _opts["extra_headers"] = dict(llm.extra_headers)  #MUT"""),
    ("004 safe re-injected after", "LLA004", False, f"""\
_opts = {{}}
if "extra_headers" not in _opts:
    _opts["extra_headers"] = dict(llm.extra_headers)
_opts["extra_headers"][{KEY}] = conversation_id"""),
    ("004 safe helper re-injects", "LLA004", False, """\
_opts = {}
if "extra_headers" not in _opts:
    _opts["extra_headers"] = dict(llm.extra_headers)
_mut_inject(_opts, conversation_id)"""),
    ("004 safe pinned last", "LLA004", False, """\
_opts = {}
_h = {**_opts.get("extra_headers", {}), **(llm.extra_headers or {})}"""),
    ("004 safe key last", "LLA004", False, f"""\
_opts = {{}}
_h = {{**_opts.get("extra_headers", {{}}), {KEY}: conversation_id}}"""),
]
MODULE_HELPER = f"""

def _mut_inject(options, cid):
    options["extra_headers"] = {{**(options.get("extra_headers") or {{}}), {KEY}: cid}}
"""

SETUP_PIN = f"self.agent.llm.extra_headers[{KEY}] = str(self.id)"
CLASS_SHAPES: list[tuple[str, bool, str]] = [
    ("002 forgets", True, """\
def _mut_swap(self, llm):
    self.agent = self.agent.model_copy(update={"llm": llm})  #MUT"""),
    ("002 component copied before pin", True, f"""\
def _mut_swap(self, llm):
    condenser = self.agent.condenser.model_copy(update={{"llm": llm.model_copy(update={{"usage_id": "condenser"}})}})
    llm = llm.model_copy(update={{"extra_headers": {{**(llm.extra_headers or {{}}), {KEY}: str(self.id)}}}})
    self.agent = self.agent.model_copy(update={{"llm": llm, "condenser": condenser}})  #MUT"""),
    ("002 pinned on one path", True, f"""\
def _mut_swap(self, llm, sticky=False):
    if sticky:
        llm.extra_headers[{KEY}] = str(self.id)
    self.agent.llm = llm  #MUT"""),
    ("002 safe inline pin", False, f"""\
def _mut_swap(self, llm):
    self.agent = self.agent.model_copy(update={{"llm": llm.model_copy(update={{"extra_headers": {{**(llm.extra_headers or {{}}), {KEY}: str(self.id)}}}})}})"""),
    ("002 safe pinned copy before", False, f"""\
def _mut_swap(self, llm):
    llm = llm.model_copy(update={{"extra_headers": {{**(llm.extra_headers or {{}}), {KEY}: str(self.id)}}}})
    self.agent = self.agent.model_copy(update={{"llm": llm}})"""),
    ("002 safe write before", False, f"""\
def _mut_swap(self, llm):
    llm = llm.model_copy()
    llm.extra_headers[{KEY}] = str(self.id)
    self.agent.llm = llm"""),
    ("002 safe pin after", False, f"""\
def _mut_swap(self, llm):
    self.agent.llm = llm
    self.agent.llm.extra_headers[{KEY}] = str(self.id)"""),
]


@dataclass
class Mutant:
    shape: str
    rule: str
    positive: bool
    source: str
    expected_line: int | None
    baseline: str  # key of the baseline file
    inserted_at: int  # first line of the insertion (1-based), lines at/after it shift
    inserted: int  # number of lines inserted


def unpack(wheels: Path, into: Path) -> list[Path]:
    return list(corpus.unpack_sources(WHEELS, wheels, into).values())


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def function_sites(roots: list[Path], limit: int) -> list[tuple[Path, ast.FunctionDef]]:
    """Functions with a parameter `llm`, spread over the packages (round robin)."""
    per_root: list[list[tuple[Path, ast.FunctionDef]]] = []
    for root in roots:
        found = []
        for path, tree in corpus.parsed_modules(root):
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        and any(a.arg == "llm" for a in node.args.args + node.args.kwonlyargs) \
                        and node.body and node.body[0].lineno > node.lineno \
                        and not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                    found.append((path, node))
        per_root.append(found)
    return _round_robin(per_root, limit)


def class_sites(roots: list[Path], limit: int) -> list[tuple[Path, ast.ClassDef, ast.FunctionDef]]:
    per_root = []
    for root in roots:
        found = []
        for path, tree in corpus.parsed_modules(root):
            for cls in tree.body:
                if not isinstance(cls, ast.ClassDef):
                    continue
                init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
                             and f.args.args and f.body and f.body[0].lineno > f.lineno), None)
                if init is not None and not any(isinstance(f, ast.FunctionDef) and f.name == "_mut_swap"
                                                for f in cls.body):
                    found.append((path, cls, init))
        per_root.append(found)
    return _round_robin(per_root, limit)


def _round_robin(groups: list[list], limit: int) -> list:
    out = []
    i = 0
    while len(out) < limit and any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g) and len(out) < limit:
                # spread over each package's files: take every k-th site
                step = max(1, len(g) // max(1, limit))
                j = i * step
                if j < len(g):
                    out.append(g[j])
        i += 1
    return out


def first_statement(fn: ast.FunctionDef) -> ast.stmt:
    body = fn.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1]
    return body[0]


def insert(lines: list[str], at: int, col: int, snippet: str) -> tuple[list[str], int | None, int]:
    """Insert `snippet` before line `at` (1-based) with `col` spaces; -> (lines, marked line, n)."""
    text = indent(snippet, " " * col).splitlines()
    marked = None
    out_snippet = []
    for k, line in enumerate(text):
        if MARK in line:
            marked = at + k
            line = line.replace("  " + MARK, "").replace(MARK, "")
        out_snippet.append(line)
    return lines[: at - 1] + out_snippet + lines[at - 1:], marked, len(out_snippet)


def build(roots: list[Path], per_shape: int, work: Path) -> tuple[list[Mutant], dict[str, str]]:
    mutants: list[Mutant] = []
    baselines: dict[str, str] = {}
    for s, (path, fn) in enumerate(function_sites(roots, per_shape)):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = first_statement(fn)
        # A conversation id, then the shape; a same-module helper for the re-injection shape.
        base_key = f"f{s}"
        baselines[base_key] = "\n".join(lines) + MODULE_HELPER
        for name, rule, positive, snippet in FUNCTION_SHAPES:
            body = "conversation_id = state.id\n" + snippet
            new, marked, n = insert(lines, first.lineno, first.col_offset, body)
            mutants.append(Mutant(name, rule, positive, "\n".join(new) + MODULE_HELPER, marked,
                                  base_key, first.lineno, n))
    for s, (path, cls, init) in enumerate(class_sites(roots, per_shape)):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = first_statement(init)
        with_pin, _, n_pin = insert(lines, init.body[-1].end_lineno + 1, first.col_offset, SETUP_PIN)
        base_key = f"c{s}"
        baselines[base_key] = "\n".join(with_pin)
        end = cls.end_lineno + n_pin + 1  # after the class body (init grew by n_pin lines)
        for name, positive, snippet in CLASS_SHAPES:
            new, marked, n = insert(with_pin, end, init.col_offset, snippet)
            mutants.append(Mutant(name, "LLA002", positive, "\n".join(new) + "\n", marked, base_key, end, n))
    return mutants, baselines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shape", type=int, default=12)
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mutants14a-") as tmp:
        work = Path(tmp)
        roots = unpack(args.wheels, work / "src")
        mutants, baselines = build(roots, args.per_shape, work)
        files = {f"b_{k}": v for k, v in baselines.items()}
        files.update({f"m_{i}": m.source for i, m in enumerate(mutants)})
        found = corpus.check_files(files, work / "files", "LLA002,LLA003,LLA004")
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(mutants):
        base = [(c, ln + m.inserted if ln >= m.inserted_at else ln)
                for c, ln in found[f"b_{m.baseline}"] if c == m.rule]
        mine = [(c, ln) for c, ln in found[f"m_{i}"] if c == m.rule]
        hit = m.expected_line is not None and (m.rule, m.expected_line) in mine
        alarms = [f for f in mine if f not in base and f != (m.rule, m.expected_line)]
        row = rows.setdefault(m.shape, [0, 0, 0])
        row[0] += 1
        row[1] += int(hit) if m.positive else 0
        row[2] += int(bool(alarms))
    print("| shape | kind | mutants | detected | mutants with a false alarm |")
    print("| --- | --- | --- | --- | --- |")
    for shape, (n, hits, alarms) in rows.items():
        positive = next(m.positive for m in mutants if m.shape == shape)
        detected = f"{hits}/{n}" if positive else "-"
        print(f"| {shape} | {'defect' if positive else 'safe'} | {n} | {detected} | {alarms} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
