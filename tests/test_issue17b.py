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


# ---------------------------------------------------------------------------- SARIF schema
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def test_sarif_schema_is_the_official_one():
    schema = json.loads(SCHEMA.read_text())
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_cli_sarif_validates_against_the_official_schema(tmp_path):
    """Real CLI output with a finding that has a fix, a syntax error (LLA000), an unreadable
    input and an internal error (toolExecutionNotifications) against the OASIS schema."""
    jsonschema = pytest.importorskip("jsonschema")
    from test_issue17 import BOOM

    (tmp_path / "leak.py").write_text(PIN)
    fixable = Path(__file__).parent / "fixtures" / "rules" / "LLA004_header_bypass.py"
    (tmp_path / "fixable.py").write_text(fixable.read_text())
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "boom.py").write_text("x = 1\n")
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "ünï.py").write_text(PIN)
    proc = lla("check", "--no-cache", "--unsafe-fixes", "--output-format", "sarif", ".",
               cwd=tmp_path, prelude=BOOM)
    assert proc.returncode == 2
    log = json.loads(text(proc))
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"LLA000"} and len(results) >= 3
    assert any(r.get("fixes") for r in results)  # the fix objects are validated too
    assert log["runs"][0]["invocations"][0]["toolExecutionNotifications"]


# ---------------------------------------------------------------------------- r14
RUFF_JSON_KEYS = ["cell", "code", "end_location", "filename", "fix", "location", "message",
                  "name", "noqa_row", "severity", "url"]  # ruff 0.15+ `--output-format json`


