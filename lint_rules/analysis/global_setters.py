"""Module-level functions that store a parameter into process-global state, for call sites in
other modules (LLA005 one hop across modules).

`def use_key(key): os.environ["OPENAI_API_KEY"] = key`, `def install(h):
litellm.callbacks.append(h)`, `def set_base(url): litellm.api_base = url`: the function itself
holds no tenant data (its parameter is whatever the caller passes), so the write is judged at
the call site, with what the caller passes. The same file's callers are LLA005's own business
(`_library_setters`); this summary is kept in the module's `FunctionSummary.globals_written`,
so the project index carries it to callers in other modules.

Sinks are `GlobalSinks`' (process_state.py) that are not a module-level container of the
callee's own module (a cache keyed by tenant there is judged by its own file): the environment,
a library global (`library-globals`), a class attribute. A library configuring its own globals
(`litellm.cache = ...` inside `litellm`) is not recorded. Only a bare parameter counts as the
value written; a parameter named like a credential or a conversation id (`api_key`,
`session_id`) is left out, since LLA005 reports the write in the callee's own file.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from lint_rules.analysis.context import FileFacts
from lint_rules.analysis.process_state import GlobalSinks, credential_matcher
from lint_rules.analysis.summaries import GlobalWrite
from lint_rules.syntax.deep_stack import code_for_node
from lint_rules.syntax.semantic import FunctionInfo
from lint_rules.syntax.tree import nodes_of


def globals_written(fn: FunctionInfo, facts: FileFacts, path: str,
                    lines_of: Callable[[cst.CSTNode], int]) -> tuple[GlobalWrite, ...]:
    """The parameters a module-level function stores into process-global state."""
    if fn.cls is not None or fn.parent is not None:
        return ()
    params = {p.name for p in fn.params}
    if not params:
        return ()
    # A parameter named like a credential or a conversation id is instance data in the
    # callee's own file already: LLA005 reports the write there, not at every call.
    credential = credential_matcher(facts.config)
    params = {p for p in params if not credential(p)
              and not facts.scoped.is_conversation_id(cst.Name(p))}
    if not params:
        return ()
    sinks = GlobalSinks(facts.config, facts.model, facts.llms)
    own_top = (facts.model.module_name or "").split(".")[0]
    out: list[GlobalWrite] = []
    seen: set[str] = set()
    for node in nodes_of(fn.node.body, (cst.Assign, cst.AugAssign, cst.Call), nested=False):
        if isinstance(node, cst.Assign):
            pairs = [(sinks.target(t.target, fn), [node.value]) for t in node.targets]
        elif isinstance(node, cst.AugAssign):
            pairs = [(sinks.target(node.target, fn), [node.value])]
        else:
            found = sinks.call(node, fn)
            pairs = [found] if found is not None else []
        for sink, values in pairs:
            if sink is None or sink.global_name is not None:
                continue
            if sink.library is not None and own_top and sink.library.split(".")[0] == own_top:
                continue  # the library's own configuration API
            for value in values:
                if isinstance(value, cst.Name) and value.value in params and value.value not in seen:
                    seen.add(value.value)
                    out.append(GlobalWrite(value.value, sink.description, sink.library, path,
                                           lines_of(node), _spelled(node)))
    return tuple(out[:10])


def _spelled(node: cst.CSTNode) -> str:
    text = " ".join(code_for_node(cst.Module([]), node).split())
    return text if len(text) <= 70 else text[:67] + "..."
