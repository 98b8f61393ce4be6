"""The flake8 plugin, run through the real flake8 (a subprocess) on temporary trees."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import pytest
from integration_helpers import (
    CLEAN_SOURCE,
    LICENSE_SOURCE,
    FIXABLE_CODE,
    FIXABLE_SOURCE,
    LEAKY_COL,
    LEAKY_ROW,
    LEAKY_SOURCE,
    report_lines,
    run_flake8,
    write_tree,
)

from lint_rules.api import check_source
from lint_rules.core.config import Config, apply_settings
from lint_rules.flake8_plugin import FIX_HINT, Flake8Plugin
from lint_rules.rules import all_rules

pytest.importorskip("flake8")

LEAKY_LINE = f"./pkg/leaky.py:{LEAKY_ROW}:{LEAKY_COL}: LLA005 "


def _codes(stdout: str) -> list[str]:
    """`path:row:col:CODE` for each reported line (message dropped)."""
    out = []
    for line in report_lines(stdout):
        path, row, col, rest = line.split(":", 3)
        out.append(f"{path}:{row}:{col}:{rest.split()[0]}")
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/leaky.py": LEAKY_SOURCE,
                                 "pkg/clean.py": CLEAN_SOURCE})


def test_plugin_is_registered_with_flake8(tmp_path: Path) -> None:
    result = run_flake8(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert "llm-affinity-lint" in result.stdout


def test_finding_is_reported_in_flake8_format(tree: Path) -> None:
    result = run_flake8(tree, ".")
    assert result.returncode == 1, result.stderr
    (expected,) = check_source(LEAKY_SOURCE, str(tree / "pkg" / "leaky.py"))
    assert report_lines(result.stdout) == [LEAKY_LINE + expected.message]
    assert result.stderr == ""


def test_clean_tree_passes(tmp_path: Path) -> None:
    write_tree(tmp_path, {"clean.py": CLEAN_SOURCE})
    result = run_flake8(tmp_path, ".")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(("comment", "reported"), [
    ("  # noqa: LLA005", False),
    ("  # noqa:LLA", False),
    ("  # noqa", False),
    ("  # noqa: E501", True),
    ("  # noqa: LLA001", True),
])
def test_noqa_is_honoured(tmp_path: Path, comment: str, reported: bool) -> None:
    lines = LEAKY_SOURCE.splitlines()
    lines[LEAKY_ROW - 1] += comment
    write_tree(tmp_path, {"leaky.py": "\n".join(lines) + "\n"})
    result = run_flake8(tmp_path, "--select", "LLA", ".")
    assert ("LLA005" in result.stdout) is reported, result.stdout + result.stderr


def test_disable_noqa_reports_suppressed_findings(tmp_path: Path) -> None:
    lines = LEAKY_SOURCE.splitlines()
    lines[LEAKY_ROW - 1] += "  # noqa: LLA005"
    write_tree(tmp_path, {"leaky.py": "\n".join(lines) + "\n"})
    result = run_flake8(tmp_path, "--select", "LLA", "--disable-noqa", ".")
    assert _codes(result.stdout) == [f"./leaky.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005"]


@pytest.mark.parametrize(("args", "reported"), [
    (["--select", "LLA"], True),
    (["--select", "LLA005"], True),
    (["--select", "E,W,F"], False),
    (["--select", "E", "--extend-select", "LLA"], True),
    (["--ignore", "LLA005"], False),
    (["--ignore", "LLA"], False),
    (["--extend-ignore", "LLA005"], False),
    (["--per-file-ignores", "pkg/leaky.py:LLA005"], False),
    (["--per-file-ignores", "pkg/*:LLA"], False),
    (["--per-file-ignores", "other/*.py:LLA005"], True),
])
def test_flake8_selection_options(tree: Path, args: list[str], reported: bool) -> None:
    result = run_flake8(tree, *args, ".")
    assert result.returncode == (1 if reported else 0), result.stdout + result.stderr
    assert (LEAKY_LINE in result.stdout) is reported


def test_selection_from_flake8_config_file(tree: Path) -> None:
    (tree / "setup.cfg").write_text("[flake8]\nper-file-ignores =\n    pkg/leaky.py: LLA005\n")
    assert run_flake8(tree, ".").stdout == ""
    (tree / "setup.cfg").write_text("[flake8]\nextend-ignore = LLA\n")
    assert run_flake8(tree, ".").stdout == ""


# ---------------------------------------------------------------------------- settings
def test_pyproject_table_is_read(tmp_path: Path) -> None:
    source = LICENSE_SOURCE
    write_tree(tmp_path, {"app/mod.py": source})
    assert run_flake8(tmp_path, ".").stdout == ""  # not a credential by default
    (tmp_path / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\nextend-credential-names = ["license_key"]\n')
    result = run_flake8(tmp_path, ".")
    assert _codes(result.stdout) == [f"./app/mod.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005"]


def test_closest_pyproject_wins(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/mod.py": LEAKY_SOURCE, "b/mod.py": LEAKY_SOURCE})
    (tmp_path / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nignore = ["LLA005"]\n')
    (tmp_path / "b" / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    result = run_flake8(tmp_path, ".")
    assert _codes(result.stdout) == [f"./b/mod.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005"]


def test_pyproject_rule_selection_applies_under_flake8(tree: Path) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\nper-file-ignores = { "pkg/leaky.py" = ["LLA005"] }\n')
    assert run_flake8(tree, "--select", "LLA", ".").stdout == ""


def test_invalid_pyproject_is_reported_not_a_crash(tree: Path) -> None:
    (tree / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nscoped-header-key = ["x"]\n')
    result = run_flake8(tree, ".")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    lines = report_lines(result.stdout)
    assert lines and all("LLA000 settings error" in line and "scoped-header-key" in line
                         for line in lines)


@pytest.mark.parametrize("config_file", ["setup.cfg", ".flake8", "tox.ini"])
def test_flake8_config_overrides_pyproject(tree: Path, config_file: str) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.llm-affinity-lint]\ncredential-names = ["aws_access_key_id"]\n')
    assert LEAKY_LINE in run_flake8(tree, ".").stdout
    (tree / config_file).write_text("[flake8]\nlla-credential-names = api_key, token\n")
    assert run_flake8(tree, ".").stdout == ""
    (tree / config_file).write_text("[flake8]\nlla-extend-credential-names =\n    license_key\n")
    assert LEAKY_LINE in run_flake8(tree, ".").stdout


def test_command_line_option_extends_the_domain(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.py": LICENSE_SOURCE})
    assert run_flake8(tmp_path, ".").stdout == ""
    result = run_flake8(tmp_path, "--lla-extend-credential-names=license_key,other", ".")
    assert _codes(result.stdout) == [f"./mod.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005"]


def test_lla_config_option_names_the_pyproject(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/mod.py": LICENSE_SOURCE,
                          "conf/lint.toml": '[tool.llm-affinity-lint]\n'
                                            'extend-credential-names = ["license_key"]\n'})
    (tmp_path / ".flake8").write_text("[flake8]\nlla-config = conf/lint.toml\n")
    result = run_flake8(tmp_path / "src", "--config", str(tmp_path / ".flake8"), ".")
    assert _codes(result.stdout) == [f"./mod.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005"]
    (tmp_path / ".flake8").write_text("[flake8]\nlla-config = conf/missing.toml\n")
    result = run_flake8(tmp_path / "src", "--config", str(tmp_path / ".flake8"), ".")
    assert "LLA000 settings error" in result.stdout and "missing.toml" in result.stdout


# ---------------------------------------------------------------------------- jobs, errors
def test_parallel_jobs_report_the_same_as_serial(tmp_path: Path) -> None:
    files = {f"pkg/m{i}.py": LEAKY_SOURCE for i in range(12)}
    files.update({f"pkg/c{i}.py": CLEAN_SOURCE for i in range(12)})
    write_tree(tmp_path, files)
    (tmp_path / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nignore = []\n')
    serial = run_flake8(tmp_path, "-j", "1", "--select", "LLA", ".")
    parallel = run_flake8(tmp_path, "-j", "2", "--select", "LLA", ".")
    assert parallel.returncode == 1 and "Traceback" not in parallel.stderr
    expected = sorted(f"./pkg/m{i}.py:{LEAKY_ROW}:{LEAKY_COL}:LLA005" for i in range(12))
    assert sorted(_codes(parallel.stdout)) == expected
    assert sorted(_codes(serial.stdout)) == expected


def test_syntax_error_is_e999_only(tmp_path: Path) -> None:
    write_tree(tmp_path, {"broken.py": "import os\nos.environ['K'] = (\n"})
    result = run_flake8(tmp_path, ".")
    codes = [c.rsplit(":", 1)[1] for c in _codes(result.stdout)]
    assert codes == ["E999"]


def test_fix_hint_on_fixable_findings_only(tmp_path: Path) -> None:
    write_tree(tmp_path, {"fixable.py": FIXABLE_SOURCE, "leaky.py": LEAKY_SOURCE})
    result = run_flake8(tmp_path, "--select", "LLA", ".", fixable_rule=True)
    lines = report_lines(result.stdout)
    assert lines[0] == f"./fixable.py:1:1: {FIXABLE_CODE} test marker {FIX_HINT}", result.stderr
    assert lines[1].startswith("./leaky.py:") and FIX_HINT not in lines[1]
    parallel = run_flake8(tmp_path, "-j", "2", "--select", "LLA", ".", fixable_rule=True)
    assert report_lines(parallel.stdout) == lines


# ---------------------------------------------------------------------------- every rule
EXAMPLES = [(rule.code, i, ex) for rule in all_rules() for i, ex in enumerate(rule.bad_examples)]


@pytest.mark.parametrize(("code", "i", "example"), EXAMPLES,
                         ids=[f"{c}-{i}" for c, i, _ in EXAMPLES])
def test_flake8_reports_what_the_engine_reports(tmp_path: Path, code: str, i: int, example) -> None:
    """Every rule's documented bad example: flake8 shows exactly the engine's findings."""
    options = "".join(f"{k} = {_toml(v)}\n" for k, v in example.options.items())
    (tmp_path / "pyproject.toml").write_text(f"[tool.llm-affinity-lint]\n{options}")
    write_tree(tmp_path, {example.path: example.code})
    config = apply_settings(Config(), example.options, "example")
    expected = sorted(f"./{example.path}:{d.start.row}:{d.start.column}:{d.code}"
                      for d in check_source(example.code, str(tmp_path / example.path), config))
    assert expected, "a bad example must have findings"
    result = run_flake8(tmp_path, "--select", "LLA", ".")
    assert sorted(_codes(result.stdout)) == expected, result.stderr


def _toml(value) -> str:
    import json

    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


# ---------------------------------------------------------------------------- cost
def test_files_without_trigger_tokens_are_never_parsed(monkeypatch, tmp_path: Path) -> None:
    import lint_rules.engine as engine

    parsed: list[str] = []
    real_parse = engine.libcst_parse
    monkeypatch.setattr(engine, "libcst_parse", lambda s: parsed.append(s) or real_parse(s))
    monkeypatch.chdir(tmp_path)
    Flake8Plugin.parse_options(argparse.Namespace())
    clean = textwrap.dedent("""\
        def add(a, b):
            return a + b
    """)
    assert list(Flake8Plugin(None, clean.splitlines(True), "clean.py").run()) == []
    assert parsed == []
    found = list(Flake8Plugin(None, LEAKY_SOURCE.splitlines(True), "leaky.py").run())
    assert [(row, col, msg.split()[0]) for row, col, msg, _ in found] == [
        (LEAKY_ROW, LEAKY_COL - 1, "LLA005")]
    assert parsed == [LEAKY_SOURCE]


_COUNT_PARSES = """\
import lint_rules.engine as engine
real = engine.libcst_parse
def counting(source):
    with open({log!r}, "a") as log:
        log.write("parsed\\n")
    return real(source)
