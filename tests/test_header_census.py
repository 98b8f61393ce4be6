"""Issue 14, LLA004: a replace of the LLM's headers loses a scoped header only when the project
can put one there (the header census), and the result cache follows that project fact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lint_rules import runner
from lint_rules.analysis.header_census import package_root, take_census
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source
from lint_rules.cache import CACHE_DIR_NAME
from lint_rules.core.config import Config
from lint_rules.runner import RunOptions, run
from markers import expected_markers

HERE = Path(__file__).parent
CENSUS = HERE / "fixtures" / "header_census"
PROJECTS = sorted(p.name for p in CENSUS.iterdir() if p.is_dir())
OPTIONS = Path("agentpkg") / "llm" / "options" / "chat_options.py"

PIN = '''\
def pin(llm, conversation_id):
    llm.extra_headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(conversation_id)}
'''


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _files(project: Path) -> list[Path]:
    return sorted(project.rglob("*.py"))


@pytest.mark.parametrize("name", PROJECTS)
def test_fixture_projects_match_markers(name: str) -> None:
    project = CENSUS / name
    result = run([project], Config(), RunOptions(jobs=1), project_root=project)
    got = {(Path(d.path).resolve(), d.start.row, d.code) for d in result.diagnostics}
    want = {(p.resolve(), row, code) for p in _files(project)
            for row, code in expected_markers(p.read_text())}
    assert got == want


@pytest.mark.parametrize("name", PROJECTS)
def test_each_file_checked_alone_with_an_index_gives_the_same_findings(name: str) -> None:
    project = CENSUS / name
    config = Config()
    for path in _files(project):
        found = {(d.start.row, d.code)
                 for d in check_source(path.read_text(), str(path), config, ProjectIndex(config))}
        assert found == expected_markers(path.read_text()), path


def test_the_seed_pin_is_what_the_census_finds() -> None:
    config = Config()
    seed = take_census(package_root(CENSUS / "seed_pin" / OPTIONS), config, _read)
    assert seed is not None and seed.may_hold_scoped_header
    assert [Path(p.rsplit(":", 1)[0]).name for p in seed.pinned_at] == ["local_conversation.py"]
    for safe in ("v120_like", "v158_like"):
        census = take_census(package_root(CENSUS / safe / OPTIONS), config, _read)
        assert census is not None and not census.may_hold_scoped_header, safe


@pytest.mark.parametrize("name", ["v120_like", "v158_like"])
def test_without_a_package_around_the_replace_is_reported_as_before(name: str) -> None:
    source = (CENSUS / name / "agentpkg" / "llm" / "options").joinpath(
        "common.py" if name == "v158_like" else "chat_options.py").read_text()
    for path in ("-", "<stdin>"):
        codes = [d.code for d in check_source(source, path, Config())]
        assert codes == ["LLA004"]


def test_a_file_outside_any_package_is_reported_as_before(tmp_path) -> None:
    options = tmp_path / "chat_options.py"
    shutil.copy(CENSUS / "v120_like" / OPTIONS, options)
    codes = [d.code for d in check_source(options.read_text(), str(options), Config())]
    assert codes == ["LLA004"]


@pytest.mark.parametrize("spelling", [
    # a module constant, imported by the module that writes it onto the LLM
    ("keys.py", 'SESSION_HEADER = "X-LiteLLM-Session-Id"\n',
     "pins.py", "from agentpkg.keys import SESSION_HEADER\n\n"
                "def pin(llm, cid):\n    llm.extra_headers[SESSION_HEADER] = cid\n"),
    # a helper that builds the header dict, stored onto the LLM by another module
    ("keys.py", 'def session_headers(cid):\n    return {"x-litellm-session-id": cid}\n',
     "pins.py", "from agentpkg.keys import session_headers\n\n"
                "def pin(llm, cid):\n    llm.extra_headers = session_headers(cid)\n"),
    # a method of a context class that builds the header dict, stored by another module
    ("context.py", 'class Ctx:\n    def session_headers(self):\n        return {"x-litellm-session-id": self.sid}\n',
     "pins.py", "def pin(llm, ctx):\n    llm.extra_headers = ctx.session_headers()\n"),
    # a class constant, and a pydantic field default
    ("pins.py", 'class Conv:\n    HEADER = "x-litellm-session-id"\n\n    def pin(self, llm):\n'
                '        llm.extra_headers[self.HEADER] = self.id\n', None, None),
    ("pins.py", 'class MyLLM:\n    extra_headers: dict = {"x-litellm-session-id": "fixed"}\n', None, None),
    # a pinned copy and a constructor
    ("pins.py", 'def pin(llm, cid):\n    return llm.model_copy(update={"extra_headers": '
                '{"x-litellm-session-id": cid}})\n', None, None),
    ("pins.py", 'from agentpkg.llm import LLM\n\ndef make(cid):\n'
                '    return LLM(model="m", extra_headers={"x-litellm-session-id": cid})\n', None, None),
    # an alias of the field, an update, setattr
    ("pins.py", 'def pin(llm, cid):\n    h = llm.extra_headers\n    h["x-litellm-session-id"] = cid\n',
     None, None),
    ("pins.py", 'def pin(llm, cid):\n    llm.extra_headers.update({"x-litellm-session-id": cid})\n',
     None, None),
    ("pins.py", 'def pin(llm, cid):\n    setattr(llm, "extra_headers", {"x-litellm-session-id": cid})\n',
     None, None),
], ids=["constant", "helper", "method", "class-constant", "field-default", "model_copy", "constructor", "alias", "update", "setattr"])
def test_every_spelling_of_a_header_pin_makes_the_replace_reported(tmp_path, spelling) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", project)
    name, text, other, other_text = spelling
    (project / "agentpkg" / name).write_text(text)
    if other is not None:
        (project / "agentpkg" / other).write_text(other_text)
    options = project / OPTIONS
    codes = [d.code for d in check_source(options.read_text(), str(options), Config(), ProjectIndex(Config()))]
    assert codes == ["LLA004"]


def test_call_time_injection_does_not_count_as_a_pin(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", project)
    (project / "agentpkg" / "send.py").write_text(
        'def send(llm, messages, cid):\n'
        '    return llm.completion(messages, extra_headers={"x-litellm-session-id": cid})\n')
    options = project / OPTIONS
    assert check_source(options.read_text(), str(options), Config(), ProjectIndex(Config())) == []


def test_unparsable_key_file_gives_no_census(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", project)
    (project / "agentpkg" / "broken.py").write_text('KEY = "x-litellm-session-id"\ndef f(:\n')
    assert take_census(package_root(project / OPTIONS), Config(), _read) is None
    options = project / OPTIONS
    codes = [d.code for d in check_source(options.read_text(), str(options), Config(), ProjectIndex(Config()))]
    assert codes == ["LLA004"]


# ---------------------------------------------------------------------------- the result cache
@pytest.fixture
def counted(monkeypatch):
    calls: list[str] = []
    real = runner.check_file

    def check_file(path, display, *args, **kwargs):
        calls.append(Path(display).name)
        return real(path, display, *args, **kwargs)

    monkeypatch.setattr(runner, "check_file", check_file)
    return calls


def _lint(root: Path) -> set[tuple[str, str]]:
    options = RunOptions(jobs=1, cache_dir=root / CACHE_DIR_NAME)
    result = run([root / "agentpkg"], Config(), options, project_root=root)
    return {(Path(d.path).name, d.code) for d in result.diagnostics}


def test_cache_follows_an_added_changed_and_removed_pin(tmp_path, counted) -> None:
    root = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", root)
    assert ("chat_options.py", "LLA004") not in _lint(root)
    counted.clear()
    assert ("chat_options.py", "LLA004") not in _lint(root)
    assert counted == []  # warm: everything served from the cache

    # A new file of the package pins the header: the cached "silent" no longer holds.
    pins = root / "agentpkg" / "conversation" / "pins.py"
    pins.write_text(PIN)
    found = _lint(root)
    assert ("chat_options.py", "LLA004") in found and ("responses_options.py", "LLA004") in found
    assert "chat_options.py" in counted

    # The pin is edited away (same file, new content): silent again.
    counted.clear()
    pins.write_text(PIN.replace("x-litellm-session-id", "x-title"))
    assert ("chat_options.py", "LLA004") not in _lint(root)
    assert "chat_options.py" in counted

    # An existing file gains the pin, then the file is removed.
    conversation = root / "agentpkg" / "conversation" / "local_conversation.py"
    original = conversation.read_text()
    conversation.write_text(original + "\n\n" + PIN)
    assert ("chat_options.py", "LLA004") in _lint(root)
    conversation.unlink()
    assert ("chat_options.py", "LLA004") not in _lint(root)


def test_cache_follows_a_new_sub_package(tmp_path) -> None:
    root = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", root)
    assert ("chat_options.py", "LLA004") not in _lint(root)
    sub = root / "agentpkg" / "plugins"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    (sub / "affinity.py").write_text(PIN)
    assert ("chat_options.py", "LLA004") in _lint(root)


def test_a_key_named_in_comments_and_messages_only_is_no_pin(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", project)
    (project / "agentpkg" / "notes.py").write_text(
        '# the x-litellm-session-id header is injected per call\n'
        'def f(llm):\n'
        '    """Never stores x-litellm-session-id."""\n'
        '    llm.extra_headers = {"X-Title": "app (no x-litellm-session-id here)"}\n')
    options = project / OPTIONS
    assert check_source(options.read_text(), str(options), Config(), ProjectIndex(Config())) == []


def test_a_request_builder_writing_the_key_into_its_options_is_no_pin(tmp_path) -> None:
    """1.58.2's `apply_llm_call_context` (a local dict, a mapping parameter) pins nothing, and a
    local named like it elsewhere (`out`) is no carrier."""
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v158_like", project)
    (project / "agentpkg" / "other.py").write_text(
        'def build(llm, kw):\n    out = dict(kw)\n    out["extra_headers"] = {"x-litellm-session-id": "s"}\n'
        '    return out\n\ndef unrelated(obj, out):\n    obj.headers = out\n')
    census = take_census(package_root(project / OPTIONS), Config(), _read)
    assert census is not None and not census.may_hold_scoped_header


def test_a_carrier_user_in_a_newer_grammar_counts_when_it_names_a_header_field(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v120_like", project)
    (project / "agentpkg" / "keys.py").write_text('SESSION_HEADER = "x-litellm-session-id"\n')
    newer = project / "agentpkg" / "newer.py"
    newer.write_text("from agentpkg.keys import SESSION_HEADER\n\ntype Alias = int\n\n"
                     "def pin(llm, cid):\n    llm.extra_headers[SESSION_HEADER] = cid\n")
    assert take_census(package_root(project / OPTIONS), Config(), _read).may_hold_scoped_header
    newer.write_text("from agentpkg.keys import SESSION_HEADER\n\ntype Alias = int\nX = SESSION_HEADER\n")
    assert not take_census(package_root(project / OPTIONS), Config(), _read).may_hold_scoped_header


# ---------------------------------------------------------------------------- callers re-inject
COMMON = Path("agentpkg") / "llm" / "options" / "common.py"


def _common_codes(project: Path) -> list[str]:
    path = project / COMMON
    return [d.code for d in check_source(path.read_text(), str(path), Config(), ProjectIndex(Config()))]


def test_every_caller_reinjecting_makes_a_pinned_replace_harmless() -> None:
    assert _common_codes(CENSUS / "v158_pinned") == []


@pytest.mark.parametrize("extra", [
    # a caller that sends the replaced headers as they are
    ("agentpkg/llm/options/raw.py", "from agentpkg.llm.options.common import apply_extra_headers\n\n"
     "def raw(llm, kw):\n    out = apply_extra_headers(kw, llm)\n    return out\n"),
    # the step used as a value, under an alias, exported by name
    ("agentpkg/llm/options/table.py", "from agentpkg.llm.options.common import apply_extra_headers\n\n"
     "STEPS = [apply_extra_headers]\n"),
    ("agentpkg/llm/options/alias.py", "from agentpkg.llm.options.common import apply_extra_headers as ah\n"),
    ("agentpkg/llm/options/__init__.py", '__all__ = ["apply_extra_headers"]\n'),
    # a re-injection that lets the old value win
    ("agentpkg/llm/options/keep.py", "from agentpkg.llm.options.common import apply_extra_headers\n\n"
     "def keep(llm, kw, sid):\n    out = apply_extra_headers(kw, llm)\n"
     '    out["extra_headers"] = {"x-litellm-session-id": sid, **out["extra_headers"]}\n    return out\n'),
], ids=["plain-caller", "as-value", "alias", "__all__", "old-wins"])
def test_one_unresolved_or_plain_caller_keeps_the_replace_reported(tmp_path, extra) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v158_pinned", project)
    rel, text = extra
    (project / rel).write_text(text)
    assert _common_codes(project) == ["LLA004"]


def test_a_replacing_step_nobody_calls_is_reported(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v158_pinned", project)
    for rel in ("chat_options.py", "responses_options.py"):
        (project / "agentpkg" / "llm" / "options" / rel).unlink()
    assert _common_codes(project) == ["LLA004"]


def test_an_inline_reinjection_in_the_caller_counts(tmp_path) -> None:
    project = tmp_path / "p"
    shutil.copytree(CENSUS / "v158_pinned", project)
    (project / "agentpkg" / "llm" / "options" / "inline.py").write_text(
        "from agentpkg.llm.options.common import apply_extra_headers\n\n"
        "def inline(llm, kw, sid):\n    out = apply_extra_headers(kw, llm)\n"
        '    out["extra_headers"] = {**(out.get("extra_headers") or {}), "x-litellm-session-id": sid}\n'
        "    return out\n")
    assert _common_codes(project) == []


def test_cache_follows_a_new_caller_that_does_not_reinject(tmp_path) -> None:
    root = tmp_path / "p"
    shutil.copytree(CENSUS / "v158_pinned", root)
    assert ("common.py", "LLA004") not in _lint(root)
    (root / "agentpkg" / "llm" / "options" / "raw.py").write_text(
        "from agentpkg.llm.options.common import apply_extra_headers\n\n"
        "def raw(llm, kw):\n    out = apply_extra_headers(kw, llm)\n    return out\n")
    assert ("common.py", "LLA004") in _lint(root)


@pytest.mark.parametrize("name, passes", [("seed_pin", True), ("v120_like", False),
                                          ("v158_like", False)])
def test_the_stage_skips_a_replace_the_census_clears(name: str, passes: bool) -> None:
    """Issue 16: LLA004's `ast` stage asks the header census when the file's pinned headers can
    only be LLM header fields; the findings are the same with and without the stages."""
    from lint_rules.engine import check_text, rules_that_may_fire

    path = CENSUS / name / OPTIONS
    source = path.read_text()
    config = Config()
    passed = rules_that_may_fire(source, config, ("LLA004",), path=str(path),
                                 index=ProjectIndex(config))
    assert [r.code for r in passed] == (["LLA004"] if passes else [])
    found = {pf: [(d.code, d.start.row) for d in check_text(
        source, str(path), config, ProjectIndex(config), prefilter=pf)] for pf in (True, False)}
    assert found[True] == found[False]
    assert bool(found[False]) == passes
