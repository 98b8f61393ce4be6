"""LLA001 scope-leak-write: a conversation-scoped value written onto an LLM the code does not own."""

from __future__ import annotations

from collections.abc import Iterable

from lint_rules.analysis.call_effects import borrowed_call_hops
from lint_rules.analysis.llm_objects import trigger_tokens
from lint_rules.analysis.scoped_writes import (
    acts_as_pin_helper,
    borrowed_scoped_writes,
    describe_pins,
    fix_is_exact,
    helper_for,
    suggested_helper,
    written_spelling,
)
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Fix
from lint_rules.rules._hops import hop_evidence, hop_message, origin_evidence
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo


class ScopeLeakWrite(Rule):
    code = "LLA001"
    name = "scope-leak-write"
    summary = "Conversation-scoped value written onto an LLM object the code does not own"
    rationale = """\
An `LLM` is a config object that applications share: one instance goes to many agents, a
conversation keeps the caller's `agent` by reference, `agent.get_all_llms()` yields the agent's
own LLMs and a registry hands out the same object on every lookup. A conversation-scoped value
(the `x-litellm-session-id` routing header, the `_prompt_cache_key` prompt-cache shard key, the
`_call_context`, anything derived from a conversation id) written onto such an object leaks: the
next conversation that uses it is routed under another conversation's affinity bucket, shares its
prompt-cache shard, or races with it.

The sanctioned route is one **pin helper** per conversation class
(`self._pin_session_affinity_header(llm)`) that owns every such write and can make it
aliasing-safe. This rule reports the writes that bypass it.

**What counts as a write**: attribute assignment (`llm._prompt_cache_key = ...`), an item stored
into a dict the LLM holds (`llm.extra_headers[key] = ...`, also through a local alias of that
dict), rebinding an attribute to a value carrying a scoped key or value
(`llm.extra_headers = {**old, key: ...}`), `.update(...)`, `.setdefault(...)`, `|=`,
`setattr(llm, "...", v)` and `object.__setattr__(llm, "...", v)`, on any chain that yields an LLM
(`self.agent.llm`, `agent.llm`, `for llm in agent.get_all_llms()`, `registry.get(...)`).

A literal constant (`"load-test"`, `None`) under a scoped key or attribute is the same for every
conversation, so it is not reported; neither are reads of scoped values, nor writes of values
that are not conversation-scoped (`llm.extra_headers = {"X-Title": "app"}`, `llm.temperature = 0`,
`llm.model = router.pick(conversation_id)`: the result of an arbitrary call is not the id).

**Ownership.** The rule reports a write only when the object written to is *borrowed* on some
path: a parameter (of a private method: unless every call in this file passes an owned
object); `self.<attr>` that a method of the class stores by reference from a parameter,
a field the caller supplies, or a class attribute; anything from `get_all_llms()` or a registry;
a dict field of a shallow `model_copy()` that did not replace that field (the dict is still the
original's). It stays silent when the function owns the object on every path
(`LLM(...)`, `copy.deepcopy(...)`, `x.model_copy(update={"extra_headers": ...})`,
`Model.model_validate(x.model_dump())` earlier in the same function).

**Unknown ownership is not reported.** When the analysis cannot see where an object comes from
(the result of an arbitrary call, a module global, `self` inside the LLM class itself,
`self.<attr>` assigned only in a base class in another module), it says nothing: a finding must
point at a borrowed source it can name in the message.

**Across calls, containers and aliases.** A conversation often hands the borrowed LLM to a
function that does the write: a method of the same class, a module function, a method of another
class, a constructor. The rule reports the *call site* that passes a borrowed object to a callee
whose summary says it writes a conversation-scoped value onto that parameter in place (directly,
through a field or alias, or further down through its own calls), naming the callee's write with
its file and line. Callees are resolved in the same module, in other modules through the project
index, and through the class hierarchy; an unresolved callee gives no fact and no finding. A
private method whose callers in this file all pass copies stays silent; one borrowed caller among
owned ones is reported at that caller, not in the method. Elements keep their origin through
`list(...)`, `tuple(...)`, `sorted(...)`, `itertools.chain(...)` and comprehensions; a local bound
to a dict field of a borrowed LLM, a fresh dict whose values are the LLM's own dicts (also when
a method of the class returns it: `self.headers()["h"][key] = v` with `def headers(self):
return {"h": self.agent.llm.extra_headers}`, or returns the LLM's dict itself), and a shallow
copy whose dict field was not replaced are still the shared dicts. `self` inside a method
of an LLM class (a router, a wrapper) is a shared LLM, except while it is being built
(`__init__`, `model_post_init`, validators) and in a class whose constructor keeps a
conversation id it is given (`self.conversation_id = conversation_id`): each conversation
builds its own.

Every finding carries its evidence: the steps that make the object shared (`self.agent` <-
`__init__` stores the parameter `agent` by reference; an element of `get_all_llms()`) and the
callee's write, printed by `--output-format full`, in JSON's `related` and in SARIF's
`relatedLocations` and `codeFlows`.

Writes inside a pin helper are LLA006's business, and "only if not already set" writes are
also LLA003's. A method is a pin helper only when its job is the pin (see LLA006): a scoped
write inside an ordinary method (one that returns another result, a property) is reported here.
"""
    fix_description = """\
When the enclosing class, or a base class found by the project index, has a pin helper that
applies the same header key or attribute, the write statement is replaced by a call to it on the
same LLM expression: `self._pin_session_affinity_header(llm)`, or `self._pin_prompt_cache_key()`
when the helper takes no LLM. The fix is **safe** only when the helper's whole body is the same
single, unguarded write (same key or attribute, same value, on its LLM parameter), so calling it
does exactly what the removed statement did; otherwise it is **unsafe** (the helper may pin more,
guard, or pin a copy). Without a helper in reach there is no fix, and the message names the
helper to add.
"""
    bad_examples = (
        Example(
            """\
class LocalConversation:
    def __init__(self, agent):
        self.agent = agent  # the caller's agent, by reference

    def restore(self, events):
        self._state.events = list(events)
        self.agent.llm._prompt_cache_key = str(self._state.id)  # LLA001
""",
            title="stamping the cache key onto the caller's LLM",
        ),
        Example(
            """\
from agentsdk.llm import LLM


class Conversation:
    def _pin_session_affinity_header(self, llm: LLM) -> None:
        llm.extra_headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}

    def _ensure_agent_ready(self):
        for llm in self.agent.get_all_llms():
            llm.extra_headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}  # LLA001
""",
            fixed="""\
from agentsdk.llm import LLM


class Conversation:
    def _pin_session_affinity_header(self, llm: LLM) -> None:
        llm.extra_headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}

    def _ensure_agent_ready(self):
        for llm in self.agent.get_all_llms():
            self._pin_session_affinity_header(llm)  # LLA001
""",
            options={"select": ["LLA001"]},
            title="a write that bypasses the class's pin helper, fixed by calling it (the helper "
                  "itself still mutates a borrowed LLM: LLA006 reports that separately)",
        ),
        Example(
            """\
def stamp(target, session_id):
    target.extra_headers["x-litellm-session-id"] = session_id


class Conversation:
    def __init__(self, agent):
        self.agent = agent

    def start(self):
        for llm in list(self.agent.get_all_llms()):
            stamp(llm, str(self.id))  # LLA001
""",
            title="a call that hands the agent's own LLM to a function writing onto it in place",
        ),
    )
    good_examples = (
        Example(
            """\
import copy

from agentsdk.llm import LLM


def make_test_llm(session_id):
    llm = LLM(model="fake")
    llm.extra_headers = {"x-litellm-session-id": session_id}
    return llm


def isolated(base: LLM, conversation_id):
    llm = base.model_copy(update={"extra_headers": dict(base.extra_headers or {})})
    llm.extra_headers["x-litellm-session-id"] = conversation_id
    return llm


def configure(llm: LLM):
    llm.extra_headers = {"X-Title": "my-app"}
    llm.temperature = 0
""",
            title="owned LLMs, and values that are not conversation-scoped",
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
        # A private method's parameter that a caller here fills with a borrowed object: the
        # call site is reported (below, in the caller), not the write.
        writes = [w for w in writes if not w.verdict.via_call]
        helper = None
        for hop in borrowed_call_hops(self.ctx, fn):
            if hop.summary.is_pin_helper:
                continue  # LLA006's: the helper mutates what its caller hands it
            if helper is None:
                helper = acts_as_pin_helper(self.ctx, fn)
            if helper:
                continue  # inside a pin helper: LLA006's
            self.report(hop.call, hop_message(self.ctx, hop), related=hop_evidence(self.ctx, hop))
        if not writes or (helper if helper is not None else acts_as_pin_helper(self.ctx, fn)):
            return
        for item in writes:
            write = item.write
            spelled = written_spelling(self.ctx, write)
            what = describe_pins(write.pins)
            route = helper_for(self.ctx, fn, write.pins)
            message = (f"`{spelled}` stores {what}, a conversation-scoped value, on an LLM this "
                       f"code does not own ({item.verdict.source}); other conversations sharing it "
                       "inherit or clobber the value")
            fix = None
            if route is not None:
                call = f"{fn.self_name}.{route.name}({self.ctx.code(write.llm) if route.takes_llm else ''})"
                message += f"; route it through `{call}`"
                if write.whole_statement:
                    exact = (route.local is not None and route.takes_llm
                             and fix_is_exact(self.ctx, fn, write, route.local, analysis))
                    fix = Fix(f"Replace the write with `{call}`",
                              (self.ctx.replace(write.statement, call),),
                              Applicability.SAFE if exact else Applicability.UNSAFE)
            else:
                helper = suggested_helper(self.ctx.config, write.pins)
                message += (f"; add a pin helper (e.g. `{helper}`) that pins a copy the "
                            "conversation owns or injects the value per call, and call it here")
            self.report(write.node, message, fix, related=origin_evidence(item.verdict))