engine.libcst_parse = counting
"""


@pytest.mark.parametrize(("args", "parses"), [
    (["--select", "E,W,F"], False),
    (["--ignore", "LLA"], False),
    (["--extend-ignore", "LLA0"], False),
    (["--select", "LLA"], True),
    ([], True),  # flake8's default selection includes every plugin's codes
])
def test_rules_flake8_would_not_report_are_not_run(tmp_path: Path, args: list[str],
                                                     parses: bool) -> None:
    write_tree(tmp_path / "src", {"leaky.py": LEAKY_SOURCE})
    log = tmp_path / "parses.log"
    result = run_flake8(tmp_path / "src", "-j", "1", *args, ".",
                        preamble=_COUNT_PARSES.format(log=str(log)))
    assert "Traceback" not in result.stderr, result.stderr
    assert log.exists() is parses
    assert ("LLA005" in result.stdout) is parses


# ---------------------------------------------------------------------------- LLA000
def _run_plugin(source: str) -> list[tuple[int, int, str]]:
    Flake8Plugin.parse_options(argparse.Namespace())
    return [(row, col, msg) for row, col, msg, _ in
            Flake8Plugin(None, source.splitlines(True), "mod.py").run()]


def test_libcst_failure_on_a_file_cpython_accepts_is_lla000(monkeypatch, tmp_path: Path) -> None:
    import lint_rules.engine as engine
    from lint_rules.syntax.parse import ParseFailure

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "libcst_parse",
                        lambda s: ParseFailure(3, 5, "libcst: not supported"))
    (found,) = _run_plugin(LEAKY_SOURCE)
    assert found[:2] == (3, 4)
    assert found[2] == "LLA000 libcst cannot parse this file, which CPython accepts: not supported"
    (tmp_path / "pyproject.toml").write_text('[tool.llm-affinity-lint]\nignore = ["LLA000"]\n')
    assert _run_plugin(LEAKY_SOURCE) == []


def test_engine_error_is_reported_not_raised(monkeypatch, tmp_path: Path) -> None:
    import lint_rules.engine as engine

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "check_parsed", broken)
    assert _run_plugin(LEAKY_SOURCE) == [
        (1, 0, "LLA000 internal error, LLA rules did not run: RuntimeError: boom")]
    assert _run_plugin("def add(a, b):\n    return a + b\n") == []  # prefiltered: never parsed


def test_file_level_exemption(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run_plugin("# llm-affinity-lint: noqa\n" + LEAKY_SOURCE) == []


# ---------------------------------------------------------------------------- vs the CLI
SAMPLE_SDK = Path(__file__).parent / "fixtures" / "sample_sdk"


@pytest.mark.skipif(not SAMPLE_SDK.is_dir(), reason="the sample SDK fixture is not in this tree")
def test_flake8_and_the_cli_agree_on_the_sample_sdk(tmp_path: Path) -> None:
    """Cross-module facts included: both front-ends see the same findings on a whole package."""
    import shutil
    import subprocess
    import sys

    tree = tmp_path / "sample_sdk"
    shutil.copytree(SAMPLE_SDK, tree)
    cli = subprocess.run([sys.executable, "-m", "lint_rules", "check", "-q", "."], cwd=tree,
                         capture_output=True, text=True)
    assert cli.returncode in (0, 1), cli.stderr
    from_cli = sorted(" ".join(line.split()[:2]) for line in cli.stdout.splitlines())
    result = run_flake8(tree, "--select", "LLA", ".")
    from_flake8 = sorted(" ".join(line.split()[:2]).removeprefix("./")
                         for line in result.stdout.splitlines())
    assert from_flake8 == from_cli
    assert from_cli, "the sample SDK has planted defects"


def test_parallel_workers_share_facts_in_a_folder_removed_at_exit(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(Path(__file__).parent / "fixtures" / "sample_sdk", project / "sample_sdk")
    (project / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    temp, log = tmp_path / "temp", tmp_path / "saved.log"
    temp.mkdir()
    preamble = textwrap.dedent(f"""
        import os, tempfile
        tempfile.tempdir = {str(temp)!r}
        import lint_rules.core.run_store as run_store
        save = run_store.RunStore.save
        def logged(self, key, value):
            with open({str(log)!r}, "a") as fh:
                fh.write(f"{{self.folder}} {{os.getpid()}}\\n")
            save(self, key, value)
        run_store.RunStore.save = logged
    """)
    serial = run_flake8(project, "-j", "1", "--select", "LLA", ".", preamble=preamble)
    assert serial.returncode == 1 and not log.exists()  # one process: nothing shared
    parallel = run_flake8(project, "-j", "2", "--select", "LLA", ".", preamble=preamble)
    assert sorted(report_lines(parallel.stdout)) == sorted(report_lines(serial.stdout))
    saved = [line.split() for line in log.read_text().splitlines()]
    assert saved and len({folder for folder, _ in saved}) == 1  # one folder for the run
    assert os.path.dirname(saved[0][0]) == str(temp) and not list(temp.iterdir())


def test_only_flake8_workers_share_facts_and_a_new_run_drops_the_old_folder() -> None:
    from flake8.main.options import JobsArgument

    from lint_rules.core.run_store import run_store

    try:
        Flake8Plugin.parse_options(argparse.Namespace())  # the API, or a test: no workers
        assert run_store() is None
        Flake8Plugin.parse_options(argparse.Namespace(jobs=JobsArgument("auto")))
        store = run_store()
        assert store is not None and store.workers == (os.cpu_count() or 1)
        assert os.path.isdir(store.folder)
        Flake8Plugin.parse_options(argparse.Namespace(jobs=JobsArgument("1")))
        assert run_store() is None and not os.path.exists(store.folder)
    finally:
        Flake8Plugin.parse_options(argparse.Namespace())
    assert run_store() is None
