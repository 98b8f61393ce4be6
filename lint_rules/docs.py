"""Rule documentation, generated from the rule classes so it cannot drift.

`python -m lint_rules.docs` rewrites docs/rules/*.md; a test fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lint_rules.core.config import toml_value
from lint_rules.rules import Rule, documented_rules


def render_rule(rule: type[Rule]) -> str:
    parts = [f"# {rule.code} {rule.name}", "", f"**{rule.summary}**", "", rule.rationale.strip(), ""]
    parts += ["## Fix", "", (rule.fix_description or "Not fixable.").strip(), ""]
    for heading, examples in (("Bad", rule.bad_examples), ("Good", rule.good_examples)):
        if not examples:
            continue
        parts += [f"## {heading}", ""]
        for example in examples:
            if example.title:
                parts += [f"{example.title[0].upper()}{example.title[1:]}:", ""]
            if example.options:
                table = "\n".join(f"{k} = {toml_value(v)}" for k, v in example.options.items())
                parts += ["With `[tool.llm-affinity-lint]`:", "", "```toml", table, "```", ""]
            parts += ["```python", example.code.rstrip(), "```", ""]
            if example.fixed is not None:
                parts += ["Fixed:", "", "```python", example.fixed.rstrip(), "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def render_index() -> str:
    lines = ["# Rules", "", "| code | name | summary | fixable |", "| --- | --- | --- | --- |"]
    for rule in documented_rules():
        fixable = "yes" if rule.fix_description else "no"
        lines.append(f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.summary} | {fixable} |")
    return "\n".join(lines) + "\n"


def expected_docs() -> dict[str, str]:
    docs = {f"{rule.code}.md": render_rule(rule) for rule in documented_rules()}
    docs["README.md"] = render_index()
    return docs


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0] if argv else "docs/rules")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in expected_docs().items():
        (out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
