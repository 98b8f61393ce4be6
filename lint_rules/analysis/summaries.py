"""What the project index keeps of a module: small, picklable facts, not the tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from lint_rules.analysis.pin_values import Pin


@dataclass(frozen=True)
class MethodSummary:
    name: str
    line: int
    params: tuple[str, ...]
    self_calls: frozenset[str]  # names of methods called on `self`
    pins: frozenset[Pin]  # pins applied directly
    is_pin_helper: bool
    returns_value: bool  # some `return` gives a value (a copy-on-write helper returns its copy)
    effects: FunctionSummary | None = None  # what a call does to its arguments (call hops)


@dataclass(frozen=True)
class ClassSummary:
    name: str
    qualname: str  # module-qualified: "pkg.mod.Class"
    path: str
    line: int
    bases: tuple[str, ...]  # qualified where resolvable
    methods: dict[str, MethodSummary] = field(default_factory=dict)


@dataclass(frozen=True)
class ModuleSummary:
    module: str
    path: str
    classes: dict[str, ClassSummary]
    imports: dict[str, str]
    functions: dict[str, FunctionSummary] = field(default_factory=dict)  # module-level functions


# ---------------------------------------------------------------------------- function summaries
@dataclass(frozen=True)
class ParamWrite:
    """A function writes a conversation-scoped value, in place, onto (a field of) a parameter."""

    param: str  # the parameter written onto (`llm`), `self` excluded
    pins: frozenset[Pin]
    path: str
    line: int  # the write, or the call that leads to it
    spelled: str  # `llm.extra_headers["x-litellm-session-id"]`, or `_pin(llm)` for a hop
    # The callee's own file reports this write already (it sees an LLM it borrowed there), so
    # a call site passing a borrowed object adds nothing.
    reported_in_callee: bool = False
    via: str = ""  # the chain of callees for a write made further down (`_a -> _b`)
    # The callee knows the object is an LLM (annotation, name, source); else only a call site
    # that passes an LLM makes the write one onto an LLM.
    onto_llm: bool = False


@dataclass(frozen=True)
class FunctionSummary:
    """What a call of the function does to its arguments, for call sites in any module."""

    name: str
    qualname: str  # `pkg.mod.func`, `pkg.mod.Class.method`
    path: str
    line: int
    params: tuple[str, ...]  # every parameter, `self` included for methods
    bound: bool  # a plain method: the first parameter is the instance
    writes: tuple[ParamWrite, ...] = ()
    returns_params: frozenset[str] = frozenset()  # parameters returned (or a field of them)
    returns_fresh: bool = False  # every `return` gives an object the function built
    is_pin_helper: bool = False
