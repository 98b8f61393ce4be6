#!/usr/bin/env python3
"""Mutation check for embedding models as shared model clients (issue 15, reach-c): a hook
installed in place on an embedding model a function borrows (the shape of llama-index-core's
`resolve_embed_model`), plus safe rewrites that must stay silent. Injected into real SDK code at
sites found automatically; prints recall and false alarms per shape.

    python benchmarks/mutants_reach_c.py [--per-shape 12] [--wheels DIR]

Sites: functions of the published wheels (default folder `/work/sdk-cache`; a missing wheel is
fetched with `pip download --no-deps` of the pinned release into a temp folder) that take a
parameter named `embed_model` or `embedding_model` (an embedding model the function borrows, in
each SDK's own spelling). The snippet goes first in the body (after the docstring). Each mutant
is one file checked alone, against a baseline of the same file without the snippet; a positive
is detected when LLA001 reports the marked line, a false alarm is any other new LLA001 finding.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mutants_guards_swaps_bypass as base  # noqa: E402
import mutants_reach_a as reach_a  # noqa: E402

WHEELS = {
    "llama_index_core-0.14.25": "llama-index-core==0.14.25",
    "camel_ai-0.2.90": "camel-ai==0.2.90",
    "langchain_core-1.8.4": "langchain-core==1.8.4",
    "haystack_ai-3.4.1": "haystack-ai==3.4.1",
}
PARAMS = ("embed_model", "embedding_model")

# (name, positive?, snippet with `{p}` for the borrowed parameter). `#MUT` marks the line.
SHAPES: list[tuple[str, bool, str]] = [
    ("hook: callback manager from elsewhere", True,
     "{p}.callback_manager = _mut_manager or Settings.callback_manager  #MUT"),
    ("hook: fresh tracker list", True, "{p}.callbacks = [TokenCountingHandler()]  #MUT"),
    ("hook: setattr", True, 'setattr({p}, "callback_manager", _mut_manager)  #MUT'),
    ("hook: after an isinstance narrowing", True,
     "assert isinstance({p}, BaseEmbedding)\n{p}.callback_manager = _mut_manager  #MUT"),
    ("safe: empty manager", False, "{p}.callback_manager = CallbackManager([])"),
    ("safe: cleared callbacks", False, "{p}.callbacks = None"),
    ("safe: hook on an owned copy", False,
     "_own = {p}.model_copy()\n_own.callback_manager = _mut_manager"),
    ("safe: hook on a fresh model", False,
     "_own = MockEmbedding(embed_dim=8)\n_own.callback_manager = _mut_manager"),
    ("safe: a setting", False, "{p}.embed_batch_size = _mut_n"),
    ("safe: reading the hook", False, "_cm = {p}.callback_manager"),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shape", type=int, default=12)
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    parser.add_argument("--verbose", "-v", action="store_true", help="list the missed mutants")
    args = parser.parse_args()
    base.WHEELS = WHEELS
    reach_a.PARAMS = PARAMS
    with tempfile.TemporaryDirectory(prefix="mutants-reach-c-") as tmp:
        work = Path(tmp)
        roots = base.unpack(args.wheels, work / "src")
        mutants: list[base.Mutant] = []
        baselines: dict[str, str] = {}
        where: dict[str, str] = {}
        for s, (path, fn, param) in enumerate(reach_a.sites(roots, args.per_shape)):
            where[f"f{s}"] = f"{path.relative_to(work / 'src')}:{fn.lineno} {fn.name}"
            lines = path.read_text(encoding="utf-8").splitlines()
            first = base.first_statement(fn)
            baselines[f"f{s}"] = "\n".join(lines) + "\n"
            for name, positive, snippet in SHAPES:
                new, marked, n = base.insert(lines, first.lineno, first.col_offset,
                                             snippet.replace("{p}", param))
                mutants.append(base.Mutant(name, "LLA001", positive, "\n".join(new) + "\n",
                                           marked, f"f{s}", first.lineno, n))
        files = {f"b_{k}": v for k, v in baselines.items()}
        files.update({f"m_{i}": m.source for i, m in enumerate(mutants)})
        found = base.run_tool(files, work, "LLA001")
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(mutants):
        before = [(c, ln + m.inserted if ln >= m.inserted_at else ln)
                  for c, ln in found[f"b_{m.baseline}"] if c == m.rule]
        mine = [(c, ln) for c, ln in found[f"m_{i}"] if c == m.rule]
        hit = m.expected_line is not None and (m.rule, m.expected_line) in mine
        alarms = [f for f in mine if f not in before and f != (m.rule, m.expected_line)]
        if args.verbose and ((m.positive and not hit) or alarms):
            print(f"{'missed' if m.positive and not hit else 'alarm'}: {m.shape} at {where[m.baseline]}")
        row = rows.setdefault(m.shape, [0, 0, 0])
        row[0] += 1
        row[1] += int(hit) if m.positive else 0
        row[2] += int(bool(alarms))
    print(f"sites: {len(baselines)}")
    print("| shape | kind | mutants | detected | mutants with a false alarm |")
    print("| --- | --- | --- | --- | --- |")
    for shape, (n, hits, alarms) in rows.items():
        positive = next(m.positive for m in mutants if m.shape == shape)
        print(f"| {shape} | {'defect' if positive else 'safe'} | {n} | "
              f"{f'{hits}/{n}' if positive else '-'} | {alarms} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
