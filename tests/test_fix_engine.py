"""The fix engine (fixes.fix_source, check_file, the runner's writes, source.write_atomically),
driven by the test-only rules of fix_rules.py so that each behaviour is pinned down exactly."""

from __future__ import annotations

import codecs
import os
import stat
import sys
from pathlib import Path

import pytest
from fix_rules import (
    ALL_TEST_RULES,
    GOOD_TEST_RULES,
    BreaksCode,
    FlipFlop,
    InsertsLines,
    MalformedEdit,
    NeverConverges,
    NonLatin,
    OneToTwo,
    PassToEllipsis,
    RenameCallWhole,
)

from lint_rules import fixes, runner
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_file, check_source, fix_source
from lint_rules.fixes import MAX_FIX_ROUNDS
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Edit
from lint_rules.core.source import FileChangedError, decode_source, file_digest, write_atomically
from lint_rules.runner import RunOptions, run

CONFIG = Config()


def fix(source: str, rules=GOOD_TEST_RULES, **kwargs):
    return fix_source(source, "t.py", CONFIG, rules=rules, **kwargs)


# ---------------------------------------------------------------------------- the loop
def test_safe_fix_applied_and_nothing_else_changes():
    source = "a = 0  # keep\nx = 1   # spacing kept\nx = 5\n"
    result = fix(source)
    assert result.error is None
    assert result.source == "a = 0  # keep\nx = 2   # spacing kept\nx = 5\n"
    assert [d.code for d in result.fixed] == ["LLA901"]
    assert [d.code for d in result.remaining] == ["LLA903"]  # x = 2 has an unsafe fix


def test_unsafe_fix_needs_the_flag_and_chains_across_rounds():
    safe = fix("x = 1\n")
    assert safe.source == "x = 2\n"
    assert [d.code for d in safe.remaining] == ["LLA903"]  # the unsafe fix is left as a finding
    unsafe = fix("x = 1\n", unsafe=True)
    assert unsafe.source == "x = 3\n"  # round 1: 1 -> 2 (safe), round 2: 2 -> 3 (unsafe)
    assert [d.code for d in unsafe.fixed] == ["LLA901", "LLA903"]
    assert unsafe.remaining == []


def test_overlapping_fixes_wait_for_the_next_round():
    # Each f(...) fix replaces its whole call, so the three fixes nest; applied at once the
    # text would be garbage. One per round, outermost first.
    result = fix("y = f(f(f(1)))\n", rules=[RenameCallWhole])
    assert result.error is None
    assert result.source == "y = g(g(g(1)))\n"
    assert len(result.fixed) == 3


def test_non_overlapping_fixes_share_a_round():
    calls = []
    original = fixes.check_text

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    fixes.check_text = counting
    try:
        result = fix("x = 1\nif a:\n    pass\nelse:\n    pass\n", rules=[OneToTwo, PassToEllipsis])
    finally:
        fixes.check_text = original
    assert result.source == "x = 2\nif a:\n    ...\nelse:\n    ...\n"
    assert len(calls) == 2  # one round of three fixes, then the check that finds nothing


def test_a_fix_that_never_converges_is_an_error_naming_the_rule():
    source = "counter = 0\nx = 1\n"
    result = fix(source, rules=[NeverConverges, OneToTwo])
    assert result.source == source  # not even the good fix is kept: no half-fixed file
    assert result.fixed == [] and not result.changed
    assert "LLA905" in result.error and "test-never-converges" in result.error
    assert f"{MAX_FIX_ROUNDS} rounds" in result.error and "LLA901" not in result.error
    assert {d.code for d in result.remaining} == {"LLA905", "LLA901"}


def test_fixes_that_undo_each_other_are_caught_at_once():
    result = fix("flip = True\n", rules=[FlipFlop])
    assert result.source == "flip = True\n"
    assert "LLA906" in result.error and "undo each other" in result.error


def test_a_fix_producing_invalid_code_is_refused():
    source = "x = 1\nbroken = 1\n"
    result = fix(source, rules=[OneToTwo, BreaksCode])
    assert result.source == source and result.fixed == []
    assert "LLA907" in result.error and "invalid code" in result.error


def test_a_malformed_edit_is_refused_not_applied():
    result = fix("bad_edit = 1\n", rules=[MalformedEdit])
    assert result.source == "bad_edit = 1\n"
    assert "LLA908" in result.error and "out of range" in result.error


def test_nothing_to_fix_returns_the_same_text():
    source = "y = 3\n"
    result = fix(source, rules=ALL_TEST_RULES)
    assert result.source is source and not result.changed and result.error is None


def test_select_limits_which_fixes_apply():
    result = fix("x = 1\nif a:\n    pass\n", rules=[OneToTwo, PassToEllipsis],
                 select=lambda d: d.code == "LLA902")
    assert result.source == "x = 1\nif a:\n    ...\n"
    assert [d.code for d in result.remaining] == ["LLA901"]


def test_configured_ignores_apply_to_explicit_rules():
    config = Config(ignore=("LLA901",))
    result = fix_source("x = 1\n", "t.py", config, rules=[OneToTwo])
    assert result.source == "x = 1\n" and result.remaining == []


