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
