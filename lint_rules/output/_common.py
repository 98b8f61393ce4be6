"""Helpers shared by the formats: fix applicability and rule metadata."""

from __future__ import annotations

from lint_rules.core.diagnostics import fix_applies
from lint_rules.core.version import __version__

__all__ = ["TOOL_NAME", "fix_applies", "registered_rules", "rule_urls", "tool_version"]

TOOL_NAME = "llm-affinity-lint"
INFORMATION_URI = "https://github.com/llm-affinity-lint/llm-affinity-lint"

def registered_rules() -> tuple[type, ...]:
    """Every documented code's rule class, LLA000 included (tests replace this function)."""
    # Loaded by the formats that describe the rules only: a run served from the cache and
    # printed as text loads no rule (the rules import libcst).
    from lint_rules.rules import documented_rules

    return tuple(documented_rules())


def rule_urls() -> dict[str, str]:
    """Documentation URL of every documented code."""
    return {rule.code: rule.url() for rule in registered_rules()}


def tool_version() -> str:
    # Only the machine-readable formats ask: 15 ms of every run's start otherwise.
    from importlib import metadata

    try:
        return metadata.version(TOOL_NAME)
    except metadata.PackageNotFoundError:
        return __version__
