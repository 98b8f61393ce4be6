"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit on staged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_helpers import (
    CLEAN_SOURCE, FIXABLE_CODE, FIXABLE_SOURCE, LEAKY_SOURCE, REPO_ROOT, HookRepo, consumer_repo,
    git, hook_repo, run_pre_commit,
)

pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
yaml = pytest.importorskip("yaml")

CHECK, FIX = "llm-affinity-lint", "llm-affinity-lint-fix"


@pytest.fixture(scope="session")
def hooks(tmp_path_factory) -> HookRepo:
    repo = hook_repo(tmp_path_factory)
    # Build the hook environment once, so a failure here reads as what it is.
    probe = consumer_repo(tmp_path_factory.mktemp("probe"), repo.config(CHECK, FIX))
    result = run_pre_commit(probe, repo.home, "install-hooks")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def _stage(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", name)


def test_hook_definitions() -> None:
    """The choices docs/integrations.md explains, pinned so a change is deliberate."""
    hooks = {h["id"]: h for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {CHECK, FIX}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types"] == ["python"]
        assert hook["require_serial"] is True
        assert "--force-exclude" in hook["entry"].split()
    assert hooks[CHECK]["entry"].split()[:2] == ["llm-affinity-lint", "check"]
    assert {"--fix", "--exit-non-zero-on-fix"} <= set(hooks[FIX]["entry"].split())


def test_check_hook_fails_on_a_defect_and_passes_a_clean_file(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(CHECK))
    _stage(repo, {"app/clean.py": CLEAN_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", CHECK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout

    _stage(repo, {"app/leaky.py": LEAKY_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", CHECK)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout
    assert "app/leaky.py:6:9: LLA005" in result.stdout
    assert "app/clean.py:" not in result.stdout
    assert (repo / "app" / "leaky.py").read_text() == LEAKY_SOURCE


def test_check_hook_only_sees_staged_python_files(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(CHECK))
    (repo / "unstaged.py").write_text(LEAKY_SOURCE)  # untracked: pre-commit does not pass it
    _stage(repo, {"notes.txt": LEAKY_SOURCE, "clean.py": CLEAN_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", CHECK)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fix_hook_fails_when_findings_remain(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(FIX))
    _stage(repo, {"leaky.py": LEAKY_SOURCE})  # LLA005 has no fix
    result = run_pre_commit(repo, hooks.home, "run", FIX)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "leaky.py:6:9: LLA005" in result.stdout
    assert (repo / "leaky.py").read_text() == LEAKY_SOURCE


def test_fix_hook_fails_when_it_changed_a_file_then_passes(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(FIX))
    _stage(repo, {"fixable.py": FIXABLE_SOURCE, "clean.py": CLEAN_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", FIX)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "files were modified by this hook" in result.stdout
    assert (repo / "fixable.py").read_text() == "fixed_marker = 1\n"
    assert (repo / "clean.py").read_text() == CLEAN_SOURCE
    assert FIXABLE_CODE not in result.stdout  # fixed: nothing remains to report
    git(repo, "add", "fixable.py")
    result = run_pre_commit(repo, hooks.home, "run", FIX)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fix_hook_passes_a_clean_file(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(FIX))
    _stage(repo, {"clean.py": CLEAN_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", FIX)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repo / "clean.py").read_text() == CLEAN_SOURCE


def test_config_exclusions_apply_to_files_pre_commit_passes(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(CHECK, FIX), {
        "pyproject.toml": '[tool.llm-affinity-lint]\nextend-exclude = ["generated/"]\n'})
    _stage(repo, {"generated/leaky.py": LEAKY_SOURCE, "generated/fixable.py": FIXABLE_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repo / "generated" / "fixable.py").read_text() == FIXABLE_SOURCE
    _stage(repo, {"src/leaky.py": LEAKY_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", CHECK)
    assert result.returncode == 1 and "src/leaky.py:6:9: LLA005" in result.stdout
    assert "generated/" not in result.stdout


def test_project_settings_reach_the_hook(hooks: HookRepo, tmp_path: Path) -> None:
    repo = consumer_repo(tmp_path / "repo", hooks.config(CHECK), {
        "pyproject.toml": '[tool.llm-affinity-lint]\nignore = ["LLA005"]\n'})
    _stage(repo, {"leaky.py": LEAKY_SOURCE})
    result = run_pre_commit(repo, hooks.home, "run", CHECK)
    assert result.returncode == 0, result.stdout + result.stderr
