"""LLA008 context-dropped-on-sibling-path: one of two sibling constructor calls omits the
conversation-scoped argument the other passes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.call_context import body_nodes
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.rules.base import Evidence, Example, Rule
from lint_rules.syntax.semantic import FunctionInfo, dotted_name

_FACTORY_PREFIXES = ("create", "build", "make", "new", "fork", "spawn", "clone", "resume", "start")
# Keywords naming a conversation id: scoped only when the value is inherited (`self.session_id`,
# `parent.session_id`), not a fresh or caller-chosen id (create and resume differ by design).
_ID_KEYWORDS = ("session_id", "conversation_id", "thread_id", "run_id")


def scoped_fragments(config: Config) -> tuple[str, ...]:
    """Keyword fragments that mark a conversation-scoped argument whatever its value: the
    call-context keywords and the scoped attributes (`call_context`, `prompt_cache_key`)."""
    found = {k.lstrip("_") for k in (*config.call_context_keywords, *config.scoped_attributes)}
    return tuple(sorted(f for f in found if f))


@dataclass(frozen=True)
class _Site:
    fn: FunctionInfo
    call: cst.Call
    callee: str
    scoped: dict[str, cst.BaseExpression]  # scoped keyword -> value
    keywords: frozenset[str]
    spreads: bool


class ContextDroppedOnSiblingPath(Rule):
    code = "LLA008"
    name = "context-dropped-on-sibling-path"
    summary = "One of two paths that build the same sub-conversation or LLM omits the conversation-scoped argument the other passes"
    rationale = """\
