"""The byte prefilter never changes findings: same diagnostics with and without it."""

from __future__ import annotations

import ast
import re
import sysconfig
import textwrap
from pathlib import Path

import pytest
from markers import config_for, options_of

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.analysis.stale_guards import stale_guards
from lint_rules.core.config import Config
from lint_rules.core.source import SourceDecodeError, decode_source
from lint_rules.engine import _token_filter, check_text, may_have_findings, rules_that_may_fire
from lint_rules.rules import all_rules
from lint_rules.rules.lla001_scope_leak_write import ScopeLeakWrite

HERE = Path(__file__).parent
FIXTURES = sorted(p for p in (HERE / "fixtures" / "rules").glob("*.py"))
SAMPLE_SDK = sorted((HERE / "fixtures" / "sample_sdk").rglob("*.py"))


def stdlib_sample(step: int = 23) -> list[Path]:
    """Every `step`-th stdlib file, plus every file holding a trigger token of the default rules
    among the first 400 (those are the ones the prefilter lets through)."""
    import os

    root = Path(sysconfig.get_paths()["stdlib"])
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__"))
        files.extend(Path(folder, n) for n in sorted(names) if n.endswith(".py"))
    return files[::step]


def same_with_and_without_prefilter(source: str, path: str, config: Config) -> None:
    with_it = check_text(source, path, config, ProjectIndex(config), prefilter=True)
    without = check_text(source, path, config, ProjectIndex(config), prefilter=False)
    assert [_full(d) for d in with_it] == [_full(d) for d in without]


def _full(d):
    return (d.code, d.start, d.end, d.message, d.fix)


@pytest.mark.parametrize("path", FIXTURES + SAMPLE_SDK,
                         ids=[str(p.relative_to(HERE / "fixtures")) for p in FIXTURES + SAMPLE_SDK])
