"""What the project index keeps of a module: small, picklable facts, not the tree."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
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
class GlobalWrite:
    """A module-level function stores one of its parameters into process-global state
    (`os.environ[...] = key`, `litellm.api_key = key`, `litellm.callbacks.append(handler)`):
    whatever a caller passes there is shared by every conversation of the process."""

    param: str
    sink: str  # "`os.environ`", "the library global `litellm.api_key`"
    library: str | None  # the library global, when it is one
    path: str
    line: int
    spelled: str  # the write's statement, shortened


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
    globals_written: tuple[GlobalWrite, ...] = ()  # module-level functions only


# ---------------------------------------------------------------------------- plain data
# The result cache stores summaries as JSON and must never run code on load, so a summary is
# turned into plain JSON values and rebuilt field by field from its dataclass's type hints;
# anything that does not fit raises ValueError (the cache then treats the entry as a miss).
# New summary fields need no codec of their own, only types this codec knows.
def to_data(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted((to_data(v) for v in value), key=repr)
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise ValueError(f"not plain data: {type(value).__name__}")


def from_data(kind: object, data: object) -> object:
    """Rebuild a value of type `kind` (a dataclass or a typing form over plain types)."""
    return _decoder(kind)(data)


Decoder = typing.Callable[[object], object]


@functools.cache
def _decoder(kind: object) -> Decoder:
    """The rebuilder of one type, made once per type: reading the typing forms again for every
    value was most of a rebuild's cost (an edit run rebuilds every module's writer scan)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if kind is type(None) or kind is None:
        return _none
    if origin in (typing.Union, types.UnionType):
        return _union([_decoder(option) for option in args])
    if origin is typing.Literal:
        return _literal(args)
    if kind in (str, int, bool):
        return _exactly(kind)  # type: ignore[arg-type]
    if kind is float:
        return _float
    if origin in (tuple, frozenset, list, set):
        return _sequence(origin, args[0] if args else object)
    if origin is dict:
        return _mapping(*args)
    if dataclasses.is_dataclass(kind):
        return _record(kind)  # type: ignore[arg-type]
    return _unknown(kind)


def _none(data: object) -> None:
    _need(data is None)


def _union(options: list[Decoder]) -> Decoder:
    def rebuild(data: object) -> object:
        for option in options:
            try:
                return option(data)
            except ValueError:
                continue
        raise ValueError("no union member fits")
    return rebuild


def _literal(allowed: tuple) -> Decoder:
    def rebuild(data: object) -> object:
        _need(data in allowed)
        return data
    return rebuild


def _exactly(kind: type) -> Decoder:
    def rebuild(data: object) -> object:
        _need(type(data) is kind)
        return data
    return rebuild


def _float(data: object) -> object:
    _need(type(data) is float or type(data) is int)
    return data


def _sequence(origin: type, item: object) -> Decoder:
    build = frozenset if origin is frozenset else tuple if origin is tuple else list
    if item is str:  # names: the most common collection, checked without a call per item
        def rebuild_names(data: object) -> object:
            _need(isinstance(data, list) and all(type(v) is str for v in data))
            return build(data)  # type: ignore[arg-type]
        return rebuild_names
    item_decoder: list[Decoder] = []  # made on first use: a type may contain itself

    def rebuild(data: object) -> object:
        _need(isinstance(data, list))
        if not item_decoder:
            item_decoder.append(_decoder(item))
        one = item_decoder[0]
        return build([one(v) for v in data])  # type: ignore[union-attr]
    return rebuild


def _mapping(key: object, value: object) -> Decoder:
    parts: list[Decoder] = []

    def rebuild(data: object) -> object:
        _need(isinstance(data, dict))
        if not parts:
            parts.extend((_decoder(key), _decoder(value)))
        k, v = parts
        return {k(a): v(b) for a, b in data.items()}  # type: ignore[union-attr]
    return rebuild


def _record(kind: type) -> Decoder:
    fields: list[tuple[str, Decoder]] = []
    made: list[bool] = []

    def rebuild(data: object) -> object:
        _need(isinstance(data, dict))
        if not made:
            hints = typing.get_type_hints(kind)  # resolving the annotations: once per type
            fields.extend((f.name, _decoder(hints[f.name])) for f in dataclasses.fields(kind))
            made.append(True)
        values = {}
        for name, field_decoder in fields:
            _need(name in data)  # type: ignore[operator]
            values[name] = field_decoder(data[name])  # type: ignore[index]
        return kind(**values)
    return rebuild


def _unknown(kind: object) -> Decoder:
    def rebuild(data: object) -> object:
        raise ValueError(f"cannot rebuild {kind!r}")
    return rebuild


def _need(condition: bool) -> None:
    if not condition:
        raise ValueError("does not fit its summary type")
