#!/usr/bin/env python3
"""Audit the prefilter on any tree: does it ever hide a finding?

    python benchmarks/prefilter_audit.py PATH...             # findings with and without it,
                                                             # and every rule's stages
    python benchmarks/prefilter_audit.py --ast-stage PATH... # LLA005's ast stage, half by half
    python benchmarks/prefilter_audit.py --writers PATH...   # the call hops' writers

The first mode checks every `.py` file twice (prefilter on, prefilter off: every file parsed by
libcst) and lists any file whose findings differ; per rule, it counts the files whose stages
(tokens, then the rule's `ast` stage, `analysis/rule_stages.py`) pass and the files where the
rule reports without the prefilter, and lists any of those its stages would have skipped. The second compares LLA005's `ast` stage
(`analysis/globals_prefilter.py`) with the libcst analysis it over-approximates, for every file:
each function that writes into shared state, each function where a value is described as
instance data, and each function with both (`tests/test_prefilter_ast.py` does the same on a
sample). The third compares the writers a call hop may run (`rule_stages._module_writers`,
`param_flow`) with the function summaries they over-approximate (`call_effects`, without the
writers gate), in every file whose text may hold a scoped value: each function whose summary
lists a write onto a parameter must be a writer (`tests/test_prefilter.py` does the same on the
fixtures). Each prints a line per miss and a summary; they are slow (a libcst parse of every
file).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lint_rules.analysis.process_state_ast import (
    holds_instance_data,
    may_leak_into_globals,
    writes_environment,
    writes_shared_state,
)
from lint_rules.analysis.project_index import ProjectIndex  # noqa: E402
from lint_rules.core.config import Config  # noqa: E402
from lint_rules.core.source import decode_source  # noqa: E402
from lint_rules.engine import check_text, rules_that_may_fire  # noqa: E402
from lint_rules.rules import all_rules  # noqa: E402
from lint_rules.syntax.parse import module_name_for


def python_files(root: Path):
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                yield Path(folder, name)


def read(path: Path) -> str | None:
    try:
        return decode_source(path.read_bytes()).text
    except Exception:  # noqa: BLE001 - unreadable files are not the audit's business
        return None


def audit_findings(roots: list[Path], config: Config) -> int:
    """Findings with and without the prefilter, file by file, and per rule: every rule that
    reports in a file without the prefilter must pass both of its stages there."""
    files = differ = with_findings = 0
    codes = tuple(r.code for r in all_rules())
    passed = {c: 0 for c in codes}
    reported = {c: 0 for c in codes}
    hidden = {c: 0 for c in codes}
    for root in roots:
        index = ProjectIndex(config, [root])
        for path in python_files(root):
            source = read(path)
            if source is None:
                continue
            files += 1
            on = check_text(source, str(path), config, index, prefilter=True)
            off = check_text(source, str(path), config, index, prefilter=False)
            with_findings += bool(off)
            passing = {r.code for r in rules_that_may_fire(source, config, codes, path=str(path),
                                                          index=index)}
            for code in passing:
                passed[code] += 1
            for code in {d.code for d in off} - {"LLA000"}:
                reported[code] += 1
                if code not in passing:
                    hidden[code] += 1
                    print(f"HIDDEN {code} {path}", flush=True)
            if [(d.code, d.start, d.message) for d in on] != [(d.code, d.start, d.message) for d in off]:
                differ += 1
                print(f"DIFFERENT {path}: {[d.code for d in on]} vs {[d.code for d in off]}", flush=True)
    print(f"{files} files, {with_findings} with findings, {differ} with different findings")
    print("rule    stages pass  files with findings  hidden")
    for code in codes:
        print(f"{code}  {passed[code]:11d}  {reported[code]:19d}  {hidden[code]:6d}")
    return 1 if differ or any(hidden.values()) else 0


def audit_ast_stage(roots: list[Path], config: Config) -> int:
    from test_prefilter_ast import _Everything

    counts = {"sink": 0, "data": 0, "both": 0, "setter": 0, "environment": 0}
    # The module name qualifies what an LLM class may be matched by (the engine passes it).
    halves = {"sink": lambda tree, source, config, module: writes_shared_state(tree, source, config),
              "data": holds_instance_data,
              "both": lambda tree, source, config, module: may_leak_into_globals(
                  tree, source, config, module_name=module),
              "setter": lambda tree, source, config, module: writes_environment(tree, source, config),
              "environment": lambda tree, source, config, module: writes_environment(
                  tree, source, config)}
    files = missed = 0
    for root in roots:
        for path in python_files(root):
            source = read(path)
            if source is None:
                continue
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, RecursionError):
                continue
            files += 1
            found = {d.message for d in check_text(source, str(path), config, ProjectIndex(config),
                                                   prefilter=False, rules=[_Everything])
                     if d.message in counts}  # not LLA000 (a file libcst cannot parse)
            module = module_name_for(str(path))[0]
            for kind in found:
                counts[kind] += 1
                if not halves[kind](tree, source, config, module):
                    missed += 1
                    print(f"MISSED {kind}: {path}", flush=True)
    print(f"{files} files; files with a shared write {counts['sink']}, with instance data "
          f"{counts['data']}, with both in one function {counts['both']}, with a write into the "
          f"environment {counts['environment']}; missed {missed}")
    return 1 if missed else 0


def audit_writers(roots: list[Path], config: Config) -> int:
    from test_prefilter import _param_writers

    from lint_rules.analysis.rule_stages import text_may_hold_scoped

    files = summarised = missed = 0
    for root in roots:
        for path in python_files(root):
            source = read(path)
            if source is None or not text_may_hold_scoped(source, config):
                continue
            try:
                ast.parse(source)
            except (SyntaxError, ValueError, RecursionError):
                continue  # no `ast` writers: every definition may write (`_parse_writers`)
            files += 1
            found, writers = _param_writers(str(path), source)
            summarised += len(found)
            if not found <= writers:
                missed += 1
                print(f"MISSED {path}: {sorted(found - writers)}", flush=True)
    print(f"{files} files; functions whose summary lists a parameter write {summarised}; "
          f"files with one that is no writer {missed}")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--ast-stage", action="store_true", help="audit LLA005's ast stage")
    parser.add_argument("--writers", action="store_true", help="audit the call hops' writers")
    args = parser.parse_args()
    start = time.perf_counter()
    audit = audit_ast_stage if args.ast_stage else audit_writers if args.writers \
        else audit_findings
    status = audit(args.paths, Config())
    print(f"{time.perf_counter() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
