"""What the headers in request-building code are: the LLM's pinned ones, or the caller's.

LLA004 needs two judgements about an expression inside one function:

- **pinned headers**: the LLM-level or conversation-level headers (`llm.extra_headers`,
  `self.extra_headers` inside an LLM class, `self.agent.llm.extra_headers`, a dict literal that
  carries a conversation-scoped header key, `call_context.headers()`), possibly copied
  (`dict(...)`, `.copy()`, `copy.copy(...)`, `... or {}`, `{**...}`) or bound to a local first;
- **call-site headers**: what the caller passed (`kwargs.get("extra_headers")`,
  `kwargs["headers"]`, `kwargs.pop("extra_headers", None)`, a parameter named like a header
  keyword), possibly wrapped or bound to a local the same way.

Both are decided syntactically and locally (one function, its parameters and its plain
assignments), so the answers are cheap and never depend on other files.

It also holds the request path of one builder (`RequestPath`): its statements in source order
and where a scoped header is written again with the conversation's value winning, which makes an
earlier replace of the pinned headers harmless.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis import llm_objects as llm_analysis
from lint_rules.analysis.header_keys import HeaderKeys, header_key_tokens
from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.local_bindings import ASSIGN, local_defs
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name, string_value
from lint_rules.syntax.tree import nodes_of, small_statements

_COPY_FUNCTIONS = frozenset({"dict", "copy.copy", "copy.deepcopy", "collections.OrderedDict"})
_COPY_METHODS = frozenset({"copy"})
_LOOKUP_METHODS = frozenset({"get", "pop"})


def pinned_header_tokens(config: Config) -> tuple[str, ...]:
    """Substrings of which one occurs in every file that has pinned headers: an LLM expression
    (`llm_objects.trigger_tokens`), a scoped header key in any case, or a call
    context (`call_context.headers()`)."""
    contexts = set(config.call_context_keywords) | set(config.scoped_attributes)
    keys = set(header_key_tokens(config))
    return tuple(sorted(set(llm_analysis.trigger_tokens(config)) | keys | contexts))


class HeaderJudge:
    """Classifies header expressions inside one function of one file."""

    def __init__(self, model: SemanticModel, config: Config, fn: FunctionInfo | None,
                 llms: LLMFacts) -> None:
        self.model = model
        self.config = config
        self.fn = fn
        self.llms = llms
        self.keywords = frozenset(config.header_keywords)
        self.keys = HeaderKeys(config, model)
        self.contexts = frozenset(config.call_context_keywords) | frozenset(config.scoped_attributes)

    def _bindings(self, name: str) -> list[cst.BaseExpression] | None:
        """The values a local is assigned (None when it is also bound some other way)."""
        if self.fn is None:
            return None
        defs = local_defs(self.fn, name)
        if not defs or any(d.kind != ASSIGN or d.value is None for d in defs):
            return None
        return [d.value for d in defs]  # type: ignore[misc]

    # ------------------------------------------------------------------ keys
    def header_keyword(self, node: cst.BaseExpression | None) -> str | None:
        """`"extra_headers"` (a literal or a module constant holding it) -> the keyword."""
        value = self.string(node)
        return value if value in self.keywords else None

    def string(self, node: cst.BaseExpression | None) -> str | None:
        value = string_value(node)
        if value is None and isinstance(node, cst.Name):
            value = string_value(self.model.globals.get(node.value))
        return value

    def is_scoped_key(self, node: cst.BaseExpression | None) -> bool:
        return self.keys.key_of(node, self.fn) is not None

    # ------------------------------------------------------------------ LLM objects
    def is_llm(self, node: cst.BaseExpression) -> bool:
        return self.llms.is_llm(node, self.fn)

    # ------------------------------------------------------------------ pinned headers
    def is_pinned(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """LLM-level or conversation-level headers, or a copy of them. The only recursion is
        into a name's bindings and a dict's spreads, both capped at depth 4."""
        peeled = self._peel(node, depth)
        if peeled is None:
            return False
        node, depth = peeled
        if isinstance(node, cst.Attribute):
            return node.attr.value in self.keywords and self.is_llm(node.value)
        if isinstance(node, cst.Dict):
            return any(
                isinstance(e, cst.DictElement) and self.is_scoped_key(e.key) for e in node.elements
            ) or self._all_starred(node, self.is_pinned, depth)
        if self._context_headers(node):
            return True
        if isinstance(node, cst.Name) and depth < 4:
            values = self._bindings(node.value)
            return bool(values) and all(self.is_pinned(v, depth + 1) for v in values)
        return False

    def only_llm_fields(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """Pinned headers that come from LLM header fields alone (`llm.extra_headers`, a copy
        or local of it), not from a dict that spells a scoped key nor the call context's
        headers: whether they hold a scoped header is the project's header census question.
        Names and spreads recurse at most 4 deep, as in `is_pinned`."""
        peeled = self._peel(node, depth)
        if peeled is None:
            return False
        node, depth = peeled
        if isinstance(node, cst.Attribute):
            return node.attr.value in self.keywords and self.is_llm(node.value)
        if isinstance(node, cst.Dict):
            return depth < 4 and bool(node.elements) and all(
                isinstance(e, cst.StarredDictElement) and self.only_llm_fields(e.value, depth + 1)
                for e in node.elements)
        if isinstance(node, cst.Name) and depth < 4:
            values = self._bindings(node.value)
            return bool(values) and all(self.only_llm_fields(v, depth + 1) for v in values)
        return False

    def _peel(self, node: cst.BaseExpression, depth: int) -> tuple[cst.BaseExpression, int] | None:
        """Follow copies and `x or {}` to the headers they carry, in a loop (a chain of them
        may be thousands deep), one depth step each; None when an `or` may take a non-empty
        right side. A dict and the call context's headers are answered by the caller."""
        while not isinstance(node, cst.Dict) and not self._context_headers(node):
            inner = self.copied(node)
            if inner is not None:
                node, depth = inner, depth + 1
            elif isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
                if not _is_empty(node.right):
                    return None
                node, depth = node.left, depth + 1
            else:
                break
        return node, depth

    def _context_headers(self, node: cst.BaseExpression) -> bool:
        """`call_context.headers()`, `self._call_context.headers()`: the conversation's headers."""
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in self.keywords and not node.args):
            return False
        owner = dotted_name(node.func.value)
        return owner is not None and owner.rsplit(".", 1)[-1] in self.contexts

    # ------------------------------------------------------------------ call-site headers
    def lookup(self, node: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
        """`kwargs.get("extra_headers"[, d])` / `kwargs.pop(...)` / `kwargs["headers"]` ->
        (the mapping, the keyword)."""
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            if node.func.attr.value in _LOOKUP_METHODS and node.args and node.args[0].keyword is None:
                key = self.header_keyword(node.args[0].value)
                if key is not None:
                    return node.func.value, key
        if isinstance(node, cst.Subscript) and len(node.slice) == 1:
            index = node.slice[0].slice
            if isinstance(index, cst.Index):
                key = self.header_keyword(index.value)
                if key is not None:
                    return node.value, key
        return None

    def is_call_site(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """Call-site headers (a lookup in the call's keywords, a header parameter), or a copy.

        A loop along copies and `x or {}`, as `is_pinned`; names recurse at most 4 deep."""
        while True:
            if self.lookup(node) is not None:
                return not self.is_llm(chain_object(node))
            inner = self.copied(node)
            if inner is not None:
                node, depth = inner, depth + 1
                continue
            if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
                if not _is_empty(node.right):
                    return False
                node, depth = node.left, depth + 1
                continue
            if isinstance(node, cst.Name):
                if self.is_header_param(node.value):
                    return True
                values = self._bindings(node.value)
                if values and depth < 4:
                    return all(self.is_call_site(v, depth + 1) for v in values)
            return False

    def is_header_param(self, name: str) -> bool:
        """A parameter of the function named like a header keyword: the caller's headers."""
        return (self.fn is not None and name in self.keywords and self.fn.param(name) is not None
                and name != self.fn.self_name)

    # ------------------------------------------------------------------ helpers
    def copied(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        """The argument of a copy: `dict(x)`, `x.copy()`, `copy.copy(x)`, `{**x}`."""
        if isinstance(node, cst.Call):
            if (isinstance(node.func, cst.Attribute) and node.func.attr.value in _COPY_METHODS
                    and not node.args):
                return node.func.value
            if (self.model.resolve_expr(node.func) in _COPY_FUNCTIONS and len(node.args) == 1
                    and node.args[0].keyword is None and not node.args[0].star):
                return node.args[0].value
        if (isinstance(node, cst.Dict) and len(node.elements) == 1
                and isinstance(node.elements[0], cst.StarredDictElement)):
            return node.elements[0].value
        return None

    def _all_starred(self, node: cst.Dict, test, depth: int) -> bool:
        return bool(node.elements) and depth < 4 and all(
            isinstance(e, cst.StarredDictElement) and test(e.value, depth + 1) for e in node.elements
        )


def chain_object(node: cst.BaseExpression) -> cst.BaseExpression:
    """The mapping a lookup reads: `kwargs` in `kwargs.get(...)` / `kwargs[...]`."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value
    if isinstance(node, cst.Subscript):
        return node.value
    return node


def _is_empty(node: cst.BaseExpression) -> bool:
    """`{}`, `dict()`, `None`: the neutral fallback of `x or {}`."""
    if isinstance(node, cst.Dict):
        return not node.elements
    if isinstance(node, cst.Call):
        return dotted_name(node.func) == "dict" and not node.args
    return isinstance(node, cst.Name) and node.value == "None"


# ---------------------------------------------------------------------------- the request path
def reinjects(small: cst.CSTNode, judge: HeaderJudge) -> bool:
    """Does the small statement write a scoped header key with the conversation's value winning?
    `headers[KEY] = v`, `headers.update({KEY: v})`, `{**headers, KEY: v}` (the key after every
    spread), `{**headers, **call_context.headers()}` (the context's headers last). Not
    `headers.setdefault(KEY, v)` nor `{KEY: v, **headers}`: there the old value wins."""
    if isinstance(small, cst.Assign):
        for target in small.targets:
            t = target.target
            if isinstance(t, cst.Subscript) and len(t.slice) == 1:
                index = t.slice[0].slice
                if isinstance(index, cst.Index) and judge.is_scoped_key(index.value):
                    return True
    for node in nodes_of(small, (cst.Call, cst.Dict)):
        if isinstance(node, cst.Dict):
            if _key_last(node, judge):
                return True
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "update" and any(
                isinstance(a.value, cst.Dict) and any(
                    isinstance(e, cst.DictElement) and judge.is_scoped_key(e.key) for e in a.value.elements)
                for a in node.args):
            return True
    return False


def _key_last(node: cst.Dict, judge: HeaderJudge) -> bool:
    """A merge whose last word is the conversation's: a scoped key after every spread, or the
    call context's headers spread last."""
    elements = list(node.elements)
    starred = [i for i, e in enumerate(elements) if isinstance(e, cst.StarredDictElement)]
    if not starred:
        return False
    last_spread = starred[-1]
    if any(isinstance(e, cst.DictElement) and judge.is_scoped_key(e.key) for e in elements[last_spread + 1:]):
        return True
    return judge._context_headers(elements[last_spread].value)  # type: ignore[union-attr]


class RequestPath:
    """One builder's body in source order (`tree.small_statements`), and where a scoped header
    is re-injected on it: by a statement of its own (`reinjects`) or by a call, later in the
    body, of a function of the same module or a method of the same class whose body re-injects
    (followed one level). A replace of the pinned headers before a re-injection loses nothing."""

    def __init__(self, body: cst.CSTNode, judge: HeaderJudge, helper_of) -> None:
        self.index: dict[int, int] = {}  # id(small statement or its line) -> position
        self.injections: list[int] = []
        for i, (small, line) in enumerate(small_statements(body)):
            self.index[id(small)] = i
            self.index[id(line)] = i  # the last small statement of the line
            if reinjects(small, judge) or any(helper_of(call) for call in nodes_of(small, cst.Call)):
                self.injections.append(i)

    def reinjected_after(self, node: cst.CSTNode) -> bool:
        at = self.index.get(id(node))
        return at is not None and any(i > at for i in self.injections)


class Helpers:
    """Which same-module functions and same-class methods re-inject a scoped header in their
    own body (one level: what they call is not followed). Cached per file."""

    def __init__(self, model: SemanticModel, config: Config, llms: LLMFacts) -> None:
        self.model = model
        self.config = config
        self.llms = llms
        self._module_functions: dict[str, FunctionInfo] | None = None
        self._verdicts: dict[int, bool] = {}

    def callee(self, call: cst.Call, caller: FunctionInfo | None) -> FunctionInfo | None:
        func = call.func
        if isinstance(func, cst.Name):
            if self._module_functions is None:
                self._module_functions = {f.name: f for f in self.model.functions
                                          if f.cls is None and f.parent is None}
            return self._module_functions.get(func.value)
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and caller is not None
                and caller.cls is not None and func.value.value == caller.self_name):
            return caller.cls.methods.get(func.attr.value)
        return None

    def reinjects(self, call: cst.Call, caller: FunctionInfo | None) -> bool:
        fn = self.callee(call, caller)
        if fn is None or fn is caller:
            return False
        verdict = self._verdicts.get(id(fn))
        if verdict is None:
            judge = HeaderJudge(self.model, self.config, fn, self.llms)
            verdict = any(reinjects(small, judge) for small, _ in small_statements(fn.node.body))
            self._verdicts[id(fn)] = verdict
        return verdict