def test_noqa_keeps_a_line_from_being_fixed():
    result = fix("x = 1  # noqa: LLA901\n")
    assert result.source == "x = 1  # noqa: LLA901\n"


def test_second_fix_is_a_no_op():
    first = fix("x = 1\ny = f(f(2))\nif a:\n    pass\n", unsafe=True)
    again = fix(first.source, unsafe=True)
    assert again.source == first.source and again.fixed == []


def test_check_source_with_explicit_rules_does_not_touch_the_registry():
    assert [d.code for d in check_source("x = 1\n", "t.py", CONFIG, rules=[OneToTwo])] == ["LLA901"]
    from lint_rules.rules import all_rules

    assert not {r.code for r in all_rules()} & {r.code for r in ALL_TEST_RULES}


# ---------------------------------------------------------------------------- line endings
@pytest.mark.parametrize("source, expected", [
    ("if a:\n    mark()\n", 'if a:\n    marked = """two\nlines"""\n    done()\n'),
    ("if a:\r\n    mark()\r\n", 'if a:\r\n    marked = """two\r\nlines"""\r\n    done()\r\n'),
    # mixed: each insertion takes the ending of the line it lands on
    ("mark()\r\nmark()\nmark()\r", 'marked = """two\r\nlines"""\r\ndone()\r\n'
                                   'marked = """two\nlines"""\ndone()\n'
                                   'marked = """two\rlines"""\rdone()\r'),
    ("mark()", 'marked = """two\nlines"""\ndone()'),  # no line break at all: LF
])
def test_inserted_line_breaks_follow_the_file(source, expected):
    result = fix(source, rules=[InsertsLines])
    assert result.error is None
    assert result.source == expected


def test_line_endings_outside_edits_are_untouched():
    source = "a = 1\r\nx = 1\nb = 2\r\n"
    assert fix(source).source == "a = 1\r\nx = 2\nb = 2\r\n"


# ---------------------------------------------------------------------------- files
def _check(path: Path, **kwargs):
    return check_file(path, path.name, CONFIG, ProjectIndex(CONFIG), rules=GOOD_TEST_RULES, **kwargs)