def test_fixtures_same_findings_with_and_without_prefilter(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    same_with_and_without_prefilter(source, str(path), config_for(options_of(source)))


EXAMPLES = [(rule, example) for rule in all_rules()
            for example in (*rule.bad_examples, *rule.good_examples)]


@pytest.mark.parametrize("rule,example", EXAMPLES,
                         ids=[f"{r.code}-{i}" for i, (r, _) in enumerate(EXAMPLES)])
def test_rule_examples_same_findings_with_and_without_prefilter(rule, example) -> None:
    config = config_for(example.options)
    same_with_and_without_prefilter(example.code, example.path, config)


@pytest.mark.parametrize("rule", all_rules(), ids=[r.code for r in all_rules()])
def test_every_bad_example_passes_its_own_rules_prefilter(rule) -> None:
    # The tokens are a necessary condition: a file the rule reports on must hold one of them.
    for example in rule.bad_examples:
        config = config_for(example.options)
        assert may_have_findings(example.code, config, (rule.code,)), example.title


@pytest.mark.slow
def test_stdlib_sample_same_findings_with_and_without_prefilter() -> None:
    config = Config()
    checked = 0
    for path in stdlib_sample():
        try:
            source = decode_source(path.read_bytes()).text
        except (OSError, SourceDecodeError):
            continue
        same_with_and_without_prefilter(source, str(path), config)
        checked += 1
    assert checked > 50


def test_prefilter_follows_the_enabled_rules_and_their_tokens(monkeypatch) -> None:
    config = Config()
    codes = tuple(r.code for r in all_rules())
    assert not may_have_findings("x = 1\n", config, codes)
    assert not may_have_findings("anything at all\n", config, ())  # no rule enabled
    # A rule that may fire anywhere (no tokens) turns the prefilter off for its files.
    rule = all_rules()[0]
    monkeypatch.setattr(rule, "trigger_tokens", classmethod(lambda cls, cfg: ()))
    _token_filter.cache_clear()
    try:
        assert may_have_findings("x = 1\n", config, (rule.code,))
    finally:
        monkeypatch.undo()
        _token_filter.cache_clear()


def test_syntax_errors_are_found_whether_or_not_the_file_is_parsed() -> None:
    config = Config()
    broken_plain = "def f(:\n    pass\n"
    broken_candidate = "import os\nos.environ['X'] = (\n"
    for source in (broken_plain, broken_candidate):
        found = check_text(source, "broken.py", config, ProjectIndex(config))
        assert [d.code for d in found] == ["LLA000"]
        same_with_and_without_prefilter(source, "broken.py", config)


@pytest.mark.parametrize("tokens", [
    ["llm"], [" llm", "(llm", "llm=", "'llm'", "LLM", "get_llm"], ["token", "api_token", "access_token"],
    ["self.id", "self.state.id", "state.id", "x-litellm-session-id", "session_id"], [],
    ["a.b", "a", "b.c", "\\x", "x\\"],
])
def test_token_filter_is_exactly_any_token_in_source(tokens) -> None:
    from lint_rules.analysis.token_filter import TokenFilter

    token_filter = TokenFilter(tokens)
    alphabet = ["llm", "LLM", " ", "(", "=", "'", "get_", "token", "api_", "self.", "state",
                ".id", "session_id", "x-litellm-", "a", ".", "b", "c", "\\", "x", "\n"]
    import random

    rng = random.Random(8)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        assert token_filter.search(text) == any(t in text for t in tokens), (tokens, text)


def test_child_nodes_keep_every_semantic_child_of_libcst_children() -> None:
    import libcst as cst

    from lint_rules.syntax.tree import child_nodes

    semantic = (cst.BaseExpression, cst.BaseStatement, cst.BaseSmallStatement, cst.BaseSuite,
                cst.Arg, cst.Param, cst.Parameters, cst.Decorator, cst.ExceptHandler,
                cst.WithItem, cst.ImportAlias, cst.Element, cst.DictElement, cst.CompFor,
                cst.Annotation, cst.AssignTarget, cst.Index, cst.Slice, cst.SubscriptElement,
                cst.MatchCase, cst.Else, cst.Finally, cst.AsName, cst.NameItem)
    files = [HERE.parent / "lint_rules" / "engine.py", *SAMPLE_SDK]
    source = "\n".join(p.read_text(encoding="utf-8") for p in files)
    source += "\nmatch x:\n    case [1, *r] if r: pass\n    case _: pass\nf(*a, k=1, **kw)\nx[1:2, 3]\n"
    stack = [cst.parse_module(source)]
    seen = 0
    while stack:
        node = stack.pop()
        fast = child_nodes(node)
        full = node.children
        assert {id(c) for c in fast} <= {id(c) for c in full}
        missing = [c for c in full if isinstance(c, semantic) and all(c is not f for f in fast)]
        assert not missing, (type(node).__name__, [type(m).__name__ for m in missing])
        stack.extend(full)
        seen += 1
    assert seen > 1000


_HOP_CALLEES = {
    "module constant": 'KEY = "x-litellm-session-id"\n\n\ndef stamp(target, sid):\n'
                       '    target.extra_headers[KEY] = sid\n',
    "scoped attribute": "def stamp(target, sid):\n    target._prompt_cache_key = sid\n",
    "local chain": 'def _inner(target, session_id):\n    target.extra_headers["X-LiteLLM-Session-Id"]'
                   ' = session_id\n\n\ndef stamp(target, sid):\n    _inner(target, sid)\n',
    "update call": 'def stamp(target, session_id):\n    log.info("pin")\n'
                   '    target.extra_headers.update({"x-litellm-session-id": session_id})\n',
    "setattr": 'def stamp(target, sid):\n    setattr(target, "_prompt_cache_key", sid)\n',
    "merge into an alias": 'def stamp(target, session_id):\n    headers = target.extra_headers\n'
                           '    headers |= {"x-litellm-session-id": session_id}\n',
}


@pytest.mark.parametrize("callee", sorted(_HOP_CALLEES))
@pytest.mark.parametrize("import_line,call", [
    ("from pkg.pins import stamp as pin_it", "pin_it"),
    ("from pkg import pins", "pins.stamp"),
])
def test_ast_stage_keeps_call_hops_into_other_modules(tmp_path, callee, import_line, call) -> None:
    """A caller without any scoped source of its own, whose only finding is a call hop into a
    writing callee of another module (found through the project's writers, rule_stages.py)."""
    source = f"{import_line}\n\n\ndef start(agent, token):\n    {call}(agent.llm, token)\n"
    found = _with_and_without_prefilter(tmp_path, ("pins.py", _HOP_CALLEES[callee]), source)
    assert found[True] == found[False]
    assert found[False] == [("LLA001", 5)]


def _with_and_without_prefilter(tmp_path, module: tuple[str, str], source: str) -> dict:
    """Findings (code, line) of `pkg/app.py` holding `source`, beside `pkg/<module>`, with the
    prefilter (True) and without (False)."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / module[0]).write_text(module[1])
    app = tmp_path / "pkg" / "app.py"
    app.write_text(source)
    config = Config()
    return {pf: [(d.code, d.start.row) for d in check_text(
        source, str(app), config, ProjectIndex(config, [tmp_path]), prefilter=pf)]
        for pf in (True, False)}


def test_audit_script_finds_no_hidden_finding_in_the_fixtures(capsys) -> None:
    """`benchmarks/prefilter_audit.py` on the fixtures (default settings): no rule that reports
    in a file without the prefilter is skipped there by its stages, and findings are equal."""
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "prefilter_audit.py"
    spec = importlib.util.spec_from_file_location("prefilter_audit", script)
    assert spec is not None and spec.loader is not None
    audit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(audit)
    fixtures = Path(__file__).resolve().parent / "fixtures" / "rules"
    status = audit.audit_findings([fixtures], Config())
    out = capsys.readouterr().out
    assert "HIDDEN" not in out and "DIFFERENT" not in out
    assert status == 0
    assert " 0 with different findings" in out


_BASE_MODULE = ('class Base:\n    def stamp(self, target, sid):\n'
                '        target._prompt_cache_key = sid\n\n\n'
                'class Other:\n    def stamp(self, target, sid):\n        return None\n')


@pytest.mark.parametrize("bases", ["Base", "make(Mixin), Base", "Mixin[\"x\"], Base"])
def test_inherited_method_hop_through_a_remote_base(tmp_path, bases) -> None:
    """`self.stamp(llm, token)` runs a writing method of a base class in another module, listed
    after a base spelled with a call or subscript: the stage and the call hops' gate
    (`Writers.may_write_method`) find it, with and without the prefilter."""
    source = ("from pkg.base import Base, make, Mixin\n\n\n"
              f"class App({bases}):\n    def start(self, agent, token):\n"
              "        self.stamp(agent.llm, token)\n")
    found = _with_and_without_prefilter(tmp_path, ("base.py", _BASE_MODULE), source)
    assert found[True] == found[False]
    assert found[False] == [("LLA001", 6)]


def test_method_gate_needs_a_writing_method_among_the_ancestors(tmp_path) -> None:
    """A method named like a writer, but of a class that no ancestor chain reaches, is not one."""
    from lint_rules.analysis.rule_stages import collect_writers

    files = [("base.py", _BASE_MODULE),
             ("sub.py", "from base import Base as Renamed\n\n\nclass Sub(Renamed):\n    pass\n")]
    writers = collect_writers(files, Config())
    assert writers.may_write_method("stamp", ["Base"])
    assert writers.may_write_method("stamp", ["Sub"])  # through the `as` alias
    assert not writers.may_write_method("stamp", ["Other"])
    assert not writers.may_write_method("stamp", ["BaseModel"])
    assert not writers.may_write_method("start", ["Base"])


def test_a_callee_whose_calls_write_nothing_in_place_is_no_writer() -> None:
    """Only the write finder's shapes (`write_shapes`: stores, `setattr`, `update`,
    `setdefault`, `|=`) make a function a writer: a scoped function that merely calls methods
    on its parameters (`target.run(session_id)`) writes nothing onto them."""
    from lint_rules.analysis.rule_stages import collect_writers

    calls_only = ("def run(target, session_id):\n    target.start(session_id)\n"
                  "    log.info(session_id)\n    return target.get(session_id)\n")
    writes = calls_only + "\n\ndef pin(target, session_id):\n    target.d.update(s=session_id)\n"
    assert not collect_writers([("m.py", calls_only)], Config()).may_write(["run"])
    writers = collect_writers([("m.py", writes)], Config())
    assert writers.may_write(["pin"]) and not writers.may_write(["run"])


def test_writers_read_a_scanned_text_again_and_distrust_a_changed_one(tmp_path,
                                                                       monkeypatch) -> None:
    """`Writers` keeps a scanned module's digest, not its text (the texts cost each worker about
    25 MB on SDK code): it reads the file again to parse it. A file changed since the scan makes
    every definition in it a possible writer, of any class, and that guess is not kept."""
    from lint_rules.analysis import rule_stages, text_facts
    from lint_rules.core.source import content_digest

    quiet = 'KEY = "x-litellm-session-id"\n\n\ndef get(self):\n    return KEY\n'
    path = tmp_path / "m.py"
    path.write_text(quiet)
    scan = rule_stages.scan_module(str(path), quiet, Config(), content_digest(path.read_bytes()))
    assert scan.digest is not None
    monkeypatch.setattr(rule_stages, "MEMO", text_facts.FactMemo())
    assert not rule_stages.writers_from_scans([scan], Config()).may_write(["get"])

    monkeypatch.setattr(rule_stages, "MEMO", text_facts.FactMemo())
    path.write_text(quiet + "\n\ndef put(self, target):\n    target.d.update(k=KEY)\n")
    changed = rule_stages.writers_from_scans([scan], Config())
    assert changed.may_write(["get"])
    assert changed.may_write_method("get", ["AnyClass"])
    path.write_text(quiet)  # the scanned text again: parsed, not the guess
    assert not rule_stages.writers_from_scans([scan], Config()).may_write(["get"])


def test_writers_answer_may_write_past_the_parse_budget(monkeypatch) -> None:
    """A name defined in more candidate modules than one question may parse is "may write"
    without parsing them (the stage then lets the file through: sound); under the budget the
    modules are parsed and a name no module writes with is "no"."""
    from lint_rules.analysis import rule_stages, text_facts

    quiet = 'KEY = "x-litellm-session-id"\n\n\ndef get(self):\n    return KEY\n'
    files = [(f"m{i}.py", quiet) for i in range(rule_stages.PARSE_PER_QUESTION + 1)]
    parsed: list[str] = []
    real = rule_stages._parse_writers
    monkeypatch.setattr(rule_stages, "MEMO", text_facts.FactMemo())
    monkeypatch.setattr(rule_stages, "_parse_writers",
                        lambda text, config: parsed.append(text) or real(text, config))
    assert rule_stages.collect_writers(files, Config()).may_write(["get"])
    assert parsed == []
    few = files[:rule_stages.PARSE_PER_QUESTION]
    assert not rule_stages.collect_writers(few, Config()).may_write(["get"])
    assert len(parsed) == 1  # the same text is parsed once for every module that holds it


SIBLINGS = '''
class Conversations:
    def fork(self):
        return Session(parent=self, call_context=self.call_context)

    def fresh(self):
        return {second}
'''


@pytest.mark.parametrize("second, reported", [
    ("Session(parent=self)", True),   # the sibling without the context: LLA008
    ("Other(parent=self)", False),    # one call of each callee: nothing to compare
])
def test_lla008_stage_needs_two_calls_of_one_callee_one_with_a_scoped_keyword(second, reported) -> None:
    """The stage passes a file only when some dotted callee is called twice and one call has a
    keyword holding a scoped fragment; the rule's findings are the same with and without it."""
    source = SIBLINGS.format(second=second)
    config = Config()
    assert may_have_findings(source, config, ("LLA008",))  # the tokens let both through
    passed = [r.code for r in rules_that_may_fire(source, config, ("LLA008",))]
    assert passed == (["LLA008"] if reported else [])
    for prefilter in (True, False):
        found = [d.code for d in check_text(source, "m.py", config, prefilter=prefilter)]
        assert found == (["LLA008"] if reported else [])


