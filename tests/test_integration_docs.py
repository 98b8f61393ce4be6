"""Every snippet of docs/integrations.md, run for real in a temporary repository.

A snippet is the fenced block after a `<!-- snippet: NAME -->` marker. Install steps
(`pip install "git+URL@SHA"`) are not run: the package under test is already installed in
this interpreter's environment, whose `bin` folder leads PATH for the commands.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from integration_helpers import (
    CLEAN_SOURCE,
    LICENSE_SOURCE,
    LEAKY_SOURCE,
    REPO_ROOT,
    HookRepo,
    clean_env,
    consumer_repo,
    git,
    hook_repo,
    run_pre_commit,
    write_tree,
)

from lint_rules.core.config import Config, apply_settings, tomllib
from lint_rules.flake8_plugin import FIX_HINT, OVERRIDABLE_KEYS, UNSAFE_FIX_HINT

DOC = REPO_ROOT / "docs" / "integrations.md"
_SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w-]+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)\n```",
                      re.DOTALL)
PROJECT_URL = "https://github.com/llm-affinity-lint/llm-affinity-lint"
# Not on a package index and no release tags: the docs pin a commit of the repository.
PINNED = re.compile(r"[0-9a-f]{40}")
INSTALL = re.compile(r'pip install "git\+' + re.escape(PROJECT_URL) + r'@(?P<sha>[0-9a-f]{40})"')
BIN = str(Path(sys.executable).parent)

yaml = pytest.importorskip("yaml")


def snippets() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for match in _SNIPPET.finditer(DOC.read_text(encoding="utf-8")):
        assert match["name"] not in found, f"two snippets named {match['name']}"
        found[match["name"]] = (match["lang"], match["body"] + "\n")
    return found


def snippet(name: str) -> str:
    return snippets()[name][1]


def test_every_snippet_is_tested() -> None:
    """A new snippet needs a test here; an unmarked code block on the page is an error too."""
    tested = {"pre-commit-check", "pre-commit-fix", "flake8-output", "flake8-config",
              "flake8-commands", "ruff", "github-actions", "gitlab-ci"}
    assert set(snippets()) == tested
    text = DOC.read_text(encoding="utf-8")
    assert text.count("\n```") == 2 * len(tested), "every fenced block needs a snippet marker"


def run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One CI shell line, with the tools of this environment first on PATH."""
    env = clean_env(PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


# ---------------------------------------------------------------------------- pre-commit
@pytest.fixture(scope="module")
def hooks(tmp_path_factory) -> HookRepo:
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    return hook_repo(tmp_path_factory)


def _pointed_at(snippet_text: str, hooks: HookRepo) -> str:
    """The snippet with its repository swapped for the local copy of this tree (nothing else)."""
    config = yaml.safe_load(snippet_text)
    (repo,) = config["repos"]
    assert repo["repo"] == PROJECT_URL
    assert PINNED.fullmatch(str(repo["rev"])), "the docs should pin a full commit sha (no tags yet)"
    repo["repo"], repo["rev"] = str(hooks.path), hooks.rev
    return yaml.safe_dump(config)


@pytest.mark.parametrize(("name", "hook_id"), [("pre-commit-check", "llm-affinity-lint"),
                                                ("pre-commit-fix", "llm-affinity-lint-fix")])
def test_pre_commit_snippets(hooks: HookRepo, tmp_path: Path, name: str, hook_id: str) -> None:
    config = yaml.safe_load(snippet(name))
    assert [h["id"] for h in config["repos"][0]["hooks"]] == [hook_id]
    repo = consumer_repo(tmp_path / "repo", _pointed_at(snippet(name), hooks))
    write_tree(repo, {"clean.py": CLEAN_SOURCE})
    git(repo, "add", "clean.py")
    result = run_pre_commit(repo, hooks.home, "run")
    assert result.returncode == 0, result.stdout + result.stderr
    write_tree(repo, {"leaky.py": LEAKY_SOURCE})
    git(repo, "add", "leaky.py")
    result = run_pre_commit(repo, hooks.home, "run")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "leaky.py:6:9: LLA005" in result.stdout


def test_hook_table_matches_the_hooks_file() -> None:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    text = DOC.read_text(encoding="utf-8")
    for hook in hooks:
        assert f"| `{hook['id']}` | `{hook['entry']} FILES` |" in text


# ---------------------------------------------------------------------------- flake8
def _flake8_tree(root: Path) -> Path:
    license_leak = LICENSE_SOURCE
    return write_tree(root, {
        "src/app/aws.py": LEAKY_SOURCE,
        "src/app/license.py": license_leak,
        "src/app/clean.py": CLEAN_SOURCE,
        "tests/test_env.py": LEAKY_SOURCE,
    })


def test_flake8_output_example(tmp_path: Path) -> None:
    line = snippet("flake8-output").strip()
    path, row, col, rest = line.split(":", 3)
    row, col = int(row), int(col)
    source = "\n" * (row - 6) + "import os\n\n\nclass Conversation:\n    def start(self):\n" + \
        " " * (col - 1) + 'os.environ["OPENAI_API_KEY"] = self.api_key\n'
    write_tree(tmp_path, {path: source})
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "LLA", path], cwd=tmp_path,
                            capture_output=True, text=True, env=clean_env())
    # The example shows the format: position and code exactly; the wording may be refined by
    # the rule's owners, the finding's subject must stay.
    reported = result.stdout.strip()
    assert reported.split(" ", 2)[:2] == line.split(" ", 2)[:2], result.stderr
    subject = re.compile(r"LLA005 (`[^`]+`)")
    assert subject.search(reported)[1] == subject.search(line)[1] == "`self.api_key`"


