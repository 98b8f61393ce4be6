"""LLA007 context-dropped-on-derived-call: a sibling LLM call omits the call context."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import libcst as cst

from lint_rules.analysis.call_context import (
    ContextName,
    contexts_in_scope,
    from_own_kwargs,
    param_contexts,
    param_names,
)
from lint_rules.analysis.call_context import trigger_tokens as context_tokens
from lint_rules.analysis.llm_installs import derivation_root
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import FunctionInfo, dotted_name
from lint_rules.syntax.tree import child_nodes, nodes_of

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


@dataclass(frozen=True)
class _LLMCall:
    call: cst.Call
    receiver: cst.BaseExpression
    order: int  # position in the walk (source order)
    context: cst.Arg | None  # the call-context keyword argument, when passed
    nested: bool = False  # in a lambda or nested function the function defines
    guarded: bool = False  # under `if ctx is None:` (or the else of `if ctx:`)
    handed: bool = False  # the receiver is a parameter of that lambda/nested function


class ContextDroppedOnDerivedCall(Rule):
    code = "LLA007"
    name = "context-dropped-on-derived-call"
    summary = "An LLM call omits the conversation's call context that is in scope"
    rationale = """\
A function that has the conversation's call context in scope must pass it on every LLM call it
makes for that conversation. The usual miss is a call on a *derived* LLM: a no-cache retry
(`no_cache = self.model_copy(update={"caching_prompt": False})`), a retry on a refreshed or
copied LLM (`copy.copy(llm)`), a fallback LLM tried after the primary failed (often in a lambda
or closure handed to an error handler: `lambda fb: fb.completion(...)`), or the LLM a router
selected. That call goes out without the affinity header and the prompt-cache key, so it lands
on another deployment and a cold cache.

The context is *in scope* when a parameter or a local is named by `call-context-keywords`
(default `call_context`), or is typed as one of `call-context-classes` (default
`LLMCallContext`, `CallContext`; `ctx: LLMCallContext | None`, `ctx = LLMCallContext(...)`).

Reported: an LLM call in such a function (or in a lambda or nested function it defines, unless
that one binds a context of its own) that does not pass a call-context keyword. Also, as before,
in any function: an LLM call that omits the keyword a sibling LLM call passes on the same LLM,
an LLM derived from it (`model_copy`, `copy.copy`, `copy.deepcopy`, through local names), an
element of an attribute of the same owner (`for fallback in self.fallbacks` next to
`self.primary`), or another LLM-typed parameter.

An *LLM call* is a call of one of `llm-call-methods` (default `completion`, `acompletion`,
`responses`, `aresponses`, `generate`, `agenerate`) on an LLM object: one the LLM recognition
knows (a typed parameter, an LLM attribute, a copy of one, a local bound to one), one named as an
LLM or a fallback (`self.active_llm`, `self.llms_for_routing[name]`, `self._refreshed_llm(key)`,
`fallback`), `super()` in an LLM class, or the parameter of a lambda or nested function the
function hands on, when the function makes other LLM calls or belongs to an LLM class. Module
functions such as `litellm.completion(...)` and other methods (`agent.step(...)`,
`condenser.condense(...)`) are not LLM calls.

Not reported: functions with no context in scope and no sibling call that passes it, calls
that pass the context positionally, calls that spread a mapping that may carry it (`**options`,
`**kwargs` of a function whose context is not a named parameter; a mapping built only from the
function's own `**kwargs`, `kwargs.copy()`, `dict(kwargs)`, cannot carry a named parameter and
does not count), calls under `if call_context is None:`, calls of the class's own method that
never reads its context parameter (a scripted test double), calls before a local context is
bound.
"""
    fix_description = """\
