"""LLA000 judges a file by the project's target Python, not by the interpreter running the tool."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from lint_rules.api import check_source
from lint_rules.core.config import Config, ConfigError, apply_settings
from lint_rules.core.target import (
    NEWEST,
    RUNNING,
    parse_target_version,
    requires_python_floor,
    target_for,
)
from lint_rules.engine import check_text
from lint_rules.syntax.parse import ParseFailure, parse_module, syntax_verdict

# Valid for 3.12 (PEP 695 generics and type aliases, PEP 701 f-strings), not for 3.10/3.11.
PY312 = {
    "generic_function.py": "def first[T](items: list[T]) -> T:\n    return items[0]\n",
    "generic_class.py": "class Box[T]:\n    def get(self) -> T: ...\n",
    "type_alias.py": "type Pair[T] = tuple[T, T]\n",
    "fstring_quotes.py": 'names = ["a"]\nx = f"{", ".join(names)}"\n',
    "fstring_nested.py": 'x = f"{f"{1}"}"\n',
}
# Also valid for 3.13 (PEP 696 type-parameter defaults).
PY313 = {"type_default.py": "def f[T = int](x: T) -> T:\n    return x\n"}
INVALID = {
    "unclosed.py": "def f(:\n    pass\n",
    "bad_generic.py": "def f[](x):\n    return x\n",
    "bad_alias.py": "type = = 1\n",
}
# A per-tenant credential in the environment, in a file only 3.12 parses: the rules run on it.
LEAK_312 = textwrap.dedent("""\
    import os

    class TenantLLMConfig[T]:
        def install(self):
            os.environ["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
    """)


def project(tmp_path: Path, requires: str | None, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    if requires is not None:
        (root / "pyproject.toml").write_text(f'[project]\nname = "p"\nrequires-python = "{requires}"\n')
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def codes(root: Path, name: str, config: Config | None = None) -> list[str]:
    path = root / name
    return [d.code for d in check_text(path.read_text(), str(path), config or Config())]


# ---------------------------------------------------------------------- where the target comes from
@pytest.mark.parametrize("text, expected", [
    ("py312", (3, 12)), ("3.13", (3, 13)), ("py310", (3, 10)), ("312", None), ("python3.12", None),
])
def test_target_version_spellings(text, expected):
    assert parse_target_version(text) == expected


@pytest.mark.parametrize("spec, expected", [
    (">=3.12", (3, 12)), (">=3.10,<3.14", (3, 10)), ("~=3.11", (3, 11)), ("==3.12.*", (3, 12)),
    (">3.9", (3, 9)), ("<4", None), (" >= 3.13 ", (3, 13)), ("", None),
])
def test_requires_python_lower_bound(spec, expected):
    assert requires_python_floor(spec) == expected


def test_closest_pyproject_wins(tmp_path):
    root = project(tmp_path, ">=3.12", {})
    inner = root / "sub"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.13"\n')
    (inner / "pkg").mkdir()
    assert target_for(str(root / "a.py")) == (3, 12)
    assert target_for(str(inner / "pkg" / "a.py")) == (3, 13)


def test_configured_target_version_wins(tmp_path):
    root = project(tmp_path, ">=3.12", {})
    assert target_for(str(root / "a.py"), "py310") == (3, 10)


def test_no_metadata_means_the_newest_grammar(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")  # no requires-python
    assert target_for(str(tmp_path / "a.py")) == NEWEST


def test_unpacked_wheel_metadata(tmp_path):
    """An unpacked wheel (or site-packages) has no pyproject: the dist-info that owns the
    top-level package says which Python it needs."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    other = tmp_path / "other-1.0.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Name: other\nRequires-Python: >=3.8\n")
    (other / "top_level.txt").write_text("other\n")
    mine = tmp_path / "pkg-2.0.dist-info"
    mine.mkdir()
    (mine / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nRequires-Python: >=3.12\n\nbody\n")
    (mine / "RECORD").write_text("pkg/__init__.py,,\npkg/sub/x.py,,\n")
    assert target_for(str(tmp_path / "pkg" / "sub" / "x.py")) == (3, 12)


def test_target_version_setting_is_validated():
    assert apply_settings(Config(), {"target-version": "py312"}, "t").target_version == "py312"
    for bad in ("3", "python3.12", 312, ["py312"]):
        with pytest.raises(ConfigError, match="target-version"):
            apply_settings(Config(), {"target-version": bad}, "t")


# ---------------------------------------------------------------------- the verdict
@pytest.mark.parametrize("name", sorted(PY312))
def test_valid_for_a_312_target_is_checked_not_reported(tmp_path, name):
    root = project(tmp_path, ">=3.12", PY312)
    assert codes(root, name) == []
    assert syntax_verdict(PY312[name], name, (3, 12)) is None
    assert not isinstance(parse_module(PY312[name], name, (3, 12)), ParseFailure)


@pytest.mark.parametrize("name", sorted(PY313))
def test_valid_for_a_313_target(tmp_path, name):
    root = project(tmp_path, ">=3.13", PY313)
    assert codes(root, name) == []


@pytest.mark.parametrize("name", sorted(PY312))
def test_an_older_target_keeps_the_interpreters_verdict(tmp_path, name):
    """Target 3.10: the interpreter's own compile judges (on 3.12+ it accepts the file)."""
    root = project(tmp_path, ">=3.10", PY312)
    expected = [] if RUNNING >= (3, 12) else ["LLA000"]
    assert codes(root, name) == expected


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_for_the_target_is_still_reported(tmp_path, name):
    root = project(tmp_path, ">=3.12", INVALID)
    found = check_text(INVALID[name], str(root / name), Config())
    assert [d.code for d in found] == ["LLA000"]
    if RUNNING < (3, 12):
        assert found[0].message.startswith("SyntaxError")


def test_rules_run_on_a_file_only_the_target_parses(tmp_path):
    root = project(tmp_path, ">=3.12", {"leak.py": LEAK_312})
    assert codes(root, "leak.py") == ["LLA005"]
    configured = replace(Config(), target_version="3.12")
    assert [d.code for d in check_source(LEAK_312, "leak.py", configured)] == ["LLA005"]


def test_deep_nesting_behind_an_earlier_312_construct_never_reaches_libcst(tmp_path):
    """CPython 3.11 stops at `def f[T]` before its parenthesis limit; libcst's native parser
    would overflow the C stack on the 10000 parentheses: the guard keeps CPython's verdict.
    Run in a child process, so a crash fails the test instead of the test run."""
    script = textwrap.dedent("""\
        from lint_rules.core.config import Config
        from lint_rules.engine import check_text
        deep = "def f[T]():\\n    return " + "(" * 10000 + "1" + ")" * 10000 + "\\n"
        blocks = "def f[T]():\\n" + "".join("    " * i + "if a:\\n" for i in range(1, 120)) + "    " * 120 + "pass\\n"
        config = Config(target_version="3.13")
        print(sorted({d.code for text in (deep, blocks) for d in check_text(text, "x.py", config)}))
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['LLA000']"


def test_compiler_stage_errors_stay_reported_for_a_newer_target(tmp_path):
    """libcst checks the grammar only: an error of CPython's compiler stage (valid grammar) is
    an error for every version and keeps CPython's verdict."""
    for text in ("x = 1\nfrom __future__ import annotations\n", "return 1\n"):
        found = check_text(text, str(tmp_path / "x.py"), Config(target_version="3.13"))
        assert [d.code for d in found] == ["LLA000"]
