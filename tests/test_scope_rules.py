"""The scope-leak rules (LLA001, LLA003, LLA006) beyond their fixture files: precision on real
code, the prefilter's soundness, the route-through-helper fix, messages, the shared analysis, and
odd code shapes."""

from __future__ import annotations

import sysconfig
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from lint_rules.analysis.context import FileFacts
from lint_rules.analysis.local_bindings import function_defs
from lint_rules.analysis.ownership import Ownership
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.pins import is_pin_helper, summarize_method
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source, fix_source
from lint_rules.core.config import Config, apply_settings
from lint_rules.core.diagnostics import Applicability
from lint_rules.engine import check_text
from lint_rules.syntax.semantic import build_model, dotted_name

CODES = ["LLA001", "LLA003", "LLA006"]
ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "rules"
SAMPLE = Path(__file__).parent / "fixtures" / "sample_sdk"


def scope_config(**extra) -> Config:
    return apply_settings(Config(), {"select": CODES, **extra}, "test")


def check(code: str, config: Config | None = None, path: str = "example.py"):
    return check_source(textwrap.dedent(code), path, config or scope_config())


def codes_by_row(diagnostics) -> set[tuple[int, str]]:
    return {(d.start.row, d.code) for d in diagnostics}


# ---------------------------------------------------------------------------- precision on real code
def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def test_no_findings_on_the_standard_library() -> None:
    """Every stdlib file, through the prefilter (fast: nothing there names an LLM)."""
    config = scope_config()
    index = ProjectIndex(config)
    files = _stdlib_files()
    assert len(files) > 500
    findings = []
    for path in files:
        source = _read(path)
        if source is not None:
            findings += [d for d in check_source(source, str(path), config, index) if d.code in CODES]
    assert findings == []


def test_no_findings_on_stdlib_lookalikes_without_the_prefilter() -> None:
    """Stdlib modules with registries, `self.id`, sessions and `setattr`, fully analysed."""
    config = scope_config()
    picked = []
    for path in _stdlib_files():
        if "test" in path.parts or "idlelib" in path.parts:
            continue
        source = _read(path)
        if source and len(source) < 8000 and any(
                t in source for t in ("registry", "self.id", "session", "setattr(")):
            picked.append((path, source))
    picked = picked[:15]
    assert len(picked) >= 10
    for path, source in picked:
        found = [d for d in check_text(source, str(path), config, None, prefilter=False)
                 if d.code in CODES]
        assert found == [], path


