"""The rule registry: every `Rule` subclass in a module of this package registers itself.

One rule per module (`lla001_scope_leak_write.py`, ...), each matching its row of the code table
(`lint_rules.core.codes`).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from lint_rules.core.codes import CODES, REMOVED, SYNTAX_ERROR
from lint_rules.rules.base import Example, Rule

__all__ = ["CODES", "Example", "Rule", "all_rules", "documented_rules", "get_rule",
           "SYNTAX_ERROR", "REMOVED"]


@lru_cache(maxsize=1)
def _load() -> tuple[type[Rule], ...]:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    found: dict[str, type[Rule]] = {}
    pending = list(Rule.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # Only this package's modules register: a Rule subclass defined elsewhere (a test's
        # own rule, run through `check_source(..., rules=[...])`) is not a registered rule.
        if "code" in cls.__dict__ and cls.__module__.startswith(__name__ + "."):
            if cls.code in found and found[cls.code] is not cls:
                raise RuntimeError(f"two rules claim {cls.code}: {found[cls.code]} and {cls}")
            if cls.code in REMOVED or CODES.get(cls.code) != cls.name:
                raise RuntimeError(f"{cls.__name__}: {cls.code} {cls.name} is not in the code table")
            found[cls.code] = cls
    return tuple(sorted(found.values(), key=lambda r: r.code))


def all_rules() -> tuple[type[Rule], ...]:
    """The rules the engine schedules."""
    return tuple(r for r in _load() if not r.reported_by_engine)


def documented_rules() -> tuple[type[Rule], ...]:
    """Every row of the code table that has a rule class, LLA000 included, by code."""
    return _load()


def get_rule(code: str) -> type[Rule] | None:
    return next((r for r in documented_rules() if r.code == code), None)
