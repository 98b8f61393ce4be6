"""`json` and `json-lines`: ruff's JSON shape, so tools that read ruff's JSON read ours."""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from lint_rules.core.diagnostics import Diagnostic, Edit, Fix, Location
from lint_rules.core.noqa import SYNTAX_ERROR_CODE
from lint_rules.output import _common


def _location(location: Location | None) -> dict[str, int] | None:
    if location is None:
        return None
    return {"column": location.column, "row": location.row}


def _edit(edit: Edit) -> dict[str, Any]:
    return {
        "content": edit.content,
        "end_location": _location(edit.end_location),
        "location": _location(edit.location),
    }


def _fix(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability.value,
        "edits": [_edit(edit) for edit in fix.edits],
        "message": fix.message,
    }


def json_object(diagnostic: Diagnostic, urls: dict[str, str] | None = None) -> dict[str, Any]:
    """One finding as ruff writes it (keys in ruff's order, ruff 0.15+ adds `name` and
    `severity`); `urls` maps codes to docs URLs. `noqa_row` is null for LLA000, as it is for
    ruff's invalid-syntax: a file that cannot be read or parsed is not a line to silence."""
    if urls is None:
        urls = _common.rule_urls()
    out = {
        "cell": None,
        "code": diagnostic.code,
        "end_location": _location(diagnostic.end),
        "filename": os.path.abspath(diagnostic.path),
        "fix": _fix(diagnostic.fix),
        "location": _location(diagnostic.start),
        "message": diagnostic.message,
        "name": diagnostic.name,
        "noqa_row": None if diagnostic.code == SYNTAX_ERROR_CODE else diagnostic.start.row,
        "severity": "error",
        "url": urls.get(diagnostic.code),
    }
    related = getattr(diagnostic, "related", ())
    if related:  # an extra key, only on findings that carry evidence (ruff's readers ignore it)
        out["related"] = [{"message": r.message, "filename": os.path.abspath(r.path),
                           "location": {"column": r.column, "row": r.row}} for r in related]
    return out


def write_json(diagnostics: list[Diagnostic], stream: TextIO, **_flags: bool) -> None:
    urls = _common.rule_urls()
    json.dump([json_object(d, urls) for d in diagnostics], stream, indent=2)
    stream.write("\n")


def write_json_lines(diagnostics: list[Diagnostic], stream: TextIO, **_flags: bool) -> None:
    urls = _common.rule_urls()
    for diagnostic in diagnostics:
        stream.write(json.dumps(json_object(diagnostic, urls)))
        stream.write("\n")
