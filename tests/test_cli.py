"""The command line as users run it: a subprocess on temporary trees, every flag of `check`.

Fix behaviour is pinned down with the test-only rules (tests/fix_cli.py registers them beside
the real ones): LLA901 `x = 1` -> `x = 2` (safe), LLA903 `x = 2` -> `x = 3` (unsafe),
LLA902 `pass` -> `...` (safe). The real rules' own fix examples are run through the real CLI too.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lint_rules.rules import all_rules

TESTS = Path(__file__).parent
FIX_CLI = str(TESTS / "fix_cli.py")
REPO = TESTS.parent


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None, real: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lint_rules"] if real else [sys.executable, FIX_CLI]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*command, *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout, env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    return proc


def out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode()


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    (tmp_path / "fixable.py").write_text("x = 1\n")
    (tmp_path / "clean.py").write_text("y = 3\n")
    return tmp_path


# ---------------------------------------------------------------------------- exit codes
def test_exit_0_when_clean(tmp_path):
    (tmp_path / "clean.py").write_text("y = 3\n")
    proc = run_cli("check", ".", cwd=tmp_path)
    assert proc.returncode == 0 and out(proc) == "" and "All checks passed!" in err(proc)


def test_exit_1_when_findings_remain(tree):
    proc = run_cli("check", ".", cwd=tree)
    assert proc.returncode == 1
    assert out(proc) == "fixable.py:1:1: LLA901 [*] x is 1\n"
    assert "Found 1 error." in err(proc) and "1 fixable with the `--fix` option" in err(proc)
    assert (tree / "fixable.py").read_text() == "x = 1\n"  # checking never writes


@pytest.mark.parametrize("args", [["check", "--no-such-flag"], ["check", "--jobs", "0"],
                                  ["check", "--diff", "--fix-only"], ["frobnicate"],
                                  ["check", "--select", "XYZ9"], ["rule", "LLA999"], ["rule"]])
def test_exit_2_on_bad_usage_with_one_line(tmp_path, args):
    proc = run_cli(*args, cwd=tmp_path, real=True)
    assert proc.returncode == 2
    assert len(err(proc).strip().splitlines()) <= 2 and out(proc) == ""


def test_invalid_toml_is_exit_2_one_line(tree):
    (tree / "pyproject.toml").write_text("[tool.llm-affinity-lint\nselect = [\n")
    proc = run_cli("check", ".", cwd=tree)
    assert proc.returncode == 2 and out(proc) == ""
    lines = err(proc).strip().splitlines()
    assert len(lines) == 1 and "pyproject.toml" in lines[0] and "TOML" in lines[0]


def test_unknown_config_key_is_exit_2(tree):
    (tree / "pyproject.toml").write_text("[tool.llm-affinity-lint]\nselectt = ['LLA']\n")
    proc = run_cli("check", ".", cwd=tree)
    assert proc.returncode == 2 and "selectt" in err(proc)


# ---------------------------------------------------------------------------- fixing
def test_fix_applies_safe_fixes_and_exits_0_when_all_fixed(tmp_path):
    (tmp_path / "m.py").write_text("if a:\n    pass\n")
    proc = run_cli("check", "--fix", ".", cwd=tmp_path)
    assert proc.returncode == 0, err(proc)
    assert (tmp_path / "m.py").read_text() == "if a:\n    ...\n"
    assert "Found 1 error (1 fixed, 0 remaining)." in err(proc)


def test_fix_exits_1_when_findings_remain(tree):
    proc = run_cli("check", "--fix", ".", cwd=tree)
    assert proc.returncode == 1
    assert (tree / "fixable.py").read_text() == "x = 2\n"
    assert "LLA903" in out(proc)  # the unsafe fix of `x = 2` is not applied without the flag
    assert "1 fixed, 1 remaining" in err(proc)
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in err(proc)


def test_unsafe_fixes(tree):
    proc = run_cli("check", "--fix", "--unsafe-fixes", ".", cwd=tree)
    assert proc.returncode == 0, out(proc) + err(proc)
    assert (tree / "fixable.py").read_text() == "x = 3\n"


def test_unsafe_fixes_without_fix_marks_them_fixable(tree):
    (tree / "fixable.py").write_text("x = 2\n")
    plain = run_cli("check", ".", cwd=tree)
    unsafe = run_cli("check", "--unsafe-fixes", ".", cwd=tree)
    assert "LLA903 x is 2" in out(plain) and "[*]" not in out(plain)
    assert "LLA903 [*] x is 2" in out(unsafe)
    assert (tree / "fixable.py").read_text() == "x = 2\n"


def test_diff_prints_a_unified_diff_and_writes_nothing(tree):
    before = {p.name: p.read_bytes() for p in tree.iterdir() if p.is_file()}
    proc = run_cli("check", "--diff", ".", cwd=tree)
    assert proc.returncode == 1
    assert out(proc) == "--- fixable.py\n+++ fixable.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    assert "Would fix 1 error." in err(proc)
    assert {p.name: p.read_bytes() for p in tree.iterdir() if p.is_file()} == before


def test_diff_with_nothing_to_fix_exits_0(tmp_path):
    (tmp_path / "clean.py").write_text("y = 3\n")
    proc = run_cli("check", "--diff", "--fix", ".", cwd=tmp_path)
    assert proc.returncode == 0 and out(proc) == ""


def test_diff_reports_unparsable_files_on_stderr(tmp_path):
    (tmp_path / "bad.py").write_text("def (:\n")
    proc = run_cli("check", "--fix", "--diff", ".", cwd=tmp_path)
    assert proc.returncode == 0 and out(proc) == ""
    assert "bad.py:1:5: LLA000 SyntaxError" in err(proc)


def test_show_fixes(tree):
    proc = run_cli("check", "--fix", "--show-fixes", ".", cwd=tree)
    assert "Fixed 1 error:" in err(proc)
    assert "- fixable.py:" in err(proc) and "1 × LLA901 (test-one-to-two)" in err(proc)


def test_fix_only_reports_nothing_and_exits_0(tree):
    proc = run_cli("check", "--fix-only", ".", cwd=tree)
    assert proc.returncode == 0 and out(proc) == ""
    assert (tree / "fixable.py").read_text() == "x = 2\n"
    assert "Fixed 1 error." in err(proc)


def test_exit_non_zero_on_fix(tmp_path):
    (tmp_path / "m.py").write_text("if a:\n    pass\n")
    proc = run_cli("check", "--fix", "--exit-non-zero-on-fix", ".", cwd=tmp_path)
    assert proc.returncode == 1 and (tmp_path / "m.py").read_text() == "if a:\n    ...\n"
    again = run_cli("check", "--fix", "--exit-non-zero-on-fix", ".", cwd=tmp_path)
    assert again.returncode == 0  # nothing fixed this time, nothing left


def test_fix_internal_error_is_exit_2_naming_file_and_rule(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\ncounter = 0\n")
    proc = run_cli("check", "--fix", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert "m.py: fixes for LLA905 (test-never-converges) did not converge" in err(proc)
    assert (tmp_path / "m.py").read_text() == "x = 1\ncounter = 0\n"


def test_fix_keeps_crlf_bom_and_latin1(tmp_path):
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(b"a = 1\r\nx = 1\r\nif a:\r\n    mark()\r\n")
    bom = tmp_path / "bom.py"
    bom.write_bytes(codecs.BOM_UTF8 + b"x = 1\ns = '\xc3\xa9'\n")
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nx = 1\ns = '\xe9'\n")
    mixed = tmp_path / "mixed.py"
    mixed.write_bytes(b"a = 1\r\nx = 1\nb = 2\r\n")
    proc = run_cli("check", "--fix", "--select", "LLA901,LLA909", ".", cwd=tmp_path)
    assert proc.returncode == 0, out(proc) + err(proc)
    assert crlf.read_bytes() == (b'a = 1\r\nx = 2\r\nif a:\r\n    marked = """two\r\nlines"""'
                                 b"\r\n    done()\r\n")
    assert bom.read_bytes() == codecs.BOM_UTF8 + b"x = 2\ns = '\xc3\xa9'\n"
    assert latin.read_bytes() == b"# -*- coding: latin-1 -*-\nx = 2\ns = '\xe9'\n"
    assert mixed.read_bytes() == b"a = 1\r\nx = 2\nb = 2\r\n"


def test_fix_keeps_file_mode_and_leaves_untouched_files_alone(tree):
    fixable = tree / "fixable.py"
    fixable.chmod(0o751)
    clean = tree / "clean.py"
    os.utime(clean, (1_000_000, 1_000_000))
    run_cli("check", "--fix", ".", cwd=tree)
    assert fixable.stat().st_mode & 0o777 == 0o751
    assert clean.stat().st_mtime == 1_000_000
    assert not [p for p in tree.iterdir() if p.name.startswith(".lla-")]


@pytest.mark.parametrize("rule", [r for r in all_rules() if any(e.fixed for e in r.bad_examples)],
                         ids=lambda r: r.code)
def test_real_rule_fix_examples_through_the_cli(tmp_path, rule):
    """Each real rule's documented fix, applied by the real CLI to a file on disk."""
    for n, example in enumerate(e for e in rule.bad_examples if e.fixed):
        folder = tmp_path / f"ex{n}"
        folder.mkdir()
        toml = "[tool.llm-affinity-lint]\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in example.options.items())
        (folder / "pyproject.toml").write_text(toml)
        target = folder / Path(example.path).name
        target.write_text(example.code)
        proc = run_cli("check", "--fix", "--unsafe-fixes", "--select", rule.code, ".",
                       cwd=folder, real=True)
        assert proc.returncode in (0, 1), err(proc)
        assert target.read_text() == example.fixed, f"{rule.code} example {n}"


