"""The stable code table: every code a finding can carry, LLA000 included.

Codes are never renumbered or reused: a rule module must match its row, and a removed rule
leaves a tombstone in `REMOVED` that settings naming it are told about.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "LLA000": "syntax-error",
    "LLA001": "scope-leak-write",
    "LLA002": "swap-without-pin",
    "LLA003": "stale-pin-guard",
    "LLA004": "header-bypass",
    "LLA005": "process-global-leak",
    "LLA006": "helper-mutates-shared-llm",
    "LLA007": "context-dropped-on-derived-call",
    "LLA008": "context-dropped-on-sibling-path",
}

# code -> why it is gone (kept forever so the code is never reused).
REMOVED: dict[str, str] = {}

# The engine reports files that cannot be parsed (or read) under this row; it has no rule module.
SYNTAX_ERROR = ("LLA000", CODES["LLA000"])
SYNTAX_ERROR_SUMMARY = "the file does not parse"

