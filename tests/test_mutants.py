"""The mutation benchmark's operators (benchmarks/mutants.py) on a tiny synthetic SDK: no downloads."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import mutants as M  # noqa: E402

CONVERSATION = '''\
class Conversation:
    def __init__(self, agent, conversation_id):
        self.agent = agent
        self.id = conversation_id
        self._pin_prompt_cache_key(self.agent.llm)

    def _pin_prompt_cache_key(self, llm):
        self.agent = self.agent.model_copy(
            update={"llm": llm.model_copy(update={"_prompt_cache_key": str(self.id)})})

    def switch_llm(self, llm):
        """Swap the LLM."""
        self.agent = self.agent.model_copy(update={"llm": llm})
        self._pin_prompt_cache_key(llm)

    def step(self, messages, ctx):
        first = self.agent.llm.completion(messages, call_context=ctx)
        second = self.agent.llm.completion(messages, call_context=ctx)
        return first, second


def build_request(llm, messages, **kwargs):
    return {"messages": messages, **kwargs}
'''


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    (tmp_path / "sdk").mkdir()
    (tmp_path / "sdk" / "__init__.py").write_text("")
    (tmp_path / "sdk" / "conversation.py").write_text(CONVERSATION)
    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")
    return tmp_path


def ctx() -> M.FileCtx:
    return M.FileCtx("sdk/conversation.py", CONVERSATION, ast.parse(CONVERSATION))


def build(op: str) -> list[M.Mutant]:
    return [M._fix_owner(m) for m in M.OPERATORS[op][2](ctx())]


def test_every_operator_builds_parsable_mutants_on_its_sites() -> None:
    for name in M.OPERATORS:
        for m in build(name):
            ast.parse(m.source)  # every mutant is valid Python
            assert m.source != CONVERSATION
            assert m.expected, name
            assert (m.rule is None) == name.startswith(("safe-", "retry-with-"))


def test_site_finders() -> None:
    c = ctx()
    cls = next(M.classes(c.tree))
    assert M.borrowed_attr(cls) == "self.agent.llm"
    assert [m.name for m in M.pin_helpers(cls)] == ["_pin_prompt_cache_key"]
    assert [(m.name, st.lineno) for _, m, st in M.swap_sites(c)] == [("switch_llm", 14)]
    assert M.conversation_id(cls, M.methods(cls)[-1]) == "str(self.id)"
    # set-up methods, pin helpers and dunder methods are not injection sites
    assert [q for q, *_ in M.borrowed_method_sites(c)] == ["Conversation.switch_llm", "Conversation.step"]


def test_injection_text_and_expected_lines() -> None:
    (first, _) = build("leak-subscript")
    lines = first.source.splitlines()
    (row,) = first.expected
    assert lines[row - 1] == '        self.agent.llm.extra_headers["x-litellm-session-id"] = str(self.id)'
    assert lines[row - 2].strip() == '"""Swap the LLM."""'  # after the docstring


def test_swap_drop_pin_and_drop_call_context() -> None:
    (m,) = build("swap-drop-pin")
    assert "self._pin_prompt_cache_key(llm)" not in m.source.split("def switch_llm")[1].split("def step")[0]
    drops = build("drop-call-context")
    assert len(drops) == 2
    assert all(m.source.count("call_context=ctx") == 1 for m in drops)
    (retry,) = build("retry-without-context")
    assert "model_copy(update={'caching_prompt': False}).completion(messages)" in retry.source
    (keep,) = build("retry-with-context")
    assert "model_copy(update={'caching_prompt': False}).completion(messages, call_context=ctx)" in keep.source


def test_header_operators_need_an_llm_parameter_and_kwargs() -> None:
    (bad,) = build("header-replace")
    assert 'if "extra_headers" not in kwargs:' in bad.source
    (good,) = build("safe-header-merge")
    assert '**dict(llm.extra_headers or {})' in good.source


def test_sampling_is_deterministic_and_capped() -> None:
    items = build("leak-subscript") + build("leak-alias") + build("leak-update")
    a = M.sample(items, 2, 0, "x")
    assert a == M.sample(items, 2, 0, "x") and len(a) == 2
    assert M.sample(items, 10, 0, "x") == items


def test_evaluate_detects_a_leak_and_restores_the_file(pkg: Path) -> None:
    path = pkg / "sdk" / "conversation.py"
    base = M.findings(CONVERSATION, path, pkg)
    (m, *_) = build("leak-cache-key-attr")
    out = M.evaluate(m, "synthetic", pkg, base)
    assert out.detected and out.error == ""
    assert path.read_text() == CONVERSATION
    (safe, *_) = build("safe-nonscoped-attr")
    assert M.evaluate(safe, "synthetic", pkg, base).new == []


def test_release_marker_names_the_project_and_upgrades_an_old_one(tmp_path: Path) -> None:
    import corpus

    from lint_rules.core.config import load_config

    old = tmp_path / "old"
    old.mkdir()
    (old / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")  # an older script's marker
    corpus.mark_project(old, "openai-agents")
    assert load_config(old / "pyproject.toml").preset == ("openai-agents",)
    corpus.mark_project(old, "openai-agents")  # idempotent
    assert (old / "pyproject.toml").read_text().count("[project]") == 1
    own = tmp_path / "own"
    own.mkdir()
    (own / "pyproject.toml").write_text('[tool.llm-affinity-lint]\npreset = "letta"\n')
    corpus.mark_project(own, "openai-agents")  # a table someone wrote is left alone
    assert load_config(own / "pyproject.toml").preset == ("letta",)


def test_a_retry_is_not_lifted_out_of_a_lambda() -> None:
    source = ("class A:\n"
              "    def fallback(self, messages, ctx):\n"
              "        return self._handle(lambda fb: fb.completion(messages, call_context=ctx))\n"
              "    def step(self, messages, ctx):\n"
              "        return self.llm.completion(messages, call_context=ctx)\n")
    file_ctx = M.FileCtx("a.py", source, ast.parse(source))
    sites = [m.site for m in M.OPERATORS["retry-without-context"][2](file_ctx)]
    assert sites == ["step:5"]  # `fb` is the lambda's: a copy of its call outside means nothing


def test_a_repeated_line_counts_as_new_where_the_mutant_put_it() -> None:
    guard = "if self.llm._prompt_cache_key is None:"
    baseline = [("LLA003", 10, guard)]
    got = [("LLA003", 10, guard), ("LLA003", 40, guard), ("LLA001", 41, "x = 1")]
    assert M.new_findings(got, baseline, frozenset({40, 41})) == [("LLA003", 40, guard),
                                                                  ("LLA001", 41, "x = 1")]
    assert M.new_findings(got[:1], baseline, frozenset({40, 41})) == []


def test_a_model_name_is_no_borrowed_llm() -> None:
    tree = ast.parse("class A:\n    def __init__(self, model: str, llm):\n"
                     "        self.model = model\n        self.llm = llm\n"
                     "class B:\n    def __init__(self, model: str | ChatModel, model_is_explicit: bool):\n"
                     "        self.model = model\n        self._model_is_explicit = model_is_explicit\n")
    first, second = M.classes(tree)
    assert M.borrowed_attr(first) == "self.llm"
    assert M.borrowed_attr(second) is None  # a model name and a flag
