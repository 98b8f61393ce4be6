"""Suppression comments, as flake8 and ruff read them.

- `# noqa` on the reported line suppresses every finding there;
- `# noqa: LLA001, LLA004` suppresses those codes (prefixes allowed: `# noqa: LLA`);
- `# llm-affinity-lint: noqa` on a line of its own suppresses the whole file, and
  `# llm-affinity-lint: noqa: LLA001` one code in the whole file (case-insensitive; only a real
  comment counts, not the same text inside a string);
- LLA000 (the file does not parse) is hidden only when named, never by a bare directive.
"""

from __future__ import annotations

import io
import re
import tokenize

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.core.source import LineIndex

# flake8's own pattern, loosened as ruff does for separators.
_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?", re.IGNORECASE
)
_FILE_EXEMPT = re.compile(
    r"^[ \t]*#[ \t]*llm-affinity-lint:[ \t]*noqa"
    r"(?:[ \t]*:[ \t]*(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?[ \t]*$",
    re.MULTILINE | re.IGNORECASE)
_ANY_NOQA = re.compile(r"[nN][oO][qQ][aA]")
_SPLIT = re.compile(r"[,\s]+")
SYNTAX_ERROR_CODE = "LLA000"


def file_exemption(source: str) -> frozenset[str] | None:
    """The file-level directive: None when there is none; an empty set for a bare
    `# llm-affinity-lint: noqa` (every code); else the codes of
    `# llm-affinity-lint: noqa: LLA001, LLA005`. Case-insensitive, as ruff's `# ruff: noqa`.
    Only a real comment counts: the same text inside a string or docstring does not."""
    if _ANY_NOQA.search(source) is None:
        return None
    matches = list(_FILE_EXEMPT.finditer(source))
    if not matches:
        return None
    comments = _comment_lines(source)
    codes: set[str] = set()
    for match in matches:
        row = source.count("\n", 0, match.start()) + 1
        comment = comments.get(row)
        if comment is None or _FILE_EXEMPT.fullmatch(comment.strip()) is None:
            continue  # inside a string
        listed = match.group("codes")
        if not listed:
            return frozenset()
        codes.update(c.upper() for c in _SPLIT.split(listed.strip()) if c)
    return frozenset(codes) if codes else None


def _comment_lines(source: str) -> dict[int, str]:
    """Row -> the comment token that starts that line's comment (tokenize knows strings)."""
    out: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                out[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # comments seen so far still count; the rest of the file is a syntax error
    return out


def file_is_exempt(source: str) -> bool:
    """Every code is suppressed in the whole file (LLA000 still is not: see `suppressed`)."""
    return file_exemption(source) == frozenset()


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


def suppressed(diagnostic: Diagnostic, lines: LineIndex,
               file_codes: frozenset[str] | None = None) -> bool:
    """A bare `# noqa` (or a bare file-level directive) never hides LLA000: a file that does
    not parse was not checked at all, and that must not go unnoticed. Name LLA000 to hide it."""
    if file_codes is not None and _hides(file_codes, diagnostic.code):
        return True
    codes = noqa_codes(lines.line(diagnostic.start.row))
    if codes is None:
        return False
    return _hides(codes, diagnostic.code)


def _hides(codes: frozenset[str], code: str) -> bool:
    if not codes:
        return code != SYNTAX_ERROR_CODE
    return any(code.startswith(c) for c in codes)