Adds `call_context=<the context>` to the call (before any `**` spread): the expression a sibling
call passes, else the context in scope (`call_context=ctx` for a context named otherwise). Safe
when the expression is a parameter, an attribute of `self` or of a parameter, or a local bound
at the top of the function before the call, and (for a context found in scope) another LLM call
of the function already passes the same keyword, so the callee is known to accept it; unsafe
otherwise (for instance a call such as `self.call_context()`, or when sibling calls pass
different expressions).
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
        Example(
            """\
class LLM(BaseLLM):
    def completion(self, messages, call_context: LLMCallContext | None = None, **kwargs):
        caller_kwargs = kwargs.copy()
        try:
            return self._transport_call(messages, call_context=call_context, **kwargs)
        except Exception as e:
            if is_prompt_cache_too_small(e):
                no_cache = self.model_copy(update={"caching_prompt": False})
                return no_cache.completion(messages, **caller_kwargs)  # LLA007
            return self._handle_error(e, lambda fb: fb.completion(messages, **caller_kwargs))  # LLA007
""",
            fixed="""\
class LLM(BaseLLM):
    def completion(self, messages, call_context: LLMCallContext | None = None, **kwargs):
        caller_kwargs = kwargs.copy()
        try:
            return self._transport_call(messages, call_context=call_context, **kwargs)
        except Exception as e:
            if is_prompt_cache_too_small(e):
                no_cache = self.model_copy(update={"caching_prompt": False})
                return no_cache.completion(messages, call_context=call_context, **caller_kwargs)  # LLA007
            return self._handle_error(e, lambda fb: fb.completion(messages, call_context=call_context, **caller_kwargs))  # LLA007
""",
            title="the context is a parameter; the retry and the fallback handler drop it",
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
        Example(
            """\
def ask(llm, messages, ctx: LLMCallContext, **options):
    return llm.completion(messages, **options)  # the caller's options may carry `call_context`


def ask_without_context(llm, messages, call_context=None):
    if call_context is None:
        return llm.completion(messages)
    return llm.completion(messages, call_context=call_context)
""",
            title="a spread that may carry the context; the branch that has none",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return context_tokens(config)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._reported: set[int] = set()

    def check_function(self, fn: FunctionInfo | None) -> None:
        if fn is None:
            return
        config = self.ctx.config
        keywords = frozenset(config.call_context_keywords)
        methods = frozenset(config.llm_call_methods)
        scope = contexts_in_scope(fn, config, self.ctx.model)
        calls = list(self._llm_calls(fn, methods, keywords, scope))
        with_context = [c for c in calls if c.context is not None]
        if not with_context and not scope:
            return
        bindings = _bindings(fn)
        recognised = {id(c) for c in calls if self._is_llm_call(fn, c)}
        for call in calls:
            if call.context is not None or call.guarded or id(call.call) in self._reported:
                continue
            own = [c for c in with_context if not c.nested]
            relations = {id(c): self._related(fn, bindings, c, call) for c in own} if not call.nested else {}
            related = [c for c in own if relations.get(id(c))]
            if related:
                if not self._may_carry(fn, call, related, scope):
                    self._report(fn, bindings, call, related, relations)
                continue
            if not scope:
                continue
            if id(call) not in recognised and not (call.handed and (recognised or self._in_llm_class(fn))):
                continue
            visible = [c for c in scope if c.kind == "parameter" or _order_of(fn, c.node) < call.order]
            if not visible or self._may_carry(fn, call, [], visible) or _callee_ignores(fn, call, keywords):
                continue
            self._report_scope(fn, bindings, call, visible[0], with_context)

    # --- finding LLM calls ---
    def _llm_calls(self, fn: FunctionInfo, methods: frozenset[str], keywords: frozenset[str],
                   scope: list[ContextName]) -> Iterator[_LLMCall]:
        """Calls of an LLM-call method on an object, in the function and in the lambdas and
        nested functions it defines (unless they bind a context of their own)."""
        imports = self.ctx.model.imports
        config, model = self.ctx.config, self.ctx.model
        names = {c.name for c in scope}
        positions = _source_order(fn)
        # (node, nested?, parameters of the nested scopes around it, under a "no context" guard?)
        stack: list[tuple[cst.CSTNode, bool, frozenset[str], bool]] = [(fn.node.body, False, frozenset(), False)]
        while stack:
            node, nested, handed, guarded = stack.pop()
            if isinstance(node, cst.ClassDef):
                continue
            if isinstance(node, (cst.FunctionDef, cst.Lambda)):
                if param_contexts(node.params, config, model):
                    continue  # binds a context of its own: checked on its own
                inner = param_names(node.params)
                if inner & names:
                    continue  # shadows the context
                body = node.body
                stack.append((body, True, handed | inner, guarded))
                continue
            if isinstance(node, cst.If) and names:
                negated = _none_guard(node.test, names)
                children: list[tuple[cst.CSTNode, bool, frozenset[str], bool]] = [
                    (node.test, nested, handed, guarded),
                    (node.body, nested, handed, guarded or negated == "body")]
                if node.orelse is not None:
                    children.append((node.orelse, nested, handed, guarded or negated == "orelse"))
                stack.extend(reversed(children))
                continue
            stack.extend(reversed([(c, nested, handed, guarded) for c in child_nodes(node)]))
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
                continue
            if node.func.attr.value not in methods:
                continue
            receiver = node.func.value
            if dotted_name(receiver) in imports:
                continue  # `litellm.completion(...)`: a module function, not an LLM object's method
            context = next((a for a in node.args if a.keyword is not None and a.keyword.value in keywords),
                           None)
            head = _head_name(receiver)
            yield _LLMCall(node, receiver, positions.get(id(node), 0), context, nested, guarded,
                           handed=head is not None and head in handed)

    def _is_llm_call(self, fn: FunctionInfo, call: _LLMCall) -> bool:
        """The receiver is an LLM: recognised by `analysis.llm_objects` (a typed parameter, an
        LLM attribute, `x.model_copy()`, `copy.copy(llm)`, a local bound to one), named as one
        (`self.active_llm`, `self.llms_for_routing[name]`, `self._refreshed_llm(key)`,
        `fallback`), or `super()` in an LLM class."""
        if call.handed:
            return False
        receiver = call.receiver
        if self.ctx.facts.llms.is_llm(receiver, fn):
            return True
        if isinstance(receiver, cst.Call) and dotted_name(receiver.func) == "super":
            return self._in_llm_class(fn)
        return _named_as_llm(receiver)

    def _in_llm_class(self, fn: FunctionInfo) -> bool:
        return fn.cls is not None and self.ctx.facts.llms.class_is_llm(fn.cls)

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
    def _may_carry(self, fn: FunctionInfo, call: _LLMCall, related: list[_LLMCall],
                   scope: list[ContextName]) -> bool:
        """The call may pass the context after all: positionally, or inside a `**` mapping that
        is not built only from the function's own `**kwargs` (which cannot hold a keyword that
        is a named parameter)."""
        texts = {self.ctx.code(c.context.value) for c in related if c.context is not None}
        texts |= {c.name for c in scope}
        for arg in call.call.args:
            if arg.keyword is None and not arg.star and self.ctx.code(arg.value) in texts:
                return True  # passed positionally
        keywords = frozenset(self.ctx.config.call_context_keywords)
        for arg in call.call.args:
            if arg.star == "*":
                return True  # positional spread: may hold it
            if arg.star != "**":
                continue
            if from_own_kwargs(arg.value, fn, keywords) or self._built_from_own_kwargs(fn, arg.value, keywords):
                continue  # built from our own **kwargs, which cannot hold a named parameter
            return True
        return False

    @staticmethod
    def _built_from_own_kwargs(fn: FunctionInfo, value: cst.BaseExpression, keywords: frozenset[str]) -> bool:
        """`**self._options(llm, kwargs)`: a mapping built from the function's own `**kwargs`
        when a call-context keyword is a named parameter (so `kwargs` cannot hold it)."""
        star = fn.node.params.star_kwarg
        if not isinstance(star, cst.Param) or not any(fn.param(k) is not None for k in keywords):
            return False
        mentions = {n.value for n in _body_nodes(value) if isinstance(n, cst.Name)}
        return star.name.value in mentions

    # --- report and fix ---
    def _report(self, fn: FunctionInfo, bindings, call: _LLMCall, related: list[_LLMCall],
                relations: dict[int, str | None]) -> None:
        self._reported.add(id(call.call))
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

    def _report_scope(self, fn: FunctionInfo, bindings, call: _LLMCall, context: ContextName,
                      with_context: list[_LLMCall]) -> None:
        """The function has the context in scope and this LLM call does not pass it."""
        self._reported.add(id(call.call))
        keywords = self.ctx.config.call_context_keywords
        keyword = context.name if context.name in keywords else keywords[0]
        receiver = self.ctx.code(call.receiver)
        method = call.call.func.attr.value  # type: ignore[attr-defined]
        where = "a parameter" if context.kind == "parameter" else "a local"
        inside = " (in a lambda or nested function it hands on)" if call.nested else ""
        message = (f"`{receiver}.{method}(...)`{inside} omits `{keyword}=`: the conversation's call "
                   f"context `{context.name}` ({where} of `{fn.name}`) is in scope, so this call "
                   f"goes out without its affinity header and prompt-cache key")
        accepted = any(c.context is not None and c.context.keyword is not None
                       and c.context.keyword.value == keyword for c in with_context)
        safe = accepted and self._available(fn, bindings, cst.Name(context.name), call)
        self.report(call.call, message, self._fix(call.call, keyword, context.name, safe))

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


def _order_of(fn: FunctionInfo, stmt: cst.CSTNode | None) -> int:
    return _source_order(fn).get(id(stmt), 1 << 30) if stmt is not None else 1 << 30


def _source_order(fn: FunctionInfo) -> dict[int, int]:
    """id(node) -> its rank in a pre-order walk of the function (nested scopes included):
    source order, shared by the calls and the statements that bind names."""
    cached = fn.derived.get("lla007.order")
    if cached is None:
        cached = {}
        stack: list[cst.CSTNode] = [fn.node.body]
        while stack:
            node = stack.pop()
            cached[id(node)] = len(cached) + 1
            stack.extend(reversed(child_nodes(node)))
        fn.derived["lla007.order"] = cached
    return cached  # type: ignore[return-value]


def _head_name(expr: cst.BaseExpression) -> str | None:
    """The name an attribute/subscript/call chain starts from (`fb` for `fb.llm[0]`)."""
    for _ in range(32):
        if isinstance(expr, cst.Name):
            return expr.value
        if isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        else:
            return None
    return None


_LLM_WORDS = ("llm", "fallback", "backup")


def _named_as_llm(expr: cst.BaseExpression) -> bool:
    """`self.active_llm`, `self.llms_for_routing[name]`, `self._auth_refreshed_llm(key)`,
    `fallback_model`, `self.fallbacks[0]`: the last name of the chain says LLM or fallback."""
    for _ in range(8):
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        else:
            break
    name = dotted_name(expr)
    if name is None:
        return False
    last = name.rsplit(".", 1)[-1].lower()
    return any(w in last for w in _LLM_WORDS)


def _none_guard(test: cst.BaseExpression, names: set[str]) -> str | None:
    """Which branch of `if test:` runs without a context: "body" for `ctx is None` / `not ctx`,
    "orelse" for `ctx is not None` / `ctx`."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 \
            and isinstance(test.left, cst.Name) and test.left.value in names:
        target = test.comparisons[0]
        if isinstance(target.comparator, cst.Name) and target.comparator.value == "None":
            if isinstance(target.operator, cst.Is):
                return "body"
            if isinstance(target.operator, cst.IsNot):
                return "orelse"
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) \
            and isinstance(test.expression, cst.Name) and test.expression.value in names:
        return "body"
    if isinstance(test, cst.Name) and test.value in names:
        return "orelse"
    return None


def _callee_ignores(fn: FunctionInfo, call: _LLMCall, keywords: frozenset[str]) -> bool:
    """`self.completion(...)` where this class's own `completion` takes the context and never
    reads it (a scripted test double): nothing is lost by not passing it."""
    if fn.cls is None or fn.self_name is None or not isinstance(call.receiver, cst.Name) \
            or call.receiver.value != fn.self_name:
        return False
    target = fn.cls.methods.get(call.call.func.attr.value)  # type: ignore[attr-defined]
    if target is None:
        return False
    names = {p.name for p in target.params if p.name in keywords}
    if not names:
        return False
    return not any(n.value in names for n in nodes_of(target.node.body, cst.Name))
