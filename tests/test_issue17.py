"""Regression tests for issue 17: one per reproduction script of `/work/shared/repro/` (r01..r14),
plus the other defects the issue lists. Each runs the real CLI as a subprocess on a temporary
tree, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lint_rules.cache import FORMAT

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


# ---------------------------------------------------------------------------- the cache (r11)
def test_r11_symlinked_cache_folder_is_refused(tmp_path):
    project, outside = tmp_path / "p", tmp_path / "outside"
    project.mkdir(), outside.mkdir()
    (project / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    (project / "a.py").write_text("x = 1\n")
    (project / ".llm_affinity_lint_cache").symlink_to(outside)
    proc = lla("check", ".", cwd=project)
    assert proc.returncode == 0
    assert "symbolic link" in err(proc)
    assert list(outside.iterdir()) == []


def test_r11_symlinked_cachedir_tag_is_refused(tmp_path):
    project = tmp_path / "p"
    (project / ".llm_affinity_lint_cache").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    (project / "a.py").write_text("x = 1\n")
    target = tmp_path / "victim"
    (project / ".llm_affinity_lint_cache" / "CACHEDIR.TAG").symlink_to(target)
    proc = lla("check", ".", cwd=project)
    assert proc.returncode == 0 and "symbolic link" in err(proc)
    assert not target.exists()


def test_cache_is_json_and_never_runs_code(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    (tmp_path / "leak.py").write_text(PIN)
    first = lla("check", ".", cwd=tmp_path)
    assert first.returncode == 1
    files = list((tmp_path / ".llm_affinity_lint_cache").rglob("*.json"))
    assert len(files) == 1 and not list((tmp_path / ".llm_affinity_lint_cache").rglob("*.pickle"))
    data = json.loads(files[0].read_text())
    assert data["format"] == FORMAT and data["entries"]
    # A pickle planted where an old version kept its cache is never loaded.
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    files[0].with_suffix(".pickle").write_bytes(pickle.dumps(Evil()))
    # Entries that do not validate are misses, not tracebacks; the finding is recomputed.
    for key in data["entries"]:
        data["entries"][key]["diagnostics"] = [{"c": 1}]
        data["entries"][key]["sig"] = "bad"
    files[0].write_text(json.dumps(data))
    again = lla("check", ".", cwd=tmp_path)
    assert again.returncode == 1 and "leak.py:2:5: LLA001" in text(again)
    assert not (tmp_path / "pwned").exists()
    files[0].write_text("{not json")
    assert lla("check", ".", cwd=tmp_path).returncode == 1


# ---------------------------------------------------------------------------- anchoring (r03, r06)
def test_r03_per_file_ignores_are_relative_to_the_config_folder(tmp_path):
    (tmp_path / "src/pkg/sub").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\nper-file-ignores = { "src/pkg/sub/*" = ["LLA001"] }\n')
    (tmp_path / "src/pkg/sub/leak.py").write_text(PIN)
    (tmp_path / "src/other.py").write_text(PIN)
    for cwd, arg in ((tmp_path, "."), (tmp_path / "src", "."), (tmp_path / "src/pkg/sub", "leak.py")):
        proc = lla("check", "--no-cache", "-q", arg, cwd=cwd)
        assert "leak.py" not in text(proc), (cwd, text(proc))
    proc = lla("check", "--no-cache", "-q", "--stdin-filename", "pkg/sub/leak.py",
               cwd=tmp_path / "src", stdin=PIN.encode())
    assert proc.returncode == 0, text(proc)
    assert "src/other.py" in text(lla("check", "--no-cache", "-q", ".", cwd=tmp_path))


def test_per_file_ignores_negation(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\nper-file-ignores = { "!src/*" = ["LLA001"] }\n')
    (tmp_path / "src/a.py").write_text(PIN)
    (tmp_path / "b.py").write_text(PIN)
    out = text(lla("check", "--no-cache", "-q", ".", cwd=tmp_path))
    assert "src/a.py" in out and "b.py" not in out.replace("src/a.py", "")


def test_r06_anchored_exclude_without_table_is_relative_to_cwd(tmp_path):
    (tmp_path / "src/gen").mkdir(parents=True)
    (tmp_path / "src/gen/out.py").write_text(PIN)
    excl = ("--extend-exclude", "src/gen/*")
    assert lla("check", "--no-cache", "-q", *excl, "src", cwd=tmp_path).returncode == 0
    assert lla("check", "--no-cache", "-q", *excl, ".", cwd=tmp_path).returncode == 0
    assert lla("check", "--no-cache", "-q", "--extend-exclude", "gen/*", "src",
               cwd=tmp_path).returncode == 1


# ---------------------------------------------------------------------------- flags (r07)
def test_r07_repeated_selection_flags_accumulate(tmp_path):
    (tmp_path / "a.py").write_text(PIN + "import os\n\nclass T:\n    def f(self):\n"
                                   "        os.environ['K'] = self.api_key\n")
    codes = lambda proc: {line.split()[1] for line in text(proc).splitlines()}  # noqa: E731
    both = lla("check", "--no-cache", "-q", "--select", "LLA001", "--select", "LLA005", ".",
               cwd=tmp_path)
    assert codes(both) == {"LLA001", "LLA005"}
    none = lla("check", "--no-cache", "-q", "--ignore", "LLA001", "--ignore", "LLA005", ".",
               cwd=tmp_path)
    assert none.returncode == 0
    ext = lla("check", "--no-cache", "-q", "--select", "LLA001", "--extend-select", "LLA002",
              "--extend-select", "LLA005", ".", cwd=tmp_path)
    assert codes(ext) == {"LLA001", "LLA005"}


# ---------------------------------------------------------------------------- noqa (r13)
@pytest.mark.parametrize("name, source, rc", [
    ("in_string", 'HELP = """\n# llm-affinity-lint: noqa\n"""\n\n' + PIN, 1),
    ("upper", "# LLM-AFFINITY-LINT: NOQA\n\n" + PIN, 0),
    ("with_code", "# llm-affinity-lint: noqa: LLA001\n\n" + PIN, 0),
    ("other_code", "# llm-affinity-lint: noqa: LLA005\n\n" + PIN, 1),
])
def test_r13_file_level_noqa(tmp_path, name, source, rc):
    (tmp_path / f"{name}.py").write_text(source)
    assert lla("check", "--no-cache", "-q", f"{name}.py", cwd=tmp_path).returncode == rc


