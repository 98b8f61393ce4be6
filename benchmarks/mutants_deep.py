#!/usr/bin/env python3
"""Mutation check for deep code (issue 17): real SDK files with real findings, made deep.

    python benchmarks/mutants_deep.py [--per-shape 15] [DIR ...]

DIR: unpacked SDK releases (default: every folder of `/tmp/snap-sdk/src`; nothing is
downloaded). Sites are found automatically: each finding of LLA001..LLA008 on a file (checked
alone) whose reported line starts a statement inside a function. Each shape inserts a deep
construct into that function, just before that statement and at its indentation, and the file
is checked again:

- `elif_chain`: a 1,200-branch `if/elif` chain of `pass`;
- `long_sum`: `_deep = 0 + 0 + ...` (1,500 terms);
- `long_or`: `_deep = None or None or ...` (2,000 terms);
- `concat`: a 2,000-part implicitly concatenated string;
- `nested_ifs`: `if _x:` nested to 20 levels below the statement's own indentation;
- `assign_chain`: `_d0 = 0; _d1 = _d0; ...` (1,200 locals).

A finding is kept when the mutant reports the same code on the same (shifted) line; recall is
kept / original findings per shape. A false alarm is a finding of the mutant that the original
does not have (after the shift). The same constructs inserted into functions of files with no
finding are the safe rewrites: any finding there is a false alarm. Internal errors (a crash)
are counted apart, and are always a failure.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lint_rules.api import check_source  # noqa: E402
from lint_rules.core.config import Config  # noqa: E402

DEFAULT_ROOT = Path("/tmp/snap-sdk/src")
CODES = {f"LLA00{i}" for i in range(1, 9)}


def _construct(shape: str, pad: str) -> list[str]:
    if shape == "elif_chain":
        out = [f"{pad}if _x == 0:", f"{pad}    pass"]
        for i in range(1, 1200):
            out += [f"{pad}elif _x == {i}:", f"{pad}    pass"]
        return out
    if shape == "long_sum":
        return [f"{pad}_deep = " + " + ".join(["0"] * 1500)]
    if shape == "long_or":
        return [f"{pad}_deep = " + " or ".join(["None"] * 2000)]
    if shape == "concat":
        return [f"{pad}_deep = ("] + [f'{pad}    "part {i} "' for i in range(2000)] + [f"{pad})"]
    if shape == "nested_ifs":
        return [f"{pad}{'    ' * i}if _x:" for i in range(20)] + [f"{pad}{'    ' * 20}pass"]
    if shape == "assign_chain":
        return [f"{pad}_d0 = 0"] + [f"{pad}_d{i} = _d{i - 1}" for i in range(1, 1200)]
    raise ValueError(shape)


SHAPES = ("elif_chain", "long_sum", "long_or", "concat", "nested_ifs", "assign_chain")


def _statement_starts(tree: ast.Module) -> dict[int, int]:
    """Row -> column of each statement that starts a line inside a function body."""
    out: dict[int, int] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.stmt) and in_function \
                    and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.setdefault(child.lineno, child.col_offset)
            stack.append((child, inner))
    return out


def _findings(source: str, path: str, config: Config) -> tuple[list[tuple[str, int]], bool]:
    try:
        found = check_source(source, path, config)
    except Exception:  # an internal error: reported as such
        return [], True
    return [(d.code, d.start.row) for d in found if d.code in CODES], any(
        d.code == "LLA000" for d in found)


def _mutate(source: str, row: int, column: int, shape: str) -> tuple[str, int]:
    lines = source.splitlines()
    line = lines[row - 1]
    if line[:column].strip():  # the statement does not start its line (`a = 1; b = 2`)
        raise ValueError
    pad = line[:column]
    construct = _construct(shape, pad)
    return "\n".join(lines[:row - 1] + construct + lines[row - 1:]) + "\n", len(construct)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--per-shape", type=int, default=15)
    args = parser.parse_args()
    roots = args.dirs or sorted(p for p in DEFAULT_ROOT.iterdir() if p.is_dir())
    config = Config()
    sites: list[tuple[Path, str, int, int]] = []  # file, source, row, column
    safe: list[tuple[Path, str, int, int]] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                source = path.read_text(encoding="utf-8")
                tree = ast.parse(source)
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
                continue
            starts = _statement_starts(tree)
            if not starts:
                continue
            if not any(token in source for token in ("llm", "LLM", "environ", "extra_headers",
                                                     "call_context", "model_copy")):
                continue
            found, _ = _findings(source, str(path), config)
            rows = sorted({row for _, row in found if row in starts})
            if rows:
                sites += [(path, source, row, starts[row]) for row in rows]
            elif len(safe) < 4 * args.per_shape:
                row = sorted(starts)[len(starts) // 2]
                safe.append((path, source, row, starts[row]))
    print(f"{len(sites)} sites with findings, {len(safe)} safe sites in {len(roots)} trees")
    for shape in SHAPES:
        kept = total = false_alarms = crashes = safe_alarms = 0
        for path, source, row, column in sites[:args.per_shape]:
            try:
                mutant, added = _mutate(source, row, column, shape)
            except ValueError:
                continue
            before, _ = _findings(source, str(path), config)
            after, error = _findings(mutant, str(path), config)
            crashes += error
            shifted = Counter((code, r + added if r >= row else r) for code, r in before)
            got = Counter(after)
            total += sum(shifted.values())
            kept += sum((shifted & got).values())
            extra = got - shifted
            false_alarms += sum(extra.values())
            for (code, r), _ in extra.items():
                print(f"  {shape}: new {code} at {path}:{r}")
            for (code, r), _ in (shifted - got).items():
                print(f"  {shape}: lost {code} at {path}:{r}")
        for path, source, row, column in safe[:args.per_shape]:
            try:
                mutant, _ = _mutate(source, row, column, shape)
            except ValueError:
                continue
            after, error = _findings(mutant, str(path), config)
            crashes += error
            safe_alarms += len(after)
        print(f"{shape:13s} recall {kept}/{total}  false alarms {false_alarms} "
              f"(safe rewrites: {safe_alarms})  internal errors/LLA000 {crashes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
