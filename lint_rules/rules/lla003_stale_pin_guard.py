"""LLA003 stale-pin-guard: a conversation-scoped pin that only writes "if not already set"."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from lint_rules.analysis.llm_objects import trigger_tokens
from lint_rules.analysis.ownership import Ownership
from lint_rules.analysis.pin_values import names_of
from lint_rules.analysis.scoped_writes import describe_pins
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.analysis.stale_guards import (
    MERGE_REASON,
    SETDEFAULT_REASON,
    StaleGuard,
    stale_guards,
)
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo
from lint_rules.syntax.tree import entries_moved_after, nodes_of, sole_guarded_statement


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
    fix_description = """\
Unsafe (a value the user configured on the object is overwritten from then on): the
conversation's value wins. `existing or new` and `existing if existing else new` become `new`;
`h.setdefault(k, v)` as a statement becomes `h[k] = v`; `{k: v, **existing}` moves the pinned
entries after the spread, `{k: v} | existing` becomes `existing | {k: v}`; an `if` that tests
for the key or the pinned attribute loses that test (the single guarded statement runs
unconditionally, the test's other conditions stay), and an early `if <set>: return` is removed.
No fix when the guard tests a whole header dict (`if not llm.extra_headers:` would drop the
other headers), has an `else`, guards more than one statement or carries comments, nor for
`dict(...)` merges.
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
        Example(
            """\
from agentsdk.llm import LLM


def pin_conversation(llm: LLM, conversation_id: str) -> None:
    llm.extra_headers.setdefault("x-litellm-session-id", conversation_id)  # LLA003
    llm._prompt_cache_key = llm._prompt_cache_key or conversation_id  # LLA003
""",
            fixed="""\
from agentsdk.llm import LLM


def pin_conversation(llm: LLM, conversation_id: str) -> None:
    llm.extra_headers["x-litellm-session-id"] = conversation_id  # LLA003
    llm._prompt_cache_key = conversation_id  # LLA003
""",
            options={"select": ["LLA003"]},
            title="`setdefault` and `or` keep a stale value; the unsafe fix lets the new one win",
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
        return stage.may_pin_stale()  # see analysis/rule_stages.py

    def check_function(self, fn: FunctionInfo) -> None:
        analysis = self.ctx.facts
        for stale in stale_guards(fn, analysis):
            verdict = analysis.ownership.verdict(stale.llm, fn, stale.statement)
            if verdict.kind is not Ownership.BORROWED:
                continue
            self.report(stale.guard, self._message(stale, verdict.source), self._fix(stale, fn))

    def _message(self, stale: StaleGuard, source: str) -> str:
        guard = _short(self.ctx.code(stale.guard))
        line = self.ctx.position(stale.site).start.line
        where = {"write": "the write", "copy": "the copy", "request": "the request value"}[stale.kind]
        at = f" at line {line}"
        return (f"`{guard}` keeps the value already there ({stale.reason}): {where}{at} pins "
                f"{describe_pins(stale.pins)}, and `{_short(self.ctx.code(stale.llm))}` may be shared "
                f"({source}), so a value left by an earlier conversation wins; let the "
                "conversation's value win")

    # ------------------------------------------------------------------ fixes
    def _fix(self, stale: StaleGuard, fn: FunctionInfo) -> Fix | None:
        guard, ctx = stale.guard, self.ctx
        text: str | None = None
        if stale.new is not None:  # `existing or new`, `existing if existing else new`
            text = ctx.code(stale.new)
        elif stale.reason == SETDEFAULT_REASON:
            return self._setdefault_fix(stale)
        elif stale.reason == MERGE_REASON:
            text = self._merge_fix(stale, fn)
        else:
            return self._guard_fix(stale, fn)
        return None if text is None else Fix(FIX_MESSAGE, (ctx.replace(guard, text),),
                                             Applicability.UNSAFE)

    def _setdefault_fix(self, stale: StaleGuard) -> Fix | None:
        call = stale.guard
        if not (isinstance(stale.statement, cst.Expr) and stale.statement.value is call
                and isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and len(call.args) == 2 and all(a.keyword is None and not a.star for a in call.args)):
            return None  # the result is used: `h[k] = v` is not an expression
        code = self.ctx.code
        text = f"{code(call.func.value)}[{code(call.args[0].value)}] = {code(call.args[1].value)}"
        return Fix(FIX_MESSAGE, (self.ctx.replace(call, text),), Applicability.UNSAFE)

    def _merge_fix(self, stale: StaleGuard, fn: FunctionInfo) -> str | None:
        node, scoped = stale.guard, self.ctx.facts.scoped
        keys = names_of(stale.pins, "header") | names_of(stale.pins, "attr")
        if isinstance(node, cst.BinaryOperation) and isinstance(node.left, cst.Dict):
            return self.ctx.code(node.with_changes(left=node.right, right=node.left))
        if not isinstance(node, cst.Dict):
            return None
        elements = list(node.elements)

        def pinned(el) -> bool:
            if not isinstance(el, cst.DictElement):
                return False
            key = scoped.header_key(el.key, fn)
            return key in keys or (isinstance(el.key, cst.SimpleString)
                                   and el.key.evaluated_value in keys)
        first = next((i for i, el in enumerate(elements) if pinned(el)), None)
        last = max((i for i, el in enumerate(elements) if isinstance(el, cst.StarredDictElement)),
                   default=None)
        if first is None or last is None or last < first:
            return None
        move = [i for i in range(first, last) if pinned(elements[i])]
        return self.ctx.code(entries_moved_after(node, move, last))

    def _guard_fix(self, stale: StaleGuard, fn: FunctionInfo) -> Fix | None:
        guard, ctx = stale.guard, self.ctx
        if names_of(stale.pins, "header") and not _tests_a_key(guard):
            return None  # a test of the whole dict: running the pin anyway drops other headers
        for if_node in nodes_of(fn.node, cst.If):
            conjuncts = _conjuncts(if_node.test)
            hit = conjuncts if if_node.test is guard else [c for c in conjuncts
                                                           if _tests(c, guard)]
            if hit:
                break
        else:
            return None
        guarded = sole_guarded_statement(if_node)
        if guarded is None or _is_elif(fn, if_node):
            return None
        small, comments = guarded
        stmt = if_node.body.body[0]  # type: ignore[attr-defined]
        joint = ctx.newline() + ctx.indent_of(if_node)
        rest = [c for c in conjuncts if all(c is not h for h in hit)]
        if rest:  # keep the test's other conditions (not for an early exit: it would widen)
            if isinstance(small, cst.Return):
                return None
            return Fix(FIX_MESSAGE, (ctx.replace(if_node.test, " and ".join(ctx.code(c) for c in rest)),),
                       Applicability.UNSAFE)
        if isinstance(small, cst.Return) and (small.value is None or (
                isinstance(small.value, cst.Name) and small.value.value == "None")):
            if comments:  # the If's span ends before the statement's own comment
                return Fix(FIX_MESSAGE, (ctx.replace(if_node, joint.join(comments)),),
                           Applicability.UNSAFE)
            if stmt.trailing_whitespace.comment is not None:
                return None
            return Fix(FIX_MESSAGE, (Edit(ctx.line_start(if_node), ctx.line_end(if_node), ""),),
                       Applicability.UNSAFE)
        # The If's span ends where the statement's code ends: a trailing comment stays.
        if small is not stale.statement or "\n" in ctx.code(small):
            return None
        text = ctx.code(small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
        return Fix(FIX_MESSAGE, (ctx.replace(if_node, joint.join([*comments, text])),),
                   Applicability.UNSAFE)


FIX_MESSAGE = "Let the conversation's value win (unsafe: a value configured on the object is overwritten)"


def _tests_a_key(guard: cst.CSTNode) -> bool:
    """`k (not) in h` or `h.get(k)`: a test of one key, not of the whole dict."""
    if isinstance(guard, cst.Comparison):
        return True
    return isinstance(guard, cst.Call) and isinstance(guard.func, cst.Attribute) \
        and guard.func.attr.value == "get"


def _tests(condition: cst.BaseExpression, guard: cst.CSTNode) -> bool:
    """`condition` is the presence test `guard`: itself, `not guard`, `guard is (not) None`."""
    if isinstance(condition, cst.UnaryOperation) and isinstance(condition.operator, cst.Not):
        condition = condition.expression
    return condition is guard or (isinstance(condition, cst.Comparison)
                                  and condition.left is guard and len(condition.comparisons) == 1)


def _conjuncts(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    out: list[cst.BaseExpression] = []
    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And) \
                and not node.lpar:
            stack += [node.right, node.left]
        else:
            out.append(node)
    return out


def _is_elif(fn: FunctionInfo, if_node: cst.If) -> bool:
    return any(other.orelse is if_node for other in nodes_of(fn.node, cst.If))


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
