"""`github`: GitHub Actions workflow commands, shown as annotations on the pull request."""

from __future__ import annotations

from typing import TextIO

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.output._common import TOOL_NAME


def escape_data(text: str) -> str:
    """The message part of a workflow command (actions/toolkit `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A `key=value` property of a workflow command (actions/toolkit `escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(diagnostic: Diagnostic) -> str:
    properties = {
        "title": f"{TOOL_NAME} ({diagnostic.code})",
        "file": diagnostic.path,
        "line": str(diagnostic.start.row),
        "col": str(diagnostic.start.column),
        "endLine": str(diagnostic.end.row),
        "endColumn": str(diagnostic.end.column),
    }
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::error {props}::{escape_data(f'{diagnostic.code} {diagnostic.message}')}"


def write_github(diagnostics: list[Diagnostic], stream: TextIO, **_flags: bool) -> None:
    for diagnostic in diagnostics:
        stream.write(github_line(diagnostic))
        stream.write("\n")
