"""LLA007 context-dropped-on-derived-call: a sibling LLM call omits the call context."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.llm_installs import derivation_root
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo, dotted_name
from lint_rules.syntax.tree import child_nodes

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


@dataclass(frozen=True)
class _LLMCall:
    call: cst.Call
    receiver: cst.BaseExpression
    order: int  # position in the walk (source order)
    context: cst.Arg | None  # the call-context keyword argument, when passed


class ContextDroppedOnDerivedCall(Rule):
    code = "LLA007"
    name = "context-dropped-on-derived-call"
    summary = "An LLM call omits the call context that a sibling call in the same function passes"
    rationale = """\
A function that threads the conversation's call context into its LLM calls
(`llm.completion(..., call_context=ctx)`) must pass it on every LLM call it makes for that
conversation. The usual miss is a call on a *derived* LLM: a no-cache retry
(`no_cache = llm.model_copy(update={"caching_prompt": False})`), a shorter-answer copy, or a
fallback LLM tried after the primary failed. That call goes out without the affinity header
and the prompt-cache key, so it lands on another deployment and a cold cache.

Reported: in one function, an LLM call passes a call-context keyword (`call-context-keywords`,
default `call_context`) and another LLM call omits it, where the second call's receiver is the
same LLM, an LLM derived from it (`model_copy`, `copy.copy`, `copy.deepcopy`, through local
names), an element of an attribute of the same owner (`for fallback in self.fallbacks` next to
`self.primary`), or both are parameters annotated with an LLM class.

An *LLM call* is a call of one of `llm-call-methods` (default `completion`, `acompletion`,
`responses`, `aresponses`, `generate`, `agenerate`) on an object; module functions such as
`litellm.completion(...)` and other methods (`agent.step(...)`, `condenser.condense(...)`) are
not LLM calls.

