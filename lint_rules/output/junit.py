"""`junit`: a JUnit XML report (one test suite per file, one failing test case per finding), in
ruff's layout, for CI systems that show test reports (GitLab, Jenkins, Azure DevOps)."""

from __future__ import annotations

import os
from typing import TextIO

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.output._common import TOOL_NAME

PACKAGE = "org.llm-affinity-lint"


def write_junit(diagnostics: list[Diagnostic], stream: TextIO, **_flags: bool) -> None:
    # Imported here: `xml.sax.saxutils` pulls in `urllib.request` (25 ms of every run's start).
    from xml.sax.saxutils import escape as xml_escape
    from xml.sax.saxutils import quoteattr

    by_file: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_file.setdefault(os.path.abspath(d.path), []).append(d)
    total = len(diagnostics)
    w = stream.write
    w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w(f'<testsuites name="{TOOL_NAME}" tests="{max(total, 1)}" skipped="0" failures="{total}" errors="0">\n')
    if not by_file:
        w(f'    <testsuite name="{TOOL_NAME}" tests="1" skipped="0" errors="0" failures="0" package="{PACKAGE}">\n')
        w(f'        <testcase name="No errors found" classname="{TOOL_NAME}"/>\n')
        w('    </testsuite>\n')
    for path, found in by_file.items():
        classname = os.path.splitext(path)[0]
        w(f'    <testsuite name={quoteattr(path)} tests="{len(found)}" skipped="0" errors="0" '
          f'failures="{len(found)}" package="{PACKAGE}">\n')
        for d in found:
            w(f'        <testcase name={quoteattr(f"{PACKAGE}.{d.code}")} classname={quoteattr(classname)} '
              f'line="{d.start.row}" column="{d.start.column}">\n')
            w('            <properties>\n')
            w('                <property name="severity" value="error"/>\n')
            w('            </properties>\n')
            text = f"line {d.start.row}, col {d.start.column}, {d.message}"
            w(f'            <failure message={quoteattr(d.message)}>{xml_escape(text)}</failure>\n')
            w('        </testcase>\n')
        w('    </testsuite>\n')
    w('</testsuites>\n')
