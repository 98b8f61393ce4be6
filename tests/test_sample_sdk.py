"""The sample agent SDK (tests/fixtures/sample_sdk) yields exactly its planted markers.

Only the codes of the rules implemented so far are compared (each rule's issue adds its codes);
a marker of a code that is not listed here is ignored, and so is a finding of such a code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from markers import expected_markers

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source
from lint_rules.core.config import Config, apply_settings

SAMPLE = Path(__file__).parent / "fixtures" / "sample_sdk"
CODES = ("LLA001", "LLA003", "LLA006")
FILES = sorted(SAMPLE.rglob("*.py"))


def _config() -> Config:
    return apply_settings(Config(), {"select": list(CODES)}, "test")


@pytest.fixture(scope="module")
def index() -> ProjectIndex:
    return ProjectIndex(_config(), [SAMPLE])


def test_the_sample_package_is_there() -> None:
    assert len(FILES) >= 10
    planted = {code for path in FILES
               for _, code in expected_markers(path.read_text(encoding="utf-8"))}
    assert set(CODES) <= planted


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SAMPLE)) for p in FILES])
def test_sample_findings_match_planted_markers(path: Path, index: ProjectIndex) -> None:
    source = path.read_text(encoding="utf-8")
    expected = {(row, code) for row, code in expected_markers(source) if code in CODES}
    found = {(d.start.row, d.code) for d in check_source(source, str(path), _config(), index)}
    assert found == expected