# ---------------------------------------------------------------------------- stdin
def test_stdin_check(tmp_path):
    proc = run_cli("check", "--stdin-filename", "pkg/m.py", cwd=tmp_path, stdin=b"x = 1\n")
    assert proc.returncode == 1 and out(proc) == "pkg/m.py:1:1: LLA901 [*] x is 1\n"


def test_stdin_fix_writes_the_fixed_source_to_stdout(tmp_path):
    proc = run_cli("check", "--fix", "--stdin-filename", "m.py", cwd=tmp_path,
                   stdin=b"x = 1\r\ny = 3\r\n")
    assert proc.stdout == b"x = 2\r\ny = 3\r\n"
    assert "m.py:1:1: LLA903" in err(proc)  # the report goes to stderr
    assert proc.returncode == 1
    assert not (tmp_path / "m.py").exists()


def test_stdin_fix_with_nothing_to_fix_echoes_the_input(tmp_path):
    data = codecs.BOM_UTF8 + b"y = 3\n"
    proc = run_cli("check", "--fix", "--stdin-filename", "m.py", cwd=tmp_path, stdin=data)
    assert proc.returncode == 0 and proc.stdout == data


@pytest.mark.parametrize("data", [b"x = '\xff'\n", b"x = 1\x00\n", b"def (:\n"])
def test_stdin_fix_with_bad_input_echoes_it_unchanged(tmp_path, data):
    proc = run_cli("check", "--fix", "--stdin-filename", "m.py", cwd=tmp_path, stdin=data)
    assert proc.stdout == data  # an editor replacing its buffer with stdout loses nothing
    assert proc.returncode == 1 and "LLA000" in err(proc)