@pytest.mark.parametrize("data, encoding, bom", [
    (b"x = 1\n", "utf-8", False),
    (b"x = 1\r\ny = '\xc3\xa9'\r\n", "utf-8", False),
    (codecs.BOM_UTF8 + b"x = 1\ny = '\xc3\xa9'\n", "utf-8", True),
    (b"# -*- coding: latin-1 -*-\nx = 1\ny = '\xe9'\n", "iso-8859-1", False),
    (b"# vim: set fileencoding=cp1252 :\r\nx = 1\r\ny = '\x80'\r\n", "cp1252", False),
])
def test_fixed_file_keeps_encoding_bom_and_endings(tmp_path, data, encoding, bom):
    path = tmp_path / "m.py"
    path.write_bytes(data)
    path.chmod(0o640)
    file_result = _check(path, fix=True)
    assert file_result.original.encoding == encoding and file_result.original.bom is bom
    assert file_result.new_text is not None
    result = runner.RunResult()
    runner._write(file_result, str(path), result)
    assert result.errors == []
    assert path.read_bytes() == data.replace(b"x = 1", b"x = 2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_file_without_applied_edit_is_never_touched(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(b"y = 3\r\n")
    os.utime(path, (1_000_000, 1_000_000))
    result = _run_fix(tmp_path)
    assert result.errors == [] and result.fixed == []
    assert path.stat().st_mtime == 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left either


def _run_fix(root: Path, rules=GOOD_TEST_RULES, **options):
    original = runner.check_file

    def with_rules(*args, **kwargs):
        return original(*args, rules=rules, **kwargs)

    runner.check_file = with_rules
    try:
        return run([root], CONFIG, RunOptions(fix=True, **options), project_root=root)
    finally:
        runner.check_file = original


def test_run_writes_fixes_and_diff_mode_writes_nothing(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    dry = _run_fix(tmp_path, write=False)
    assert [d.code for d in dry.fixed] == ["LLA901"] and path.read_text() == "x = 1\n"
    wet = _run_fix(tmp_path)
    assert wet.errors == [] and path.read_text() == "x = 2\n"


def test_a_file_changed_on_disk_meanwhile_is_not_overwritten(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    original = runner.check_file

    def edit_while_fixing(*args, **kwargs):
        found = original(*args, rules=GOOD_TEST_RULES, **kwargs)
        path.write_text("x = 1\nuser_edit = True\n")  # the user saves in the editor meanwhile
        return found

    runner.check_file = edit_while_fixing
    try:
        result = run([tmp_path], CONFIG, RunOptions(fix=True), project_root=tmp_path)
    finally:
        runner.check_file = original
    assert path.read_text() == "x = 1\nuser_edit = True\n"
    assert len(result.errors) == 1 and "changed on disk" in result.errors[0]
    assert result.fixed == [] and [d.code for d in result.diagnostics] == ["LLA901"]
    assert result.diagnostics[0].start.row == 1  # the finding as in the file on disk


def test_invalid_fix_leaves_file_untouched_and_reports_path_and_rule(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("x = 1\nbroken = 1\n")
    result = _run_fix(tmp_path, rules=[OneToTwo, BreaksCode])
    assert path.read_text() == "x = 1\nbroken = 1\n"
    assert len(result.errors) == 1
    assert "m.py: fix for LLA907 (test-breaks-code) produced invalid code" in result.errors[0]
    assert "LLA901" not in result.errors[0]  # the good fix of the same round is not blamed
    assert [d.code for d in result.diagnostics] == ["LLA901", "LLA907"]  # as in the file


def test_fix_that_cannot_be_encoded_is_not_written(tmp_path):
    path = tmp_path / "m.py"
    data = b"# coding: latin-1\ngreeting = 'caf\xe9'\n"
    path.write_bytes(data)
    result = _run_fix(tmp_path, rules=[NonLatin])
    assert path.read_bytes() == data
    assert len(result.errors) == 1 and "which iso-8859-1 cannot encode" in result.errors[0]
    # the same fix in a UTF-8 file is fine
    path.write_text("greeting = 'hi'\n", encoding="utf-8")
    assert _run_fix(tmp_path, rules=[NonLatin]).errors == []
    assert path.read_text(encoding="utf-8") == 'greeting = "hi →"\n'


@pytest.mark.unprivileged
def test_read_only_file_is_not_replaced(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write read-only files")
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    path.chmod(0o444)
    result = _run_fix(tmp_path)
    assert path.read_text() == "x = 1\n" and "read-only" in result.errors[0]


def test_fix_writes_through_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real.py"
    real.write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "link.py"
    link.symlink_to(real)
    original = runner.check_file
    runner.check_file = lambda *a, **k: original(*a, rules=GOOD_TEST_RULES, **k)
    try:
        result = run([link], CONFIG, RunOptions(fix=True), project_root=tmp_path)
    finally:
        runner.check_file = original
    assert result.errors == []
    assert link.is_symlink() and real.read_text() == "x = 2\n"


def test_parallel_workers_never_write(tmp_path):
    """Only the parent writes: each file once, whatever the number of workers."""
    for i in range(runner.PARALLEL_THRESHOLD + 6):
        (tmp_path / f"m{i}.py").write_text("x = 1\nif a:\n    pass\n")
    writes: list[tuple[int, str]] = []
    original_write = runner.write_atomically

    def recording(path, data, digest):
        writes.append((os.getpid(), str(path)))
        return original_write(path, data, digest)

    runner.write_atomically = recording
    try:
        result = _run_fix(tmp_path, jobs=2)
    finally:
        runner.write_atomically = original_write
    assert result.errors == []
    files = sorted(tmp_path.glob("*.py"))
    assert all(p.read_text() == "x = 2\nif a:\n    ...\n" for p in files)
    assert {pid for pid, _ in writes} == {os.getpid()}
    assert sorted(p for _, p in writes) == sorted(str(p) for p in files)  # each exactly once


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm, glibc")
def test_a_large_worker_gives_freed_memory_back_after_each_file(monkeypatch):
    """A worker whose resident size is above TRIM_ABOVE hands freed pages back (malloc_trim)
    after a file; a smaller one, and a process that is no worker (the API in a caller's
    process), call nothing."""
    calls: list[int] = []
    monkeypatch.setattr(runner, "release_freed_memory", lambda: calls.append(0))
    monkeypatch.setattr(runner, "_worker_state", {})
    runner._trim()
    assert calls == []
    runner._trim_after_each_file()
    monkeypatch.setattr(runner, "TRIM_ABOVE", 1 << 60)
    runner._trim()
    assert calls == []
    monkeypatch.setattr(runner, "TRIM_ABOVE", 0)
    runner._trim()
    assert calls == [0]


# ---------------------------------------------------------------------------- write_atomically
def test_write_atomically_refuses_changed_content(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(b"new content\n")
    with pytest.raises(FileChangedError):
        write_atomically(path, b"fixed\n", file_digest(b"old content\n"))
    assert path.read_bytes() == b"new content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_write_atomically_keeps_mode(tmp_path):
    path = tmp_path / "tool.py"
    path.write_bytes(b"x = 1\n")
    path.chmod(0o755)
    write_atomically(path, b"x = 2\n", file_digest(b"x = 1\n"))
    assert path.read_bytes() == b"x = 2\n" and stat.S_IMODE(path.stat().st_mode) == 0o755


def test_decode_keeps_the_digest_of_the_bytes_read():
    data = codecs.BOM_UTF8 + b"x = 1\r\n"
    assert decode_source(data).digest == file_digest(data)


def test_edit_overlap_semantics():
    assert Edit(0, 0, "a").overlaps(Edit(0, 0, "b"))  # two insertions at one point
    assert Edit(2, 2, "a").overlaps(Edit(0, 5, "b"))  # insertion inside a replacement
    assert not Edit(0, 2, "a").overlaps(Edit(2, 4, "b"))  # adjacent
    assert not Edit(5, 5, "a").overlaps(Edit(0, 5, "b"))  # insertion right after
