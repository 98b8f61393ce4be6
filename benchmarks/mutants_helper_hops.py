#!/usr/bin/env python3
"""Mutation check for issue 13 (session 6, own-d): what a pin helper is, containers handed back
by a method, and one hop into process-global state across modules. Injected into copies of real
SDK releases at sites found automatically (`mutants.py`'s site finders); prints recall and false
alarms per shape.

    python benchmarks/mutants_helper_hops.py [--cap 6] [--seed 0] [-v] [TREE ...]

Trees default to the unpacked openhands-sdk releases in /tmp/snap-sdk/src (1.20.0, 1.30.0,
1.58.2); pass folders to use others. Nothing is downloaded. Each tree is copied into a temp
folder; each mutant is checked with a fresh project index over the copy, against a baseline of
the same file. A positive is detected when its rule reports one of the injected lines; a safe
rewrite's false alarm is any new finding in the file.

Shapes (B = the LLM a class keeps by reference from its `__init__`'s caller, e.g.
`self.agent.llm`; SID = the class's conversation id expression):
- ordinary-method-write (LLA001): `B.extra_headers[KEY] = SID` at the top of a method that
  returns a value (`generate_title`, a property): an ordinary method, not a pin helper; the
  old inference reported it as LLA006.
- returned-dict (LLA001): a new method `_lla_headers(self): return {"h": B.extra_headers}` and
  `self._lla_headers()["h"][KEY] = SID` in a method returning a value.
- returned-field (LLA001): `_lla_header_dict(self): return B.extra_headers`, then
  `_h = self._lla_header_dict(); _h[KEY] = SID`.
- setter-other-module (LLA005): a new sibling module `_lla_env.py` with
  `def lla_use_key(key): os.environ["OPENAI_API_KEY"] = key`, imported and called as
  `lla_use_key(self.api_key)` in a method.
- safe-transient-copy: `_llm = B.model_copy(update={"extra_headers": {}})`, a scoped write onto
  it, never stored (must not make a pin helper nor an LLA002).
- safe-returned-owned-dict: `_lla_headers` returns `{"h": dict(B.extra_headers or {})}`.
- safe-setter-constant / safe-setter-nondata: `lla_use_key("sk-shared")`,
  `lla_use_key(type(self).__name__)`.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import mutants as M  # noqa: E402

DEFAULT_TREES = [Path("/tmp/snap-sdk/src") / n for n in
                 ("openhands_sdk-1.20.0", "openhands_sdk-1.30.0", "openhands_sdk-1.58.2")]
KEY = M.KEY
SIBLING = "_lla_env"
SIBLING_TEXT = 'import os\n\n\ndef lla_use_key(key):\n    os.environ["OPENAI_API_KEY"] = key\n'


@dataclass
class Mut:
    shape: str
    rule: str | None
    path: str
    site: str
    source: str
    expected: frozenset[int]
    sibling: bool = False


def _returns_value(func) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None)
               for n in ast.walk(func))


def _method_sites(ctx: M.FileCtx, returning: bool):
    for q, stmt, b, cls, sid in M.borrowed_method_sites(ctx):
        func = next(m for m in M.methods(cls) if M.qual(cls, m) == q)
        if returning and not _returns_value(func):
            continue
        yield q, stmt, b, cls, sid


def _with_method(ctx: M.FileCtx, cls: ast.ClassDef, stmt: ast.stmt, block: str,
                 method: str) -> tuple[str, frozenset[int]]:
    """Insert `block` before `stmt` and `method` at the end of the class (below, so the
    injected lines keep their numbers)."""
    src, lines = M.insert(ctx, stmt.lineno, M._indent_of(ctx, stmt.lineno), block)
    shifted = M.FileCtx(ctx.path, src, ast.parse(src))
    new_cls = next(c for c in M.classes(shifted.tree) if c.name == cls.name and c.lineno >= cls.lineno)
    src2, _ = M._new_method(shifted, new_cls, method)
    return src2, lines


def _module_of(path: str) -> str | None:
    parts = Path(path).with_suffix("").parts
    if not parts:
        return None
    return ".".join(parts[:-1] + (SIBLING,))


def mutants(ctx: M.FileCtx) -> list[Mut]:
    out: list[Mut] = []
    for q, stmt, b, cls, sid in _method_sites(ctx, returning=True):
        src, lines = M.insert(ctx, stmt.lineno, M._indent_of(ctx, stmt.lineno),
                              f"{b}.extra_headers[{KEY}] = {sid}")
        out.append(Mut("ordinary-method-write", "LLA001", ctx.path, f"{q}:{stmt.lineno}", src, lines))
        src, lines = _with_method(ctx, cls, stmt, f'self._lla_headers()["h"][{KEY}] = {sid}',
                                  f'def _lla_headers(self):\n    return {{"h": {b}.extra_headers}}\n')
        out.append(Mut("returned-dict", "LLA001", ctx.path, f"{q}:{stmt.lineno}", src, lines))
        src, lines = _with_method(ctx, cls, stmt, f"_h = self._lla_header_dict()\n_h[{KEY}] = {sid}",
                                  f"def _lla_header_dict(self):\n    return {b}.extra_headers\n")
        out.append(Mut("returned-field", "LLA001", ctx.path, f"{q}:{stmt.lineno}", src, lines))
        src, lines = _with_method(ctx, cls, stmt, f'self._lla_headers()["h"][{KEY}] = {sid}',
                                  f'def _lla_headers(self):\n    return {{"h": dict({b}.extra_headers or {{}})}}\n')
        out.append(Mut("safe-returned-owned-dict", None, ctx.path, f"{q}:{stmt.lineno}", src, lines))
    for q, stmt, b, cls, sid in _method_sites(ctx, returning=False):
        src, lines = M.insert(ctx, stmt.lineno, M._indent_of(ctx, stmt.lineno),
                              f'_llm = {b}.model_copy(update={{"extra_headers": {{}}}})\n'
                              f"_llm.extra_headers[{KEY}] = {sid}")
        out.append(Mut("safe-transient-copy", None, ctx.path, f"{q}:{stmt.lineno}", src, lines))
    module = _module_of(ctx.path)
    at = M.module_insert_line(ctx)
    if module is not None and at > 1:
        for q, stmt, b, cls, sid in _method_sites(ctx, returning=False):
            for shape, rule, arg in (("setter-other-module", "LLA005", "self.api_key"),
                                     ("safe-setter-constant", None, '"sk-shared"'),
                                     ("safe-setter-nondata", None, "type(self).__name__")):
                src, lines = M.insert(ctx, stmt.lineno, M._indent_of(ctx, stmt.lineno),
                                      f"lla_use_key({arg})")
                # The import goes above every injected line: shift the expectations by one.
                body = src.splitlines(keepends=True)
                body.insert(at - 1, f"from {module} import lla_use_key\n")
                out.append(Mut(shape, rule, ctx.path, f"{q}:{stmt.lineno}", "".join(body),
                               frozenset(n + 1 for n in lines), sibling=True))
    return out


sample = M.sample  # the same seeded draw as benchmarks/mutants.py


def evaluate(m: Mut, root: Path, baselines: dict[str, list]) -> tuple[bool, list]:
    path = root / m.path
    original = path.read_text(encoding="utf-8")
    sibling = path.parent / f"{SIBLING}.py"
    if m.path not in baselines:
        baselines[m.path] = M.findings(original, path, root)
    try:
        ast.parse(m.source)
    except SyntaxError:
        return False, [("unparsable", 0, "")]
    path.write_text(m.source, encoding="utf-8")
    if m.sibling:
        sibling.write_text(SIBLING_TEXT, encoding="utf-8")
    try:
        got = M.findings(m.source, path, root)
    finally:
        path.write_text(original, encoding="utf-8")
        if m.sibling:
            sibling.unlink(missing_ok=True)
    new = M.new_findings(got, baselines[m.path])
    detected = m.rule is not None and any(c == m.rule and row in m.expected for c, row, _ in new)
    return detected, new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--cap", type=int, default=6, help="mutants per shape and tree")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    trees = args.trees or [t for t in DEFAULT_TREES if t.is_dir()]
    if not trees:
        print("no trees: pass SDK folders", file=sys.stderr)
        return 2
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # shape -> [sites, detected/alarms]
    other: dict[str, Counter] = defaultdict(Counter)
    rules: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory(prefix="lla-helper-hops-") as tmp:
        for tree in trees:
            root = Path(tmp) / tree.name
            shutil.copytree(tree, root, ignore=shutil.ignore_patterns("__pycache__", ".git"))
            corpus.mark_project(root)
            by_shape: dict[str, list[Mut]] = defaultdict(list)
            for path in sorted(root.rglob("*.py")):
                try:
                    source = path.read_text(encoding="utf-8")
                    ctx = M.FileCtx(path.relative_to(root).as_posix(), source, ast.parse(source))
                except (SyntaxError, UnicodeDecodeError, ValueError):
                    continue
                M._CLASS_ID.clear()
                for m in mutants(ctx):
                    by_shape[m.shape].append(m)
            baselines: dict[str, list] = {}
            for shape, items in sorted(by_shape.items()):
                for m in sample(items, args.cap, args.seed, f"{tree.name}:{shape}"):
                    rules[shape] = m.rule
                    detected, new = evaluate(m, root, baselines)
                    tally[shape][0] += 1
                    if m.rule is not None:
                        tally[shape][1] += detected
                        if not detected:
                            other[shape].update(c for c, row, _ in new if row in m.expected)
                    else:
                        tally[shape][1] += bool(new)
                        other[shape].update(c for c, _, _ in new)
                    if args.verbose:
                        print(f"  {tree.name} {shape:26} {m.path}:{m.site} -> "
                              f"{'detected' if detected else sorted(set(new))}")
    print("| shape | rule | sites | detected / false alarms | other codes on the site |")
    print("| --- | --- | ---: | ---: | --- |")
    for shape in sorted(tally, key=lambda s: (rules[s] is None, s)):
        sites, hits = tally[shape]
        codes = ", ".join(f"{c} x{n}" for c, n in sorted(other[shape].items())) or "-"
        label = f"{hits}/{sites} detected" if rules[shape] else f"{hits} false alarms in {sites}"
        print(f"| {shape} | {rules[shape] or 'safe'} | {sites} | {label} | {codes} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
