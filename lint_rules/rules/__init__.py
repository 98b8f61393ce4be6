"""The rule registry: every `Rule` subclass in a module of this package registers itself.

One rule per module (`lla001_scope_leak_write.py`, ...). Codes are stable: never renumber or
reuse one; a removed rule leaves a tombstone in `REMOVED`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from lint_rules.rules.base import Example, Rule

__all__ = ["CODES", "Example", "Rule", "all_rules", "get_rule", "SYNTAX_ERROR", "REMOVED"]

# The engine reports parse failures under this code; it has no module of its own.
SYNTAX_ERROR = ("LLA000", "syntax-error")

# The stable code table: never renumber or reuse a code; a rule module must match its row.
CODES: dict[str, str] = {
    "LLA000": "syntax-error",
    "LLA001": "scope-leak-write",
    "LLA002": "swap-without-pin",
    "LLA003": "stale-pin-guard",
    "LLA004": "header-bypass",
    "LLA005": "process-global-leak",
    "LLA006": "helper-mutates-shared-llm",
    "LLA007": "context-dropped-on-derived-call",
}

# code -> why it is gone (kept forever so the code is never reused).
REMOVED: dict[str, str] = {}


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
            if CODES.get(cls.code) != cls.name:
                raise RuntimeError(f"{cls.__name__}: {cls.code} {cls.name} is not in the code table")
            found[cls.code] = cls
    return tuple(sorted(found.values(), key=lambda r: r.code))


def all_rules() -> tuple[type[Rule], ...]:
    return _load()


def all_codes() -> list[str]:
    """Every code a user may name in settings (implemented or reserved in the table)."""
    return sorted(set(CODES) | {r.code for r in all_rules()})


def get_rule(code: str) -> type[Rule] | None:
    return next((r for r in all_rules() if r.code == code), None)
