"""LLA004 header-bypass: call-site headers replace the pinned ones instead of merging."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.context import FileContext
from lint_rules.analysis.pins import calls_with_statement, copy_pins
from lint_rules.analysis.request_headers import (
    HeaderJudge,
    Helpers,
    RequestPath,
    chain_object,
    pinned_header_tokens,
)
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Fix
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo, dotted_name
from lint_rules.syntax.tree import entries_moved_after, nodes_of, sole_guarded_statement

FIX_MESSAGE = "Merge the call-site headers with the pinned ones, pinned keys last (they win)"
MERGED_LAST = "the call-site headers are merged last and override the pinned ones"


@dataclass
class _Finding:
    node: cst.CSTNode
    message: str
    fix: Fix | None
    at: cst.CSTNode | None  # the statement (or its line) on the request path
    # The pinned side is an LLM's header field only: harmless when the project's header census
    # proves no scoped header is ever written into one.
    field_only: bool = False


class HeaderBypass(Rule):
    code = "LLA004"
    name = "header-bypass"
    summary = "Call-site headers replace the LLM's pinned headers instead of merging with them"
    rationale = """\
A conversation pins its routing-affinity header (`x-litellm-session-id`) into the headers of its
LLM, or into its call context. Request-building code that lets the headers a caller passes
*replace* the pinned ones drops the affinity header whenever a caller passes any header of its
own: that request is routed under no session at all, and the conversation bounces between
deployments with cold caches.

Reported shapes, where the pinned side is the LLM's headers (`llm.extra_headers`,
`self.extra_headers` inside an LLM class, `agent.llm.headers`, a copy of them, a dict that
carries a conversation-scoped header key, or the call context's `call_context.headers()`) and the call-site side is what the caller passed
(`kwargs.get("extra_headers")`, `kwargs["headers"]`, a parameter named `extra_headers`):

- a default that only applies when the caller passed nothing:
  `if "extra_headers" not in kwargs: kwargs["extra_headers"] = dict(llm.extra_headers)`,
  `if extra_headers is None: extra_headers = self.extra_headers`;
- `kwargs.setdefault("extra_headers", llm.extra_headers)`;
- a fallback: `kwargs.get("extra_headers") or llm.extra_headers`,
  `kwargs.get("extra_headers", llm.extra_headers)`, `a if cond else b` choosing one of the two;
- a merge in which the call-site headers come last and so win:
  `{**llm.extra_headers, **kwargs.get("extra_headers", {})}`, `dict(pinned, **call_site)`,
  `pinned | call_site`, `merged = dict(pinned); merged.update(call_site)`;
- a merge that writes the scoped key first and lets a later spread override it:
  `{"x-litellm-session-id": conversation_id, **kwargs.get("extra_headers", {})}`,
  `{KEY: v, **llm.extra_headers}` in a request (the caller's, or a stale value the LLM carries,
  wins over the conversation's).

The verdict is taken on the request path, once the function's body is complete: a replace is
harmless when a later statement of the same builder writes the scoped key again with the
conversation's value winning (`headers[KEY] = ...`, `headers.update({KEY: ...})`,
`{**headers, KEY: ...}`, `{**headers, **call_context.headers()}`), or calls a function of the
same module (or a method of the same class) whose body does. `setdefault(KEY, ...)` and
`{KEY: v, **headers}` do not re-inject: the old value wins there. Calls into other modules are
not followed (the replace is reported).