@pytest.mark.parametrize("comment", ["#noqa:LLA001", "# NOQA: lla001", "# noqa: LLA001"])
def test_noqa_spellings_cli(tmp_path, comment):
    (tmp_path / "a.py").write_text(PIN.rstrip("\n") + f"  {comment}\n")
    assert lla("check", "--no-cache", "-q", "a.py", cwd=tmp_path).returncode == 0


def test_bare_noqa_does_not_hide_a_syntax_error(tmp_path):
    (tmp_path / "a.py").write_text("def f(:  # noqa\n    pass\n")
    (tmp_path / "b.py").write_text("# llm-affinity-lint: noqa\ndef f(:\n    pass\n")
    proc = lla("check", "--no-cache", "-q", ".", cwd=tmp_path)
    assert proc.returncode == 1
    assert "a.py:1" in text(proc) and "b.py:2" in text(proc)
    (tmp_path / "a.py").write_text("def f(:  # noqa: LLA000\n    pass\n")
    (tmp_path / "b.py").unlink()
    assert lla("check", "--no-cache", "-q", ".", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("comment", ["#noqa:LLA001", "# NOQA: lla001"])
def test_noqa_spellings_flake8_agrees_with_cli(tmp_path, comment):
    (tmp_path / "a.py").write_text(PIN.rstrip("\n") + f"  {comment}\n")
    proc = subprocess.run([sys.executable, "-m", "flake8", "--select", "LLA", "a.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_flake8_plugin_checks_deep_code(tmp_path):
    """flake8's own pyflakes fails on such a file; the LLA plugin itself must not."""
    import argparse

    from lint_rules.flake8_plugin import Flake8Plugin

    source = elif_chain(600)
    (tmp_path / "a.py").write_text(source)
    Flake8Plugin.parse_options(argparse.Namespace())
    plugin = Flake8Plugin(None, source.splitlines(keepends=True), str(tmp_path / "a.py"))
    messages = [(row, msg.split()[0]) for row, _, msg, _ in plugin.run()]
    assert messages == [(2, "LLA001")], messages


# ---------------------------------------------------------------------------- writing (r08, r10)
RO = ('def ask(llm, messages, call_context):\n    llm.completion(messages, call_context=call_context)\n'
      '    c = llm.model_copy(update={"caching_prompt": False})\n    return c.completion(messages)\n')


def test_r10_read_only_file_is_not_rewritten_even_as_root(tmp_path):
    path = tmp_path / "ro.py"
    path.write_text(RO)
    path.chmod(0o444)
    proc = lla("check", "--no-cache", "--fix", "ro.py", cwd=tmp_path)
    assert proc.returncode == 2 and "read-only" in err(proc)
    assert path.read_text() == RO


def test_r08_edit_during_fix_is_never_lost(tmp_path):
    """An append that lands after the digest check, while the fixed text is being flushed,
    must refuse the write instead of being overwritten."""
    path = tmp_path / "t.py"
    path.write_text(RO)
    prelude = ("import os\n_fsync = os.fsync\n"
               "def _racing_fsync(fd):\n"
               f"    open({str(path)!r}, 'a').write('# edit\\n')\n"
               "    return _fsync(fd)\n"
               "os.fsync = _racing_fsync\n")
    proc = lla("check", "--no-cache", "--fix", "t.py", cwd=tmp_path, prelude=prelude)
    assert path.read_text().endswith("# edit\n")
    assert proc.returncode == 2 and "changed on disk" in err(proc)


# ---------------------------------------------------------------------------- signals (r09)
def test_r09_sigterm_leaves_no_worker_behind(tmp_path):
    import signal
    import time

    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    body = ''.join(f'def h{i}(llm, messages, call_context):\n'
                   '    r = llm.completion(messages, call_context=call_context)\n'
                   f'    alt = llm.model_copy(update={{"temperature": {i}}})\n'
                   '    return alt.completion(messages)\n' for i in range(40))
    (tmp_path / "pkg").mkdir()
    for i in range(400):
        (tmp_path / "pkg" / f"f{i}.py").write_text(body)
    code = "import sys\nfrom lint_rules.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    proc = subprocess.Popen([sys.executable, "-c", code, "check", "--no-cache", "--jobs", "2",
                             "-q", "."], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})

    def session_pids() -> list[int]:
        out = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    while proc.poll() is None and len(session_pids()) < 3:  # the CLI and its two workers
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run ended before its workers could be seen")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    deadline = time.monotonic() + 60
    while session_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_pids()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, left
    assert b"Traceback" not in proc.stderr.read()


