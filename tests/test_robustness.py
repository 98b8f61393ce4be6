"""Hostile inputs: each gets one clear LLA000 line (or a one-line error), no traceback, no hang,
and `--fix` writes nothing. Every file also holds `x = 1`, which the test rule LLA901 would fix,
so "nothing written" is a real claim."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import err, out, run_cli

from lint_rules.api import MAX_FILE_BYTES, check_source, fix_source

FIXABLE = b"x = 1\n"


def check_and_fix(folder: Path, *paths: str, timeout: float = 120):
    """Run check, then check --fix; return both, asserting no file changed."""
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
              and not p.is_fifo() and os.access(p, os.R_OK)}  # a chmod 000 file: not ours to read
    checked = run_cli("check", "--no-respect-gitignore", *(paths or (".",)), cwd=folder, timeout=timeout)
    fixed = run_cli("check", "--fix", "--no-respect-gitignore", *(paths or (".",)), cwd=folder,
                    timeout=timeout)
    after = {p: p.read_bytes() for p in before}
    assert after == before, "a hostile file was written"
    return checked, fixed


def lla000_lines(proc) -> list[str]:
    return [line for line in out(proc).splitlines() if " LLA000 " in line]


def test_file_over_the_size_limit(tmp_path):
    big = tmp_path / "big.py"
    with big.open("wb") as fh:  # 50 MB of valid, fixable code
        fh.write(FIXABLE * (50 * 2**20 // len(FIXABLE)))
    started = time.monotonic()
    checked, fixed = check_and_fix(tmp_path)
    assert time.monotonic() - started < 60  # never read, let alone parsed
    for proc in (checked, fixed):
        assert proc.returncode == 1
        assert lla000_lines(proc) == [
            f"big.py:1:1: LLA000 file is too large to check ({big.stat().st_size} bytes; "
            f"the limit is {MAX_FILE_BYTES})"]


def test_stdin_over_the_size_limit_is_echoed_with_fix(tmp_path):
    data = b"# " + b"a" * MAX_FILE_BYTES + b"\n" + FIXABLE
    proc = run_cli("check", "--fix", "--stdin-filename", "big.py", cwd=tmp_path, stdin=data)
    assert proc.stdout == data and proc.returncode == 1 and "too large" in err(proc)


def test_a_one_megabyte_line(tmp_path):
    (tmp_path / "string.py").write_bytes(b'environ = "' + b"a" * 2**20 + b'"\n' + FIXABLE)
    (tmp_path / "sum.py").write_bytes(b"y = " + b"+".join([b"1"] * (2**19)) + b"\n" + FIXABLE)
    run_cli("check", "--fix", "--select", "LLA901", "string.py", cwd=tmp_path)
    assert (tmp_path / "string.py").read_bytes().endswith(b"\nx = 2\n")  # a long line is fine
    (tmp_path / "string.py").unlink()
    checked, fixed = check_and_fix(tmp_path)
    assert lla000_lines(checked) == ["sum.py:1:1: LLA000 SyntaxError: too deeply nested to parse"]


DEEP = {
    "parens.py": b"y = " + b"(" * 10000 + b"1" + b")" * 10000 + b"\n",
    "lists.py": b"y = " + b"[" * 10000 + b"]" * 10000 + b"\n",
    "calls.py": b"y = f" + b"(f" * 3000 + b")" * 3000 + b"\n",
    "unary.py": b"y = " + b"-" * 100000 + b"1\n",
    "attrs.py": b"y = a" + b".b" * 100000 + b"\n",
    "blocks.py": b"".join(b"    " * i + b"if a:\n" for i in range(150)) + b"    " * 150 + b"pass\n",
}


def test_deep_nesting(tmp_path):
    """libcst's native parser overflows the C stack (a segfault) on such input: it must never
    see it. CPython's compiler rejects it first, with its own message."""
    for name, data in DEEP.items():
        (tmp_path / name).write_bytes(data + FIXABLE)
    checked, fixed = check_and_fix(tmp_path)
    for proc in (checked, fixed):
        assert proc.returncode == 1, err(proc)
        found = {line.split(":")[0]: line for line in lla000_lines(proc)}
        assert set(found) == set(DEEP), out(proc)
        assert "too many nested parentheses" in found["parens.py"]
        assert "too many nested parentheses" in found["lists.py"]
        assert "too many levels of indentation" in found["blocks.py"]
        assert "too deeply nested" in found["attrs.py"]


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_nesting_through_the_api(name):
    source = DEEP[name].decode() + "x = 1\n"
    assert [d.code for d in check_source(source, "deep.py")] == ["LLA000"]
    result = fix_source(source, "deep.py")
    assert result.source == source and not result.changed


