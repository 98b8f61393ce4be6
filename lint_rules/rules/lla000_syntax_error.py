"""LLA000 syntax-error: reported by the engine itself, documented here like every other code."""

from __future__ import annotations

from typing import ClassVar

from lint_rules.rules.base import Rule


class SyntaxError_(Rule):
    code = "LLA000"
    name = "syntax-error"
    summary = "The file could not be analysed: it does not parse, decode or read"
    rationale = """\
The file could not be analysed: it does not parse (the parser's line and message are given),
its bytes are not text in its declared encoding, or it could not be read. The run goes on with
the other files; the finding makes the exit code 1 so that a broken file is never silently
skipped. A file that CPython accepts but libcst cannot parse says so: the rules could not run
on it.
"""
    reported_by_engine: ClassVar[bool] = True
