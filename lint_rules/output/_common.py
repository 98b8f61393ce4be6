"""Helpers shared by the formats: fix applicability and rule metadata."""

from __future__ import annotations

from importlib import metadata

from lint_rules.core.diagnostics import Applicability, Fix
from lint_rules.core.version import __version__
from lint_rules.rules import documented_rules

TOOL_NAME = "llm-affinity-lint"
INFORMATION_URI = "https://github.com/llm-affinity-lint/llm-affinity-lint"

def fix_applies(fix: Fix | None, unsafe_fixes: bool) -> bool:
    """Would `--fix` apply this fix? Ruff's rule: safe fixes always, unsafe ones on request."""
    if fix is None:
        return False
    return fix.applicability is Applicability.SAFE or unsafe_fixes


def registered_rules() -> tuple[type, ...]:
    """Every documented code's rule class, LLA000 included (tests replace this function)."""
    return tuple(documented_rules())


def rule_urls() -> dict[str, str]:
    """Documentation URL of every documented code."""
    return {rule.code: rule.url() for rule in registered_rules()}


def tool_version() -> str:
    try:
        return metadata.version(TOOL_NAME)
    except metadata.PackageNotFoundError:
        return __version__
