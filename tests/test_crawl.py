"""Crawl the whole installed standard library with `check --fix --diff`, as a subprocess.

The standard library is a large real tree with deliberately broken files (test/badsyntax_*,
test/tokenizedata/bad_coding*, lib2to3/tests/data/*, ...). The run must not crash, print no
traceback, write nothing, report every file CPython's own compile() rejects (or that is not
decodable) as LLA000 - and any other LLA000 only for valid files that libcst cannot parse, saying
so - and exit 1 exactly when it has a diff to show.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import pytest

from lint_rules.api import MAX_FILE_BYTES

STDLIB = Path(sysconfig.get_paths()["stdlib"])
REPO = Path(__file__).parents[1]
WARNING = re.compile(r"^llm-affinity-lint: warning: (?P<path>.+?):\d+:\d+: LLA000 (?P<message>.*)$")


def stdlib_files() -> list[Path]:
    out = []
    for folder, dirs, names in os.walk(STDLIB):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "__pycache__")]
        out.extend(Path(folder, n) for n in names if n.endswith((".py", ".pyi")))
    return out


def cpython_rejects(path: Path) -> bool:
    """The oracle: what CPython itself says about the file's bytes."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return True
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return True
    return False


@pytest.mark.slow
def test_crawl_the_standard_library():
    files = stdlib_files()
    assert len(files) > 500, "no standard library found"
    expected = {str(p) for p in files if cpython_rejects(p)}
    assert any("badsyntax" in p for p in expected)  # the deliberately broken files are in
    mtimes = {p: p.stat().st_mtime_ns for p in files}

    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lint_rules", "check", str(STDLIB), "--fix", "--diff",
         "--exclude", "site-packages", "--no-respect-gitignore"],
        capture_output=True, cwd=REPO, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    elapsed = time.monotonic() - started
    stdout, stderr = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")

    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-3000:]
    assert proc.returncode == (1 if stdout else 0), (proc.returncode, stderr[-2000:])
    reported = {}
    for line in stderr.splitlines():
        match = WARNING.match(line)
        if match:
            reported[match["path"]] = match["message"]
        else:
            assert line.startswith(("Would fix", "No errors would be fixed")), line
    assert expected <= set(reported), expected - set(reported)
    for path, message in reported.items():
        if path in expected:
            assert message.startswith(("SyntaxError", "IndentationError", "TabError",
                                        "cannot decode", "file is too large")), (path, message)
        else:  # valid Python that libcst's grammar cannot read: said so, not a SyntaxError
            assert message.startswith("libcst cannot parse this file, which CPython accepts"), (
                path, message)
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes  # --diff writes nothing
    print(f"\ncrawl: {len(files)} files, {len(reported)} LLA000, exit {proc.returncode}, "
          f"{elapsed:.1f}s, diff lines {len(stdout.splitlines())}")
