"""Regression tests for the rest of issue 17 ("Trust under real inputs"): r05 as a real
non-root user, SARIF against the official schema, ruff's JSON keys, configuration per file,
and generated inputs that must never crash or lose a finding. Each runs the real CLI as a
subprocess on a temporary tree, as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_issue17 import PIN, err, lla, text


# ---------------------------------------------------------------------------- r05
@pytest.mark.unprivileged
@pytest.mark.parametrize("args", [["sub"], ["sub/a.py"], ["sub", "."], ["sub/a.py", "ok.py"]])
def test_r05_unreadable_folder_is_one_line_and_the_run_goes_on(tmp_path, args):
    """As a non-root user, a path inside a folder this user may not search made config
    discovery raise PermissionError (Path.is_file): exit 2, nothing checked. Now the folder is
    one LLA000 finding, the other files are checked, and the config above still applies."""
    (tmp_path / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nextend-exclude = ["skipme"]\n')
    (tmp_path / "ok.py").write_text(PIN)
    (tmp_path / "skipme").mkdir()
    (tmp_path / "skipme" / "leak.py").write_text(PIN)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "a.py").write_text("x = 1\n")
    sub.chmod(0)
    try:
        proc = lla("check", "--no-cache", *args, cwd=tmp_path)
    finally:
        sub.chmod(0o755)
    out = text(proc)
    assert proc.returncode == 1, (out, err(proc))
    denied = [line for line in out.splitlines() if "LLA000" in line]
    assert len(denied) == 1 and denied[0].endswith("permission denied"), out
    assert denied[0].startswith("sub"), out
    assert "internal error" not in err(proc)
    if "ok.py" in args or "." in args:
        assert "ok.py:2:" in out, out  # the run went on
    assert "skipme" not in out  # the table above the unreadable folder was found

