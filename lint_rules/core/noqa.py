"""Suppression comments, as flake8 and ruff read them.

- `# noqa` on the reported line suppresses every finding there;
- `# noqa: LLA001, LLA004` suppresses those codes (prefixes allowed: `# noqa: LLA`);
- `# llm-affinity-lint: noqa` on a line of its own suppresses the whole file.
"""

from __future__ import annotations

import re

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.core.source import LineIndex

# flake8's own pattern, loosened as ruff does for separators.
_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?", re.IGNORECASE
)
_FILE_EXEMPT = re.compile(r"^[ \t]*#[ \t]*llm-affinity-lint:[ \t]*noqa[ \t]*$", re.MULTILINE | re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]+")


def file_is_exempt(source: str) -> bool:
    return "noqa" in source and _FILE_EXEMPT.search(source) is not None


def noqa_codes(line: str) -> frozenset[str] | None:
    """None: no noqa; empty set: a bare noqa (all codes); else the listed codes."""
    if "noqa" not in line.lower():
        return None
    match = _NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return frozenset()
    return frozenset(c.upper() for c in _SPLIT.split(codes.strip()) if c)


def suppressed(diagnostic: Diagnostic, lines: LineIndex) -> bool:
    codes = noqa_codes(lines.line(diagnostic.start.row))
    if codes is None:
        return False
    return not codes or any(diagnostic.code.startswith(c) for c in codes)
