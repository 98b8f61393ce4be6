"""LLA002 / LLA007 beyond single fixture files: the flow analysis, cross-module pins, the sample
SDK's planted markers, fixes, and silence over the standard library and our own source."""

from __future__ import annotations

import sysconfig
import time
from pathlib import Path

import libcst as cst
import pytest
from markers import expected_markers

from lint_rules.analysis.every_path import guaranteed_after
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source, fix_source
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SWAP_CODES = {"LLA002", "LLA007"}
SWAP_ONLY = Config(select=("LLA002", "LLA007"))


# ---------------------------------------------------------------------------- the flow analysis
def _guaranteed(body_source: str) -> frozenset[str]:
    """Facts after the statement marked `install()`; `pin_x()` applies fact `x`."""
    module = cst.parse_module(f"def f():\n{body_source}")
    fn = module.body[0]
    assert isinstance(fn, cst.FunctionDef)
    target: list[cst.CSTNode] = []

    def facts(node: cst.CSTNode) -> frozenset[str]:
        code = module.code_for_node(node)
        return frozenset(part.split("(")[0][4:] for part in code.replace(";", " ").split()
                         if part.startswith("pin_"))

    class Finder(cst.CSTVisitor):
        def visit_Expr(self, node: cst.Expr) -> None:
            if module.code_for_node(node) == "install()":
                target.append(node)

    module.visit(Finder())
    found = guaranteed_after(fn.body, target[0], facts, frozenset({"a", "b"}))
    assert found is not None
    return found


@pytest.mark.parametrize("body,expected", [
    ("    install()\n    pin_a()\n    pin_b()\n", {"a", "b"}),
    ("    install()\n    if c:\n        return\n    pin_a()\n", set()),
    ("    install()\n    if c:\n        pin_a()\n    else:\n        pin_a(); pin_b()\n", {"a"}),
    ("    install()\n    if c:\n        raise E\n    pin_a()\n", set()),
    ("    install()\n    try:\n        work()\n    finally:\n        pin_a()\n", {"a"}),
    ("    try:\n        install()\n        return 1\n    finally:\n        pin_b()\n", {"b"}),
    ("    install()\n    try:\n        work()\n    except E:\n        return\n    pin_a()\n", set()),
    ("    install()\n    try:\n        work()\n    except E:\n        pin_a()\n    pin_a()\n", {"a"}),
    ("    install()\n    for x in xs:\n        pin_a()\n", set()),
    ("    install()\n    for x in xs:\n        pass\n    else:\n        pin_a()\n", {"a"}),
    ("    install()\n    while True:\n        if c:\n            pin_a()\n            break\n", {"a"}),
    ("    install()\n    with lock:\n        pin_a()\n", {"a"}),
    ("    install()\n    match m:\n        case 1:\n            pin_a()\n        case _:\n            pin_a()\n", {"a"}),
    ("    install()\n    match m:\n        case 1:\n            pin_a()\n", set()),
    ("    for x in xs:\n        install()\n        if c:\n            continue\n        pin_a()\n", set()),
    ("    install()\n    def later():\n        pin_a()\n", set()),
    ("    install()\n    try:\n        if c:\n            raise E\n    except Exception:\n        pass\n    pin_a()\n", {"a"}),
])
def test_guaranteed_after(body: str, expected: set[str]) -> None:
    assert _guaranteed(body) == frozenset(expected)


# ---------------------------------------------------------------------------- cross-module pins
def test_pins_inherited_from_a_base_class_in_another_module() -> None:
    root = FIXTURES / "swap_pkg"
    child = root / "child.py"
    source = child.read_text(encoding="utf-8")
    index = ProjectIndex(SWAP_ONLY, [FIXTURES])
    found = check_source(source, str(child), SWAP_ONLY, index)
    assert {(d.start.row, d.code) for d in found} == expected_markers(source)
    (finding,) = found
    assert "`_pin_session_affinity_header`" in finding.message
    assert "base.py:9" in finding.message  # where the base class applies it
    fixed = fix_source(source, str(child), SWAP_ONLY, index=index)
    assert "self._pin_session_affinity_header(llm)\n        self._pin_prompt_cache_key()" in fixed.source
    assert not check_source(fixed.source, str(child), SWAP_ONLY, index)


