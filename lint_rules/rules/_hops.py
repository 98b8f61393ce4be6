"""What LLA001 and LLA006 share about call hops: messages and evidence for a call that hands a
borrowed object to a callee writing onto it (see analysis/call_effects.py)."""

from __future__ import annotations

import os

from lint_rules.analysis.call_effects import CallHop
from lint_rules.analysis.ownership import Verdict
from lint_rules.analysis.scoped_writes import describe_pins
from lint_rules.rules.base import Evidence


def origin_evidence(verdict: Verdict) -> tuple[Evidence, ...]:
    """The steps that make the object shared, oldest first."""
    out = []
    for text, node in verdict.steps:
        if node is not None:
            out.append(Evidence(text, node))
    return tuple(out)


def hop_message(ctx, hop: CallHop) -> str:
    w = hop.write
    where = f"{_display(ctx, w.path)}:{w.line}"
    via = f" (through `{w.via}`)" if w.via else ""
    arg = " ".join(ctx.code(hop.arg).split())
    if len(arg) > 50:
        arg = arg[:47] + "..."
    return (f"`{hop.summary.name}(...)` writes {describe_pins(w.pins)} in place onto its "
            f"parameter `{w.param}`{via} (`{w.spelled}`, {where}), and this call passes `{arg}`, "
            f"an LLM this code does not own ({hop.verdict.source}); other conversations sharing "
            "it inherit or clobber the value")


def hop_evidence(ctx, hop: CallHop) -> tuple[Evidence, ...]:
    w = hop.write
    last = Evidence(f"written in place by `{hop.summary.name}` (`{w.spelled}`)"
                    + (f" through `{w.via}`" if w.via else ""), None, w.path, w.line)
    return origin_evidence(hop.verdict) + (last,)


def _display(ctx, path: str) -> str:
    if os.path.abspath(path) == os.path.abspath(ctx.path):
        return os.path.basename(path)
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