def test_flake8_config_snippet(tmp_path: Path) -> None:
    _flake8_tree(tmp_path)
    (tmp_path / ".flake8").write_text(snippet("flake8-config"))
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "LLA", "."], cwd=tmp_path,
                            capture_output=True, text=True, env=clean_env())
    assert result.returncode == 1, result.stderr
    reported = sorted(line.split(":")[0] for line in result.stdout.splitlines())
    # license_key is a credential by the snippet's option; tests/* is ignored by it.
    assert reported == ["./src/app/aws.py", "./src/app/license.py"]


def test_flake8_command_snippets(tmp_path: Path) -> None:
    _flake8_tree(tmp_path)
    default, extended = [c for c in snippet("flake8-commands").splitlines() if c.strip()]
    result = run_shell(default, tmp_path)
    assert result.returncode == 1, result.stderr
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [
        "./src/app/aws.py", "./tests/test_env.py"]
    result = run_shell(extended, tmp_path)
    assert result.returncode == 1, result.stderr
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [
        "./src/app/aws.py", "./src/app/license.py", "./tests/test_env.py"]


def test_flake8_option_table_lists_every_option() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(--lla-[a-z-]*[a-z])[` ]", text))
    registered = {"--lla-config"} | {f"--lla-{k}" for k in OVERRIDABLE_KEYS} | {
        f"--lla-extend-{k}" for k in OVERRIDABLE_KEYS}
    assert documented == registered
    for key in OVERRIDABLE_KEYS:  # each names a real setting
        apply_settings(Config(), {key: ["x"]}, "doc")
    assert f"`{FIX_HINT}`" in text and f"`{UNSAFE_FIX_HINT}`" in text


# ---------------------------------------------------------------------------- ruff
def test_ruff_snippet(tmp_path: Path) -> None:
    config = tomllib.loads(snippet("ruff"))
    assert config["tool"]["ruff"]["lint"]["external"] == ["LLA"]
    ruff = shutil.which("ruff", path=BIN) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed; the TOML was validated")
    source = 'import os\nos.environ["K"] = "v"  # noqa: E501, LLA005\n'
    write_tree(tmp_path, {"mod.py": source})
    command = [ruff, "check", "--no-cache", "--isolated", "--select", "RUF100,E501", "--fix",
               "mod.py"]
    # Without the setting, ruff drops our code with its own unused one (so this test can tell)...
    subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert "LLA005" not in (tmp_path / "mod.py").read_text()
    # ...and with it, keeps it.
    write_tree(tmp_path, {"mod.py": source, "pyproject.toml": snippet("ruff")})
    command.remove("--isolated")
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "mod.py").read_text() == source.replace("E501, ", "")


# ---------------------------------------------------------------------------- CI
def _ci_repo(root: Path, leaky: bool) -> Path:
    files = {"app/clean.py": CLEAN_SOURCE}
    if leaky:
        files["app/leaky.py"] = LEAKY_SOURCE
    return consumer_repo(root, "repos: []\n", files)


def _commands(lines: list[str]) -> list[str]:
    """The shell lines to run; the install line is checked, not run."""
    installs = [line for line in lines if INSTALL.fullmatch(line)]
    assert len(installs) == 1, "the job must install the tool from a pinned commit"
    return [line for line in lines if not INSTALL.fullmatch(line)]


def test_every_pin_is_the_same_commit() -> None:
    """The pre-commit `rev` and every `pip install git+URL@sha` name one commit."""
    text = DOC.read_text(encoding="utf-8")
    shas = set(re.findall(r"rev: ([0-9a-f]{40})", text)) | {m["sha"] for m in INSTALL.finditer(text)}
    assert len(shas) == 1, shas
    assert "rev: v" not in text and "pip install llm-affinity-lint\n" not in text


def test_github_actions_job(tmp_path: Path) -> None:
    workflow = yaml.safe_load(snippet("github-actions"))
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()", "findings fail the check step; the upload must still run"
    commands = _commands([s["run"].strip() for s in steps if "run" in s])
    sarif_file = upload["with"]["sarif_file"]

    repo = _ci_repo(tmp_path / "leaky", leaky=True)
    results = [run_shell(command, repo) for command in commands]
    assert results[-1].returncode == 1, results[-1].stderr  # the job fails on findings
    log = json.loads((repo / sarif_file).read_text())
    assert log["version"] == "2.1.0"
    found = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
             for r in log["runs"][0]["results"]]
    assert found == [("LLA005", "app/leaky.py")]

    repo = _ci_repo(tmp_path / "clean", leaky=False)
    for command in commands:
        result = run_shell(command, repo)
        assert result.returncode == 0, result.stderr
    assert json.loads((repo / sarif_file).read_text())["runs"][0]["results"] == []


def test_gitlab_ci_job(tmp_path: Path) -> None:
    config = yaml.safe_load(snippet("gitlab-ci"))
    (job,) = config.values()
    commands = _commands([line.strip() for line in job["script"]])
    (artifact,) = job["artifacts"]["paths"]
    assert job["artifacts"]["when"] == "always"

    repo = _ci_repo(tmp_path / "leaky", leaky=True)
    # GitLab stops at the first failing line; the report is written before that.
    codes = [run_shell(command, repo).returncode for command in commands]
    assert codes == [0, 1]
    report = json.loads((repo / artifact).read_text())
    assert [(d["code"], d["filename"].endswith("app/leaky.py")) for d in report] == [("LLA005", True)]

    repo = _ci_repo(tmp_path / "clean", leaky=False)
    assert [run_shell(command, repo).returncode for command in commands] == [0, 0]
    assert json.loads((repo / artifact).read_text()) == []
