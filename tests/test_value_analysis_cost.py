"""The value analysis follows local definitions in time linear in the function, whatever the
shape of the chains (a depth-first search with cycles cut was exponential on real code)."""

from __future__ import annotations

import pytest

from lint_rules.analysis import scoped_values as values
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.core.config import Config
from lint_rules.engine import check_text


def doubling_chain(depth: int, last_is_scoped: bool) -> str:
    """`a1 = a0 + a0`, `a2 = a1 + a1`, ...: every local uses the previous one twice."""
    lines = ["import os", "", "class Conversation:", "    def leak(self, start):"]
    lines.append("        a0 = self.id" if last_is_scoped else "        a0 = start")
    lines += [f"        a{i} = a{i - 1} + a{i - 1}" for i in range(1, depth + 1)]
    lines.append(f'        os.environ["SESSION"] = a{depth}')
    lines.append(f'        headers = {{"x-litellm-session-id": a{depth}}}')
    lines.append("        return headers")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("scoped", [True, False])
def test_doubling_chains_are_judged_in_linear_work(monkeypatch, scoped) -> None:
    calls = {"n": 0}
    original = values.ScopedValues._scoped

    def counted(self, node, fn, *rest):
        calls["n"] += 1
        if calls["n"] > 100_000:  # fail, rather than hang, if the cost turns exponential again
            raise AssertionError("the value analysis is exploring exponentially many paths")
        return original(self, node, fn, *rest)

    monkeypatch.setattr(values.ScopedValues, "_scoped", counted)
    config = Config()
    results = {}
    for depth in (10, 40):
        calls["n"] = 0
        source = doubling_chain(depth, scoped)
        found = check_text(source, "conversation.py", config, ProjectIndex(config), prefilter=False)
        results[depth] = calls["n"]
        # The finding does not depend on the depth: the id reaches the environment or it does not.
        assert [d.code for d in found] == (["LLA005"] if scoped else []), depth
    # 30 more definitions cost a bounded amount more each (2 ** 40 would never finish).
    assert results[40] - results[10] <= 30 * 60, results
