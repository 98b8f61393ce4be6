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

Valid means valid for the project's **target Python**, whatever interpreter runs the tool:
`target-version` (`"py312"` or `"3.12"`) in `[tool.llm-affinity-lint]`, else the lower bound of
`requires-python` in the closest `pyproject.toml` above the file (or the `Requires-Python` of
the `*.dist-info` that owns an unpacked package), else the newest grammar the parser reads.
When the target is newer than the interpreter (a 3.12 project checked under Python 3.11),
libcst's parser, which reads the 3.12 and 3.13 grammar, decides (a file it accepts is checked
like any other); when both reject it, CPython's message and position are reported, and where
the two stop on different lines the message names both verdicts and the version each judged
by. Otherwise the interpreter's own compiler decides. Text past CPython's nesting limits (hundreds of
parentheses or indentation levels) always keeps CPython's verdict.
"""
    reported_by_engine: ClassVar[bool] = True