A replace of the LLM's own headers (`llm.extra_headers`, a copy of them) by the caller's can
only lose a scoped header when one can be in them. That is a fact of the whole project, taken by
a census of the package tree of the checked file (`analysis/header_census.py`): only files whose
text spells a scoped key (and the files that name a constant, function or class of theirs that
carries it) are parsed, and the project *may* hold a scoped header in an LLM's header field when
one of them writes into, aliases or builds an object with a header field (`x.extra_headers = ...`,
`x.extra_headers[k] = ...`, `.update(...)`, `setattr`, `model_copy(update={"extra_headers": ...})`,
`LLM(extra_headers=...)`). When no such write exists (the LLM's headers only ever hold static user
headers; the conversation's header is injected per call), the replace is silent. A file outside
any package (stdin, a lone script), a tree that cannot be read, or a key file that cannot be
parsed gives no census, and the replace is reported as before. Merges that spell the scoped key
or spread the call context's headers are judged without the census. The census cannot see code
outside the package tree (an application, another distribution of a namespace package) that
writes the key into an LLM it got from the package, nor a key spelled dynamically.

A header-replacing step, a module-level function that writes the replace into a dict and returns
that dict (`out["extra_headers"] = dict(llm.extra_headers); ... return out`), is harmless when
every use of it in the package tree is a call `x = step(...)` followed, later in the same block,
by a re-injection into `x`: a statement of the caller (`x["extra_headers"] = {**..., KEY: v}`) or
a call passing `x` to a function of the package whose body does that to its parameter
(`apply_llm_call_context(out, context)`). The callers are found by a census of the package tree
(`analysis/request_callers.py`); no caller, an alias, a use as a value, a name in `__all__` or a
file that cannot be parsed leaves the step reported.

Not reported: merges in which the pinned headers come last, a dict written back onto an LLM or
into its copy (who wins there is LLA003's question), and header code that has
nothing to do with an LLM (`http.client`, `email`, `urllib` keep their `headers` alone).
The header keyword names come from `header-keywords`, the LLM classes and attributes from
`llm-classes` and `llm-attributes`.
"""
    fix_description = """\
Unsafe: rewrites the replacement into a merge in which the pinned headers come last,
`{**(<call-site> or {}), **(<pinned> or {})}`, and drops an `if "extra_headers" not in ...`
guard whose only job was to choose one side. The pinned headers then win on every conflicting
key, including non-scoped ones such as `X-Title`: a caller that relied on overriding an
LLM-level header must now change the LLM instead (or the builder can re-inject just the
scoped key after a call-site-wins merge, which this rule accepts). No fix is offered when the
result of `setdefault` is used, for `.update()` merges, or when the guard has an `else`. A merge
that overrides the scoped key is fixed by moving the scoped entries after the last spread.
"""
    bad_examples = (
        Example(
            """\
def select_chat_options(llm, user_kwargs):
    out = dict(user_kwargs)
    if "extra_headers" not in out:
        out["extra_headers"] = dict(llm.extra_headers)  # LLA004
    return out
""",
            fixed="""\
def select_chat_options(llm, user_kwargs):
    out = dict(user_kwargs)
    out["extra_headers"] = {**(out.get("extra_headers") or {}), **(llm.extra_headers or {})}  # LLA004
    return out
""",
            title="the pinned headers only apply when the caller passed none",
        ),
        Example(
            """\
def route(llm, **kwargs):
    headers = kwargs.get("extra_headers") or llm.extra_headers  # LLA004
    return llm.completion(extra_headers=headers)
""",
            fixed="""\
def route(llm, **kwargs):
    headers = {**(kwargs.get("extra_headers") or {}), **(llm.extra_headers or {})}  # LLA004
    return llm.completion(extra_headers=headers)
""",
            title="a fallback: any call-site dict wins outright",
        ),
        Example(
            """\
def options(llm, kwargs):
    return {**llm.extra_headers, **kwargs.get("extra_headers", {})}  # LLA004
""",
            fixed="""\
def options(llm, kwargs):
    return {**kwargs.get("extra_headers", {}), **llm.extra_headers}  # LLA004
""",
            title="a merge in which the call-site headers win",
        ),
    )
    good_examples = (
        Example(
            """\
def options(llm, kwargs):
    return {**(kwargs.get("extra_headers") or {}), **(llm.extra_headers or {})}

def options_then_pin(self, llm, kwargs):
    headers = {**(llm.extra_headers or {}), **(kwargs.get("extra_headers") or {})}
    headers["x-litellm-session-id"] = str(self.id)
    return headers
""",
            title="pinned headers merged last, or the scoped key written after the merge",
        ),
        Example(
            """\
import urllib.request

def fetch(url, headers=None):
    headers = headers or {"User-Agent": "x"}
    return urllib.request.Request(url, headers=headers)
""",
            title="headers that have nothing to do with an LLM",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        # Every finding has a pinned side: `<llm>.<keyword>` or a dict with a scoped header key.
        # (A header keyword is necessary too, but far less selective: `http`, `email`, `urllib`.)
        return pinned_header_tokens(config)

    ast_prefilter = True

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        # Every finding reads or writes headers under a header keyword; one whose pinned side is
        # LLM header fields only is dropped when the header census clears them (`_flush`).
        return stage.may_bypass_headers()

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._judges: dict[int, HeaderJudge] = {}
        self._llms = ctx.facts.llms
        self._statement: cst.SimpleStatementLine | None = None
        # Per function (id of its FunctionInfo, or of None at module level): the findings, kept
        # until the body is complete and its request path is known.
        self._pending: dict[int, list[_Finding]] = {}
        self._helpers = Helpers(ctx.model, ctx.config, self._llms)
        self._reported: set[int] = set()
        self._elifs: set[int] = set()
        self._census: tuple[bool] | None = None

    # ------------------------------------------------------------------ plumbing
    def _judge(self) -> HeaderJudge:
        fn = self.ctx.model.current_function
        key = id(fn)
        judge = self._judges.get(key)
        if judge is None:
            judge = self._judges[key] = HeaderJudge(self.ctx.model, self.ctx.config, fn, self._llms)
        return judge

    def _scope_key(self) -> int:
        return id(self.ctx.model.current_function)

    def _found(self, node: cst.CSTNode, message: str, fix: Fix | None,
               at: cst.CSTNode | None = None, *, pinned: cst.BaseExpression | None = None) -> None:
        if id(node) in self._reported:
            return
        self._reported.add(id(node))
        at = at if at is not None else self._statement
        field_only = pinned is not None and self._judge().only_llm_fields(pinned)
        self._pending.setdefault(self._scope_key(), []).append(
            _Finding(node, message, fix, at, field_only))

    def _no_scoped_header_in_llm_fields(self) -> bool:
        """The project's header census: no code of the package tree writes a scoped header
        into an LLM's header field (header_census.py). Unknown (no index, no package) is no."""
        if self._census is None:
            index = self.ctx.index
            census = index.header_census(self.ctx.path) if index is not None else None
            self._census = (census is not None and not census.may_hold_scoped_header,)
        return self._census[0]

    def _flush(self, fn: FunctionInfo | None, body: cst.CSTNode) -> None:
        """Report what is not made harmless later on the request path of the body."""
        findings = self._pending.pop(id(fn), [])
        if not findings:
            return
        judge = self._judges.get(id(fn)) or HeaderJudge(self.ctx.model, self.ctx.config, fn, self._llms)
        path = RequestPath(body, judge, lambda call: self._helpers.reinjects(call, fn))
        for finding in findings:
            if finding.field_only and self._no_scoped_header_in_llm_fields():
                continue
            if finding.at is None or not path.reinjected_after(finding.at):
                if not self._callers_reinject(fn, finding):
                    self.report(finding.node, finding.message, finding.fix)

    def _callers_reinject(self, fn: FunctionInfo | None, finding: _Finding) -> bool:
        """A header-replacing step (`out[kw] = <pinned>` in a module-level function that returns
        `out`) whose every caller in the package re-injects the scoped key into the result later
        on its request path (request_callers.py)."""
        node = finding.node
        index = self.ctx.index
        if (index is None or fn is None or fn.cls is not None or fn.parent is not None
                or not isinstance(node, cst.Assign)):
            return False
        target = node.targets[0].target
        if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
            return False
        mapping = target.value.value
        returned = [r for r in nodes_of(fn.node.body, cst.Return, nested=False)]
        if not returned or any(not (isinstance(r.value, cst.Name) and r.value.value == mapping)
                               for r in returned):
            return False
        return index.callers_reinject(self.ctx.path, fn.name)

    def check_function(self, fn: FunctionInfo | None) -> None:
        if fn is not None:
            self._flush(fn, fn.node.body)
        self._judges.pop(id(fn), None)

    def check_module(self) -> None:
        self._flush(None, self.ctx.module)
        for key in list(self._pending):  # functions the walk did not close (none expected)
            for finding in self._pending.pop(key):
                self.report(finding.node, finding.message, finding.fix)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement = node

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement = None

    def _where(self, expr: cst.CSTNode) -> cst.CSTNode:
        """The statement to report an expression at (its first line is the marked one)."""
        return self._statement.body[0] if self._statement is not None else expr

    def _message(self, pinned: cst.BaseExpression, how: str) -> str:
        keys = ", ".join(f"`{k}`" for k in self.ctx.config.scoped_header_keys) or "the pinned keys"
        return (f"{how}: when a caller passes headers of its own, `{_short(self.ctx, pinned)}` "
                f"is dropped and with it {keys}; merge them so the pinned headers win")

    # ------------------------------------------------------------------ shape 1: guarded default
    def visit_If(self, node: cst.If) -> None:
        if isinstance(node.orelse, cst.If):
            self._elifs.add(id(node.orelse))  # an `elif` cannot be replaced by a statement
        judge = self._judge()
        absent, present = _guards(node.test, judge)
        branches: list[tuple[list[tuple[str, str]], cst.BaseSuite | None, bool]] = [
            (absent, node.body, True),
            (present, node.orelse.body if isinstance(node.orelse, cst.Else) else None, False),
        ]
        for guards, suite, in_body in branches:
            if not guards or suite is None:
                continue
            for stmt in _simple_statements(suite):
                for small in stmt.body:
                    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                        continue
                    slot = _slot(small.targets[0].target, judge)
                    if slot is None or slot not in guards or not judge.is_pinned(small.value):
                        continue
                    fix = self._guard_fix(node, small, slot, in_body, judge)
                    message = self._message(small.value, "the pinned headers are only a default")
                    self._found(small, message, fix, stmt, pinned=small.value)

    def _guard_fix(self, if_node: cst.If, assign: cst.Assign, slot: tuple[str, str],
                   in_body: bool, judge: HeaderJudge) -> Fix | None:
        if not in_body or if_node.orelse is not None:
            return None
        target = assign.targets[0].target
        if isinstance(target, cst.Subscript):
            key = self.ctx.code(target.slice[0].slice.value)  # type: ignore[union-attr]
            call_site = f"{self.ctx.code(target.value)}.get({key})"
        else:
            call_site = self.ctx.code(target)
        merged = _merge(self.ctx, call_site, assign.value, judge)
        value_edit = self.ctx.replace(assign.value, merged)
        rest = [c for c in _conjuncts(if_node.test) if slot not in _guards(c, judge)[0]]
        if rest:
            test = " and ".join(self.ctx.code(c) for c in rest)
            return Fix(FIX_MESSAGE, (self.ctx.replace(if_node.test, test), value_edit),
                       Applicability.UNSAFE)
        # The guard was the whole test: the assignment now runs unconditionally. The If's span
        # ends where the assignment's code ends, so its trailing comment stays; comments of the
        # header and above the assignment are kept as lines of their own.
        guarded = sole_guarded_statement(if_node)
        if id(if_node) in self._elifs or guarded is None:
            return None
        lines = [*guarded[1], f"{self.ctx.code(target)} = {merged}"]
        text = (self.ctx.newline() + self.ctx.indent_of(if_node)).join(lines)
        return Fix(FIX_MESSAGE, (self.ctx.replace(if_node, text),), Applicability.UNSAFE)

    # ------------------------------------------------------------------ shape 2: fallbacks
    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        if not isinstance(node.operator, cst.Or):
            return
        judge = self._judge()
        if judge.is_call_site(node.left) and judge.is_pinned(node.right):
            how = "a call-site header dict replaces the pinned one"
            self._fallback(node, node.left, node.right, judge, how)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        judge = self._judge()
        for chosen, other in ((node.body, node.orelse), (node.orelse, node.body)):
            if judge.is_call_site(chosen) and judge.is_pinned(other):
                how = "either the call-site or the pinned headers are used, never both"
                self._fallback(node, chosen, other, judge, how)
                return

    def _fallback(self, node: cst.BaseExpression, call_site: cst.BaseExpression,
                  pinned: cst.BaseExpression, judge: HeaderJudge, how: str) -> None:
        merged = _merge(self.ctx, call_site, pinned, judge)
        fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, merged),), Applicability.UNSAFE)
        self._found(self._where(node), self._message(pinned, how), fix, pinned=pinned)

    # ------------------------------------------------------------------ calls
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "update" and any(self._carries_scoped_key(a.value) for a in node.args):
                return  # `headers.update({"x-litellm-session-id": ...})` re-pins (RequestPath)
            if method in ("get", "pop", "setdefault") and len(node.args) >= 2:
                self._default_lookup(node, method)
            elif method == "update" and len(node.args) == 1 and node.args[0].keyword is None:
                judge = self._judge()
                if judge.is_pinned(func.value) and judge.is_call_site(node.args[0].value):
                    how = "`update` lets the call-site headers overwrite the pinned ones"
                    self._found(self._where(node), self._message(func.value, how), None,
                                pinned=func.value)
        elif isinstance(func, cst.Name) and self.ctx.model.resolve_expr(func) == "dict":
            self._dict_call(node)

    def _carries_scoped_key(self, node: cst.BaseExpression) -> bool:
        judge = self._judge()
        return isinstance(node, cst.Dict) and any(
            isinstance(e, cst.DictElement) and judge.is_scoped_key(e.key) for e in node.elements)

    def _default_lookup(self, node: cst.Call, method: str) -> None:
        judge = self._judge()
        first, second = node.args[0], node.args[1]
        if first.keyword is not None or second.keyword is not None or first.star or second.star:
            return
        key = judge.header_keyword(first.value)
        mapping = node.func.value  # type: ignore[union-attr]
        if key is None or judge.is_llm(chain_object(node)) or not judge.is_pinned(second.value):
            return
        # `pop` also removes the key from the mapping, which later `**kwargs` rely on.
        lookup = (f"{self.ctx.code(mapping)}.pop({self.ctx.code(first.value)}, None)" if method == "pop"
                  else f"{self.ctx.code(mapping)}.get({self.ctx.code(first.value)})")
        merged = _merge(self.ctx, lookup, second.value, judge)
        if method != "setdefault":
            fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, merged),), Applicability.UNSAFE)
            how = f"`{method}` falls back to the pinned headers only when the caller passed none"
            self._found(self._where(node), self._message(second.value, how), fix, pinned=second.value)
            return
        fix = None
        statement = self._statement
        if (statement is not None and len(statement.body) == 1
                and isinstance(statement.body[0], cst.Expr)
                and statement.body[0].value is node):
            text = f"{self.ctx.code(mapping)}[{self.ctx.code(first.value)}] = {merged}"
            fix = Fix(FIX_MESSAGE, (self.ctx.replace(statement.body[0], text),), Applicability.UNSAFE)
        how = "`setdefault` keeps any call-site headers and drops the pinned ones"
        self._found(self._where(node), self._message(second.value, how), fix, pinned=second.value)

    # ------------------------------------------------------------------ shape 4: merge order
    def visit_Dict(self, node: cst.Dict) -> None:
        judge = self._judge()
        elements = list(node.elements)
        self._key_overridden(node, elements, judge)
        pinned_at: int | None = None
        call_site_after: int | None = None
        for i, element in enumerate(elements):
            if isinstance(element, cst.StarredDictElement):
                if judge.is_pinned(element.value):
                    if call_site_after is not None:
                        return  # the pinned headers are merged again after the call-site ones
                    if pinned_at is None:
                        pinned_at = i
                elif pinned_at is not None and judge.is_call_site(element.value):
                    call_site_after = i
            elif call_site_after is not None and judge.is_scoped_key(element.key):
                return  # the scoped key is written after the merge
        if pinned_at is None or call_site_after is None:
            return
        # Move the pinned spread just after the last call-site one; commas stay in place.
        moved = (elements[:pinned_at] + elements[pinned_at + 1: call_site_after + 1]
                 + [elements[pinned_at]] + elements[call_site_after + 1:])
        moved = [e.with_changes(comma=elements[i].comma) for i, e in enumerate(moved)]
        fixed = self.ctx.code(node.with_changes(elements=moved))
        fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, fixed),), Applicability.UNSAFE)
        pinned = elements[pinned_at].value  # type: ignore[union-attr]
        spreads = [e.value for e in elements if isinstance(e, cst.StarredDictElement)
                   and judge.is_pinned(e.value)]
        field_only = cst.Dict([cst.StarredDictElement(v) for v in spreads])
        self._found(self._where(node), self._message(pinned, MERGED_LAST), fix, pinned=field_only)

    def _key_overridden(self, node: cst.Dict, elements: list, judge: HeaderJudge) -> None:
        """`{KEY: v, **caller}` / `{KEY: v, **llm.extra_headers}` in a request: the scoped key
        is written first and the caller's or the LLM's (possibly stale) value wins. A dict
        written back onto an LLM or into its copy is LLA003's."""
        key_at = next((i for i, e in enumerate(elements)
                       if isinstance(e, cst.DictElement) and judge.is_scoped_key(e.key)), None)
        if key_at is None:
            return
        later = [i for i in range(key_at + 1, len(elements))
                 if isinstance(elements[i], cst.StarredDictElement)
                 and (judge.is_call_site(elements[i].value) or judge.is_pinned(elements[i].value))
                 and not judge._context_headers(elements[i].value)]
        if not later or self._pins_an_llm():
            return
        if any(isinstance(e, cst.DictElement) and judge.is_scoped_key(e.key)
               for e in elements[later[-1] + 1:]):
            return  # written again after the merge
        # Move the scoped entries after the last spread that overrides them; commas stay put.
        keys = [i for i in range(key_at, later[-1])
                if isinstance(elements[i], cst.DictElement) and judge.is_scoped_key(elements[i].key)]
        moved = entries_moved_after(node, keys, later[-1])
        fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, self.ctx.code(moved)),), Applicability.UNSAFE)
        spread = elements[later[-1]].value
        keys_text = ", ".join(f"`{k}`" for k in self.ctx.config.scoped_header_keys) or "the pinned keys"
        # Only LLM header fields override it: a stale value there needs a scoped header in one.
        overriding = [elements[i].value for i in later]
        pinned = (cst.Dict([cst.StarredDictElement(v) for v in overriding])
                  if not any(judge.is_call_site(v) for v in overriding) else None)
        self._found(self._where(node), (
            f"the scoped header is written before `**{_short(self.ctx, spread)}`, which overrides "
            f"it: a caller's or a stale value of {keys_text} wins over the conversation's; "
            "spread the other headers first"), fix, pinned=pinned)

    def _pins_an_llm(self) -> bool:
        """The current statement writes a scoped value onto an LLM or pins a copy of one."""
        fn = self.ctx.model.current_function
        statement = self._statement
        if fn is None or statement is None:
            return False
        smalls = {id(small) for small in statement.body}
        return any(id(s) in smalls for s in _pin_statements(self.ctx, fn))

    def _dict_call(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        spread = [a for a in node.args if a.star == "**"]
        if len(positional) != 1 or len(spread) != 1 or len(node.args) != 2:
            return
        judge = self._judge()
        pinned, call_site = positional[0].value, spread[0].value
        if judge.is_pinned(pinned) and judge.is_call_site(call_site):
            merged = _merge(self.ctx, call_site, pinned, judge)
            fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, merged),), Applicability.UNSAFE)
            self._found(self._where(node), self._message(pinned, MERGED_LAST), fix, pinned=pinned)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.BitOr):
            return
        judge = self._judge()
        if judge.is_pinned(node.left) and judge.is_call_site(node.right):
            text = f"{self.ctx.code(node.right)} | {self.ctx.code(node.left)}"
            fix = Fix(FIX_MESSAGE, (self.ctx.replace(node, text),), Applicability.UNSAFE)
            self._found(self._where(node), self._message(node.left, MERGED_LAST), fix,
                        pinned=node.left)