Code often builds the same kind of sub-conversation, agent or LLM on two paths for the same
purpose: create and resume, first run and retry, a fork and a fresh start. When one path passes
a conversation-scoped argument (the parent's call context, its prompt-cache key, its session id)
and the other does not, the second path silently starts a conversation with no affinity and a
cold, unshared cache: the value that the first path threads was forgotten, not declined.

Reported: two calls of the same constructor or factory (a class, or a function or method named
`create_*`, `build_*`, `make_*`, `new_*`, `fork_*`, `spawn_*`, `clone_*`, `resume_*`, `start_*`)
in one class (any of its methods) or, outside classes, in one module, where one passes a
conversation-scoped keyword and the other does not. The report is at the call without it and
names the sibling (file:line) as a related location.

A keyword is conversation-scoped when its name contains a call-context keyword or a scoped
attribute (`call_context`, `_parent_llm_call_context`, `prompt_cache_key`,
`parent_prompt_cache_key`), whatever the value except `None`; or when it names a conversation id
(`session_id`, `conversation_id`, `thread_id`, `run_id`) and the value is inherited from the
running conversation (`self.session_id`, `parent.session_id`): a fresh id on a create path and
the stored id on a resume path differ by design.

Not reported: a call that spreads `**kwargs` or `*args` (the argument may be inside); a call
whose result gets the value afterwards in the same function (`sub.call_context = ...`,
`sub._prompt_cache_key = ...`, `sub.set_call_context(...)`, `fill_metadata(sub, call_context=...)`);
calls in different classes; an id keyword passed to a record of a conversation rather than a
conversation, agent or LLM (`ModelResponse(conversation_id=...)`, `ProviderTrace(run_id=...)`:
the callee's name must contain `conversation`, `session`, `agent`, `llm`, `thread`, `chat`,
`runner` or `client`, and not end in `Response`, `Event`, `Message`, `Trace`, ...).
"""
    bad_examples = (
        Example(
            """\
class Conversation:
    def fork(self):
        return Conversation(
            agent=self.agent,
            parent_call_context=self._call_context,
        )

    def restart(self):
        return Conversation(agent=self.agent)  # LLA008
""",
            title="the restart path forgets the parent's call context the fork passes",
        ),
    )
    good_examples = (
        Example(
            """\
class Conversation:
    def fork(self):
        return Conversation(agent=self.agent, parent_call_context=self._call_context)

    def restart(self, **options):
        return Conversation(agent=self.agent, **options)  # the options may carry it

    def retry(self):
        sub = Conversation(agent=self.agent)
        sub.parent_call_context = self._call_context
        return sub

    def resume(self, session_id):
        return Session(session_id=session_id)

    def create(self):
        return Session()
""",
            title="a spread, a value set afterwards, and create/resume of a session id",
        ),
    )

    ast_prefilter = True

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return (*scoped_fragments(config), *_ID_KEYWORDS)

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        # A finding needs two sites of one callee, one passing a scoped keyword: its name holds
        # a fragment, or ends with a conversation-id keyword (`_scoped`).
        return stage.sibling_calls((*scoped_fragments(stage.config), *_ID_KEYWORDS))

    def check_module(self) -> None:
        fragments = scoped_fragments(self.ctx.config)
        groups: dict[tuple[str, str], list[_Site]] = {}
        for fn in self.ctx.model.functions:
            group = _group_of(fn)
            for node in body_nodes(fn.node.body):
                if not isinstance(node, cst.Call):
                    continue
                callee = _callee(node)
                if callee is None:
                    continue
                scoped = {a.keyword.value: a.value for a in node.args
                          if a.keyword is not None and _scoped(a.keyword.value, a.value, fragments, callee)}
                keywords = frozenset(a.keyword.value for a in node.args if a.keyword is not None)
                spreads = any(a.star for a in node.args)
                groups.setdefault((group, callee), []).append(
                    _Site(fn, node, callee, scoped, keywords, spreads))
        for sites in groups.values():
            if len(sites) < 2:
                continue
            passing = [s for s in sites if s.scoped]
            if not passing:
                continue
            for site in sites:
                missing = sorted({k for p in passing for k in p.scoped} - site.keywords)
                if not missing or site.spreads or site.scoped:
                    continue
                if self._set_afterwards(site, missing, fragments):
                    continue
                sibling = next(p for p in passing if missing[0] in p.scoped)
                self._report(site, sibling, missing[0])

    def _set_afterwards(self, site: _Site, missing: list[str], fragments: tuple[str, ...]) -> bool:
        """`sub = Ctor(...)` followed, in the same function, by a store or setter of a scoped
        attribute on `sub`."""
        target = _assigned_to(site.fn, site.call)
        if target is None:
            return False
        wanted = {m.lstrip("_").lower() for m in missing}
        for node in body_nodes(site.fn.node.body):
            attr: str | None = None
            if isinstance(node, (cst.Assign, cst.AnnAssign)):
                targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, cst.Attribute) and dotted_name(t.value) == target:
                        attr = t.attr.value
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                    and dotted_name(node.func.value) == target:
                attr = node.func.attr.value
            elif isinstance(node, cst.Call) and dotted_name(node.func) == "setattr" and node.args \
                    and dotted_name(node.args[0].value) == target:
                return True
            elif isinstance(node, cst.Call) and node is not site.call \
                    and any(dotted_name(a.value) == target for a in node.args if a.keyword is None) \
                    and any(a.keyword is not None and a.keyword.value in missing for a in node.args):
                return True  # `fill_run_metadata(message, conversation_id=...)`
            if attr is None:
                continue
            name = attr.lstrip("_").lower()
            if any(w in name or name.endswith(w) for w in wanted) or any(f in name for f in fragments) \
                    or "context" in name:
                return True
        return False

    def _report(self, site: _Site, sibling: _Site, keyword: str) -> None:
        line = self.ctx.position(sibling.call).start.line
        where = f"{os.path.basename(self.ctx.path)}:{line}"
        value = " ".join(self.ctx.code(sibling.scoped[keyword]).split())
        if len(value) > 50:
            value = value[:47] + "..."
        message = (f"`{site.callee}(...)` omits `{keyword}=`, which the sibling call in "
                   f"`{sibling.fn.qualname}` ({where}) passes (`{keyword}={value}`): this path builds "
                   f"the same object without the conversation-scoped value")
        related = (Evidence(f"the sibling call passes `{keyword}={value}`", sibling.call),)
        self.report(site.call, message, related=related)


# ---------------------------------------------------------------------------- helpers
def _group_of(fn: FunctionInfo) -> str:
    """The outermost class around `fn` (its methods and their closures are one group), or the
    module."""
    cls = None
    current: FunctionInfo | None = fn
    for _ in range(64):
        if current is None:
            break
        if current.cls is not None:
            cls = current.cls
        current = current.parent
    if cls is None:
        return "<module>"
    return cls.qualname.split(".")[0]


def _callee(call: cst.Call) -> str | None:
    """A constructor (`LocalConversation`, `sdk.Agent`) or a factory (`create_agent`,
    `self._build_sub_conversation`) by its dotted spelling."""
    name = dotted_name(call.func)
    if name is None:
        return None
    last = name.rsplit(".", 1)[-1]
    bare = last.lstrip("_")
    if not bare:
        return None
    if bare[0].isupper():
        return name
    if bare.lower().startswith(_FACTORY_PREFIXES) and bare.lower() not in _FACTORY_PREFIXES:
        return name
    return None


_CONVERSATION_KINDS = ("conversation", "session", "agent", "llm", "thread", "chat", "runner", "client")
_RECORD_KINDS = ("response", "event", "message", "trace", "record", "result", "request", "span")


def _conversation_kind(callee: str) -> bool:
    """A callee that builds a conversation, an agent or an LLM (not a record of one: a
    response, an event, a trace carry ids as data)."""
    last = callee.rsplit(".", 1)[-1].lower()
    return any(k in last for k in _CONVERSATION_KINDS) and not last.endswith(_RECORD_KINDS)


def _scoped(keyword: str, value: cst.BaseExpression, fragments: tuple[str, ...], callee: str) -> bool:
    if isinstance(value, cst.Name) and value.value in ("None", "True", "False"):
        return False
    name = keyword  # case as spelled: the prefilter's tokens are plain substrings
    if any(f in name for f in fragments):
        return True
    if not _conversation_kind(callee):
        return False
    if name.lstrip("_") in _ID_KEYWORDS or any(name.endswith("_" + k) for k in _ID_KEYWORDS):
        spelled = dotted_name(value)
        if spelled is None and isinstance(value, cst.Call) and dotted_name(value.func) == "str" \
                and value.args:
            spelled = dotted_name(value.args[0].value)
        if spelled is None:
            return False
        head = spelled.split(".")[0]
        return "." in spelled and (head in ("self", "cls") or "parent" in head.lower())
    return False


def _assigned_to(fn: FunctionInfo, call: cst.Call) -> str | None:
    """The dotted target `x` of `x = <call>` (or `x = await <call>`) in the function."""
    for node in body_nodes(fn.node.body):
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            value = node.value.expression if isinstance(node.value, cst.Await) else node.value
            if value is call:
                return dotted_name(node.targets[0].target)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            value = node.value.expression if isinstance(node.value, cst.Await) else node.value
            if value is call:
                return dotted_name(node.target)
    return None
