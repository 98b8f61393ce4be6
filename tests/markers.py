"""Fixture conventions shared by the rule tests.

A fixture marks each expected finding with a trailing comment naming the code(s) on the line
where it is reported: `llm.x = v  # LLA001` (several: `# LLA001 LLA003`). A first line
`# OPTIONS: {"select": ["LLA001"]}` (JSON, shaped like the TOML table) sets per-file options.
`name.fixed.py` beside `name.py` is the expected result of `--fix --unsafe-fixes`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source
from lint_rules.core.config import Config, apply_settings

MARKER = re.compile(r"#\s*((?:LLA\d{3}[ \t]*)+)$")
OPTIONS = re.compile(r"^#\s*OPTIONS:\s*(\{.*\})\s*$")


def expected_markers(source: str) -> set[tuple[int, str]]:
    found = set()
    for row, line in enumerate(source.splitlines(), 1):
        match = MARKER.search(line)
        if match:
            found.update((row, code) for code in match.group(1).split())
    return found


def options_of(source: str) -> dict:
    first = source.splitlines()[0] if source else ""
    match = OPTIONS.match(first)
    return json.loads(match.group(1)) if match else {}


def config_for(options: dict) -> Config:
    return apply_settings(Config(), options, "fixture") if options else Config()


def actual_findings(source: str, path: str, options: dict | None = None,
                    roots: list[Path] | None = None) -> set[tuple[int, str]]:
    config = config_for(options if options is not None else options_of(source))
    diags = check_source(source, path, config, ProjectIndex(config, roots))
    return {(d.start.row, d.code) for d in diags}
