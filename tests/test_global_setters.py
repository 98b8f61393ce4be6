"""Issue 13: one hop into process-global state across modules (LLA005 at the call site)."""

from __future__ import annotations

import ast as std_ast
from pathlib import Path

import pytest

from lint_rules.analysis.global_setters_ast import may_store_parameter
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source
from lint_rules.core.config import Config
from lint_rules.engine import check_text
from lint_rules.runner import RunOptions, run
from markers import expected_markers

HERE = Path(__file__).parent
PROJECT = HERE / "fixtures" / "global_setters_project"
FILES = sorted(p for p in PROJECT.rglob("*.py") if p.stat().st_size)
AGENT = PROJECT / "pkg_app" / "agent.py"


def _check(path: Path):
    config = Config()
    return check_source(path.read_text(), str(path), config, ProjectIndex(config, [PROJECT]))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PROJECT)) for p in FILES])
def test_call_sites_in_another_module_match_markers(path: Path) -> None:
    found = {(d.start.row, d.code) for d in _check(path)}
    assert found == expected_markers(path.read_text())


def test_one_run_over_both_packages_gives_the_same_findings() -> None:
    result = run([PROJECT], Config(), RunOptions(jobs=1), project_root=PROJECT)
    got = {(Path(d.path).resolve(), d.start.row, d.code) for d in result.diagnostics}
    want = {(p.resolve(), row, code) for p in FILES for row, code in expected_markers(p.read_text())}
    assert got == want


def test_the_finding_names_the_callee_and_its_write_with_evidence() -> None:
    d = next(d for d in _check(AGENT) if "self.api_key" in d.message)
    assert "`use_api_key()`" in d.message and "setters.py:10" in d.message
    assert "`os.environ[\"OPENAI_API_KEY\"] = key`" in d.message
    assert d.related and d.related[-1].path.endswith("setters.py") and d.related[-1].row == 10
    assert "stores its parameter `key`" in d.related[-1].message


def test_the_prefilter_never_hides_the_call_site() -> None:
    config = Config()
    source = AGENT.read_text()
    index = ProjectIndex(config, [PROJECT])
    with_it = check_text(source, str(AGENT), config, index, prefilter=True)
    without = check_text(source, str(AGENT), config, ProjectIndex(config, [PROJECT]), prefilter=False)
    assert [(d.code, d.start, d.message) for d in with_it] == [(d.code, d.start, d.message) for d in without]
    assert any(d.code == "LLA005" for d in with_it)


def test_an_unresolved_callee_is_silent_without_the_project() -> None:
    # The same file checked with no way to find `pkg_env`: no summary, no finding.
    config = Config()
    source = AGENT.read_text()
    diags = check_source(source, "/nowhere/agent.py", config, ProjectIndex(config))
    assert [d for d in diags if d.code == "LLA005"] == []


def test_the_ast_gate_lets_through_every_setter_of_the_fixture() -> None:
    # `ProjectIndex.may_store_globally` decides whether the callee's module is summarised: it
    # must answer "maybe" for every function whose summary lists a stored parameter.
    index = ProjectIndex(Config(), [PROJECT])
    summary = index.module("pkg_env.setters", PROJECT / "pkg_env" / "setters.py")
    assert summary is not None
    tree = std_ast.parse((PROJECT / "pkg_env" / "setters.py").read_text())
    storing = {name for name, fn in summary.functions.items() if fn.globals_written}
    assert storing and all(may_store_parameter(tree, name) for name in storing)
    assert not may_store_parameter(tree, "log_key")  # logs it, stores nothing
    assert not may_store_parameter(tree, "no_such_function")
    gate = std_ast.parse("from os import putenv as p\n\ndef f(x):\n    p('K', x)\n\n"
                         "def g(x):\n    print(x)\n    return x\n\nfrom m import h\n")
    assert may_store_parameter(gate, "f") and not may_store_parameter(gate, "g")
    assert may_store_parameter(gate, "h")  # a re-export may be anything
