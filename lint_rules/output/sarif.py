"""`sarif`: a SARIF 2.1.0 log, the format code-scanning dashboards (GitHub, Azure DevOps) read.

Columns count Unicode code points, as ours do, so the run says `columnKind: unicodeCodePoints`
(SARIF's default would be UTF-16 code units). Region end columns are exclusive in SARIF, as they
are in our diagnostics. Relative paths become relative URIs against `%SRCROOT%` (defined as the
current directory, which relative paths are relative to); absolute paths become `file://` URIs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from typing import Any, TextIO
from urllib.parse import quote

from lint_rules.core.diagnostics import Diagnostic, Edit, Fix, Location
from lint_rules.output import _common

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"


def artifact_location(path: str) -> dict[str, str]:
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(PurePath(path).as_posix(), safe="/"), "uriBaseId": SRCROOT}


def _region(start: Location, end: Location) -> dict[str, int]:
    return {
        "startLine": start.row,
        "startColumn": start.column,
        "endLine": end.row,
        "endColumn": end.column,
    }


def _deleted_region(edit: Edit) -> dict[str, int]:
    if edit.location is not None and edit.end_location is not None:
        return _region(edit.location, edit.end_location)
    # No row/column from the engine: fall back to the character offsets of the edit.
    return {"charOffset": edit.start, "charLength": edit.end - edit.start}


def _fix(fix: Fix, path: str) -> dict[str, Any]:
    return {
        "description": {"text": fix.message},
        "artifactChanges": [
            {
                "artifactLocation": artifact_location(path),
                "replacements": [
                    {
                        "deletedRegion": _deleted_region(edit),
                        "insertedContent": {"text": edit.content},
                    }
                    for edit in fix.edits
                ],
            }
        ],
        "properties": {"applicability": fix.applicability.value},
    }


def _rule_descriptor(rule: type) -> dict[str, Any]:
    full = rule.rationale.strip() or rule.summary
    help_markdown = full
    if rule.fix_description:
        help_markdown += "\n\n## Fix\n\n" + rule.fix_description.strip()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full, "markdown": full},
        "help": {"text": help_markdown, "markdown": help_markdown},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": "error"},
    }


def _plain_descriptor(code: str, name: str, description: str) -> dict[str, Any]:
    # No documentation page: `helpUri` is optional in SARIF and left out rather than invented.
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": "error"},
    }


def rule_descriptors(diagnostics: list[Diagnostic]) -> list[dict[str, Any]]:
    """Every documented code (LLA000 included) and any other code a diagnostic uses; by code."""
    descriptors = {rule.code: _rule_descriptor(rule) for rule in _common.registered_rules()}
    for diagnostic in diagnostics:
        if diagnostic.code not in descriptors:
            descriptors[diagnostic.code] = _plain_descriptor(
                diagnostic.code, diagnostic.name, diagnostic.name
            )
    return [descriptors[code] for code in sorted(descriptors)]


def _related(step, ident: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": artifact_location(step.path),
            "region": {"startLine": step.row, "startColumn": step.column},
        },
        "message": {"text": step.message},
    }
    if ident is not None:
        out["id"] = ident
    return out


def _result(diagnostic: Diagnostic, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": diagnostic.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(diagnostic.path),
                    "region": _region(diagnostic.start, diagnostic.end),
                }
            }
        ],
    }
    related = getattr(diagnostic, "related", ())
    if related:
        result["relatedLocations"] = [_related(r, i) for i, r in enumerate(related, 1)]
        steps = [{"location": _related(r, None)} for r in related]
        steps.append({"location": {"physicalLocation": result["locations"][0]["physicalLocation"],
                                   "message": {"text": diagnostic.message}}})
        result["codeFlows"] = [{"threadFlows": [{"locations": steps}]}]
    # SARIF requires at least one replacement per artifact change: an empty fix is not a fix.
    if diagnostic.fix is not None and diagnostic.fix.edits:
        result["fixes"] = [_fix(diagnostic.fix, diagnostic.path)]
    return result


def _invocation(internal_errors: list[str]) -> dict[str, Any]:
    """SARIF's place for "the tool failed on something": code scanning shows these
    notifications, so a file that could not be checked is not mistaken for a clean one."""
    return {
        "executionSuccessful": not internal_errors,
        "toolExecutionNotifications": [
            {"level": "error", "message": {"text": error}, "descriptor": {"id": "internal-error"}}
            for error in internal_errors
        ],
    }


def sarif_log(diagnostics: list[Diagnostic], internal_errors: list[str] | None = None) -> dict[str, Any]:
    rules = rule_descriptors(diagnostics)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": _common.TOOL_NAME,
                "informationUri": _common.INFORMATION_URI,
                "version": _common.tool_version(),
                "rules": rules,
            }
        },
        "invocations": [_invocation(internal_errors or [])],
        "columnKind": "unicodeCodePoints",
        "results": [_result(d, index[d.code]) for d in diagnostics],
    }
    if any(not os.path.isabs(d.path) for d in diagnostics):
        root = Path.cwd().as_uri()
        # SARIF wants a base URI to end with a slash ("file:///" already does).
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root if root.endswith("/") else root + "/"}}
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def write_sarif(diagnostics: list[Diagnostic], stream: TextIO, *,
                internal_errors: list[str] | None = None, **_flags: bool) -> None:
    json.dump(sarif_log(diagnostics, internal_errors), stream, indent=2)
    stream.write("\n")