def test_deep_nesting_in_a_base_class_module(tmp_path):
    """The project index parses other modules too (base classes): same guard."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_bytes(b"")
    (tmp_path / "pkg" / "base.py").write_bytes(DEEP["parens.py"] + b"class Base:\n    pass\n")
    (tmp_path / "pkg" / "child.py").write_bytes(
        b"from pkg.base import Base\n\nclass Child(Base):\n    def switch_llm(self, llm):\n"
        b"        self.agent.llm = llm\n")
    proc = run_cli("check", ".", cwd=tmp_path, real=True)
    assert proc.returncode == 1 and lla000_lines(proc) == [
        "pkg/base.py:1:205: LLA000 SyntaxError: too many nested parentheses"]


def test_nul_bytes(tmp_path):
    (tmp_path / "nul.py").write_bytes(FIXABLE + b"y = 2\x00\n")
    checked, fixed = check_and_fix(tmp_path)
    assert lla000_lines(checked) == ["nul.py:1:1: LLA000 cannot decode file: source contains NUL bytes"]


def test_invalid_utf8(tmp_path):
    (tmp_path / "bad.py").write_bytes(FIXABLE + b"s = '\xc3\x28'\n")
    (tmp_path / "cookie.py").write_bytes(b"# coding: utf-8\n" + FIXABLE + b"s = '\xff'\n")
    (tmp_path / "unknown.py").write_bytes(b"# coding: no-such-codec\n" + FIXABLE)
    checked, fixed = check_and_fix(tmp_path)
    lines = sorted(lla000_lines(checked))
    assert lines[:2] == [
        "bad.py:1:1: LLA000 cannot decode file: invalid utf-8 byte 0xc3 on line 2",
        "cookie.py:1:1: LLA000 cannot decode file: invalid utf-8 byte 0xff on line 3",
    ]
    assert lines[2].startswith("unknown.py:1:1: LLA000 cannot decode file: unknown encoding")
    assert "no-such-codec" in lines[2] and len(lines) == 3


@pytest.mark.unprivileged
def test_unreadable_directory_and_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every directory")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "m.py").write_bytes(FIXABLE)
    (tmp_path / "secret.py").write_bytes(FIXABLE)
    locked.chmod(0)
    (tmp_path / "secret.py").chmod(0)
    try:
        checked, fixed = check_and_fix(tmp_path)
    finally:
        locked.chmod(0o755)
        (tmp_path / "secret.py").chmod(0o644)
    lines = lla000_lines(checked)
    assert any(line.startswith("locked") and "permission denied" in line for line in lines)
    assert any(line.startswith("secret.py") and "permission denied" in line for line in lines)


def test_fifo_named_like_a_module(tmp_path):
    os.mkfifo(tmp_path / "x.py")
    (tmp_path / "m.py").write_bytes(FIXABLE)
    for paths in ((".",), ("x.py",)):  # found by the walk, and passed explicitly
        proc = run_cli("check", *paths, cwd=tmp_path, timeout=60)  # reading it would block
        assert [line for line in lla000_lines(proc)] in ([], ["x.py:1:1: LLA000 not a regular file (FIFO)"])
        if paths == ("x.py",):
            assert lla000_lines(proc) == ["x.py:1:1: LLA000 not a regular file (FIFO)"]
    fixed = run_cli("check", "--fix", ".", cwd=tmp_path, timeout=60)
    assert (tmp_path / "m.py").read_bytes() == b"x = 2\n" and fixed.returncode in (0, 1)


def test_fifo_through_check_file(tmp_path):
    from lint_rules.analysis.project_index import ProjectIndex
    from lint_rules.api import check_file
    from lint_rules.core.config import Config

    os.mkfifo(tmp_path / "x.py")
    result = check_file(tmp_path / "x.py", "x.py", Config(), ProjectIndex(Config()), fix=True)
    assert [d.message for d in result.diagnostics] == ["not a regular file (a FIFO); not checked"]


def test_symlink_loops(tmp_path):
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "m.py").write_bytes(b"y = 3\n")
    checked, _ = check_and_fix(tmp_path, timeout=60)
    files = {line.split(":")[0] for line in lla000_lines(checked)}
    assert {"a.py", "b.py"} <= files
    explicit = run_cli("check", "a.py", cwd=tmp_path, timeout=60)
    assert lla000_lines(explicit) == ["a.py:1:1: LLA000 symlink loop"]


def test_invalid_pyproject_is_one_line_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.llm-affinity-lint]\nselect = ['LLA'\n\xff")
    (tmp_path / "m.py").write_bytes(FIXABLE)
    proc = run_cli("check", "--fix", ".", cwd=tmp_path)
    assert proc.returncode == 2 and out(proc) == ""
    assert len(err(proc).strip().splitlines()) == 1 and "pyproject.toml" in err(proc)
    assert (tmp_path / "m.py").read_bytes() == FIXABLE


def test_broken_pipe_is_not_a_traceback(tmp_path):
    for i in range(200):
        (tmp_path / f"m{i}.py").write_bytes(FIXABLE)
    proc = subprocess.Popen([sys.executable, "tests/fix_cli.py", "check", str(tmp_path), "--jobs", "1"],
                            cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in stderr
