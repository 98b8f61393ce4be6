"""Ownership through `self.m()` (issue 13): each method's result is evaluated once, chains of
`self` calls are followed up to `SELF_CALL_DEPTH` calls (past that: unknown, silent), and
recursion between methods ends."""

from __future__ import annotations

from lint_rules.analysis import ownership
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.analysis.self_returns import SELF_CALL_DEPTH
from lint_rules.core.config import Config
from lint_rules.engine import check_text

HEADER = "class Conversation:\n    def __init__(self, agent):\n        self.agent = agent\n        self.id = 'c-1'\n\n"
WRITE = ("    def ask(self, q):\n        llm = self.m0()\n"
         "        llm.extra_headers['x-litellm-session-id'] = str(self.id)\n"
         "        return llm.completion(messages=[q])\n")


def _codes(source: str, prefilter: bool = False) -> list[str]:
    config = Config()
    found = check_text(source, "conversation.py", config, ProjectIndex(config), prefilter=prefilter)
    return [d.code for d in found]


def chain(calls: int) -> str:
    """`ask` calls `self.m0()`, which returns `self.m1()`, ...: `calls` methods in a row, the
    last one returning the shared LLM."""
    body = [f"    def m{i}(self):\n        return self.m{i + 1}()\n\n" for i in range(calls - 1)]
    body.append(f"    def m{calls - 1}(self):\n        return self.agent.llm\n\n")
    return HEADER + "".join(body) + WRITE


def test_a_chain_within_the_bound_is_followed_and_a_longer_one_is_silent() -> None:
    for calls in range(1, SELF_CALL_DEPTH + 1):
        assert _codes(chain(calls)) == ["LLA001"], calls
    assert _codes(chain(SELF_CALL_DEPTH + 1)) == []
    assert _codes(chain(SELF_CALL_DEPTH + 6)) == []


def test_the_verdict_does_not_depend_on_the_order_of_questions() -> None:
    # `probe` reaches the LLM in two calls (reported), `ask` in one too many (silent), whether
    # the deep end of the chain is asked about first (`probe` above `ask`) or last.
    calls = SELF_CALL_DEPTH + 1
    probe = (f"    def probe(self, q):\n        llm = self.m{calls - 2}()\n"
             "        llm.extra_headers['x-litellm-session-id'] = str(self.id)\n"
             "        return llm.completion(messages=[q])\n\n")
    before = chain(calls).replace(HEADER, HEADER + probe)
    after = chain(calls) + "\n" + probe
    for source in (before, after):
        assert _codes(source) == ["LLA001"]
        assert _codes(source, prefilter=True) == ["LLA001"]


def test_methods_returning_each_other_end_silent() -> None:
    source = HEADER + ("    def m0(self):\n        return self.m1()\n\n"
                       "    def m1(self):\n        return self.m0() or self.m1()\n\n") + WRITE
    assert _codes(source) == []


def test_a_web_of_self_calls_is_evaluated_once_per_method(monkeypatch) -> None:
    calls = {"n": 0}
    original = ownership.returned_values

    def counted(fn):
        calls["n"] += 1
        if calls["n"] > 100_000:  # fail, rather than hang, if the cost turns exponential again
            raise AssertionError("self.m() results are evaluated once per path")
        return original(fn)

    monkeypatch.setattr(ownership, "returned_values", counted)
    results = {}
    for width in (10, 40):
        # m_i returns self.m_{i+1}() or self.m_{i+2}(): 2 ** width paths from m0.
        body = [f"    def m{i}(self):\n        return self.m{i + 1}() or self.m{i + 2}()\n\n"
                for i in range(width)]
        body += [f"    def m{width}(self):\n        return self.agent.llm\n\n",
                 f"    def m{width + 1}(self):\n        return self.agent.llm\n\n"]
        calls["n"] = 0
        assert _codes(HEADER + "".join(body) + WRITE) == []  # m0 is `width` calls deep
        results[width] = calls["n"]
    assert results[40] - results[10] <= 30 * (SELF_CALL_DEPTH + 1) * 4, results
