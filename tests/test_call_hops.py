"""Issue 13: function summaries across modules and packages, evidence, and the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source
from lint_rules.cache import CACHE_DIR_NAME
from lint_rules.core.config import Config
from lint_rules.output.json_format import json_object
from lint_rules.output.sarif import sarif_log
from lint_rules.output.text import render_full
from lint_rules.runner import RunOptions, run
from markers import expected_markers

HERE = Path(__file__).parent
PROJECT = HERE / "fixtures" / "call_hops_project"
FILES = sorted(p for p in PROJECT.rglob("*.py") if p.stat().st_size)


def _check(path: Path, root: Path = PROJECT):
    config = Config()
    return check_source(path.read_text(), str(path), config, ProjectIndex(config, [root]))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PROJECT)) for p in FILES])
def test_summaries_across_modules_and_packages_match_markers(path: Path) -> None:
    found = {(d.start.row, d.code) for d in _check(path)}
    assert found == expected_markers(path.read_text())


def test_one_run_checks_both_packages_with_the_same_findings() -> None:
    result = run([PROJECT], Config(), RunOptions(jobs=1), project_root=PROJECT)
    got = {(Path(d.path).resolve(), d.start.row, d.code) for d in result.diagnostics}
    want = {(p.resolve(), row, code) for p in FILES for row, code in expected_markers(p.read_text())}
    assert got == want


def _hop_finding():
    path = PROJECT / "pkg_b" / "conversation.py"
    diags = [d for d in _check(path) if "inherited_method" not in d.message]
    return next(d for d in diags if d.start.row == 15)


def test_call_site_finding_names_the_callee_write_and_carries_evidence() -> None:
    d = _hop_finding()
    assert "`stamp(...)`" in d.message and "pins.py:7" in d.message
    steps = [r.message for r in d.related]
    assert any("`__init__` stores its parameter `agent` by reference" in s for s in steps)
    assert any("get_all_llms()" in s for s in steps)
    assert steps[-1].startswith("written in place by `stamp`")
    assert d.related[-1].path.endswith("pins.py") and d.related[-1].row == 7


def test_evidence_in_every_format() -> None:
    d = _hop_finding()
    text = render_full(d, fix_mode_hint=False, unsafe_fixes=False)
    assert "= note: written in place by `stamp`" in text
    obj = json_object(d, {})
    assert obj["related"][-1]["location"] == {"column": 1, "row": 7}
    assert json.loads(json.dumps(obj))["related"][0]["message"]
    result = sarif_log([d])["runs"][0]["results"][0]
    assert len(result["relatedLocations"]) == len(d.related)
    flow = result["codeFlows"][0]["threadFlows"][0]["locations"]
    assert len(flow) == len(d.related) + 1
    assert flow[-1]["location"]["message"]["text"] == d.message


def test_findings_without_evidence_keep_the_ruff_json_shape() -> None:
    config = Config()
    source = "import os\n\nclass C:\n    def f(self):\n        os.environ['K'] = self.api_key\n"
    d = check_source(source, "x.py", config, ProjectIndex(config))[0]
    assert "related" not in json_object(d, {})


def test_an_edit_resummarises_only_the_edited_module_and_rechecks_its_dependents(
        tmp_path, monkeypatch) -> None:
    root = tmp_path / "proj"
    shutil.copytree(PROJECT, root)
    options = RunOptions(jobs=1, cache_dir=tmp_path / CACHE_DIR_NAME)
    first = run([root], Config(), options, project_root=root)
    assert any("conversation.py" in d.path for d in first.diagnostics)
    summarised: list[str] = []
    real = ProjectIndex._summary_of  # every summary computed from a module's bytes

    def spy(self, path, data):
        summarised.append(Path(path).name)
        return real(self, path, data)

    monkeypatch.setattr(ProjectIndex, "_summary_of", spy)
    pins = root / "pkg_a" / "pins.py"
    # `stamp` no longer writes a conversation-scoped value: its callers fall silent.
    pins.write_text(pins.read_text().replace("target.extra_headers[KEY] = sid",
                                             "target.extra_headers['X-Title'] = sid"))
    second = run([root], Config(), options, project_root=root)
    assert set(summarised) == {"pins.py"}
    lines = {(Path(d.path).name, d.start.row) for d in second.diagnostics}
    assert ("conversation.py", 15) not in lines and ("same_package.py", 12) not in lines
    assert ("conversation.py", 24) in lines  # `_apply` still writes
