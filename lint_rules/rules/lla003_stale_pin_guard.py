"""LLA003 stale-pin-guard: a conversation-scoped pin that only writes "if not already set"."""

from __future__ import annotations

from collections.abc import Iterable

from lint_rules.analysis.llm_objects import trigger_tokens
from lint_rules.analysis.scoped_writes import (
    borrowed_scoped_writes,
    describe_pins,
    stale_copy_pins,
    stale_guard_reason,
    written_spelling,
)
from lint_rules.core.config import Config
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo


class StalePinGuard(Rule):
    code = "LLA003"
    name = "stale-pin-guard"
    summary = "Conversation-scoped pin written only if not already set, on an LLM that may be shared"
    rationale = """\
A pin that writes a conversation-scoped value only "if not already set" cannot tell a value the
user configured from one an earlier conversation left on a shared LLM, so it keeps the stale one:
the new conversation is routed under the old conversation's affinity bucket and shares its prompt
cache shard. A real review caught exactly this in the first version of a session-affinity pin.

Reported shapes, inside a pin helper or anywhere else:

- the write sits under a test that the value is absent: `if key not in llm.extra_headers`,
  `if llm._prompt_cache_key is None`, `if not llm.extra_headers.get(key)`, `if not
  getattr(llm, "_prompt_cache_key", None)` (also through a local such as
  `existing = llm.extra_headers or {}`, and after an early `if key in existing: return`);
- `llm.extra_headers.setdefault(key, value)`;
- a merge where the old mapping overrides the new value: `{key: value, **existing}`,
  `{key: value} | existing`, `dict({key: value}, **existing)`, with `existing` the LLM's headers;
- `llm._prompt_cache_key = llm._prompt_cache_key or new`;
- the same shapes in a copy-on-write pin, `llm.model_copy(update={"extra_headers": {key: value,
  **llm.extra_headers}})`, when the LLM copied may be shared: the copy inherits whatever the
  source carries (an already pinned LLM being forked carries its parent's id).

Only writes onto an LLM that may be shared are reported (borrowed, in LLA001's sense). On an
object the code owns on every path the guard is harmless: nothing an earlier conversation did can
be on it unless it was copied from a shared object that was mutated in place, which LLA001 and
LLA006 already report.

To keep a user-supplied value, decide that once from the user's configuration (before any
conversation touches the object) and pin a copy, or inject the value per call.
"""
    bad_examples = (
        Example(
            """\
from agentsdk.llm import LLM


class Conversation:
    def _pin_session_affinity_header(self, llm: LLM) -> None:
        existing = llm.extra_headers or {}
        if "x-litellm-session-id" not in existing:
            llm.extra_headers = {"x-litellm-session-id": str(self.id), **existing}  # LLA003
""",
            options={"select": ["LLA003"]},
            title="the seed's first affinity pin: the guard keeps an earlier conversation's id",
        ),
    )
    good_examples = (
        Example(
            """\
from agentsdk.llm import LLM


class Conversation:
    def _bind_conversation_context(self, llm: LLM) -> LLM:
        headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}
        return llm.model_copy(update={"extra_headers": headers})


def request_options(options: dict) -> dict:
    options.setdefault("temperature", 0.0)
    return options
""",
            title="a copy-on-write pin where the new value wins, and a setdefault that pins nothing",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return trigger_tokens(config)

    def check_function(self, fn: FunctionInfo) -> None:
        analysis, writes = borrowed_scoped_writes(self.ctx, fn)
        for item in writes:
            write = item.write
            reason = stale_guard_reason(write, fn, analysis)
            if reason is None:
                continue
            self.report(
                write.node,
                f"`{written_spelling(self.ctx, write)}` pins {describe_pins(write.pins)} only if "
                f"not already set ({reason}), on an LLM that may be shared "
                f"({item.verdict.source}): a value left by an earlier conversation is kept; "
                "overwrite it on a copy the conversation owns, or pass it per call")
        for stale in stale_copy_pins(self.ctx, fn):
            self.report(
                stale.node,
                f"the copy of `{self.ctx.code(stale.source)}` pins {describe_pins(stale.pins)} only "
                f"if not already set ({stale.reason}), and the LLM it copies may be shared "
                f"({stale.verdict.source}): a value left by an earlier conversation is kept; let "
                "the conversation's value win")
