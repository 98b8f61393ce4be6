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


class TenantAccount:
    def export(self):
        os.environ["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
'''
LEAKY_ROW, LEAKY_COL = 6, 9
# The same write of a value that neither its own name nor its environment variable's name marks
# as a credential by default (`license_key` into `APP_LICENSE`): a finding only when configured.
LICENSE_SOURCE = LEAKY_SOURCE.replace("aws_access_key_id", "license_key").replace(
    "AWS_ACCESS_KEY_ID", "APP_LICENSE")

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
from lint_rules.core.diagnostics import Applicability, Fix
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
    "name = 'lint_rules.rules.lla990_test_fixable'  # only that package's modules register\n"
    "module = sys.modules[name] = types.ModuleType(name)\n"
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


# Runs flake8 after `exec`-ing the code given as first argument (test instrumentation).
_FLAKE8_AFTER = (
    "import sys\n"
    "exec(sys.argv.pop(1), {})\n"
    "from flake8.main.cli import main\n"
    "raise SystemExit(main())\n"
)


def run_flake8(cwd: Path, *args: str, fixable_rule: bool = False,
               preamble: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real flake8 of this interpreter, with the installed plugin, in `cwd`."""
    if fixable_rule:
        command = [sys.executable, "-c", _FLAKE8_WITH_FIXABLE_RULE, FIXABLE_RULE_MODULE, *args]
    elif preamble is not None:
        command = [sys.executable, "-c", _FLAKE8_AFTER, preamble, *args]
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


# ---------------------------------------------------------------------------- pre-commit
REPO_ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
                             *args], cwd=cwd, capture_output=True, text=True,
                            env=clean_env(**GIT_IDENTITY), check=True)
    return result.stdout


class HookRepo:
    """A git repository holding this working tree (plus the test-only fixable rule), committed,
    and a PRE_COMMIT_HOME shared by the whole test session: pre-commit builds the hook
    environment (pip install of this package, ~30-60 s) once, keyed on repo and rev."""

    def __init__(self, path: Path, rev: str, home: Path) -> None:
        self.path, self.rev, self.home = path, rev, home

    def config(self, *hook_ids: str) -> str:
        hooks = "".join(f"      - id: {h}\n" for h in hook_ids)
        return f"repos:\n  - repo: {self.path}\n    rev: {self.rev}\n    hooks:\n{hooks}"


_hook_repo: HookRepo | None = None


def hook_repo(tmp_path_factory) -> HookRepo:
    """The session's hook repository (made on first use; `tmp_path_factory` is session-wide)."""
    global _hook_repo
    if _hook_repo is None:
        path = tmp_path_factory.mktemp("hook-repo")
        # The working tree as it is, not HEAD: the tests check the code on disk.
        listed = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        for name in filter(None, listed.split("\0")):
            source = REPO_ROOT / name
            if source.is_file() and not source.is_symlink():
                target = path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
        (path / "lint_rules" / "rules" / "lla990_test_fixable.py").write_text(FIXABLE_RULE_MODULE)
        git(path, "init", "-q")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "hook repository for the tests")
        rev = git(path, "rev-parse", "HEAD").strip()
        _hook_repo = HookRepo(path, rev, tmp_path_factory.mktemp("pre-commit-home"))
    return _hook_repo


def consumer_repo(path: Path, pre_commit_config: str, files: dict[str, str] | None = None) -> Path:
    """A fresh git repository with a first commit holding the pre-commit config (and files)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    (path / ".pre-commit-config.yaml").write_text(pre_commit_config)
    write_tree(path, files or {})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def run_pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900,
                          env=clean_env(PRE_COMMIT_HOME=str(home), **GIT_IDENTITY))