# ---------------------------------------------------------------------- helpers
def _pin_statements(ctx: FileContext, fn: FunctionInfo) -> list[cst.CSTNode]:
    """Small statements of `fn` that pin onto an LLM or into a copy of one (LLA003's ground)."""
    cached = fn.derived.get("lla004_pin_statements")
    if cached is None:
        facts = ctx.facts
        cached = [w.statement for w in facts.writes.writes(fn) if w.pins]
        cached += [small for small, call in calls_with_statement(fn) if copy_pins(call, fn, facts)]
        fn.derived["lla004_pin_statements"] = cached
    return cached  # type: ignore[return-value]


def _short(ctx: FileContext, node: cst.CSTNode) -> str:
    text = " ".join(ctx.code(node).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _merge(ctx: FileContext, call_site: cst.BaseExpression | str, pinned: cst.BaseExpression,
           judge: HeaderJudge) -> str:
    """`{**(call_site or {}), **(pinned or {})}`: the pinned headers last, so they win."""
    return f"{{**{_spread(ctx, call_site, judge)}, **{_spread(ctx, pinned, judge)}}}"


def _spread(ctx: FileContext, node: cst.BaseExpression | str, judge: HeaderJudge) -> str:
    """A mapping expression safe to `**`-spread: copies unwrapped (the merge copies anyway),
    `None` guarded with `or {}`."""
    if isinstance(node, str):
        return f"({node} or {{}})"
    inner = judge.copied(node)
    while inner is not None and not isinstance(node, cst.Dict):
        node, inner = inner, judge.copied(inner)
    if isinstance(node, cst.Dict):
        return ctx.code(node)
    if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
        code = ctx.code(node)
        return code if node.lpar else f"({code})"
    return f"({ctx.code(node)} or {{}})"


def _conjuncts(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The operands of an unparenthesised `a and b and ...`, in order (no recursion: a
    3,000-term condition is a tree that deep)."""
    found: list[cst.BaseExpression] = []
    pending = [test]
    while pending:
        node = pending.pop()
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And) and not node.lpar:
            pending.extend((node.right, node.left))
        else:
            found.append(node)
    return found


def _slot(node: cst.BaseExpression, judge: HeaderJudge) -> tuple[str, str] | None:
    """What a guard or an assignment target names: ("kwargs", "extra_headers") for
    `kwargs["extra_headers"]`, ("extra_headers", "") for a call-site name."""
    if isinstance(node, cst.Subscript):
        found = judge.lookup(node)
        mapping = dotted_name(node.value)
        if found is not None and mapping is not None:
            return mapping, found[1]
        return None
    if isinstance(node, cst.Name) and judge.is_call_site(node):
        return node.value, ""
    return None


Slot = tuple[str, str]


def _guards(test: cst.BaseExpression, judge: HeaderJudge) -> tuple[list[Slot], list[Slot]]:
    """Slots the test proves absent (when true) and present (when true)."""
    absent: list[tuple[str, str]] = []
    present: list[tuple[str, str]] = []
    conjuncts = _conjuncts(test)
    for part in conjuncts:
        negated = False
        if isinstance(part, cst.UnaryOperation) and isinstance(part.operator, cst.Not):
            part, negated = part.expression, True
        slot, is_absent = _guard_of(part, judge)
        if slot is None:
            continue
        if negated:
            is_absent = not is_absent
        (absent if is_absent else present).append(slot)
    # `a and b` being true proves both; "present" only helps when it is the whole test.
    if len(conjuncts) > 1:
        present = []
    return absent, present


def _guard_of(part: cst.BaseExpression, judge: HeaderJudge) -> tuple[tuple[str, str] | None, bool]:
    """(slot, True) when `part` being true means the caller passed no headers; False: passed."""
    if isinstance(part, cst.Comparison) and len(part.comparisons) == 1:
        op = part.comparisons[0].operator
        right = part.comparisons[0].comparator
        if isinstance(op, (cst.NotIn, cst.In)):
            key = judge.header_keyword(part.left)
            mapping = dotted_name(right)
            if key is not None and mapping is not None:
                return (mapping, key), isinstance(op, cst.NotIn)
        if isinstance(op, (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)) and _is_none(right):
            slot = _lookup_slot(part.left, judge)
            if slot is not None:
                return slot, isinstance(op, (cst.Is, cst.Equal))
        return None, False
    slot = _lookup_slot(part, judge)
    return (slot, False) if slot is not None else (None, False)


def _lookup_slot(node: cst.BaseExpression, judge: HeaderJudge) -> tuple[str, str] | None:
    found = judge.lookup(node)
    if found is not None:
        mapping = dotted_name(found[0])
        return (mapping, found[1]) if mapping is not None else None
    if isinstance(node, cst.Name) and judge.is_call_site(node):
        return node.value, ""
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _simple_statements(suite: cst.BaseSuite) -> list[cst.SimpleStatementLine]:
    if isinstance(suite, cst.IndentedBlock):
        return [s for s in suite.body if isinstance(s, cst.SimpleStatementLine)]
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    return []
