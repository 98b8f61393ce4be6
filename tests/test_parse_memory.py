"""A large libcst parse gives its scratch memory back at once; a very large one holds the gate."""

from __future__ import annotations

import sys

import pytest

from lint_rules.core import memory
from lint_rules.syntax import parse
from lint_rules.syntax.parse import ParseFailure, gate_large_parses, libcst_parse

CHUNK = (
    "class Agent{n}(Base):\n"
    "    def run(self, llm, headers: dict[str, str] | None = None) -> None:\n"
    "        # a comment, and a call with keyword arguments\n"
    "        self.llm = llm.model_copy(update={{'extra_headers': dict(headers or {{}})}})\n"
    "        for item in sorted(self.items, key=lambda i: (i.name, i.size)):\n"
    "            yield item.name, [x for x in item.parts if x]\n\n\n"
)


def _source(characters: int) -> str:
    parts, size = [], 0
    while size < characters:
        parts.append(CHUNK.format(n=len(parts)))
        size += len(parts[-1])
    return "".join(parts)


class Gate:
    def __init__(self) -> None:
        self.entered = 0
        self.held = False

    def __enter__(self) -> None:
        self.entered += 1
        self.held = True

    def __exit__(self, *exc) -> None:
        self.held = False


@pytest.fixture
def small_thresholds(monkeypatch):
    """The thresholds' logic on small sources: a parse of 150 K characters takes a second."""
    monkeypatch.setattr(parse, "LARGE_SOURCE", 2_000)
    monkeypatch.setattr(parse, "GATED_SOURCE", 5_000)


@pytest.fixture
def gate(small_thresholds):
    recorder = Gate()
    gate_large_parses(recorder)
    try:
        yield recorder
    finally:
        gate_large_parses(None)


def test_only_a_very_large_parse_holds_the_gate(gate, monkeypatch):
    held_during: list[bool] = []
    real = parse._libcst_parse
    monkeypatch.setattr(parse, "_libcst_parse", lambda s: held_during.append(gate.held) or real(s))
    assert not isinstance(libcst_parse(_source(parse.LARGE_SOURCE)), ParseFailure)
    assert gate.entered == 0 and held_during == [False]
    assert not isinstance(libcst_parse(_source(parse.GATED_SOURCE)), ParseFailure)
    assert gate.entered == 1 and held_during == [False, True] and not gate.held


def test_a_gated_parse_that_fails_releases_the_gate(gate):
    found = libcst_parse(_source(parse.GATED_SOURCE) + "def broken(:\n")
    assert isinstance(found, ParseFailure) and found.message.startswith("libcst: ")
    assert gate.entered == 1 and not gate.held


def test_a_gate_taken_away_is_not_held(gate):
    gate_large_parses(None)
    assert not isinstance(libcst_parse(_source(parse.GATED_SOURCE)), ParseFailure)
    assert gate.entered == 0


def test_only_a_large_parse_gives_memory_back(small_thresholds, monkeypatch):
    released: list[int] = []
    monkeypatch.setattr(parse, "release_freed_memory", lambda: released.append(1))
    libcst_parse(_source(parse.LARGE_SOURCE // 2))
    assert released == []
    libcst_parse(_source(parse.LARGE_SOURCE))
    assert released == [1]
    libcst_parse(_source(parse.LARGE_SOURCE) + "def broken(:\n")
    assert released == [1, 1]


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._find_trim() is None,
                    reason="/proc/self/statm and glibc's malloc_trim")
def test_the_parsers_scratch_memory_leaves_the_process(monkeypatch):
    """The parser's scratch memory is several times the tree it returns: given back, the
    process grows by the tree; kept, by the scratch memory as well."""
    source = _source(150_000)
    memory.release_freed_memory()
    before = memory.resident_bytes()
    kept_tree = libcst_parse(source)
    given_back = memory.resident_bytes() - before
    monkeypatch.setattr(parse, "LARGE_SOURCE", len(source) + 1)  # as if small: nothing given back
    before = memory.resident_bytes()
    other_tree = libcst_parse(source)
    kept = memory.resident_bytes() - before
    assert not isinstance(kept_tree, ParseFailure) and not isinstance(other_tree, ParseFailure)
    assert given_back * 2 < kept, (given_back >> 20, kept >> 20)