def test_a_base_class_that_cannot_be_found_gives_no_finding(tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text((FIXTURES / "swap_pkg" / "child.py").read_text(encoding="utf-8")
                     .replace("from .base import", "from elsewhere import"), encoding="utf-8")
    assert not check_source(child.read_text(), str(child), SWAP_ONLY, ProjectIndex(SWAP_ONLY))


# ---------------------------------------------------------------------------- messages and fixes
def test_message_names_each_missing_pin_and_where_it_is_applied() -> None:
    path = FIXTURES / "rules" / "LLA002_paths.py"
    found = {d.start.row: d for d in check_source(path.read_text(), str(path), SWAP_ONLY)}
    both = found[101]  # switch_condenser: neither pin
    assert "`_pin_prompt_cache_key` (applied in `__init__`, LLA002_paths.py:12)" in both.message
    assert "`_pin_session_affinity_header` (applied in `_ensure_agent_ready`, LLA002_paths.py:16)" in both.message
    assert "rebuilds `condenser`" in both.message


def test_fix_is_unsafe_when_the_pin_is_already_applied_on_some_paths() -> None:
    path = FIXTURES / "rules" / "LLA002_paths.py"
    found = {d.start.row: d for d in check_source(path.read_text(), str(path), SWAP_ONLY)}
    assert found[31].fix.applicability is Applicability.SAFE  # straight line: one place
    assert found[35].fix.applicability is Applicability.UNSAFE  # early return, pins later
    assert found[59].fix.applicability is Applicability.UNSAFE  # conditional update dict
    safe_only = fix_source(path.read_text(), str(path), SWAP_ONLY)
    left = " ".join(d.message for d in safe_only.remaining)
    assert "`switch_with_early_return`" in left and "`switch_conditional_update`" in left
    assert "end of `switch_llm`" not in left


def test_no_fix_when_the_helper_returns_a_pinned_copy() -> None:
    source = '''\
class Conversation:
    def __init__(self, agent):
        self.agent = agent
        self.agent.llm = self._bind_conversation_context(agent.llm)

    def _bind_conversation_context(self, llm):
        pinned = llm.model_copy()
        pinned._prompt_cache_key = str(self.id)
        return pinned

    def switch_llm(self, llm):
        self.agent.llm = llm  # LLA002
'''
    (finding,) = check_source(source, "conv.py", SWAP_ONLY)
    assert finding.code == "LLA002" and finding.fix is None


def test_lla007_fix_is_unsafe_for_a_call_expression_and_safe_for_a_parameter() -> None:
    path = FIXTURES / "rules" / "LLA007_derived_calls.py"
    found = {d.start.row: d for d in check_source(path.read_text(), str(path), SWAP_ONLY)}
    assert found[16].fix.applicability is Applicability.SAFE
    assert "call_context=call_context, " == found[16].fix.edits[0].content
    assert found[81].fix.applicability is Applicability.UNSAFE


# ---------------------------------------------------------------------------- the sample SDK
SAMPLE = FIXTURES / "sample_sdk"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample SDK fixture not present")
def test_sample_sdk_yields_exactly_its_planted_swap_markers() -> None:
    index = ProjectIndex(SWAP_ONLY, [SAMPLE])
    expected: set[tuple[str, int, str]] = set()
    actual: set[tuple[str, int, str]] = set()
    for path in sorted(SAMPLE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(SAMPLE).as_posix()
        expected |= {(rel, row, code) for row, code in expected_markers(source) if code in SWAP_CODES}
        actual |= {(rel, d.start.row, d.code) for d in check_source(source, str(path), SWAP_ONLY, index)}
    assert expected, "the sample SDK plants swap defects"
    assert actual == expected


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample SDK fixture not present")
def test_sample_sdk_swap_fixes_recheck_clean(tmp_path: Path) -> None:
    import shutil

    copy_root = tmp_path / "sample_sdk"
    shutil.copytree(SAMPLE, copy_root)
    index = ProjectIndex(SWAP_ONLY, [copy_root])
    for path in sorted(copy_root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        result = fix_source(source, str(path), SWAP_ONLY, unsafe=True, index=index)
        assert result.error is None
        if result.fixed:
            assert not result.remaining, [d.message for d in result.remaining]
            again = fix_source(result.source, str(path), SWAP_ONLY, unsafe=True, index=index)
            assert again.source == result.source and not again.fixed


# ---------------------------------------------------------------------------- silence at scale
def _python_files(root: Path, skip: str | None = None) -> list[Path]:
    return [p for p in sorted(root.rglob("*.py")) if skip is None or skip not in p.parts]


def test_no_swap_findings_over_the_standard_library() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = _python_files(stdlib, skip="site-packages")
    assert len(files) > 500
    index = ProjectIndex(SWAP_ONLY)
    started = time.perf_counter()
    findings = []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        findings += [d for d in check_source(source, str(path), SWAP_ONLY, index)
                     if d.code in SWAP_CODES]
    elapsed = time.perf_counter() - started
    assert findings == [], [f"{d.path}:{d.start.row} {d.code}" for d in findings[:10]]
    assert elapsed < 120


def test_no_swap_findings_over_our_own_source() -> None:
    package = HERE.parent / "lint_rules"
    index = ProjectIndex(SWAP_ONLY, [HERE.parent])
    for path in _python_files(package):
        found = check_source(path.read_text(encoding="utf-8"), str(path), SWAP_ONLY, index)
        assert [d for d in found if d.code in SWAP_CODES] == [], path


def test_trigger_tokens_are_a_necessary_condition() -> None:
    """Files the prefilter skips give no swap finding when they are checked anyway. The sample
    is the hardest kind: standard-library files that contain the bare substring `llm`
    (`smallmap`, `callmethod`) but none of the rule's tokens."""
    from lint_rules.engine import check_text, may_have_findings

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sample = []
    for path in _python_files(stdlib, skip="site-packages"):
        try:
            if path.stat().st_size > 40_000:
                continue
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "llm" in source and not may_have_findings(source, SWAP_ONLY, tuple(sorted(SWAP_CODES))):
            sample.append((path, source))
    assert len(sample) >= 5
    for path, source in sample:
        found = check_text(source, str(path), SWAP_ONLY, ProjectIndex(SWAP_ONLY), prefilter=False)
        assert [d for d in found if d.code in SWAP_CODES] == [], path
    # every fixture with a finding passes the prefilter
    for fixture in sorted((FIXTURES / "rules").glob("LLA00[27]_*.py")):
        assert may_have_findings(fixture.read_text(), SWAP_ONLY, tuple(sorted(SWAP_CODES)))


# ---------------------------------------------------------------------------- odd shapes
_PINNING_CLASS = '''\
class C(Base, metaclass=Meta):
    def __init__(self, agent):
        self.agent = agent
        self._pin_prompt_cache_key()

    def _pin_prompt_cache_key(self):
        for llm in self.agent.get_all_llms():
            llm._prompt_cache_key = str(self.id)

'''
_ODD_METHODS = [
    "    @staticmethod\n    def s(llm):\n        x.agent = x.agent.model_copy(update={'llm': llm})\n",
    "    @classmethod\n    def c(cls, llm):\n        cls.agent = Agent(llm=llm)\n",
    "    def no_params():\n        self.agent.llm = llm\n",
    "    def one_liner(self, llm):\n        if llm: self.agent.llm = llm\n",
    "    def semicolons(self, llm):\n        self.agent.llm = llm; self.x = 1\n",
    "    async def a(self, llm):\n        async with lock:\n            self.agent.llm = llm\n        async for _ in it:\n            await self.agent.llm.acompletion(m, call_context=c)\n",
    "    def nested(self, llm):\n        class Inner:\n            def f(self):\n                self.agent.llm = llm\n        return lambda: setattr(self.agent, 'llm', llm)\n",
    "    def walrus(self, llm):\n        if (new := llm.model_copy()):\n            self.agent = self.agent.model_copy(update={**base, 'llm': new})\n",
    "    def star(self, *llms, **kw):\n        self.agent = self.agent.model_copy(update=dict(llm=llms[0], **kw))\n",
    "    def update_twice(self, llm):\n        update = {}\n        update.update({'llm': llm})\n        update.setdefault('llm', llm)\n        self.agent = self.agent.model_copy(update=update)\n",
    "    def try_star(self, llm):\n        try:\n            self.agent.llm = llm\n        except* ValueError:\n            pass\n",
    "    def deep_loops(self, llm):\n        while True:\n            for a in b:\n                self.agent.llm = llm\n                continue\n            else:\n                break\n",
    "    def ctx(self, m):\n        self.llm.completion(m, call_context=self.c)\n        (self.llm).completion(m)\n        self.llm.completion()\n        f()(m).completion(m)\n",
]


@pytest.mark.parametrize("method", _ODD_METHODS, ids=range(len(_ODD_METHODS)))
def test_odd_shapes_never_crash_and_fixes_converge(method: str) -> None:
    source = _PINNING_CLASS + method
    found = check_source(source, "odd.py", SWAP_ONLY)
    assert all(d.code in SWAP_CODES for d in found)
    result = fix_source(source, "odd.py", SWAP_ONLY, unsafe=True)
    assert result.error is None
    if result.fixed:
        assert not [d for d in result.remaining if d.fix is not None]
        cst.parse_module(result.source)


def test_a_pin_inside_try_with_handlers_counts_for_the_statements_after_the_install() -> None:
    body = ("    try:\n        install()\n        work()\n        pin_a()\n"
            "    except E:\n        pass\n")
    assert _guaranteed(body) == frozenset()  # work() may fail into the handler: no pin there
    body = "    try:\n        install()\n        pin_a()\n    except E:\n        pass\n"
    assert _guaranteed(body) == frozenset({"a"})  # right after the install: the fix's place


def test_dominating_statements() -> None:
    from lint_rules.analysis.every_path import dominating_statements

    module = cst.parse_module(
        "def f():\n    a()\n    if c:\n        b()\n    else:\n        d(); install()\n    e()\n")
    fn = module.body[0]
    target = fn.body.body[1].orelse.body.body[0].body[1]
    names = [module.code_for_node(s).strip().rstrip(";") for s in dominating_statements(fn.body, target)]
    assert names == ["a()", "d()"]


def test_a_method_hidden_in_an_unresolvable_grand_base_may_pin(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    base = (FIXTURES / "swap_pkg" / "base.py").read_text(encoding="utf-8")
    (package / "base.py").write_text("from vendor.sdk import VendorConversation\n\n\n" + base.replace(
        "class BaseConversation:", "class BaseConversation(VendorConversation):"), encoding="utf-8")
    child = package / "child.py"
    child.write_text(
        "from .base import BaseConversation\n\n\n"
        "class C(BaseConversation):\n"
        "    def switch_llm(self, llm):\n"
        "        self.agent.llm = llm\n"
        "        self.vendor_repin(llm)\n", encoding="utf-8")
    index = ProjectIndex(SWAP_ONLY, [tmp_path])
    assert not check_source(child.read_text(), str(child), SWAP_ONLY, index)
    # with the vendor base gone, the unknown call pins nothing and the swap is reported
    (package / "base.py").write_text(base, encoding="utf-8")
    found = check_source(child.read_text(), str(child), SWAP_ONLY, ProjectIndex(SWAP_ONLY, [tmp_path]))
    assert [d.code for d in found] == ["LLA002"]