def test_no_findings_on_this_project() -> None:
    config = scope_config()
    for path in sorted((ROOT / "lint_rules").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found = [d for d in check_text(source, str(path), config, None, prefilter=False)
                 if d.code in CODES]
        assert found == [], path


# ---------------------------------------------------------------------------- the prefilter
PREFILTER_CASES = sorted(FIXTURES.glob("LLA00[136]_*.py")) + sorted(SAMPLE.rglob("*.py"))


@pytest.mark.parametrize("path", PREFILTER_CASES, ids=[p.name for p in PREFILTER_CASES])
def test_prefilter_never_changes_findings(path: Path) -> None:
    config = scope_config()
    source = path.read_text(encoding="utf-8")
    assert check_text(source, str(path), config, None) == \
        check_text(source, str(path), config, None, prefilter=False)


def test_identifier_tokens_do_not_match_inside_other_words() -> None:
    from lint_rules.engine import may_have_findings

    config = scope_config()
    assert not may_have_findings("x = re.fullmatch(p, s)\n", config, tuple(CODES))
    assert may_have_findings("def f(agent):\n    agent.llm.x = 1\n", config, tuple(CODES))
    assert may_have_findings("def f(\n        llm):\n    pass\n", config, tuple(CODES))


# ---------------------------------------------------------------------------- the fix
def test_fixed_fixture_has_no_lla001_where_it_was_fixed() -> None:
    before = (FIXTURES / "LLA001_scope_leak_write.py").read_text(encoding="utf-8")
    after = (FIXTURES / "LLA001_scope_leak_write.fixed.py").read_text(encoding="utf-8")
    before_lines, after_lines = before.splitlines(), after.splitlines()
    assert len(before_lines) == len(after_lines)
    changed = [i + 1 for i, (a, b) in enumerate(zip(before_lines, after_lines)) if a != b]
    assert changed, "the fixture must exercise the fix"
    for row in changed:  # only the statement changed: indentation and comment are kept
        old, new = before_lines[row - 1], after_lines[row - 1]
        assert new.startswith(old[: len(old) - len(old.lstrip())] + "self._pin_")
        assert new.endswith("  # LLA001")
    config = scope_config(select=["LLA001"])
    remaining = {d.start.row for d in check_source(after, "fixed.py", config) if d.code == "LLA001"}
    assert not remaining & set(changed)
    cst.parse_module(after)


HELPER_CLASS = """\
from agentsdk.llm import LLM


class Conversation:
    def __init__(self, agent):
        self.agent = agent

    def _pin_session_affinity_header(self, llm: LLM) -> None:
        llm.extra_headers["x-litellm-session-id"] = str(self.id)

    def _pin_prompt_cache_key(self) -> None:
        for llm in self.agent.get_all_llms():
            llm._prompt_cache_key = str(self.id)

    def elsewhere(self, llm: LLM) -> None:
        self.ready = True
        {write}
"""


@pytest.mark.parametrize("write,call,applicability", [
    ('llm.extra_headers["x-litellm-session-id"] = str(self.id)',
     "self._pin_session_affinity_header(llm)", Applicability.SAFE),
    ('llm.extra_headers["x-litellm-session-id"] = str(self._state.id)',
     "self._pin_session_affinity_header(llm)", Applicability.UNSAFE),
    ('llm.extra_headers.update({"x-litellm-session-id": str(self.id)})',
     "self._pin_session_affinity_header(llm)", Applicability.UNSAFE),
    ("self.agent.llm._prompt_cache_key = str(self.id)",
     "self._pin_prompt_cache_key()", Applicability.UNSAFE),
])
def test_fix_routes_through_the_helper(write, call, applicability) -> None:
    source = HELPER_CLASS.format(write=write)
    config = scope_config(select=["LLA001"])
    [finding] = check_source(source, "conv.py", config)
    assert finding.fix is not None and finding.fix.applicability is applicability
    assert f"`{call}`" in finding.message
    fixed = fix_source(source, "conv.py", config, unsafe=True)
    assert fixed.error is None and fixed.remaining == []
    head, _, tail = source.rpartition(write)  # the helper may hold the same text
    assert fixed.source == head + call + tail


def test_no_fix_without_a_helper_and_the_message_names_one() -> None:
    [finding] = check("""\
        def pin(llm, conversation_id):
            llm._prompt_cache_key = conversation_id
        """, scope_config(select=["LLA001"]))
    assert finding.fix is None
    assert "add a pin helper" in finding.message and "`_pin_prompt_cache_key`" in finding.message


def test_fix_finds_a_helper_in_a_base_class_in_another_module(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text(textwrap.dedent("""\
        class Base:
            def _pin_session_affinity_header(self, llm):
                llm.extra_headers["x-litellm-session-id"] = str(self.id)
        """))
    child = textwrap.dedent("""\
        from .base import Base


        class Child(Base):
            def __init__(self, agent):
                self.agent = agent

            def ready(self):
                self.count = 0
                self.agent.llm.extra_headers["x-litellm-session-id"] = str(self.id)
        """)
    config = scope_config(select=["LLA001"])
    [finding] = check_source(child, str(pkg / "child.py"), config, ProjectIndex(config, [tmp_path]))
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    assert finding.fix.edits[0].content == "self._pin_session_affinity_header(self.agent.llm)"


# ---------------------------------------------------------------------------- messages
def test_messages_say_why() -> None:
    found = check("""\
        from agentsdk.llm import LLM

        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def _pin_session_affinity_header(self, llm: LLM) -> None:
                existing = llm.extra_headers or {}
                if "x-litellm-session-id" not in existing:
                    llm.extra_headers = {"x-litellm-session-id": str(self.id), **existing}
        """)
    by_code = {d.code: d.message for d in found}
    assert set(by_code) == {"LLA003", "LLA006"}
    assert "a value left by an earlier conversation wins" in by_code["LLA003"]
    assert "the write at line 10" in by_code["LLA003"]
    assert "the parameter `llm`" in by_code["LLA006"]
    assert "copy-on-write" in by_code["LLA006"] and "call-time injection" in by_code["LLA006"]


def test_lla001_names_the_borrowed_source() -> None:
    [finding] = check("""\
        class LocalConversation:
            def __init__(self, agent):
                self.agent = agent

            def restore(self, events):
                self.events = events
                self.agent.llm._prompt_cache_key = str(self._state.id)
        """)
    assert "`self.agent`, which `__init__` stores by reference from its parameter `agent`" in finding.message


# ---------------------------------------------------------------------------- configuration
def test_domain_names_come_from_the_configuration() -> None:
    code = """\
        from acme.models import ChatModel

        class Thread:
            def attach(self, client: ChatModel, thread_id):
                self.n = 1
                client.headers["X-Thread"] = thread_id
        """
    assert check(code) == []
    custom = scope_config(**{"llm-classes": ["acme.models.ChatModel"],
                             "scoped-header-keys": ["x-thread"],
                             "conversation-id-expressions": ["thread_id"]})
    assert codes_by_row(check(code, custom)) == {(6, "LLA001")}


# ---------------------------------------------------------------------------- the shared analysis
def _model(code: str):
    return build_model(cst.parse_module(textwrap.dedent(code)), "mod.py")


def test_reading_a_scoped_key_is_not_a_pin_and_copies_are() -> None:
    model = _model("""\
        from agentsdk.llm import LLM

        class Conversation:
            def session(self):
                return self.agent.llm.extra_headers.get("x-litellm-session-id")

            def _bind(self, llm: LLM) -> LLM:
                headers = {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}
                return llm.model_copy(update={"extra_headers": headers})

            def switch(self, llm: LLM):
                self.agent = self.agent.model_copy(update={"llm": llm})
                self._bind(llm)
        """)
    config = Config()
    cls = model.classes[0]
    summaries = {name: summarize_method(fn, FileFacts(config, model), 0) for name, fn in cls.methods.items()}
    assert summaries["session"].pins == frozenset()
    assert summaries["_bind"].pins == {Pin.header("x-litellm-session-id")}
    assert summaries["_bind"].is_pin_helper  # recognised from behaviour, not from its name
    assert not summaries["switch"].is_pin_helper and summaries["switch"].self_calls == {"_bind"}


def test_ownership_verdicts() -> None:
    model = _model("""\
        import copy
        from agentsdk.llm import LLM

        def f(shared: LLM, registry, flag):
            a = LLM()
            b = copy.deepcopy(shared)
            c = shared.model_copy()
            d = registry.get("x")
            e = make()
            if flag:
                g = LLM()
            else:
                g = shared
            a, b, c, d, e, g
        """)
    fn = model.functions[0]
    analysis = FileFacts(Config(), model)
    last = fn.node.body.body[-1].body[0]
    verdict = {name: analysis.ownership.verdict(cst.Name(name), fn, last).kind
               for name in "abcdeg"}
    assert verdict == {"a": Ownership.OWNED, "b": Ownership.OWNED, "c": Ownership.OWNED,
                       "d": Ownership.BORROWED, "e": Ownership.UNKNOWN, "g": Ownership.BORROWED}
    # The shallow copy owns itself, not its dict fields.
    headers = cst.Attribute(cst.Name("c"), cst.Name("extra_headers"))
    assert analysis.ownership.verdict(headers, fn, last).kind is Ownership.BORROWED



def test_the_evidence_of_a_name_with_many_bindings_is_the_first_in_source_order() -> None:
    # A set of reaching definitions iterates by object address: the evidence a finding
    # printed depended on what the process had allocated before (openhands-sdk 1.30's
    # `_bind_conversation_context` named one caller's chain or another from run to run).
    branches = "\n".join(f"    {'if' if i == 0 else 'elif'} flag == {i}:\n"
                         f"        llm = registry_{i:02d}.get('x')" for i in range(40))
    model = _model(f"from agentsdk.llm import LLM\n\ndef f(flag):\n{branches}\n    llm\n")
    fn = model.functions[0]
    last = fn.node.body.body[-1].body[0]
    reaching = function_defs(fn).reaching(last, "llm")
    assert [dotted_name(d.value.func.value) for d in reaching] == [f"registry_{i:02d}" for i in range(40)]
    verdict = FileFacts(Config(), model).ownership.verdict(cst.Name("llm"), fn, last)
    assert verdict.kind is Ownership.BORROWED and "registry_00" in verdict.source

def test_a_duplicate_of_a_configured_helper_is_a_bypass_not_a_helper() -> None:
    found = check("""\
        class Conversation:
            def __init__(self, agent):
                self.agent = agent

            def _pin_prompt_cache_key(self):
                self.agent.llm._prompt_cache_key = str(self.id)

            def stamp(self):
                self.agent.llm._prompt_cache_key = str(self.id)
        """)
    assert codes_by_row(found) == {(6, "LLA006"), (9, "LLA001")}
    model = _model("""\
        class Conversation:
            def stamp(self):
                self.agent.llm._prompt_cache_key = str(self.id)
        """)
    fn = model.functions[0]
    assert is_pin_helper(fn, FileFacts(Config(), model))


# ---------------------------------------------------------------------------- odd shapes
ODD = """\
import copy
from agentsdk.llm import LLM

x = LLM()
x.extra_headers = {"x-litellm-session-id": "module-level code is not checked"}


class C:
    llm = LLM()
    a, b = 1, 2

    async def go(self, llm: LLM, *args, conversation_id=None, **kwargs):
        (first, *rest), other = args, kwargs
        if (n := len(rest)) > 1:
            pass
        match conversation_id:
            case None:
                llm = LLM()
            case _:
                pass
        global G
        async with self.lock as (p, q):
            pass
        setattr(llm, name, conversation_id)
        setattr(llm)
        object.__setattr__(llm, "_call_context")
        llm.extra_headers.update(**{"x-litellm-session-id": conversation_id})
        llm.extra_headers.update()
        f = lambda: setattr(llm, "_prompt_cache_key", conversation_id)
        def inner():
            llm._prompt_cache_key = conversation_id
        del llm.extra_headers
        llm[0] = conversation_id
        llm.extra_headers[1:2] = conversation_id
        try:
            pass
        except* ValueError as e:
            pass
        for k, v in kwargs.items():
            setattr(llm, k, v)
        while True:
            break
        else:
            pass
        return [y async for y in llm]

    @staticmethod
    def s(llm):
        llm._prompt_cache_key = session_id

    self_less = lambda self: None
"""


def test_odd_shapes_do_not_crash() -> None:
    found = check_source(ODD, "odd.py", scope_config())
    rows = codes_by_row(found)
    assert all(code in CODES for _, code in rows)
    # the configured-name writes on the borrowed parameter are still seen
    assert (ODD.splitlines().index("    def s(llm):") + 2, "LLA001") in rows