# ---------------------------------------------------------------- issue 16: stage gates
_SETTER = "import os\n\n\ndef use_key(value):\n    os.environ['OPENAI_API_KEY'] = value\n"
_QUIET = "def use_key(value):\n    seen = value\n    return seen\n"


@pytest.mark.parametrize("module, import_line, call, stores", [
    (_SETTER, "from pkg.setters import use_key", "use_key", True),
    (_SETTER, "from .setters import use_key", "use_key", True),  # relative import
    (_SETTER, "from pkg import setters", "setters.use_key", True),
    (_QUIET, "from pkg.setters import use_key", "use_key", False),  # a local, not a sink
    # a re-export, followed one step as the libcst hop follows it
    (_SETTER, "from pkg.facade import use_key", "use_key", True),
    (_QUIET, "from pkg.facade import use_key", "use_key", False),
])
def test_lla005_stage_asks_the_index_whether_the_imported_callee_stores(
        tmp_path, module, import_line, call, stores) -> None:
    """LLA005's hop across modules: the stage lets a caller with tenant data through only when
    the imported function may store its parameter into process-global state (the project
    index, on `ast`); the findings are the same with and without the stages."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "setters.py").write_text(module)
    (tmp_path / "pkg" / "facade.py").write_text("from .setters import use_key\n")
    source = (f"{import_line}\n\n\nclass Agent:\n    def start(self):\n"
              f"        {call}(self.tenant_api_key)\n")
    app = tmp_path / "pkg" / "app.py"
    app.write_text(source)
    config = Config()
    passed = rules_that_may_fire(source, config, ("LLA005",), path=str(app),
                                 index=ProjectIndex(config, [tmp_path]))
    assert [r.code for r in passed] == (["LLA005"] if stores else [])
    found = {pf: [(d.code, d.start.row) for d in check_text(
        source, str(app), config, ProjectIndex(config, [tmp_path]), prefilter=pf)]
        for pf in (True, False)}
    assert found[True] == found[False] == ([("LLA005", 6)] if stores else [])


def test_stage_calls_are_the_callees_a_call_hop_can_resolve() -> None:
    """`AstFacts.calls` names what `EffectSummaries._target` may resolve: plain names, methods
    of the first parameter or of an annotated parameter, and names reached through an import;
    a method of a local or of an attribute chain never resolves."""
    from lint_rules.analysis.rule_stages import gather

    source = ("import pkg.mod\nfrom pkg import tools as t\n\n\n"
              "class A:\n    def run(self, llm: LLM, other):\n"
              "        self.own(llm)\n        llm.typed(1)\n        other.untyped(1)\n"
              "        kwargs = {}\n        kwargs.update(a=1)\n        self.x.deep(llm)\n"
              "        pkg.mod.remote(llm)\n        t.aliased(llm)\n        plain(llm)\n"
              "        self.bare()\n")
    calls = gather(ast.parse(source)).calls
    assert calls == {"own", "typed", "remote", "aliased", "plain"}


def test_function_facts_match_a_walk_of_each_function(tmp_path) -> None:
    """`function_facts` (one walk of the module) gives every function what `gather` of that
    function gives, nested code included; calls may only be more (the module's imports and
    receivers count for every function). `split_facts` gives the module's `gather` too."""
    from lint_rules.analysis.rule_stages import function_facts, gather, split_facts

    checked = 0
    for path in FIXTURES + SAMPLE_SDK:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined, strings = function_facts(tree)
        assert strings == gather(tree).strings
        assert split_facts(tree)[0] == gather(tree), path
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        assert sorted(id(n) for n, _, _ in defined) == sorted(id(n) for n in functions)
        for node, _owner, facts in defined:
            alone = gather(node)
            assert (facts.strings, facts.identifiers, facts.chains, facts.mutates, facts.stores) == (
                alone.strings, alone.identifiers, alone.chains, alone.mutates, alone.stores), node.name
            assert facts.calls >= alone.calls, node.name
            checked += 1
    assert checked > 300


