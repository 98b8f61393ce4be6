"""Shared by the integration tests (flake8, pre-commit, docs): sample files and a fixable rule.

No rule of the foundation has a fix, yet the fix paths of the front-ends (flake8's fix hint,
the pre-commit fix hook) must be exercised. `FIXABLE_RULE_MODULE` is a tiny rule with a safe
fix, loaded only by these tests: into a flake8 process by a wrapper, or into a throwaway clone
of the repository as one more rule module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A real defect of the foundation's rule set (LLA005): a tenant credential copied into the
# process environment from inside a method.
LEAKY_SOURCE = '''\
import os


class LLMConfig:
    def export(self):
        os.environ["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
'''
LEAKY_ROW, LEAKY_COL = 6, 9

CLEAN_SOURCE = '''\
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class LLMConfig:
    def call(self, client):
        return client.complete(api_key=self.aws_access_key_id)
'''

FIXABLE_CODE = "LLA990"
FIXABLE_TOKEN = "leaky_marker"
FIXABLE_RULE_MODULE = f'''\
"""Test-only rule: reports the name `{FIXABLE_TOKEN}` and safely renames it."""
from lint_rules.diagnostics import Applicability, Fix
from lint_rules.rules import CODES, Rule

CODES["{FIXABLE_CODE}"] = "test-fixable"


class TestFixable(Rule):
    code = "{FIXABLE_CODE}"
    name = "test-fixable"
    summary = "test-only fixable rule"
    rationale = "Exercises the fix paths of the front-ends."
    fix_description = "Renames the marker."

    @classmethod
    def trigger_tokens(cls, config):
        return ("{FIXABLE_TOKEN}",)

    def visit_Name(self, node):
        if node.value == "{FIXABLE_TOKEN}":
            edit = self.ctx.replace(node, "fixed_marker")
            self.report(node, "test marker", Fix("rename the marker", (edit,), Applicability.SAFE))
'''
FIXABLE_SOURCE = f"{FIXABLE_TOKEN} = 1\n"

# Runs flake8 after registering the test rule (forked `-j` workers inherit it).
_FLAKE8_WITH_FIXABLE_RULE = (
    "import sys, types\n"
    "module = types.ModuleType('lla_test_fixable')\n"
    "exec(sys.argv.pop(1), module.__dict__)\n"
    "from lint_rules.rules import _load\n"
    "_load.cache_clear()\n"
    "from flake8.main.cli import main\n"
    "raise SystemExit(main())\n"
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus settings that would make a run depend on the developer's setup."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLAKE8", "PRE_COMMIT", "GIT_", "PYTHONPATH"))}
    env.update(extra)
    return env


def run_flake8(cwd: Path, *args: str, fixable_rule: bool = False) -> subprocess.CompletedProcess[str]:
    """The real flake8 of this interpreter, with the installed plugin, in `cwd`."""
    if fixable_rule:
        command = [sys.executable, "-c", _FLAKE8_WITH_FIXABLE_RULE, FIXABLE_RULE_MODULE, *args]
    else:
        command = [sys.executable, "-m", "flake8", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=clean_env(),
                          timeout=300)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def report_lines(stdout: str) -> list[str]:
    return sorted(line for line in stdout.splitlines() if line.strip())
