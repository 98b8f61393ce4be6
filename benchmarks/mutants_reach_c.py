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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses and alarms")
    args = parser.parse_args()
    return reach_a.run(WHEELS, SHAPES, PARAMS, args.wheels, args.per_shape, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