Not reported: functions that pass no call context at all, calls that pass the context
positionally, calls that spread a mapping that may carry it (`**options`, unless the mapping is
the function's own `**kwargs` and the context is a named parameter, so it cannot be inside),
calls in nested functions and lambdas (they are checked on their own), unrelated objects.
"""
    fix_description = """\
Adds `call_context=<the expression the sibling call passes>` to the call (before any `**`
spread). Safe when that expression is a parameter, an attribute of `self` or of a parameter, or
a local name bound at the top of the function before the call; unsafe otherwise (for instance a
call such as `self.call_context()`, or when sibling calls pass different expressions).
"""
    bad_examples = (
        Example(
            """\
def completion_with_cache_retry(llm, messages, call_context=None):
    try:
        return llm.completion(messages, call_context=call_context)
    except PromptCacheError:
        no_cache = llm.model_copy(update={"caching_prompt": False})
        return no_cache.completion(messages)  # LLA007
""",
            fixed="""\
def completion_with_cache_retry(llm, messages, call_context=None):
    try:
        return llm.completion(messages, call_context=call_context)
    except PromptCacheError:
        no_cache = llm.model_copy(update={"caching_prompt": False})
        return no_cache.completion(messages, call_context=call_context)  # LLA007
""",
            title="the no-cache retry drops the call context",
        ),
    )
    good_examples = (
        Example(
            """\
def completion_with_truncation_retry(llm, messages, call_context=None):
    try:
        return llm.completion(messages, call_context=call_context)
    except ContextWindowExceededError:
        shorter = llm.model_copy(update={"max_output_tokens": 1024})
        return shorter.completion(messages[-8:], call_context=call_context)


def generate_title(llm, first_message):
    title = llm.completion([first_message]).content
    shorter = llm.model_copy(update={"temperature": 0.0})
    return shorter.completion([title, "Shorter."]).content
""",
            title="the derived call passes the context; a function that threads none",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return tuple(config.call_context_keywords)

    def check_function(self, fn: FunctionInfo | None) -> None:
        if fn is None:
            return
        config = self.ctx.config
        keywords = frozenset(config.call_context_keywords)
        methods = frozenset(config.llm_call_methods)
        calls = list(self._llm_calls(fn, methods, keywords))
        with_context = [c for c in calls if c.context is not None]
        if not with_context:
            return
        bindings = _bindings(fn)
        for call in calls:
            if call.context is not None:
                continue
            relations = {id(c): self._related(fn, bindings, c, call) for c in with_context}
            related = [c for c in with_context if relations[id(c)]]
            if not related or self._may_carry(fn, call, related):
                continue
            self._report(fn, bindings, call, related, relations)

    # --- finding LLM calls ---
    def _llm_calls(self, fn: FunctionInfo, methods: frozenset[str],
                   keywords: frozenset[str]) -> Iterator[_LLMCall]:
        imports = self.ctx.model.imports
        order = 0
        for node in _body_nodes(fn.node.body):
            order += 1
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
                continue
            if node.func.attr.value not in methods:
                continue
            receiver = node.func.value
            if dotted_name(receiver) in imports:
                continue  # `litellm.completion(...)`: a module function, not an LLM object's method
            context = next((a for a in node.args if a.keyword is not None and a.keyword.value in keywords),
                           None)
            yield _LLMCall(node, receiver, order, context)

    # --- how two receivers relate ---
    def _related(self, fn: FunctionInfo, bindings: dict[str, list[tuple[str, cst.CSTNode]]],
                 passing: _LLMCall, dropping: _LLMCall) -> str | None:
        """How the dropping call's LLM relates to the passing call's, or None."""
        a = _origin(passing.receiver, bindings)
        b = _origin(dropping.receiver, bindings)
        if a is None or b is None:
            return None
        if a == b:
            same = self.ctx.code(passing.receiver) == self.ctx.code(dropping.receiver)
            return "the same LLM" if same else f"derived from `{a}`"
        owner_a, owner_b = _owner(a), _owner(b)
        if owner_a and owner_a == owner_b and _alternative_llm(b):
            return f"an alternative LLM of `{owner_b}` (`{b.removesuffix('[*]')}`)"
        if self._llm_param(fn, a) and self._llm_param(fn, b):
            return "another LLM parameter of the same function"
        return None

    def _llm_param(self, fn: FunctionInfo, origin: str) -> bool:
        param = fn.param(origin.removesuffix("[*]"))
        if param is None or param.annotation is None:
            return False
        resolved = self.ctx.model.resolve(param.annotation) or param.annotation
        classes = set(self.ctx.config.llm_classes)
        return resolved in classes or resolved.rsplit(".", 1)[-1] in classes

    # --- a spread that may carry the context ---
    def _may_carry(self, fn: FunctionInfo, call: _LLMCall, related: list[_LLMCall]) -> bool:
        texts = {self.ctx.code(c.context.value) for c in related if c.context is not None}
        for arg in call.call.args:
            if arg.keyword is None and not arg.star and self.ctx.code(arg.value) in texts:
                return True  # passed positionally
        star_kwargs = fn.node.params.star_kwarg
        own_kwargs = star_kwargs.name.value if isinstance(star_kwargs, cst.Param) else None
        named = {p.name for p in fn.params}
        keyword = related[0].context.keyword.value  # type: ignore[union-attr]
        for arg in call.call.args:
            if arg.star != "**":
                continue
            mentions = {n.value for n in _body_nodes(arg.value) if isinstance(n, cst.Name)}
            if isinstance(arg.value, cst.Name):
                mentions.add(arg.value.value)
            if own_kwargs is not None and own_kwargs in mentions and keyword in named:
                continue  # built from our own **kwargs, which cannot hold a named parameter
            return True
        return False

    # --- report and fix ---
    def _report(self, fn: FunctionInfo, bindings, call: _LLMCall, related: list[_LLMCall],
                relations: dict[int, str | None]) -> None:
        before = [c for c in related if c.order < call.order]
        source = (before or related)[-1]
        assert source.context is not None and source.context.keyword is not None
        keyword = source.context.keyword.value
        expression = self.ctx.code(source.context.value)
        receiver = self.ctx.code(call.receiver)
        sibling = self.ctx.code(source.receiver)
        line = self.ctx.position(source.call).start.line
        relation = relations[id(source)]
        message = (f"`{receiver}.{call.call.func.attr.value}(...)` omits `{keyword}=`, which the "  # type: ignore[attr-defined]
                   f"call on `{sibling}` passes (line {line}); `{receiver}` is {relation}")
        texts = {self.ctx.code(c.context.value) for c in related if c.context is not None}
        safe = len(texts) == 1 and self._available(fn, bindings, source.context.value, call)
        self.report(call.call, message, self._fix(call.call, keyword, expression, safe))

    def _available(self, fn: FunctionInfo, bindings, expr: cst.BaseExpression, call: _LLMCall) -> bool:
        name = dotted_name(expr)
        if name is None:
            return False
        root = name.split(".")[0]
        if fn.param(root) is not None:
            return not bindings.get(root)  # a parameter never rebound in the function
        top_level = {id(s) for s in fn.node.body.body} if isinstance(fn.node.body, cst.IndentedBlock) else set()
        bound = bindings.get(root, [])
        return bool(bound) and all(kind == "assign" and id(stmt) in top_level for kind, stmt in bound) and all(
            _order_of(fn, stmt) < call.order for _, stmt in bound)

    def _fix(self, call: cst.Call, keyword: str, expression: str, safe: bool) -> Fix:
        text = f"{keyword}={expression}"
        spread = next((a for a in call.args if a.star == "**"), None)
        if spread is not None:
            at = self.ctx.span(spread)[0]
            edit = Edit(at, at, f"{text}, ")
        elif call.args:
            last = call.args[-1].value
            at = self.ctx.span(last)[1]
            rest = self.ctx.source[at:self.ctx.span(call)[1]]
            if rest.startswith(",") and "\n" in rest.split(")")[0]:
                # one argument per line with a trailing comma: add a line of the same shape
                newline = self.ctx.newline()
                edit = Edit(at + 1, at + 1, f"{newline}{self.ctx.indent_of(last)}{text},")
            else:
                edit = Edit(at, at, f", {text}")
        else:
            at = self.ctx.span(call)[1] - 1
            edit = Edit(at, at, text)
        return Fix(f"Pass `{text}`", (edit,), Applicability.SAFE if safe else Applicability.UNSAFE)


# ---------------------------------------------------------------------------- helpers
def _body_nodes(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Nodes under `root` in source order, not entering nested functions, classes or lambdas."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed([c for c in child_nodes(node) if not isinstance(c, _SCOPES)]))


def _bindings(fn: FunctionInfo) -> dict[str, list[tuple[str, cst.CSTNode]]]:
    """Local name -> [(kind, statement-or-value)] for `=` (kind "assign", the Assign) and
    `for` targets (kind "for", the iterable)."""
    out: dict[str, list[tuple[str, cst.CSTNode]]] = {}
    for node in _body_nodes(fn.node.body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    out.setdefault(target.target.value, []).append(("assign", node))
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and isinstance(node.target, cst.Name):
            out.setdefault(node.target.value, []).append(("other", node))
        elif isinstance(node, cst.For) and isinstance(node.target, cst.Name):
            out.setdefault(node.target.value, []).append(("for", node.iter))
        elif isinstance(node, cst.WithItem) and node.asname is not None and isinstance(node.asname.name, cst.Name):
            out.setdefault(node.asname.name.value, []).append(("other", node))
        elif isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
            out.setdefault(node.target.value, []).append(("other", node))
    return out


def _origin(expr: cst.BaseExpression, bindings, depth: int = 0) -> str | None:
    """The LLM an expression is (derived from): `self.llm` for `terse` after
    `terse = self.llm.model_copy(...)`; `self.fallbacks[*]` for a loop over `self.fallbacks`."""
    if depth > 8:
        return None
    if isinstance(expr, cst.Subscript):
        inner = _origin(expr.value, bindings, depth + 1)
        return f"{inner}[*]" if inner else None
    root = derivation_root(expr)
    if root is None:
        return None
    head, _, rest = root.partition(".")
    bound = bindings.get(head)
    if not bound or len(bound) != 1:
        return root  # a parameter, an attribute chain, or a name bound more than once
    kind, value = bound[0]
    if kind == "assign" and isinstance(value, cst.Assign) and derivation_root(value.value) is not None \
            and isinstance(value.value, cst.Call):
        inner = _origin(value.value, bindings, depth + 1)
        return f"{inner}.{rest}" if inner and rest else inner
    if kind == "for" and isinstance(value, cst.BaseExpression) and not rest:
        inner = _origin(value, bindings, depth + 1)
        return f"{inner}[*]" if inner else None
    return root


def _alternative_llm(origin: str) -> bool:
    """An element of a collection the owner holds (`self.fallbacks[*]`), or an attribute named
    as an LLM or a fallback (`self.fallback_llm`, `self.backup`)."""
    if origin.endswith("[*]"):
        return "." in origin
    last = origin.rpartition(".")[2].lower()
    return "llm" in last or "fallback" in last or "backup" in last


def _owner(origin: str) -> str:
    return origin.removesuffix("[*]").rpartition(".")[0]


def _order_of(fn: FunctionInfo, stmt: cst.CSTNode) -> int:
    for i, node in enumerate(_body_nodes(fn.node.body), 1):
        if node is stmt:
            return i
    return 1 << 30
