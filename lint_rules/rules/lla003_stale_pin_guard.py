"""LLA003 stale-pin-guard: a conversation-scoped pin that only writes "if not already set"."""

from __future__ import annotations

from collections.abc import Iterable

from lint_rules.analysis.llm_objects import trigger_tokens
from lint_rules.analysis.ownership import Ownership
from lint_rules.analysis.scoped_writes import describe_pins
from lint_rules.analysis.stale_guards import StaleGuard, stale_guards
from lint_rules.analysis.rule_stages import StageInput
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

Reported shapes, inside a pin helper or anywhere else, whether the value is written back onto
the LLM, into a copy of it, or carried into a request (`llm.completion(extra_headers=...)`,
`prompt_cache_key=...`, `kwargs["extra_headers"] = ...`):

- the pin sits under a test that the value is absent: `if key not in llm.extra_headers`,
  `if llm._prompt_cache_key is None`, `if not llm.extra_headers.get(key)`, `if not
  getattr(llm, "_prompt_cache_key", None)` (also through a local such as
  `existing = llm.extra_headers or {}`, and after an early `if key in existing: return` or
  `if ctx.session_id is not None: return` with `ctx = llm._call_context`);
- `llm.extra_headers.setdefault(key, value)`;
- the value prefers the existing one: `headers.get(key) or value`, `existing.session_id or
  conversation_id`, `llm._prompt_cache_key or new`, `x.key if x.key else new`;
- for writes and copies, a merge where the old mapping overrides the new value:
  `{key: value, **existing}`, `{key: value} | existing`, `dict({key: value}, **existing)`,
  `dict(key=value, **existing)` (a request dict merged that way round is LLA004's);
- the same shapes in a copy-on-write pin, `llm.model_copy(update={"extra_headers": {key: value,
  **llm.extra_headers}})`, when the LLM copied may be shared: the copy inherits whatever the
  source carries (an already pinned LLM being forked carries its parent's id).

The finding points at the guard expression (the test, the `or`, the merge, the `setdefault`):
the guard is the defect; the message names the line of the write, copy or request it guards.
Only guards that keep a value read from an LLM that may be shared are reported (borrowed, in
LLA001's sense), and only against a conversation-scoped new value (`llm.timeout or 30` is not a
pin). On an object the code owns on every path the guard is harmless: nothing an earlier
conversation did can be on it unless it was copied from a shared object that was mutated in
place, which LLA001 and LLA006 already report.

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
        if "x-litellm-session-id" not in existing:  # LLA003
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

    ast_prefilter = True

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        return stage.scoped()  # see analysis/rule_stages.py

    def check_function(self, fn: FunctionInfo) -> None:
        analysis = self.ctx.facts
        for stale in stale_guards(fn, analysis):
            verdict = analysis.ownership.verdict(stale.llm, fn, stale.statement)
            if verdict.kind is not Ownership.BORROWED:
                continue
            self.report(stale.guard, self._message(stale, verdict.source))

    def _message(self, stale: StaleGuard, source: str) -> str:
        guard = _short(self.ctx.code(stale.guard))
        line = self.ctx.position(stale.site).start.line
        where = {"write": "the write", "copy": "the copy", "request": "the request value"}[stale.kind]
        at = f" at line {line}"
        return (f"`{guard}` keeps the value already there ({stale.reason}): {where}{at} pins "
                f"{describe_pins(stale.pins)}, and `{_short(self.ctx.code(stale.llm))}` may be shared "
                f"({source}), so a value left by an earlier conversation wins; let the "
                "conversation's value win")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