def test_python_modules_lists_what_a_dotted_name_can_reach(tmp_path) -> None:
    """`.py` files with identifier names (a symlink to one too), in folders with identifier
    names, not through a symlinked folder (a cycle, or another tree), sorted."""
    from lint_rules.core.module_files import python_modules

    for rel in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "pkg/my-mod.py", "my-dir/c.py",
                "top.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    (tmp_path / "pkg" / "folder.py").mkdir()
    (tmp_path / "pkg" / "linked.py").symlink_to(tmp_path / "top.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "pkg" / "dangling.py").symlink_to(tmp_path / "gone.py")
    assert python_modules((tmp_path,), 100) == [tmp_path / rel for rel in (
        "pkg/__init__.py", "pkg/a.py", "pkg/linked.py", "pkg/sub/b.py", "top.py")]
    assert python_modules((tmp_path,), 4) is None


def test_module_listings_list_what_python_modules_lists(tmp_path) -> None:
    """One walk per folder for every set of search folders of a run gives the files
    `python_modules` gives for that set: nested folders, a folder already listed by another
    base, a folder whose name is no identifier (reachable only as a base of its own)."""
    from lint_rules.core.module_files import ModuleListings, python_modules

    for rel in ("pkg/__init__.py", "pkg/a.py", "pkg/ns/b.py", "pkg/ns/deep/c.py",
                "my-scripts/run.py", "my-scripts/inner/d.py", "top.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    listings = ModuleListings()
    sets = [(tmp_path,), (tmp_path / "pkg" / "ns", tmp_path),
            (tmp_path / "my-scripts", tmp_path), (tmp_path / "pkg", tmp_path / "pkg" / "ns")]
    for bases in sets:
        assert listings.modules(bases) == python_modules(bases, 20_000), bases
    assert tmp_path / "my-scripts" / "run.py" in listings.modules(sets[2])
    assert tmp_path / "my-scripts" / "run.py" not in listings.modules(sets[0])
    assert ModuleListings(limit=3).modules((tmp_path,)) is None


def test_module_listings_keep_the_stat_fields_the_index_reads(tmp_path) -> None:
    """A run keeps one stat per module it looked at: the fields the index reads, with
    `os.stat`'s values and names; a path that cannot be stat'ed is None, asked once."""
    import os
    import stat

    from lint_rules.core.module_files import ModuleListings

    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    listings = ModuleListings()
    kept, real = listings.stat(module), os.stat(module)
    assert kept is not None and stat.S_ISREG(kept.st_mode) and not stat.S_ISREG(
        listings.stat(tmp_path).st_mode)
    assert (kept.st_mtime_ns, kept.st_ctime_ns, kept.st_size) == (
        real.st_mtime_ns, real.st_ctime_ns, real.st_size)
    module.write_text("x = 2  # longer\n")
    assert listings.stat(module) is kept  # one state of the disk per run
    assert listings.stat(tmp_path / "gone.py") is None


def test_search_folders_that_list_the_same_modules_share_one_writers(tmp_path, monkeypatch) -> None:
    """A file in a folder without `__init__.py` searches that folder and the project's (414
    such sets in litellm): the writers are read off the modules, so every set listing the
    same modules gets the same writers, built once."""
    from lint_rules.analysis import project_index

    (tmp_path / "tools").mkdir()
    (tmp_path / "hooks").mkdir()
    pin, use = tmp_path / "tools" / "pin.py", tmp_path / "hooks" / "use.py"
    pin.write_text("def pin(llm, session_id):\n"
                   "    llm.extra_headers['x-litellm-session-id'] = session_id\n")
    use.write_text("from tools.pin import pin\n")
    built = []
    real = project_index.writers_from_scans
    monkeypatch.setattr(project_index, "writers_from_scans",
                        lambda scans, config: built.append(1) or real(scans, config))
    monkeypatch.setattr(project_index, "_WRITERS_MEMO", {})
    index = ProjectIndex(Config(), [tmp_path])
    assert index.writers_bases(pin) != index.writers_bases(use)
    first, second = index.writers(pin), index.writers(use)
    assert first is second and first is not None and first.may_write(["pin"])
    assert built == [1]


# ---------------------------------------------------------------- per-function scope stages
_SCOPE_RULES = ("LLA001", "LLA003", "LLA006")
# Each is a real finding whose write (or guard) has its scoped value, its LLM and its store in
# one function, but reaches one of them only through something outside that function.
SCOPE_FINDINGS = {
    "the LLM dict comes from another method of the class": """\
        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def headers(self):
                return {"h": self.agent.llm.extra_headers}

            def restore(self, key):
                self.headers()["h"][key] = str(self.id)
        """,
    "the header key is a module constant": """\
        SESSION = "x-litellm-session-id"

        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def restore(self, sid):
                self.agent.llm.extra_headers[SESSION] = sid
        """,
    "the LLM is a typed field of the class": """\
        from agentsdk.llm import LLM

        class Conversation:
            brain: LLM

            def restore(self):
                self.brain._prompt_cache_key = str(self.id)
        """,
    "a guard keeps the value of the agent's LLM": """\
        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def pin(self):
                headers = self.agent.llm.extra_headers
                if "x-litellm-session-id" not in headers:
                    headers["x-litellm-session-id"] = str(self.id)
        """,
    "a helper pins what a caller of another method hands it": """\
        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def _pin_session_affinity_header(self, llm):
                llm.extra_headers["x-litellm-session-id"] = str(self.id)

            def start(self):
                self._pin_session_affinity_header(self.agent.llm)
        """,
    "a function without a scoped source hands the LLM to one that writes": """\
        def stamp(target, session_id):
            target.extra_headers["x-litellm-session-id"] = session_id

        class Conversation:
            def __init__(self, agent, sid):
                self.agent = agent
                self.sid = sid

            def start(self):
                stamp(self.agent.llm, self.sid)
        """,
}


@pytest.mark.parametrize("name", list(SCOPE_FINDINGS))
def test_scope_stages_pass_each_finding_whose_parts_are_spread_over_the_file(name) -> None:
    source = textwrap.dedent(SCOPE_FINDINGS[name])
    config = Config()
    found = {d.code for d in check_text(source, "m.py", config, ProjectIndex(config),
                                        prefilter=False)}
    assert found & set(_SCOPE_RULES), "the case must be a real finding"
    passing = {r.code for r in rules_that_may_fire(source, config, _SCOPE_RULES, path="m.py",
                                                    index=ProjectIndex(config))}
    assert found & set(_SCOPE_RULES) <= passing
    same_with_and_without_prefilter(source, "m.py", config)


# A scoped source, a store and an LLM in one file, never all three in one function.
SCOPE_HARMLESS = {
    "the scoped value is stored on a tracker, not near the LLM": """\
        from agentsdk.llm import LLM

        def make():
            return LLM(model="m")

        class Tracker:
            def record(self, run_id):
                self.runs[run_id] = 1
        """,
    "the LLM is configured in one function, the id logged in another": """\
        from agentsdk.llm import LLM

        def configure(llm: LLM):
            llm.temperature = 0

        class Conversation:
            def describe(self):
                print(self.id)
        """,
}


@pytest.mark.parametrize("name", list(SCOPE_HARMLESS))
def test_scope_stages_reject_a_file_whose_write_and_llm_are_apart(name) -> None:
    source = textwrap.dedent(SCOPE_HARMLESS[name])
    config = Config()
    # Stage one lets it through, and the file holds a scoped source (the stages before were
    # file-wide: they let it through too).
    assert may_have_findings(source, config, _SCOPE_RULES)
    assert StageInput(ast.parse(source), source, config).scoped()
    assert rules_that_may_fire(source, config, _SCOPE_RULES, path="m.py",
                               index=ProjectIndex(config)) == ()
    assert check_text(source, "m.py", config, ProjectIndex(config), prefilter=False) == []


# A callee of another module that writes a scoped value onto its parameter: onto the parameter
# itself (only a caller that knows the argument is an LLM hands it one), or onto an LLM it
# reaches from the parameter, which its own file reports (a public function's parameter is
# borrowed) unless it is a private method's (fed by its callers: `onto_llm`, any caller may
# hand it a borrowed object).
_ONTO_PARAMETER = """\
class Pinner:
    def _stamp(self, target, sid):
        target.extra_headers['x-litellm-session-id'] = sid
"""
_ONTO_ITS_LLM_REPORTED = """\
class Pinner:
    def stamp(self, agent, sid):
        agent.llm.extra_headers['x-litellm-session-id'] = sid
"""
_ONTO_ITS_LLM = _ONTO_ITS_LLM_REPORTED.replace("def stamp", "def _stamp")
_CALLER = """\
from pkg.pins import Pinner


class Conversation:
    def __init__(self, agent, token):
        self.agent = agent
        self.token = token

    def start(self, pinner: Pinner):
        pinner.{method}(self.agent, self.token)  # pins the agent's llm
"""


@pytest.mark.parametrize("callee, method, onto_llm", [
    (_ONTO_PARAMETER, "_stamp", False), (_ONTO_ITS_LLM_REPORTED, "stamp", False),
    (_ONTO_ITS_LLM, "_stamp", True)])
def test_a_caller_without_an_llm_hops_only_into_a_callee_that_writes_onto_its_own_llm(
        tmp_path, callee, method, onto_llm) -> None:
    source = _CALLER.format(method=method)
    found = _with_and_without_prefilter(tmp_path, ("pins.py", callee), source)
    assert found[True] == found[False] == []
    config = Config()
    index = ProjectIndex(config, [tmp_path])
    app = str(tmp_path / "pkg" / "app.py")
    passing = {r.code for r in rules_that_may_fire(source, config, _SCOPE_RULES, path=app,
                                                    index=index)}
    assert passing == ({"LLA001", "LLA006"} if onto_llm else set())
    writers = index.writers(tmp_path / "pkg" / "app.py")
    assert writers.may_write([method])  # a writer in each case
    assert writers.may_write_onto_llm([method]) is onto_llm


class _ScopeSites(ScopeLeakWrite):
    """Reports, at its name, each function where the write finder sees a scoped write onto an
    LLM ("write") and each where a stale guard keeps a value read from one ("guard"): the
    sites LLA001/LLA006 and LLA003 judge, whatever the ownership."""

    def check_function(self, fn) -> None:
        if any(w.pins for w in self.ctx.facts.writes.writes(fn)):
            self.report(fn.node.name, "write")
        if stale_guards(fn, self.ctx.facts):
            self.report(fn.node.name, "guard")


def test_scope_stages_see_every_function_the_analysis_finds_a_scoped_write_or_guard_in() -> None:
    """The per-function conditions of the scope stages (`StageInput.scoped_functions`,
    `holds_llm`, `AstFacts.stores`) hold in every function where the libcst analysis finds a
    scoped write onto an LLM or a stale guard, on the fixtures, the sample SDK and the cases
    above."""
    corpus = [(str(p), p.read_text(encoding="utf-8")) for p in FIXTURES + SAMPLE_SDK]
    corpus += [(f"case-{i}.py", textwrap.dedent(code)) for i, code in enumerate(SCOPE_FINDINGS.values())]
    seen = {"write": 0, "guard": 0}
    for path, source in corpus:
        config = config_for(options_of(source))
        sites = [d for d in check_text(source, path, config, ProjectIndex(config), prefilter=False,
                                       rules=[_ScopeSites]) if d.message in seen]
        if not sites:
            continue
        stage = StageInput(ast.parse(source), source, config)
        scoped = {node.lineno: facts for node, facts in stage.scoped_functions()}
        llm = {node.lineno for node, _o, _f in stage.functions()[0] if stage.holds_llm(node)}
        for d in sites:
            seen[d.message] += 1
            line = d.start.row
            assert line in scoped and line in llm, (path, line, d.message)
            if d.message == "write":
                assert scoped[line].stores, (path, line)
    assert seen["write"] > 100 and seen["guard"] >= 8, seen


def test_a_writer_onto_its_own_llm_stays_one_through_aliases_and_subclasses(tmp_path) -> None:
    """`Writers.may_write_onto_llm` answers through the names a class is imported under and
    the classes deriving from it, as `Writers.candidates` does for any writer."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "pins.py").write_text(
        "class Pinner:\n"
        "    def __init__(self, agent, sid):\n        self._stamp(agent, sid)\n\n"
        "    def _stamp(self, agent, sid):\n"
        "        agent.llm.extra_headers['x-litellm-session-id'] = sid\n\n\n"
        "class Plain:\n"
        "    def __init__(self, target, sid):\n"
        "        target.extra_headers['x-litellm-session-id'] = sid\n")
    (pkg / "more.py").write_text("from pkg.pins import Pinner as Alias, Plain as Other\n\n\n"
                                 "class Sub(Alias):\n    pass\n\n\nclass PlainSub(Other):\n    pass\n")
    config = Config()
    writers = ProjectIndex(config, [tmp_path]).writers(pkg / "app.py")
    for name in ("Pinner", "Alias", "Sub"):
        assert writers.may_write([name]) and writers.may_write_onto_llm([name]), name
    for name in ("Plain", "Other", "PlainSub"):
        assert writers.may_write([name]) and not writers.may_write_onto_llm([name]), name
    assert not writers.may_write_onto_llm(["unrelated"])


# Functions named `pin_*` write a scoped value onto an object reached from a parameter (the
# libcst summary lists the write); `calm_*` write nothing scoped onto one. No header-key string
# anywhere: `PinSpellings` reads the pins.
_PARAM_FLOWS = '''
import hashlib


def pin_alias(target, conversation_id):
    headers = target.extra_headers
    headers.update({"session": str(conversation_id)})


def pin_loop(agent, state):
    for llm in agent.get_all_llms():
        llm.metadata["trace"] = f"conv-{state.id}"


def pin_shallow_copy(llm, session_id):
    shallow = llm.model_copy()
    shallow.extra_body.update(session=session_id)


def pin_setattr(llm, value):
    setattr(llm, "prompt_cache_key", value)


def pin_hash(llm, conversation_id):
    llm.user = hashlib.sha256(conversation_id.encode()).hexdigest()


def pin_scoped_local(llm, ctx):
    key = f"{ctx.session_id}-x"
    llm.extra_body["key"] = key


def pin_item_stored_local(llm, thread_id):
    body = {}
    body["t"] = thread_id
    llm.extra_body.update(body)


def pin_constructor(llm, conversation_id):
    llm.context = Ctx.make(conversation_id)


def pin_merge(llm, session_id):
    headers = llm.extra_headers
    headers |= {"s": session_id}


def pin_id_key(llm, rid):
    llm.kwargs["rollout_id"] = rid


def pin_update_keyword(llm, rid):
    llm.kwargs.update(rollout_id=rid)


def pin_passed_on(llm, conversation_id):
    pin_id_key(llm, conversation_id)


def pin_alias_passed_on(agent, conversation_id):
    llm = agent.llm
    pin_update_keyword(llm, conversation_id)


def calm_local_dict(llm, conversation_id):
    result = {}
    result["c"] = conversation_id
    return result, llm


def calm_call_result(llm, conversation_id):
    llm.extra_body["deployment"] = pick(conversation_id)


def calm_list(llm, conversation_id):
    llm.extra_body["ids"] = "-".join([conversation_id])


def calm_unpacked(pair, conversation_id):
    llm, other = pair
    llm.extra_body.update(c=conversation_id)


def calm_fresh_dict(response, conversation_id):
    details = dict(describe(response) or {})
    details["conversation_id"] = conversation_id
    return details


def calm_onto_a_copy(llm, conversation_id):
    copied = llm.model_copy()
    copied.user = str(conversation_id)
    return copied


def calm_passes_a_copy_on(llm, conversation_id):
    pin_id_key(llm.model_copy(), "fixed")


def pin_source_element(agent, conversation_id):
    first = agent.get_llm()
    first.user = str(conversation_id)


def calm_passes_nothing_on(llm, conversation_id):
    fresh = build()
    pin_id_key(fresh, "x")


class Holder:
    def calm_self(self, conversation_id):
        self.headers["s"] = conversation_id

    def calm_stored_as_is(self, agent, conversation_id):
        self.agent = agent
        self.agent.llm.extra_body.update(c=conversation_id)


class Carrier:
    def pin_self_carried(self, agent, conversation_id):
        self.agent = agent.model_copy()
        self.agent.llm.extra_body.update(c=conversation_id)

    def pin_self_carried_on(self, agent, conversation_id):
        self.agent = agent.model_copy()
        pin_update_keyword(self.agent.llm, conversation_id)
'''


class _ParamWriteSites(ScopeLeakWrite):
    """Reports, at its name, each function whose summary (`call_effects`, without the project
    index and without the writers gate) lists a write onto a parameter."""

    def check_function(self, fn) -> None:
        from lint_rules.analysis.call_effects import EffectSummaries

        effects = self.ctx.facts.__dict__.setdefault(
            "_ungated", EffectSummaries(self.ctx.facts, self.ctx.path, lambda *_a: 0))
        if effects.summary(fn).writes:
            self.report(fn.node.name, "param-write")


def _param_writers(path: str, source: str) -> tuple[set[str], set[str]]:
    """(functions the libcst summaries list a write onto a parameter for, the `ast` writers)."""
    from lint_rules.analysis.rule_stages import _module_writers

    config = config_for(options_of(source))
    sites = {d.start.row for d in check_text(source, path, config, None, prefilter=False,
                                             rules=[_ParamWriteSites])
             if d.message == "param-write"}
    tree = ast.parse(source)
    names = {n.name for n in ast.walk(tree)
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno in sites}
    return names, _module_writers(tree, config).names


def test_param_flow_follows_the_steps_of_a_write_onto_a_parameter() -> None:
    """Each shape: the summary lists the write, and `_module_writers` names the function; the
    calm ones are no writers."""
    summarised, writers = _param_writers("flows.py", _PARAM_FLOWS)
    pins = {n for n in writers | summarised if n.startswith("pin_")}
    expected = set(re.findall(r"def (pin_\w+)", _PARAM_FLOWS))
    assert summarised == expected
    assert pins == expected and expected <= writers
    assert not {n for n in writers if n.startswith("calm_")}


def test_ast_writers_name_every_function_a_summary_lists_a_parameter_write_for() -> None:
    """`_module_writers` over-approximates the summaries (`param_flow`): on the fixtures and
    the sample SDK, every function whose summary lists a write onto a parameter is a writer."""
    checked = 0
    for path in FIXTURES + SAMPLE_SDK:
        source = path.read_text(encoding="utf-8")
        summarised, writers = _param_writers(str(path), source)
        assert summarised <= writers, (path, summarised - writers)
        checked += len(summarised)
    assert checked >= 40, checked
