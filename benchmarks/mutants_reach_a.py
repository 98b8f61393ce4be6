#!/usr/bin/env python3
"""Mutation check for the reach shapes of DSPy, LlamaIndex, LangChain, LangGraph, Haystack and
instructor (issue 15): a hook installed in place on a borrowed LLM, and a per-run id written
under an id-named key into a borrowed LLM's request extras; plus safe rewrites that must stay
silent. Injected into real SDK code at sites found automatically; prints recall and false
alarms per shape.

    python benchmarks/mutants_reach_a.py [--per-shape 12] [--wheels DIR]

Sites: functions of the published wheels (default folder `/work/sdk-cache`; a missing wheel is
fetched with `pip download --no-deps` of the pinned release into a temp folder) that take a
parameter named `llm` or `lm` (an LLM the function borrows, in each SDK's own spelling). The
snippet goes first in the body (after the docstring). Each mutant is one file checked alone,
against a baseline of the same file without the snippet; a positive is detected when LLA001
reports the marked line, a false alarm is any other LLA001 finding not in the baseline.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import mutants_guards_swaps_bypass as base  # noqa: E402

WHEELS = {
    "dspy-3.4.1": "dspy==3.4.1",
    "llama_index_core-0.14.25": "llama-index-core==0.14.25",
    "langchain_core-1.8.4": "langchain-core==1.8.4",
    "langchain_openai-1.8.1": "langchain-openai==1.8.1",
    "langgraph-1.2.24": "langgraph==1.2.24",
    "haystack_ai-3.4.1": "haystack-ai==3.4.1",
    "instructor-1.17.0": "instructor==1.17.0",
}
PARAMS = ("llm", "lm")

# (name, positive?, snippet with `{p}` for the borrowed parameter). `#MUT` marks the line.
SHAPES: list[tuple[str, bool, str]] = [
    ("hook: callback manager from elsewhere", True,
     "{p}.callback_manager = CallbackManager([_mut_handler])  #MUT"),
    ("hook: fresh tracker list", True, "{p}.callbacks = [TokenCountingHandler()]  #MUT"),
    ("hook: setattr", True, 'setattr({p}, "callback_manager", _mut_manager)  #MUT'),
    ("id key: kwargs[rollout_id]", True, '{p}.kwargs["rollout_id"] = _mut_rid  #MUT'),
    ("id key: additional_kwargs[thread_id]", True,
     '{p}.additional_kwargs["thread_id"] = _mut_tid  #MUT'),
    ("id key: model_kwargs.update(run_id=)", True, "{p}.model_kwargs.update(run_id=_mut_rid)  #MUT"),
    ("id key: through an alias", True, '_kw = {p}.kwargs\n_kw["session_id"] = _mut_sid  #MUT'),
    ("safe: empty manager", False, "{p}.callback_manager = CallbackManager([])"),
    ("safe: cleared callbacks", False, "{p}.callbacks = None"),
    ("safe: hook on an owned copy", False,
     "_own = {p}.model_copy()\n_own.callbacks = [TokenCountingHandler()]"),
    ("safe: constant under id key", False, '{p}.kwargs["rollout_id"] = None'),
    ("safe: reading the id", False, '_start = {p}.kwargs.get("rollout_id", 0)'),
    ("safe: other key", False, '{p}.kwargs["temperature"] = _mut_t'),
    ("safe: per-call id", False, "_copy = {p}.copy(rollout_id=_mut_rid, temperature=1.0)"),
]


def sites(roots: list[Path], limit: int, params: tuple[str, ...] = PARAMS,
          ) -> list[tuple[Path, ast.FunctionDef, str]]:
    """Functions taking one of `params` (a borrowed model), spread over the packages."""
    per_root = []
    for root in roots:
        found = []
        for path, tree in corpus.parsed_modules(root):
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                param = next((p for p in params if p in names), None)
                if param is not None and node.body and node.body[0].lineno > node.lineno \
                        and not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                    found.append((path, node, param))
        per_root.append(found)
    return base._round_robin(per_root, limit)


def run(wheels: dict[str, str], shapes: list[tuple[str, bool, str]], params: tuple[str, ...],
        wheel_dir: Path, per_shape: int, verbose: bool = False) -> int:
    """Inject every shape first in each site's body, check the mutants and their baselines
    with LLA001, and print recall and false alarms per shape."""
    base.WHEELS = wheels
    where: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mutants-reach-") as tmp:
        work = Path(tmp)
        roots = base.unpack(wheel_dir, work / "src")
        mutants: list[base.Mutant] = []
        baselines: dict[str, str] = {}
        for s, (path, fn, param) in enumerate(sites(roots, per_shape, params)):
            where[f"f{s}"] = f"{path.relative_to(work / 'src')}:{fn.lineno} {fn.name}"
            lines = path.read_text(encoding="utf-8").splitlines()
            first = base.first_statement(fn)
            baselines[f"f{s}"] = "\n".join(lines) + "\n"
            for name, positive, snippet in shapes:
                new, marked, n = base.insert(lines, first.lineno, first.col_offset,
                                             snippet.replace("{p}", param))
                mutants.append(base.Mutant(name, "LLA001", positive, "\n".join(new) + "\n",
                                           marked, f"f{s}", first.lineno, n))
        files = {f"b_{k}": v for k, v in baselines.items()}
        files.update({f"m_{i}": m.source for i, m in enumerate(mutants)})
        found = corpus.check_files(files, work / "files", "LLA001")
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(mutants):
        before = [(c, ln + m.inserted if ln >= m.inserted_at else ln)
                  for c, ln in found[f"b_{m.baseline}"] if c == m.rule]
        mine = [(c, ln) for c, ln in found[f"m_{i}"] if c == m.rule]
        hit = m.expected_line is not None and (m.rule, m.expected_line) in mine
        alarms = [f for f in mine if f not in before and f != (m.rule, m.expected_line)]
        row = rows.setdefault(m.shape, [0, 0, 0, 0])
        row[0] += 1
        row[1] += int(hit) if m.positive else 0
        # A defect in a private method is reported where a caller hands it the borrowed LLM
        # (issue 13's call hop): a new finding elsewhere is that report, not a false alarm.
        at_caller = m.positive and not hit and bool(alarms)
        row[2] += int(at_caller)
        row[3] += int(bool(alarms) and not at_caller)
        if verbose and ((m.positive and not hit) or (alarms and not at_caller)):
            what = "at a caller" if at_caller else "missed" if m.positive and not hit else "alarm"
            print(f"{what}: {m.shape} at {where[m.baseline]}")
    print(f"sites: {len(where)}")
    print("| shape | kind | mutants | detected at the line | detected at a caller | mutants with a false alarm |")
    print("| --- | --- | --- | --- | --- | --- |")
    for shape, (n, hits, callers, alarms) in rows.items():
        positive = next(m.positive for m in mutants if m.shape == shape)
        detected = f"{hits}/{n}" if positive else "-"
        at_caller = f"{callers}/{n}" if positive else "-"
        print(f"| {shape} | {'defect' if positive else 'safe'} | {n} | {detected} | {at_caller} | {alarms} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shape", type=int, default=12)
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses and alarms")
    args = parser.parse_args()
    return run(WHEELS, SHAPES, PARAMS, args.wheels, args.per_shape, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
