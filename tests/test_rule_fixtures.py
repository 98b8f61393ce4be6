"""Every fixture file under tests/fixtures/rules and every rule's doc examples, checked exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from lint_rules.api import fix_source
from lint_rules.rules import all_rules
from markers import actual_findings, config_for, expected_markers, options_of

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
CASES = sorted(p for p in FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fixture_findings_match_markers(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert actual_findings(source, str(path)) == expected_markers(source)


FIXED = [p for p in CASES if p.with_suffix(".fixed.py").exists()]


@pytest.mark.parametrize("path", FIXED, ids=[p.name for p in FIXED])
def test_fixture_fix_output_and_idempotence(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    config = config_for(options_of(source))
    once = fix_source(source, str(path), config, unsafe=True)
    assert once.error is None
    assert once.source == path.with_suffix("").with_suffix(".fixed.py").read_text(encoding="utf-8")
    twice = fix_source(once.source, str(path), config, unsafe=True)
    assert twice.source == once.source and not twice.fixed


EXAMPLES = [
    (rule, kind, i, example)
    for rule in all_rules()
    for kind, examples in (("bad", rule.bad_examples), ("good", rule.good_examples))
    for i, example in enumerate(examples)
]


@pytest.mark.parametrize("rule,kind,i,example", EXAMPLES,
                         ids=[f"{r.code}-{k}-{i}" for r, k, i, _ in EXAMPLES])
def test_rule_examples(rule, kind, i, example) -> None:
    found = actual_findings(example.code, example.path, example.options)
    expected = expected_markers(example.code)
    if kind == "bad":
        assert expected, "a bad example must mark its finding(s)"
        assert {c for _, c in expected} == {rule.code}
    else:
        assert not expected
    assert found == expected
    if example.fixed is not None:
        result = fix_source(example.code, example.path, config_for(example.options), unsafe=True)
        assert result.source == example.fixed


def test_every_rule_has_docs_and_examples() -> None:
    for rule in all_rules():
        assert rule.code.startswith("LLA") and len(rule.code) == 6
        assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
        assert rule.summary and rule.rationale
        assert rule.bad_examples and rule.good_examples
