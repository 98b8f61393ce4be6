"""llm-affinity-lint: finds conversation-scoped values that leak onto shared LLM objects."""

from __future__ import annotations

from typing import Any

from lint_rules import api as _api
from lint_rules.api import check_source, fix_source  # noqa: E402
from lint_rules.core.config import Config, ConfigError  # noqa: E402
from lint_rules.core.diagnostics import Applicability, Diagnostic, Edit, Fix, Location  # noqa: E402
from lint_rules.core.version import __version__  # noqa: E402

__all__ = [
    "Applicability", "Config", "ConfigError", "Diagnostic", "Edit", "Fix", "FixResult",
    "Location", "check_source", "fix_source", "__version__",
]


def __getattr__(name: str) -> Any:
    """`FixResult`, loaded with the fix loop on first use (`lint_rules.api`)."""
    if name == "FixResult":
        return _api.FixResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
