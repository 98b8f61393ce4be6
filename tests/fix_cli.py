"""The real CLI, with the test-only rules of fix_rules.py registered beside the real ones.

For subprocess tests of the fixing flags whose outcome must not depend on how the real rules
evolve: `python tests/fix_cli.py check --fix ...` behaves exactly like `llm-affinity-lint`,
plus rules LLA901-LLA910.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fix_rules import ALL_TEST_RULES  # noqa: E402
from lint_rules import rules as registry  # noqa: E402

for _rule in ALL_TEST_RULES:
    registry.CODES[_rule.code] = _rule.name
_registered = registry._load


def _load_with_test_rules():
    return tuple(sorted((*_registered(), *ALL_TEST_RULES), key=lambda rule: rule.code))


registry._load = _load_with_test_rules

if __name__ == "__main__":
    from lint_rules.cli import main

    sys.exit(main())