def test_stdin_diff(tmp_path):
    proc = run_cli("check", "--diff", "--stdin-filename", "m.py", cwd=tmp_path, stdin=b"x = 1\n")
    assert proc.returncode == 1 and "-x = 1\n+x = 2\n" in out(proc)


# ---------------------------------------------------------------------------- selection
@pytest.fixture
def many(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text("x = 1\nif a:\n    pass\ny = f(1)\n")
    return tmp_path


def codes(proc) -> set[str]:
    return {line.split()[1] for line in out(proc).splitlines()}


def test_select(many):
    assert codes(run_cli("check", "--select", "LLA901", ".", cwd=many)) == {"LLA901"}
    assert codes(run_cli("check", "--select", "LLA90", ".", cwd=many)) == {"LLA901", "LLA902", "LLA904"}


def test_ignore_and_extend_ignore(many):
    assert codes(run_cli("check", "--ignore", "LLA901", ".", cwd=many)) == {"LLA902", "LLA904"}
    assert codes(run_cli("check", "--extend-ignore", "LLA904", ".", cwd=many)) == {"LLA901", "LLA902"}
    (many / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nignore = ["LLA902"]\n')
    assert codes(run_cli("check", "--extend-ignore", "LLA904", ".", cwd=many)) == {"LLA901"}


def test_extend_select(many):
    (many / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nselect = ["LLA901"]\n')
    assert codes(run_cli("check", ".", cwd=many)) == {"LLA901"}
    assert codes(run_cli("check", "--extend-select", "LLA902", ".", cwd=many)) == {"LLA901", "LLA902"}


def test_fix_respects_selection(many):
    run_cli("check", "--fix", "--select", "LLA902", ".", cwd=many)
    assert (many / "m.py").read_text() == "x = 1\nif a:\n    ...\ny = f(1)\n"


# ---------------------------------------------------------------------------- files
@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for rel in ("a/m.py", "b/m.py", "build/m.py", "ignored.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    return tmp_path


def files(proc) -> set[str]:
    return {line.split(":")[0] for line in out(proc).splitlines()}


def test_default_discovery_skips_build_and_gitignored(layout):
    assert files(run_cli("check", ".", cwd=layout)) == {"a/m.py", "b/m.py"}


def test_extend_exclude(layout):
    assert files(run_cli("check", "--extend-exclude", "b", ".", cwd=layout)) == {"a/m.py"}


def test_exclude_replaces_the_defaults(layout):
    assert files(run_cli("check", "--exclude", "a", ".", cwd=layout)) == {"b/m.py", "build/m.py"}


def test_force_exclude_applies_to_explicit_paths(layout):
    explicit = run_cli("check", "--extend-exclude", "a", "a/m.py", cwd=layout)
    assert files(explicit) == {"a/m.py"}
    forced = run_cli("check", "--extend-exclude", "a", "--force-exclude", "a/m.py", cwd=layout)
    assert files(forced) == set() and forced.returncode == 0


def test_no_respect_gitignore(layout):
    proc = run_cli("check", "--no-respect-gitignore", ".", cwd=layout)
    assert files(proc) == {"a/m.py", "b/m.py", "ignored.py"}


# ---------------------------------------------------------------------------- output
FORMAT_CHECKS = {
    "concise": lambda s: s == "m.py:1:1: LLA901 [*] x is 1\n",
    "full": lambda s: s.startswith("m.py:1:1: LLA901 [*] x is 1") and "x = 1" in s,
    "json": lambda s: [(d["code"], Path(d["filename"]).name, d["location"], d["fix"]["applicability"])
                       for d in json.loads(s)] == [("LLA901", "m.py", {"row": 1, "column": 1}, "safe")],
    "json-lines": lambda s: [json.loads(line)["code"] for line in s.splitlines()] == ["LLA901"],
    "github": lambda s: s.startswith("::error") and "LLA901" in s and "m.py" in s,
    "sarif": lambda s: json.loads(s)["version"] == "2.1.0"
    and [r["ruleId"] for r in json.loads(s)["runs"][0]["results"]] == ["LLA901"],
}


@pytest.mark.parametrize("fmt", sorted(FORMAT_CHECKS))
def test_output_formats(tmp_path, fmt):
    (tmp_path / "m.py").write_text("x = 1\n")
    proc = run_cli("check", "--output-format", fmt, ".", cwd=tmp_path)
    assert proc.returncode == 1
    assert FORMAT_CHECKS[fmt](out(proc)), out(proc)


@pytest.mark.parametrize("fmt", sorted(FORMAT_CHECKS))
def test_machine_formats_of_a_clean_tree_stay_parsable(tmp_path, fmt):
    (tmp_path / "m.py").write_text("y = 3\n")
    proc = run_cli("check", "--output-format", fmt, ".", cwd=tmp_path)
    assert proc.returncode == 0
    if fmt in ("json", "sarif"):
        json.loads(out(proc))


def test_statistics(many):
    proc = run_cli("check", "--statistics", ".", cwd=many)
    rows = [line.split("\t") for line in out(proc).splitlines()]
    assert sorted((r[0].strip(), r[1]) for r in rows) == [("1", "LLA901"), ("1", "LLA902"), ("1", "LLA904")]
    assert proc.returncode == 1


def test_quiet(tree):
    proc = run_cli("check", "--quiet", ".", cwd=tree)
    assert proc.returncode == 1 and err(proc) == "" and "LLA901" in out(proc)


def test_exit_zero(tree):
    proc = run_cli("check", "--exit-zero", ".", cwd=tree)
    assert proc.returncode == 0 and "LLA901" in out(proc)


# ---------------------------------------------------------------------------- configuration
def test_config_file_given_explicitly(tree):
    other = tree / "other.toml"
    other.write_text('[tool.llm-affinity-lint]\nignore = ["LLA901"]\n')
    assert run_cli("check", "--config", str(other), ".", cwd=tree).returncode == 0
    assert run_cli("check", "--config", "missing.toml", ".", cwd=tree).returncode == 2


def test_show_settings(tree):
    (tree / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nignore = ["LLA902"]\n')
    proc = run_cli("check", "--show-settings", "--extend-ignore", "LLA904", ".", cwd=tree)
    assert proc.returncode == 0
    text = out(proc)
    assert "pyproject.toml" in text and "[tool.llm-affinity-lint]" in text
    assert 'ignore = ["LLA902", "LLA904"]' in text or "LLA904" in text


def test_jobs_gives_the_same_result_as_one_process(tmp_path):
    for i in range(80):  # above the runner's parallel threshold
        (tmp_path / f"m{i:02}.py").write_text("x = 1\nif a:\n    pass\n" if i % 3 else "y = 3\n")
    serial = run_cli("check", "--jobs", "1", ".", cwd=tmp_path)
    parallel = run_cli("check", "--jobs", "2", ".", cwd=tmp_path)
    assert out(serial) == out(parallel) and serial.returncode == parallel.returncode == 1
    fixed = run_cli("check", "--fix", "--unsafe-fixes", "--jobs", "2", ".", cwd=tmp_path)
    assert fixed.returncode == 0, out(fixed)
    assert all(p.read_text() in ("x = 3\nif a:\n    ...\n", "y = 3\n") for p in tmp_path.glob("*.py"))


# ---------------------------------------------------------------------------- rule
def test_rule_code_prints_its_docs():
    for rule in all_rules():
        proc = run_cli("rule", rule.code, cwd=REPO, real=True)
        assert proc.returncode == 0 and rule.code in out(proc) and rule.name in out(proc)
    proc = run_cli("rule", "LLA000", cwd=REPO, real=True)
    assert proc.returncode == 0 and "LLA000" in out(proc)


def test_rule_all_lists_every_rule():
    proc = run_cli("rule", "--all", cwd=REPO, real=True)
    assert proc.returncode == 0
    listed = [line.split()[0] for line in out(proc).splitlines()]
    assert listed == ["LLA000", *(r.code for r in all_rules())]


# ---------------------------------------------------------------------------- odd trees
def test_tree_with_odd_files(tmp_path):
    (tmp_path / "good.py").write_text("x = 1\n")
    (tmp_path / "syntax.py").write_text("def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes(b"s = '\xe9'\n")  # no cookie: not UTF-8
    (tmp_path / "crlf.py").write_bytes(b"y = 3\r\nz = 4\r\n")
    (tmp_path / "bom.py").write_bytes(codecs.BOM_UTF8 + b"y = 3\n")
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)
    proc = run_cli("check", ".", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    lines = out(proc).splitlines()
    assert "good.py:1:1: LLA901 [*] x is 1" in lines
    assert any(line.startswith("syntax.py:1:7: LLA000 SyntaxError") for line in lines)
    assert "latin.py:1:1: LLA000 cannot decode file: invalid utf-8 byte 0xe9 on line 1" in lines
    assert any(line.startswith("loop.py:1:1: LLA000") for line in lines)
    assert not any(line.startswith(("crlf.py", "bom.py", "empty.py")) for line in lines)
    fixed = run_cli("check", "--fix", ".", cwd=tmp_path, timeout=60)
    assert fixed.returncode == 1  # the LLA000s remain
    assert (tmp_path / "good.py").read_text() == "x = 2\n"
    assert (tmp_path / "syntax.py").read_text() == "def f(:\n    pass\n"
    assert (tmp_path / "latin.py").read_bytes() == b"s = '\xe9'\n"
