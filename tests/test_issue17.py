"""Regression tests for issue 17: one per reproduction script of `/work/shared/repro/` (r01..r14),
plus the other defects the issue lists. Each runs the real CLI as a subprocess on a temporary
tree, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PIN = ('def pin(llm, conversation_id):\n'
       '    llm.extra_headers["x-litellm-session-id"] = conversation_id\n')


def lla(*args: str, cwd: Path, stdin: bytes | None = None, prelude: str = "",
        timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `llm-affinity-lint ARGS`; `prelude` is Python run first in the same process (to plant
    an engine bug). No traceback may ever reach the user."""
    code = (prelude + "\nimport sys\nfrom lint_rules.cli import main\n"
            "raise SystemExit(main(sys.argv[1:]))\n")
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("LLM_AFFINITY_LINT_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=timeout, env=full_env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(stderr) < 20_000, stderr[:3000]
    return proc


def text(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode()


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode()


BOOM = ("import lint_rules.engine as _e\n"
        "def _boom(source, path, *a, **k):\n"
        "    if 'boom' in path:\n"
        "        raise RuntimeError('planted engine bug')\n"
        "    return _orig(source, path, *a, **k)\n"
        "_orig, _e._check_text = _e._check_text, _boom\n")


# ---------------------------------------------------------------------------- r01, r02
def elif_chain(n: int) -> str:
    return (PIN + '\ndef dispatch(x):\n    if x == 0:\n        return 0\n'
            + ''.join(f'    elif x == {i}:\n        return {i}\n' for i in range(1, n))
            + '    else:\n        return -1\n')


def test_r01_long_elif_chain_is_checked_and_does_not_stop_the_run(tmp_path):
    (tmp_path / "big_dispatch.py").write_text(elif_chain(500))
    (tmp_path / "other.py").write_text(PIN)
    proc = lla("check", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 1, err(proc)
    out = text(proc)
    assert "big_dispatch.py:2:5: LLA001" in out and "other.py:2:5: LLA001" in out
    assert "Found 2 errors." in err(proc)


def test_r01_fix_still_fixes_other_files_when_one_file_fails(tmp_path):
    (tmp_path / "boom.py").write_text(PIN)
    (tmp_path / "other.py").write_text(PIN)
    proc = lla("check", "--no-cache", ".", cwd=tmp_path, prelude=BOOM)
    assert proc.returncode == 2
    assert "other.py:2:5: LLA001" in text(proc)
    assert "boom.py: internal error: RuntimeError: planted engine bug" in err(proc)
    assert "1 internal error" in err(proc)


def test_r02_long_concatenated_prompt_keeps_findings(tmp_path):
    prompt = PIN + 'PROMPT = (\n' + ''.join(
        f'    "line {i} of the system prompt\\n"\n' for i in range(400)) + ')\n'
    (tmp_path / "prompt.py").write_text(prompt)
    proc = lla("check", "--no-cache", "prompt.py", cwd=tmp_path)
    assert proc.returncode == 1 and "prompt.py:2:5: LLA001" in text(proc), err(proc)
    assert "internal error" not in err(proc)
    fixed = lla("check", "--no-cache", "--fix", "--stdin-filename", "prompt.py", cwd=tmp_path,
                stdin=prompt.encode())
    assert fixed.stdout == prompt.encode()


def test_r02_internal_error_is_in_summary_exit_code_and_sarif(tmp_path):
    (tmp_path / "boom.py").write_text("x = 1\n")
    proc = lla("check", "--no-cache", "boom.py", cwd=tmp_path, prelude=BOOM)
    assert proc.returncode == 2
    assert "All checks passed!" not in err(proc)
    assert "1 internal error" in err(proc)
    sarif = lla("check", "--no-cache", "--output-format", "sarif", "boom.py", cwd=tmp_path,
                prelude=BOOM)
    assert sarif.returncode == 2
    invocation = json.loads(text(sarif))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert "boom.py: internal error" in note["message"]["text"] and note["level"] == "error"


def test_stdin_fix_echoes_input_on_internal_error(tmp_path):
    source = PIN.encode()
    proc = lla("check", "--no-cache", "--fix", "--stdin-filename", "boom.py", cwd=tmp_path,
               stdin=source, prelude=BOOM)
    assert proc.returncode == 2
    assert proc.stdout == source
    assert "internal error" in err(proc)


def test_stdin_fix_echoes_input_on_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\nslect = 1\n")
    source = PIN.encode()
    proc = lla("check", "--no-cache", "--fix", "--stdin-filename", "x.py", cwd=tmp_path,
               stdin=source)
    assert proc.returncode == 2 and proc.stdout == source
    assert "config error" in err(proc)
