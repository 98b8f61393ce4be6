"""File discovery: what a check reads, on real temporary trees."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lint_rules.core.config import DEFAULT_EXCLUDE, Config
from lint_rules.discovery import DiscoveryError, SourceFile, iter_source_files

needs_symlinks = pytest.mark.skipif(
    sys.platform == "win32", reason="symbolic links need privileges on Windows"
)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_repo(root: Path) -> Path:
    (root / ".git" / "info").mkdir(parents=True)
    return root


def run(paths, config: Config | None = None, **kwargs) -> list[SourceFile | DiscoveryError]:
    return list(iter_source_files([Path(p) for p in paths], config or Config(), **kwargs))


def found(results) -> list[str]:
    return [Path(r.display).as_posix() for r in results if isinstance(r, SourceFile)]


def failures(results) -> list[tuple[str, str]]:
    return [
        (Path(r.display).as_posix(), r.message) for r in results if isinstance(r, DiscoveryError)
    ]


# ---------------------------------------------------------------------------- walking


def test_walks_recursively_and_keeps_python_sources(tmp_path, monkeypatch):
    touch(tmp_path, "a.py", "b.pyi", "c.txt", "d.pyc", "e.py.bak", "setup.cfg",
          "pkg/__init__.py", "pkg/sub/deep/mod.py", "pkg/data.json", "pkg/sub/stub.pyi")
    monkeypatch.chdir(tmp_path)
    results = run(["."])
    assert found(results) == [
        "a.py", "b.pyi", "pkg/__init__.py", "pkg/sub/deep/mod.py", "pkg/sub/stub.pyi",
    ]
    assert failures(results) == []
    assert all(isinstance(r.path, Path) for r in results)


def test_path_is_joined_onto_what_was_given_and_display_is_relative_to_cwd(tmp_path, monkeypatch):
    touch(tmp_path, "proj/src/m.py")
    monkeypatch.chdir(tmp_path)
    [relative] = run(["proj/src"])
    assert relative.path == Path("proj/src/m.py")
    assert Path(relative.display).as_posix() == "proj/src/m.py"

    [absolute] = run([tmp_path / "proj"])
    assert absolute.path == tmp_path / "proj" / "src" / "m.py"  # as given: absolute, unresolved
    assert Path(absolute.display).as_posix() == "proj/src/m.py"  # under cwd: shown relative

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    [outside] = run([tmp_path / "proj"])  # not under cwd: shown as given
    assert outside.display == str(tmp_path / "proj" / "src" / "m.py")
    [dotted] = run(["../proj"])
    assert dotted.path == Path("../proj/src/m.py")
    assert Path(dotted.display).as_posix() == "../proj/src/m.py"

    monkeypatch.chdir(tmp_path / "proj" / "src")
    [above] = run([".."])  # the walk comes back into the cwd: shown relative to it
    assert above.path == Path("../src/m.py")
    assert above.display == "m.py"


def test_order_is_sorted_per_folder_and_follows_the_given_paths(tmp_path, monkeypatch):
    names = [f"pkg{i}/mod{j}.py" for i in range(5) for j in range(5)] + ["z.py", "a.py", "m/x.py"]
    random.Random(7).shuffle(names)
    for name in names:  # creation order must not leak into the output
        touch(tmp_path, name)
    monkeypatch.chdir(tmp_path)
    first = found(run(["."]))
    assert first == found(run(["."]))
    assert first == ["a.py", "m/x.py"] + [
        f"pkg{i}/mod{j}.py" for i in range(5) for j in range(5)
    ] + ["z.py"]
    assert found(run(["pkg3", "pkg1", "z.py"])) == (
        [f"pkg3/mod{j}.py" for j in range(5)] + [f"pkg1/mod{j}.py" for j in range(5)] + ["z.py"]
    )


def test_nothing_is_yielded_twice(tmp_path, monkeypatch):
    touch(tmp_path, "a.py", "pkg/b.py", "pkg/c.py")
    monkeypatch.chdir(tmp_path)
    results = run(["pkg/b.py", ".", "pkg", "a.py", str(tmp_path), "./pkg/../pkg/c.py"])
    assert found(results) == ["pkg/b.py", "a.py", "pkg/c.py"]
    assert failures(results) == []


@needs_symlinks
def test_links_to_files_are_followed_and_deduplicated(tmp_path, monkeypatch):
    touch(tmp_path, "outside/shared.py", "proj/real.py")
    (tmp_path / "proj" / "alias.py").symlink_to(tmp_path / "outside" / "shared.py")
    (tmp_path / "proj" / "same.py").symlink_to("real.py")
    monkeypatch.chdir(tmp_path / "proj")
    results = run(["."])
    # `same.py` and `real.py` are one file: listed once, at its first place in sorted order.
    assert found(results) == ["alias.py", "real.py"]
    assert failures(results) == []


# ---------------------------------------------------------------------------- exclusions


def test_default_excludes(tmp_path, monkeypatch):
    touch(tmp_path, "ok.py", ".git/hooks/h.py", ".venv/lib/site.py", "venv/x.py",
          "node_modules/pkg/x.py", "__pycache__/m.py", "build/gen.py", "dist/d.py",
          ".tox/py/x.py", "src/build/nested.py", "src/__pycache__/c.py", "buildings/kept.py",
          "src/ok2.py")
    monkeypatch.chdir(tmp_path)
    assert {"build", ".git", ".venv", "node_modules", "__pycache__"} <= set(DEFAULT_EXCLUDE)
    assert found(run(["."])) == ["buildings/kept.py", "ok.py", "src/ok2.py"]


def test_exclude_replaces_the_defaults_and_extend_exclude_adds(tmp_path, monkeypatch):
    touch(tmp_path, "build/b.py", "gen/g.py", "src/gen/g2.py", "src/m.py", "src/m_pb2.py",
          "deep/x/y_pb2.py")
    monkeypatch.chdir(tmp_path)
    own = Config(exclude=("gen",))
    assert found(run(["."], own)) == ["build/b.py", "deep/x/y_pb2.py", "src/m.py", "src/m_pb2.py"]
    extended = Config(extend_exclude=("*_pb2.py", "gen/"))
    assert found(run(["."], extended)) == ["src/m.py"]  # `build` still excluded by default


def test_patterns_with_a_slash_are_anchored_to_the_project_root(tmp_path, monkeypatch):
    touch(tmp_path, "tests/fixtures/a.py", "tests/fixtures/sub/b.py", "tests/test_x.py",
          "other/tests/fixtures/c.py", "src/legacy/old.py", "legacy/old.py")
    monkeypatch.chdir(tmp_path)
    config = Config(extend_exclude=("tests/fixtures/*", "/legacy"))
    expected = ["other/tests/fixtures/c.py", "src/legacy/old.py", "tests/test_x.py"]
    assert found(run(["."], config, project_root=tmp_path)) == expected
    # Without a project root the walked path is the anchor.
    assert found(run(["."], config)) == expected
    # Walking a sub-folder: still anchored to the project root, not to the sub-folder.
    assert found(run(["tests"], config, project_root=tmp_path)) == ["tests/test_x.py"]
    assert found(run(["other"], config, project_root=tmp_path)) == ["other/tests/fixtures/c.py"]
    # "./" and absolute paths under the project root are anchored patterns too.
    for pattern in ("./tests/fixtures", str(tmp_path / "tests" / "fixtures")):
        got = found(run(["."], Config(extend_exclude=(pattern,)), project_root=tmp_path))
        assert got == ["legacy/old.py", "other/tests/fixtures/c.py", "src/legacy/old.py",
                       "tests/test_x.py"], pattern


def test_outside_the_project_root_only_name_patterns_apply(tmp_path, monkeypatch):
    touch(tmp_path, "elsewhere/tests/fixtures/a.py", "elsewhere/build/b.py", "elsewhere/ok.py")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path)
    config = Config(extend_exclude=("tests/fixtures",))
    got = found(run(["elsewhere"], config, project_root=tmp_path / "project"))
    assert got == ["elsewhere/ok.py", "elsewhere/tests/fixtures/a.py"]


def test_a_folder_given_explicitly_is_walked_even_when_excluded(tmp_path, monkeypatch):
    touch(tmp_path, "build/sub/m.py", "build/sub/build/skip.py", "build/top.py")
    monkeypatch.chdir(tmp_path)
    # ruff: what is given is linted; only what the walk finds inside is checked.
    assert found(run(["build"], project_root=tmp_path)) == ["build/sub/m.py", "build/top.py"]
    assert found(run(["build/sub"], project_root=tmp_path)) == ["build/sub/m.py"]
    assert found(run(["build"], replace(Config(), force_exclude=True), project_root=tmp_path)) == []


def test_explicit_files_are_kept_whatever_their_suffix_unless_force_exclude(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "ignored.py\n")
    touch(tmp_path, "build/gen.py", "ignored.py", "scripts/tool", "src/m.py")
    monkeypatch.chdir(tmp_path)
    given = ["build/gen.py", "ignored.py", "scripts/tool", "src/m.py"]
    assert found(run(given, project_root=tmp_path)) == given
    forced = Config(force_exclude=True)
    assert found(run(given, forced, project_root=tmp_path)) == ["scripts/tool", "src/m.py"]
    # force-exclude honours .gitignore only while respect-gitignore is on.
    no_git = Config(force_exclude=True, respect_gitignore=False)
    assert found(run(given, no_git, project_root=tmp_path)) == [
        "ignored.py", "scripts/tool", "src/m.py",
    ]
    # A missing file that is excluded anyway is skipped silently under force-exclude.
    assert run(["build/missing.py"], forced, project_root=tmp_path) == []


# ---------------------------------------------------------------------------- .gitignore


def test_gitignore_nested_negation_dir_only_and_info_exclude(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "# generated\n*.gen.py\n!keep.gen.py\n/top_only.py\ngen*/\n")
    write(tmp_path / ".git" / "info" / "exclude", "private.py\n")
    write(tmp_path / "sub" / ".gitignore", "local.py\n!again.gen.py\n")
    touch(tmp_path,
          "a.gen.py", "keep.gen.py", "top_only.py", "local.py", "private.py", "ok.py",
          "gen_code/x.py", "gen_a.py",  # `gen*/` is for folders only
          "sub/top_only.py", "sub/local.py", "sub/b.gen.py", "sub/again.gen.py", "sub/private.py",
          "sub/deeper/local.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["."])) == [
        "gen_a.py", "keep.gen.py", "local.py", "ok.py",
        "sub/again.gen.py", "sub/top_only.py",
    ]


def test_gitignore_of_the_folders_above_apply_when_walking_a_sub_folder(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "*.gen.py\n/pkg/skip/\n")
    write(tmp_path / ".git" / "info" / "exclude", "private.py\n")
    write(tmp_path / "pkg" / ".gitignore", "local.py\n")
    touch(tmp_path, "pkg/sub/a.gen.py", "pkg/sub/local.py", "pkg/sub/private.py", "pkg/sub/ok.py",
          "pkg/skip/x.py")
    monkeypatch.chdir(tmp_path / "pkg" / "sub")
    assert found(run(["."])) == ["ok.py"]
    monkeypatch.chdir(tmp_path)
    assert found(run(["pkg"])) == ["pkg/sub/ok.py"]


def test_negation_cannot_reinclude_inside_an_ignored_folder(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "out/\n!out/keep.py\n")
    touch(tmp_path, "out/keep.py", "out/other.py", "ok.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["."])) == ["ok.py"]  # git: a file in an excluded folder stays excluded


def test_a_folder_given_explicitly_is_walked_even_when_gitignored(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "generated/\n*.tmp.py\n/top/\n")
    touch(tmp_path, "generated/a.py", "generated/b.tmp.py", "generated/sub/c.py",
          "generated/sub/generated/d.py", "top/e.py", "top/top/f.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["."])) == []
    # What ignored the folder itself goes on applying below it when it matches at any depth.
    assert found(run(["generated"])) == ["generated/a.py", "generated/sub/c.py"]
    assert found(run(["generated/sub"])) == ["generated/sub/c.py"]
    assert found(run(["top"])) == ["top/e.py", "top/top/f.py"]  # `/top/` is anchored
    assert found(run(["generated"], Config(force_exclude=True))) == []


def test_respect_gitignore_false_ignores_gitignore_but_not_exclude(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "ignored.py\nignored_dir/\n")
    write(tmp_path / ".git" / "info" / "exclude", "private.py\n")
    touch(tmp_path, "ignored.py", "ignored_dir/x.py", "private.py", "ok.py", "build/b.py",
          ".git/hooks/h.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["."])) == ["ok.py"]
    assert found(run(["."], Config(respect_gitignore=False))) == [
        "ignored.py", "ignored_dir/x.py", "ok.py", "private.py",
    ]


def test_a_nested_repository_does_not_inherit_the_outer_gitignore(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "vendored.py\n")
    make_repo(tmp_path / "inner")
    write(tmp_path / "inner" / ".git" / "info" / "exclude", "secret.py\n")
    touch(tmp_path, "vendored.py", "inner/vendored.py", "inner/secret.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["."])) == ["inner/vendored.py"]


def test_git_file_of_a_worktree_points_to_info_exclude(tmp_path, monkeypatch):
    write(tmp_path / "gitdirs" / "wt" / "commondir", "../common\n")
    write(tmp_path / "gitdirs" / "common" / "info" / "exclude", "private.py\n")
    write(tmp_path / "work" / ".git", f"gitdir: {tmp_path / 'gitdirs' / 'wt'}\n")
    touch(tmp_path, "work/private.py", "work/ok.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["work"])) == ["work/ok.py"]


def test_gitignore_outside_a_repository_applies_from_the_walked_root(tmp_path, monkeypatch):
    write(tmp_path / "proj" / ".gitignore", "skip.py\n")
    touch(tmp_path, "proj/skip.py", "proj/ok.py", "proj/sub/skip.py")
    monkeypatch.chdir(tmp_path)
    assert found(run(["proj"])) == ["proj/ok.py"]
    # With a project root, the .gitignore files from there down apply to a sub-folder walk.
    assert found(run(["proj/sub"], project_root=tmp_path / "proj")) == []


# ---------------------------------------------------------------------------- failures


def test_missing_paths_are_reported_and_the_run_goes_on(tmp_path, monkeypatch):
    touch(tmp_path, "a.py")
    monkeypatch.chdir(tmp_path)
    results = run(["missing.py", "a.py", "missing_dir/x.py", "a.py/child.py"])
    assert found(results) == ["a.py"]
    assert failures(results) == [
        ("missing.py", "no such file or directory"),
        ("missing_dir/x.py", "no such file or directory"),
        ("a.py/child.py", "not a directory"),
    ]
    assert isinstance(results[0], DiscoveryError) and results[0].path == Path("missing.py")


@needs_symlinks
def test_symlink_loops_terminate_and_are_reported(tmp_path, monkeypatch):
    touch(tmp_path, "proj/pkg/m.py", "proj/top.py")
    (tmp_path / "proj" / "pkg" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "proj" / "pkg" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "proj" / "pkg" / "way_up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "proj" / "a.py").symlink_to("b.py")  # a loop between two file links
    (tmp_path / "proj" / "b.py").symlink_to("a.py")
    monkeypatch.chdir(tmp_path / "proj")
    results = run(["."])
    assert found(results) == ["pkg/m.py", "top.py"]
    assert failures(results) == [
        ("a.py", "symlink loop"), ("b.py", "symlink loop"),
        ("pkg/self", "symlink loop"), ("pkg/up", "symlink loop"), ("pkg/way_up", "symlink loop"),
    ]
    assert failures(run(["a.py"])) == [("a.py", "symlink loop")]


@needs_symlinks
def test_folder_links_inside_the_tree_are_listed_once_under_their_real_path(tmp_path, monkeypatch):
    touch(tmp_path, "proj/real/m.py", "proj/build/gen.py", "shared/lib.py")
    (tmp_path / "proj" / "alias").symlink_to("real", target_is_directory=True)
    (tmp_path / "proj" / "a_build").symlink_to("build", target_is_directory=True)
    (tmp_path / "proj" / "ext").symlink_to(tmp_path / "shared", target_is_directory=True)
    monkeypatch.chdir(tmp_path / "proj")
    results = run(["."])
    # `alias` is `real` (listed there); `a_build` does not smuggle the excluded `build` in;
    # `ext` leads out of the tree and is followed.
    assert found(results) == ["ext/lib.py", "real/m.py"]
    assert failures(results) == []
    # Given explicitly, a link to a folder is walked.
    assert found(run(["alias"])) == ["alias/m.py"]


@needs_symlinks
def test_broken_symlinks_are_reported(tmp_path, monkeypatch):
    touch(tmp_path, "proj/ok.py")
    (tmp_path / "proj" / "dangling.py").symlink_to("nowhere.py")
    (tmp_path / "proj" / "dangling_dir").symlink_to("nowhere", target_is_directory=True)
    (tmp_path / "proj" / "build").mkdir()
    (tmp_path / "proj" / "build" / "gone.py").symlink_to("nowhere.py")  # excluded: not reported
    monkeypatch.chdir(tmp_path / "proj")
    results = run([".", "dangling_dir"])
    assert found(results) == ["ok.py"]
    assert failures(results) == [
        ("dangling.py", "broken symlink"), ("dangling_dir", "broken symlink"),
    ]


def _run_with_timeout(paths, timeout=20.0):
    """A FIFO that gets opened blocks forever: run in a thread so such a bug fails, not hangs."""
    box: dict[str, object] = {}

    def target():
        box["results"] = run(paths)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "discovery blocked: it opened a FIFO"
    return box["results"]


@needs_fifo
def test_fifos_are_never_opened(tmp_path, monkeypatch):
    touch(tmp_path, "pkg/ok.py")
    os.mkfifo(tmp_path / "pkg" / "x.py")
    monkeypatch.chdir(tmp_path)
    results = _run_with_timeout(["pkg"])
    assert found(results) == ["pkg/ok.py"]
    assert failures(results) == []
    results = _run_with_timeout(["pkg/x.py", "pkg/ok.py"])
    assert found(results) == ["pkg/ok.py"]
    assert failures(results) == [("pkg/x.py", "not a regular file (FIFO)")]


@pytest.mark.unprivileged
def test_unreadable_folder_is_reported_and_the_walk_goes_on(tmp_path, monkeypatch):
    touch(tmp_path, "a/one.py", "locked/secret.py", "z/two.py")
    locked = tmp_path / "locked"
    locked.chmod(0)
    try:
        try:
            os.listdir(locked)
        except PermissionError:
            pass
        else:
            pytest.skip("chmod 000 does not stop this user (root?); see the simulated test")
        monkeypatch.chdir(tmp_path)
        results = run(["."])
        assert found(results) == ["a/one.py", "z/two.py"]
        assert failures(results) == [("locked", "permission denied")]
    finally:
        locked.chmod(0o755)


def _failing_scandir(monkeypatch, victim: Path, exc: OSError) -> None:
    real = os.scandir
    victim_abs = os.path.abspath(victim)

    def scandir(path="."):
        if os.path.abspath(path) == victim_abs:
            raise exc
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_permission_denied_simulated(tmp_path, monkeypatch):
    touch(tmp_path, "a/one.py", "locked/secret.py", "z/two.py")
    monkeypatch.chdir(tmp_path)
    _failing_scandir(monkeypatch, tmp_path / "locked", PermissionError(13, "Permission denied"))
    results = run(["."])
    assert found(results) == ["a/one.py", "z/two.py"]
    assert failures(results) == [("locked", "permission denied")]


def test_folder_vanishing_during_the_run_is_reported(tmp_path, monkeypatch):
    touch(tmp_path, "a/one.py", "gone/x.py", "z/two.py")
    monkeypatch.chdir(tmp_path)
    _failing_scandir(monkeypatch, tmp_path / "gone", FileNotFoundError(2, "No such file"))
    results = run(["."])
    assert found(results) == ["a/one.py", "z/two.py"]
    assert failures(results) == [("gone", "vanished during the run")]


def test_unreadable_gitignore_is_reported_once(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / "pkg" / ".gitignore", "skip.py\n")
    touch(tmp_path, "pkg/skip.py", "pkg/ok.py")
    monkeypatch.chdir(tmp_path)
    real_open = open
    victim = os.path.abspath(tmp_path / "pkg" / ".gitignore")

    def fake_open(file, *args, **kwargs):
        if os.path.abspath(os.fspath(file)) == victim:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    results = run([".", "pkg"])
    assert found(results) == ["pkg/ok.py", "pkg/skip.py"]
    assert failures(results) == [
        ("pkg/.gitignore", "permission denied (its patterns are not applied)"),
    ]


# ---------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_twenty_thousand_files(tmp_path, monkeypatch):
    make_repo(tmp_path)
    write(tmp_path / ".gitignore", "*.pyc\n__pycache__/\n*_pb2.py\n/dist\n*.log\ncoverage/\n")
    expected = []
    for i in range(40):
        for j in range(25):
            folder = tmp_path / f"pkg{i:02}" / f"mod{j:02}"
            folder.mkdir(parents=True)
            if j % 5 == 0:
                write(folder / ".gitignore", "*.tmp\n")
            for k in range(20):
                name = f"f{k:02}.py" if k % 4 else f"f{k:02}_pb2.py"
                (folder / name).touch()
                if k % 4:
                    expected.append(f"pkg{i:02}/mod{j:02}/{name}")
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    results = run(["."])
    elapsed = time.perf_counter() - start
    assert found(results) == expected
    assert elapsed < 15, f"discovery took {elapsed:.1f}s for 20,000 files"
