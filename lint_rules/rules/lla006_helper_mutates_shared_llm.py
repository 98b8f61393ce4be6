"""LLA006 helper-mutates-shared-llm: the pin helper itself mutates a borrowed LLM in place."""

from __future__ import annotations

from collections.abc import Iterable

from lint_rules.analysis.call_effects import borrowed_call_hops
from lint_rules.analysis.llm_objects import trigger_tokens
from lint_rules.analysis.scoped_writes import (
    acts_as_pin_helper,
    borrowed_scoped_writes,
    describe_pins,
    written_spelling,
)
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.rules._hops import hop_evidence, hop_message, origin_evidence
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo


class HelperMutatesSharedLLM(Rule):
    code = "LLA006"
    name = "helper-mutates-shared-llm"
    summary = "Pin helper mutates, in place, an LLM that the conversation borrowed"
    rationale = """\
The pin helper is the one sanctioned place for conversation-scoped writes, and the one place to
make them aliasing-safe. A helper that stores the value *in place* on an LLM the conversation
does not own (a parameter fed by `self.agent.llm` where `self.agent` is the caller's agent, an
item of `get_all_llms()`, a registry's LLM) is still a leak: every conversation sharing that
object pins it in turn, and the last one to pin wins.

A method is a pin helper when its name is configured (`pin-helpers`) or when it behaves like one:
its only effects are conversation-scoped writes onto LLMs, with values taken from the instance
(`str(self.id)`, `self.call_context()`). A method recognised that way next to a configured helper
that applies the same pins is not a second helper but a bypass of the first, reported by LLA001.

Ownership is LLA001's: parameters (unless the helper is private and every call of it in this
file passes a copy the caller owns), `self.<attr>` stored by reference, `get_all_llms()` and
registry lookups are borrowed; writes onto a copy the helper made (`llm.model_copy(update=...)`,
`copy.deepcopy`) are fine, and so is a write whose target the analysis cannot trace (unknown is
never reported).

When the borrowed object comes from a caller (a private helper called as
`self._pin(self.agent.llm)` in one place and with owned copies elsewhere), the message names that
caller; a helper whose every caller in this file passes a copy is silent. A pin helper in another
module reached with a borrowed object is reported at the call site.

Two safe shapes: **copy-on-write** (pin a copy the conversation owns and install that copy:
`pinned = llm.model_copy(update={"extra_headers": {..., key: str(self.id)}})`) or **call-time
injection** (keep the value on the conversation and pass it with each call:
`llm.completion(..., call_context=self.call_context())`).
"""
    bad_examples = (
        Example(
            """\
class Conversation:
    def _pin_prompt_cache_key(self) -> None:
        for llm in self.agent.get_all_llms():
            llm._prompt_cache_key = str(self.id)  # LLA006
""",
            title="pinning in place on the agent's own LLMs",
        ),
    )
    good_examples = (
        Example(
            """\
from agentsdk.llm import LLM


class Conversation:
    def _bind_conversation_context(self, llm: LLM) -> LLM:
        headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}
        pinned = llm.model_copy(update={"extra_headers": headers})
        pinned._prompt_cache_key = str(self.id)
        return pinned
""",
            title="copy-on-write: the helper pins a copy the conversation owns",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return trigger_tokens(config)

    ast_prefilter = True

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        return stage.may_write_or_hop()  # see analysis/rule_stages.py

    def check_function(self, fn: FunctionInfo) -> None:
        analysis, writes = borrowed_scoped_writes(self.ctx, fn)
        hops = borrowed_call_hops(self.ctx, fn)
        if hops:
            helper = None
            for hop in hops:
                if hop.summary.is_pin_helper and not hop.local:
                    # A helper in another module, reached here with a borrowed object.
                    self.report(hop.call, "pin helper " + hop_message(self.ctx, hop),
                                related=hop_evidence(self.ctx, hop))
                    continue
                if hop.summary.is_pin_helper:
                    continue  # reported in the helper, naming this caller
                if helper is None:
                    helper = acts_as_pin_helper(self.ctx, fn)
                if helper:
                    self.report(hop.call, f"pin helper `{fn.name}` calls " + hop_message(self.ctx, hop),
                                related=hop_evidence(self.ctx, hop))
        if not writes or not acts_as_pin_helper(self.ctx, fn):
            return
        for item in writes:
            write = item.write
            self.report(
                write.node,
                f"pin helper `{fn.name}` writes {describe_pins(write.pins)} in place "
                f"(`{written_spelling(self.ctx, write)}`) on an LLM the conversation borrowed "
                f"({item.verdict.source}): the last conversation to pin wins; pin a copy the "
                "conversation owns (copy-on-write) or pass the value with each call "
                "(call-time injection)", related=origin_evidence(item.verdict))