def test_r14_json_has_ruffs_current_keys(tmp_path):
    (tmp_path / "l.py").write_text(PIN)
    (tmp_path / "broken.py").write_text("def f(:\n")
    proc = lla("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    found = json.loads(text(proc))
    by_code = {obj["code"]: obj for obj in found}
    for obj in found:
        assert list(obj) == RUFF_JSON_KEYS
        assert obj["severity"] == "error"
    assert by_code["LLA001"]["name"] and by_code["LLA001"]["noqa_row"] == by_code["LLA001"]["location"]["row"]
    assert by_code["LLA000"]["noqa_row"] is None  # ruff: null for invalid-syntax
    lines = lla("check", "--no-cache", "--output-format", "json-lines", "l.py", cwd=tmp_path)
    assert list(json.loads(text(lines).splitlines()[0])) == RUFF_JSON_KEYS


def test_r14_json_keys_match_installed_ruff(tmp_path):
    """When ruff is installed (`pip install ruff`), our keys are exactly its keys."""
    import shutil
    import subprocess
    import sys

    beside = Path(sys.executable).parent / "ruff"  # the test extra installs it in the venv
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    (tmp_path / "r.py").write_text("import os\n")
    (tmp_path / "l.py").write_text(PIN)
    theirs = subprocess.run([ruff, "check", "--no-cache", "--isolated", "--select", "F401",
                             "--output-format", "json", "r.py"], cwd=tmp_path, capture_output=True)
    ours = lla("check", "--no-cache", "--output-format", "json", "l.py", cwd=tmp_path)
    assert sorted(json.loads(theirs.stdout)[0]) == sorted(json.loads(text(ours))[0])


# ---------------------------------------------------------------------------- config per file
LEAK_TABLE = '[tool.llm-affinity-lint]\nselect = ["{}"]\n'


def _two_projects(root: Path) -> None:
    """`outer` selects LLA003 only (so LLA001 is off); `outer/inner` is a nested project that
    selects LLA001 and excludes `gen/`."""
    (root / "outer" / "inner" / "gen").mkdir(parents=True)
    (root / "outer" / "pyproject.toml").write_text(LEAK_TABLE.format("LLA003"))
    (root / "outer" / "inner" / "pyproject.toml").write_text(
        LEAK_TABLE.format("LLA001") + 'extend-exclude = ["gen"]\n')
    (root / "outer" / "top.py").write_text(PIN)
    (root / "outer" / "inner" / "deep.py").write_text(PIN)
    (root / "outer" / "inner" / "gen" / "made.py").write_text(PIN)


def _rows(proc) -> set[str]:
    return {line.split(":")[0] for line in text(proc).splitlines() if line and ":" in line}


@pytest.mark.parametrize("args", [["outer"], ["outer/top.py", "outer/inner"],
                                  ["outer/inner", "outer/top.py"], ["outer/inner/deep.py", "outer"]])
def test_each_file_gets_its_closest_table_whatever_the_argument_order(tmp_path, args):
    """ruff's rule: the closest pyproject.toml with a table configures each file. Before, the
    first path's table configured the whole run: `outer/inner` ignored its own table under
    `check outer`, and swapping the arguments changed the findings."""
    _two_projects(tmp_path)
    proc = lla("check", "--no-cache", *args, cwd=tmp_path)
    assert _rows(proc) == {"outer/inner/deep.py"}, text(proc)  # top.py: LLA001 is off there
    assert proc.returncode == 1


def test_command_line_overrides_apply_to_every_table(tmp_path):
    _two_projects(tmp_path)
    proc = lla("check", "--no-cache", "--extend-select", "LLA001", "outer", cwd=tmp_path)
    assert _rows(proc) == {"outer/inner/deep.py", "outer/top.py"}, text(proc)
    proc = lla("check", "--no-cache", "--ignore", "LLA001", "outer/inner", cwd=tmp_path)
    assert proc.returncode == 0 and text(proc) == ""


def test_explicit_config_applies_to_every_file(tmp_path):
    _two_projects(tmp_path)
    (tmp_path / "all.toml").write_text(LEAK_TABLE.format("LLA001"))
    proc = lla("check", "--no-cache", "--config", "all.toml", "outer", cwd=tmp_path)
    assert _rows(proc) == {"outer/inner/deep.py", "outer/inner/gen/made.py", "outer/top.py"}


def test_stdin_gets_the_table_of_its_name(tmp_path):
    _two_projects(tmp_path)
    for name, found in [("outer/inner/x.py", True), ("outer/x.py", False)]:
        proc = lla("check", "--no-cache", "--stdin-filename", name, cwd=tmp_path, stdin=PIN.encode())
        assert (proc.returncode == 1) is found, (name, text(proc))


def test_cached_run_keeps_per_file_settings(tmp_path):
    _two_projects(tmp_path)
    for _ in range(2):  # the second run is served from the cache
        proc = lla("check", "--cache-dir", str(tmp_path / "c"), "outer", cwd=tmp_path)
        assert _rows(proc) == {"outer/inner/deep.py"}, text(proc)


# ---------------------------------------------------------------------------- generated inputs
def _shapes(rng) -> dict[str, str]:
    """Bodies that stress the parser, the deep-stack retry and the analyses: thousands of
    branches, terms and calls, and nesting close to CPython's own limits."""
    n = rng.randint(1000, 1500)  # thousands, yet seconds: method chains cost more (see below)
    return {
        "elif_chain": "def dispatch(x):\n    if x == 0:\n        return 0\n"
                      + "".join(f"    elif x == {i}:\n        return {i}\n" for i in range(1, n))
                      + "    else:\n        return -1\n",
        "binary_chain": "TOTAL = " + " + ".join(f"v{i}" for i in range(n)) + "\n",
        "string_concat": "PROMPT = (\n" + "".join(f'    "line {i}\\n"\n' for i in range(n)) + ")\n",
        "bool_chain": "OK = " + " and ".join(f"c{i}" for i in range(n)) + "\n",
        # Measured: the analysis of one method chain grows with its length squared (600 calls
        # 1.9 s, 1200 calls 7.9 s), so 200 calls here.
        "call_chain": "Q = query" + "".join(f".where(f{i})" for i in range(200)) + "\n",
        "attr_chain": "A = root" + "".join(f".a{i}" for i in range(n)) + "\n",
        "big_list": "ITEMS = [\n" + "".join(f"    {i},\n" for i in range(n * 2)) + "]\n",
        "nested_parens": "DEEP = " + "(" * 150 + "1" + ")" * 150 + "\n",
        "nested_lists": "DEEP = " + "[" * 150 + "]" * 150 + "\n",
        "nested_calls": "DEEP = " + "f(" * 150 + "0" + ")" * 150 + "\n",
        "nested_ifs": "def deep(x):\n" + "".join("    " * (i + 1) + f"if x > {i}:\n" for i in range(90))
                      + "    " * 91 + "return x\n",
        "nested_defs": "".join("    " * i + f"def f{i}():\n" for i in range(90)) + "    " * 90 + "pass\n",
        "many_functions": "".join(f"def f{i}(a, b):\n    return a + b * {i}\n\n" for i in range(n // 2)),
    }


def _planted(rng, body: str) -> tuple[str, list[int]]:
    """`body` with the pin (an LLA001 finding) before, after or both; the rows LLA001 is on."""
    where = rng.choice(["before", "after", "both"])
    pin_lines = PIN.count("\n")
    if where == "before":
        return PIN + "\n" + body, [2]
    after = body.count("\n") + 2
    if where == "after":
        return body + "\n" + PIN, [after + 1]
    return PIN + "\n" + body + "\n" + PIN, [2, pin_lines + 1 + after + 1]


def test_generated_extreme_code_never_crashes_and_keeps_its_findings(tmp_path):
    """Deterministic (seeded) generated files: every one is checked (no internal error, no
    LLA000), and the planted LLA001 is reported on its row in each, whatever surrounds it."""
    import random

    rng = random.Random(17)
    expected = set()
    for name, body in _shapes(rng).items():
        source, rows = _planted(rng, body)
        compile(source, name, "exec")  # valid Python: any LLA000 would be our failure
        (tmp_path / f"{name}.py").write_text(source)
        expected |= {(f"{name}.py", row) for row in rows}
    proc = lla("check", "--no-cache", "--select", "LLA000,LLA001", "--output-format", "json", ".",
               cwd=tmp_path)
    assert "internal error" not in err(proc), err(proc)
    found = json.loads(text(proc))
    assert [d for d in found if d["code"] == "LLA000"] == []
    got = {(Path(d["filename"]).name, d["location"]["row"]) for d in found if d["code"] == "LLA001"}
    assert got == expected
    assert proc.returncode == 1


# ---------------------------------------------------------------------------- ruff's other formats
def _leaky_tree(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "a.py").write_text(PIN + "\n" + PIN.replace("def pin", "def pin2"))
    (root / "sub" / "b.py").write_text(PIN)


def test_gitlab_format_is_ruffs_code_quality_report(tmp_path):
    _leaky_tree(tmp_path)
    proc = lla("check", "--no-cache", "--output-format", "gitlab", ".", cwd=tmp_path,
               env={"CI_PROJECT_DIR": str(tmp_path)})
    assert proc.returncode == 1
    report = json.loads(text(proc))
    assert [(r["location"]["path"], r["location"]["positions"]["begin"]["line"]) for r in report] == [
        ("a.py", 2), ("a.py", 5), ("sub/b.py", 2)]
    for r in report:
        assert list(r) == ["check_name", "description", "severity", "fingerprint", "location"]
        assert r["check_name"] == "LLA001" and r["description"].startswith("LLA001: ")
        assert r["severity"] == "major"
    assert len({r["fingerprint"] for r in report}) == 3  # unique, even for equal messages
    # a line added above keeps every fingerprint (GitLab would see fixed + new otherwise)
    (tmp_path / "a.py").write_text("import os\n" + (tmp_path / "a.py").read_text())
    again = json.loads(text(lla("check", "--no-cache", "--output-format", "gitlab", ".", cwd=tmp_path,
                                env={"CI_PROJECT_DIR": str(tmp_path)})))
    assert [r["fingerprint"] for r in again] == [r["fingerprint"] for r in report]
    clean = lla("check", "--no-cache", "--output-format", "gitlab", "sub", "--ignore", "LLA001",
                cwd=tmp_path)
    assert json.loads(text(clean)) == [] and clean.returncode == 0


def test_junit_format(tmp_path):
    import xml.etree.ElementTree as ET

    _leaky_tree(tmp_path)
    (tmp_path / "q&a.py").write_text(PIN)  # escaping
    proc = lla("check", "--no-cache", "--output-format", "junit", ".", cwd=tmp_path)
    root = ET.fromstring(text(proc))
    assert root.tag == "testsuites" and root.get("failures") == "4" and root.get("tests") == "4"
    suites = {Path(s.get("name")).name: s for s in root}
    assert set(suites) == {"a.py", "b.py", "q&a.py"}
    cases = list(suites["a.py"])
    assert [c.get("line") for c in cases] == ["2", "5"]
    failure = cases[0].find("failure")
    assert failure.get("message").startswith("`llm.extra_headers")
    assert failure.text.startswith("line 2, col 5, ")
    clean = lla("check", "--no-cache", "--output-format", "junit", "--ignore", "LLA001", ".", cwd=tmp_path)
    empty = ET.fromstring(text(clean))
    assert empty.get("failures") == "0" and empty[0][0].get("name") == "No errors found"


def test_grouped_format(tmp_path):
    _leaky_tree(tmp_path)
    proc = lla("check", "--no-cache", "--output-format", "grouped", ".", cwd=tmp_path)
    lines = text(proc).splitlines()
    assert lines[0] == "a.py:" and lines[1].startswith("  2:5 LLA001 ") and lines[2].startswith("  5:5 LLA001 ")
    assert lines[3] == "" and lines[4] == "sub/b.py:" and lines[5].startswith("  2:5 LLA001 ")
    assert lines[6] == "" and len(lines) == 7
    assert "Found 3 errors." in err(proc)


# ---------------------------------------------------------------------------- check -
def test_check_dash_reads_stdin(tmp_path):
    proc = lla("check", "--no-cache", "-", cwd=tmp_path, stdin=PIN.encode())
    assert proc.returncode == 1 and text(proc).startswith("-:2:5: LLA001 "), text(proc)
    named = lla("check", "--no-cache", "--stdin-filename", "x.py", "-", cwd=tmp_path, stdin=PIN.encode())
    assert named.returncode == 1 and text(named).startswith("x.py:2:5: LLA001 ")
    fixed = lla("check", "--no-cache", "--fix", "-", cwd=tmp_path, stdin=b"x = 1\n")
    assert fixed.returncode == 0 and fixed.stdout == b"x = 1\n"  # the source goes back out
    (tmp_path / "ok.py").write_text("x = 1\n")
    mixed = lla("check", "--no-cache", "-", "ok.py", cwd=tmp_path, stdin=PIN.encode())
    assert mixed.returncode == 2 and "cannot be combined" in err(mixed)


# ---------------------------------------------------------------------------- front-end settings
def test_front_end_settings_in_pyproject(tmp_path):
    """ruff's `output-format`, `cache-dir`, `fix` (and `unsafe-fixes`, `show-fixes`) in the
    table; flags win (`--output-format`, `--no-fix`)."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\noutput-format = "json"\ncache-dir = "build/lla-cache"\n')
    (tmp_path / "l.py").write_text(PIN)
    proc = lla("check", "l.py", cwd=tmp_path)
    assert proc.returncode == 1 and json.loads(text(proc))[0]["code"] == "LLA001"
    assert (tmp_path / "build" / "lla-cache").is_dir()  # relative to the table's folder
    assert lla("check", "--output-format", "concise", "l.py", cwd=tmp_path).stdout.startswith(b"l.py:2:5:")
    cleaned = lla("clean", cwd=tmp_path)
    assert cleaned.returncode == 0 and not (tmp_path / "build" / "lla-cache").exists()

    fixable = Path(__file__).parent / "fixtures" / "rules" / "LLA004_header_bypass.py"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\nfix = true\nunsafe-fixes = true\nshow-fixes = true\n')
    (tmp_path / "f.py").write_text(fixable.read_text())
    dry = lla("check", "--no-cache", "--no-fix", "f.py", cwd=tmp_path)
    assert dry.returncode == 1 and (tmp_path / "f.py").read_text() == fixable.read_text()
    proc = lla("check", "--no-cache", "f.py", cwd=tmp_path)
    assert (tmp_path / "f.py").read_text() != fixable.read_text()  # `fix = true` fixed it
    assert "Fixed " in err(proc)  # `show-fixes = true`
    settings = text(lla("check", "--show-settings", cwd=tmp_path))
    assert "fix = true" in settings and "show-fixes = true" in settings


@pytest.mark.parametrize(("line", "message"), [
    ('output-format = "xml"', "key 'output-format': expected one of concise"),
    ("fix = 1", "key 'fix': expected true or false"),
    ("cache-dir = []", "key 'cache-dir': expected a string"),
])
def test_front_end_settings_are_validated(tmp_path, line, message):
    (tmp_path / "pyproject.toml").write_text(f"[tool.llm-affinity-lint]\n{line}\n")
    (tmp_path / "l.py").write_text(PIN)
    proc = lla("check", "l.py", cwd=tmp_path)
    assert proc.returncode == 2 and message in err(proc), err(proc)


# ---------------------------------------------------------------------------- --add-noqa
def test_add_noqa_silences_todays_findings_only(tmp_path):
    (tmp_path / "plain.py").write_text(PIN)
    (tmp_path / "merge.py").write_text(PIN.replace("conversation_id\n", "conversation_id  # noqa: LLA004\n"))
    (tmp_path / "comment.py").write_text(PIN.replace("conversation_id\n", "conversation_id  # why\n"))
    (tmp_path / "crlf.py").write_bytes(PIN.replace("\n", "\r\n").encode())
    multiline = ('def pin(llm, conversation_id):\n'
                 '    llm.extra_headers["x-litellm-session-id"] = conversation_id + """\n'
                 '    tail"""\n')
    (tmp_path / "multi.py").write_text(multiline)
    (tmp_path / "broken.py").write_text("def f(:\n")
    proc = lla("check", "--no-cache", "--add-noqa", ".", cwd=tmp_path)
    assert proc.returncode == 0, err(proc)
    assert "Added 4 noqa directives." in err(proc)
    assert "multi.py:2: no noqa directive added" in err(proc)
    assert (tmp_path / "plain.py").read_text().splitlines()[1].endswith("conversation_id  # noqa: LLA001")
    assert (tmp_path / "merge.py").read_text().splitlines()[1].endswith("# noqa: LLA001, LLA004")
    assert (tmp_path / "comment.py").read_text().splitlines()[1].endswith("# why  # noqa: LLA001")
    assert (tmp_path / "crlf.py").read_bytes().split(b"\r\n")[1].endswith(b"# noqa: LLA001")
    assert (tmp_path / "multi.py").read_text() == multiline  # a string is never edited
    assert (tmp_path / "broken.py").read_text() == "def f(:\n"  # LLA000 gets no directive
    after = lla("check", "--no-cache", ".", cwd=tmp_path)
    assert {line.split(":")[0] for line in text(after).splitlines()} == {"multi.py", "broken.py"}
    again = lla("check", "--no-cache", "--add-noqa", ".", cwd=tmp_path)
    assert "Added 0 noqa directives." in err(again)
    mixed = lla("check", "--no-cache", "--add-noqa", "--fix", ".", cwd=tmp_path)
    assert mixed.returncode == 2 and "cannot be combined" in err(mixed)
