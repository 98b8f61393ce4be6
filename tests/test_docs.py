"""Docs generated from the rule classes must be committed as generated (they cannot drift)."""

from pathlib import Path

from lint_rules.docs import expected_docs

DOCS = Path(__file__).parent.parent / "docs" / "rules"


def test_rule_docs_are_up_to_date() -> None:
    expected = expected_docs()
    stale = [name for name, text in expected.items()
             if not (DOCS / name).is_file() or (DOCS / name).read_text(encoding="utf-8") != text]
    assert not stale, f"regenerate with `python -m lint_rules.docs`: {stale}"
    extra = {p.name for p in DOCS.glob("*.md")} - set(expected)
    assert not extra, f"docs for rules that do not exist: {extra}"