def test_r09_a_worker_terminated_before_its_initializer_dies_quietly(tmp_path):
    """A worker is forked with the CLI's SIGTERM handler; terminated before the pool's
    initializer runs, it must die as SIGTERM's default does, not print a KeyboardInterrupt."""
    code = (
        "import multiprocessing, os, signal, sys, time\n"
        "from lint_rules import cli\n"
        "cli._sigterm_owner[0] = os.getpid()\n"
        "signal.signal(signal.SIGTERM, cli._on_sigterm)\n"
        "ctx = multiprocessing.get_context('fork')\n"
        "child = ctx.Process(target=time.sleep, args=(30,))\n"
        "child.start()\n"
        "time.sleep(0.3)\n"
        "os.kill(child.pid, signal.SIGTERM)\n"
        "child.join(20)\n"
        "print(child.exitcode)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert done.stdout.strip() == str(-signal.SIGTERM)
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------- stdin (r12)
def test_r12_force_exclude_applies_to_stdin(tmp_path):
    (tmp_path / "gen").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nextend-exclude = ["gen"]\n')
    (tmp_path / "gen/x.py").write_text(PIN)
    assert lla("check", "--no-cache", "--force-exclude", "gen/x.py", cwd=tmp_path).returncode == 0
    proc = lla("check", "--no-cache", "--force-exclude", "--stdin-filename", "gen/x.py",
               cwd=tmp_path, stdin=PIN.encode())
    assert proc.returncode == 0 and text(proc) == ""
    fixed = lla("check", "--no-cache", "--fix", "--force-exclude", "--stdin-filename", "gen/x.py",
                cwd=tmp_path, stdin=PIN.encode())
    assert fixed.returncode == 0 and fixed.stdout == PIN.encode()
    assert lla("check", "--no-cache", "--stdin-filename", "gen/x.py", cwd=tmp_path,
               stdin=PIN.encode()).returncode == 1


def test_statistics_honours_json(tmp_path):
    (tmp_path / "a.py").write_text(PIN)
    proc = lla("check", "--no-cache", "--statistics", "--output-format", "json", ".", cwd=tmp_path)
    assert json.loads(text(proc)) == [
        {"code": "LLA001", "name": "scope-leak-write", "count": 1, "fixable": False}]
