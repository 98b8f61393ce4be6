"""Helpers shared by the formats: fix applicability and rule metadata."""

from __future__ import annotations

from lint_rules.diagnostics import Applicability, Fix

TOOL_NAME = "llm-affinity-lint"
INFORMATION_URI = "https://github.com/llm-affinity-lint/llm-affinity-lint"

# The engine reports parse failures under this code; no rule class describes it.
SYNTAX_ERROR_SUMMARY = "syntax-error: the file does not parse"


def fix_applies(fix: Fix | None, unsafe_fixes: bool) -> bool:
    """Would `--fix` apply this fix? Ruff's rule: safe fixes always, unsafe ones on request."""
    if fix is None:
        return False
    return fix.applicability is Applicability.SAFE or unsafe_fixes


def registered_rules() -> tuple[type, ...]:
    """The rule classes of the registry (imported lazily; tests replace this function)."""
    from lint_rules.rules import all_rules

    return tuple(all_rules())


def syntax_error_code() -> tuple[str, str]:
    from lint_rules.rules import SYNTAX_ERROR

    return SYNTAX_ERROR


def rule_urls() -> dict[str, str]:
    """Documentation URL of every registered rule, by code (LLA000 has none)."""
    return {rule.code: rule.url() for rule in registered_rules()}


def tool_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(TOOL_NAME)
    except metadata.PackageNotFoundError:
        pass
    import lint_rules

    version = getattr(lint_rules, "__version__", None)
    return version if isinstance(version, str) and version else "0.0.0"
