"""The ecosystem check's triage matching (benchmarks/ecosystem.py), on synthetic input: no downloads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import ecosystem as E  # noqa: E402

SOURCE = '''\
import os


class Conv:
    def pin(self, llm):
        llm.extra_headers["x-litellm-session-id"] = str(self.id)

    def other(self):
        os.environ["K"] = self.api_key


def top():
    return 1
'''


def record(row: int, code: str, name: str = "pkg/conv.py") -> dict:
    return {"filename": name, "code": code, "location": {"row": row, "column": 1}, "message": "m"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "conv.py").write_text(SOURCE)
    (tmp_path / "pkg" / "bad.py").write_text("class P[T]:\n    pass\n")
    return tmp_path


def test_key_is_scope_and_line_text_not_line_number(root: Path) -> None:
    fs = E.to_findings("sdk", "1.0", root, [record(6, "LLA001"), record(9, "LLA005"), record(13, "LLA005")])
    assert [(f.path, f.scope, f.line) for f in fs] == [
        ("pkg/conv.py", "Conv.pin", 'llm.extra_headers["x-litellm-session-id"] = str(self.id)'),
        ("pkg/conv.py", "Conv.other", 'os.environ["K"] = self.api_key'),
        ("pkg/conv.py", "top", "return 1"),
    ]


def test_unparsable_file_has_a_stable_scope(root: Path) -> None:
    import ast

    try:
        ast.parse("class P[T]:\n    pass\n")
        expect = "P"
    except SyntaxError:
        expect = "<unparsed>"
    (f,) = E.to_findings("sdk", "1.0", root, [record(1, "LLA000", "pkg/bad.py")])
    assert f.scope == expect and f.line == "class P[T]:"


def entry(scope: str, line: str, verdict: bool | None = True, code: str = "LLA001", seen=("1.0",)) -> E.Entry:
    return E.Entry("sdk", "pkg/conv.py", code, scope, line, verdict, "why", list(seen))


def test_exact_loose_new_and_vanished(root: Path) -> None:
    fs = E.to_findings("sdk", "2.0", root, [record(6, "LLA001"), record(9, "LLA005")])
    triage = [
        # the same finding, moved to another line in 2.0: still an exact match
        entry("Conv.pin", 'llm.extra_headers["x-litellm-session-id"] = str(self.id)', seen=("1.0",)),
        # a line edited since the triage: matched loosely on (path, code, scope)
        entry("Conv.other", 'os.environ["K"] = self.token', verdict=False, code="LLA005", seen=("2.0",)),
        # gone in 2.0
        entry("Conv.gone", "x = 1", code="LLA002", seen=("2.0",)),
        # seen only in a version that was not run: not reported as vanished
        entry("Conv.old", "y = 1", code="LLA003", seen=("0.9",)),
    ]
    comp = E.compare_with_triage(fs, triage, {"sdk": {"2.0"}})
    assert [(f.code, loose) for f, _, loose in comp.labelled] == [("LLA001", False), ("LLA005", True)]
    assert comp.new == [] and comp.unlabelled == []
    assert [e.scope for e in comp.vanished] == ["Conv.gone"]
    assert E.precision(comp.labelled) == {"all": (1, 2), "LLA001": (1, 1), "LLA005": (0, 1)}


def test_new_and_unlabelled_findings(root: Path) -> None:
    fs = E.to_findings("sdk", "1.0", root, [record(6, "LLA001"), record(9, "LLA005")])
    triage = [entry("Conv.pin", 'llm.extra_headers["x-litellm-session-id"] = str(self.id)', verdict=None)]
    comp = E.compare_with_triage(fs, triage, {"sdk": {"1.0"}})
    assert [f.code for f in comp.new] == ["LLA005"]
    assert sorted(f.code for f in comp.unlabelled) == ["LLA001", "LLA005"]


def test_ambiguous_loose_match_is_new(root: Path) -> None:
    (f,) = E.to_findings("sdk", "1.0", root, [record(9, "LLA005")])
    triage = [entry("Conv.other", "a", code="LLA005"), entry("Conv.other", "b", code="LLA005")]
    assert E.Matcher(triage).match(f) == (None, False)


def test_triage_round_trips_through_toml(tmp_path: Path) -> None:
    triage = [entry("C.m", 'h["x-litellm-session-id"] = f"{a}\\\\"', verdict=False),
              entry("<module>", "x = 'é'", verdict=None)]
    path = tmp_path / "t.toml"
    path.write_text(E.dump_triage(triage))
    back = E.load_triage(path)
    assert sorted((e.key, e.verdict, e.seen_in) for e in back) == sorted((e.key, e.verdict, e.seen_in) for e in triage)


def test_diff_runs_is_a_multiset_difference(root: Path) -> None:
    a = E.to_findings("sdk", "1.0", root, [record(6, "LLA001"), record(6, "LLA001"), record(9, "LLA005")])
    b = E.to_findings("sdk", "1.0", root, [record(6, "LLA001"), record(13, "LLA005")])
    mine, theirs = E.diff_runs(a, b)
    assert [(f.code, f.row) for f in mine] == [("LLA001", 6), ("LLA005", 9)]
    assert [(f.code, f.row) for f in theirs] == [("LLA005", 13)]
