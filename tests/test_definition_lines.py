"""Summaries take definition and statement lines from one `ast` parse paired with libcst's
statements (syntax/lines.py): the pairing must give the lines libcst's positions give, in every
block shape."""

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from lint_rules.syntax.lines import NodeLines, statement_lines, token_statement_lines

SOURCE = '''\
try:
    from _fast import normpath
except ImportError:
    def normpath(p):
        return p
else:
    def normpath(p):  # same name, after the handler
        return p.strip()
finally:
    def cleanup():
        pass


@decorator
@other(
    1,
)
async def fetch():
    class Inner:
        def method(self):
            pass
    return Inner


class Outer(Base):
    if FLAG:
        def a(self):
            pass
    else:
        def a(self):
            pass

    match kind:
        case 1:
            def b(self):
                pass
        case _:
            def b(self):
                pass

    for _ in range(2):
        def c(self):
            pass
    else:
        def c(self):
            pass
'''


def _positions(module: cst.Module) -> dict[int, int]:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(node): pos.start.line for node, pos in positions.items()
            if isinstance(node, (cst.FunctionDef, cst.ClassDef))}


def _definition_lines(module: cst.Module, source: str) -> dict[int, int]:
    defs = {id(n) for n in _all_nodes(module) if isinstance(n, (cst.FunctionDef, cst.ClassDef))}
    return {key: first for key, (first, _last) in
            statement_lines(module, _ast_or_none(source)).items() if key in defs}


def _ast_or_none(source: str):
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    out, stack = [], [module]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def test_definition_lines_match_libcst_positions():
    module = cst.parse_module(SOURCE)
    lines = _definition_lines(module, SOURCE)
    expected = _positions(module)
    assert len(expected) == 13
    assert lines == expected


def test_unreadable_for_ast_gives_no_lines():
    # libcst reads it, this interpreter's `ast` may not: then positions answer (empty pairing).
    source = "def f():\n    pass\n"
    module = cst.parse_module(source)
    assert statement_lines(module, _ast_or_none(source + "def (:\n")) == {}


FIXTURES = sorted(p for p in (Path(__file__).parent / "fixtures").rglob("*.py")
                  if p.stat().st_size and _ast_or_none(p.read_text(encoding="utf-8")) is not None)


@pytest.mark.parametrize("path", [Path(__file__)] + FIXTURES[::7],
                         ids=lambda p: p.name)
def test_every_statement_and_node_line_matches_libcst_positions(path: Path) -> None:
    """Every small and compound statement is paired, at the line libcst's positions give; a
    node inside a statement gets the statement's line when the statement is one line long,
    and the fallback's answer otherwise."""
    source = path.read_text(encoding="utf-8")
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    paired = statement_lines(module, ast.parse(source))
    statements = [n for n in _all_nodes(module)
                  if isinstance(n, (cst.BaseSmallStatement, cst.BaseCompoundStatement))]
    assert statements and {id(n) for n in statements} == set(paired)
    asked: list[cst.CSTNode] = []
    lines = NodeLines(module, source, lambda node: asked.append(node) or positions[node].start.line)
    for statement in statements:
        assert lines(statement) == positions[statement].start.line
        for call in (n for n in _all_nodes(statement) if isinstance(n, cst.Call)):
            assert lines(call, statement) == positions[call].start.line
    assert all(not isinstance(n, (cst.BaseSmallStatement, cst.BaseCompoundStatement))
               for n in asked)


# Shapes the token pairing must tell apart: same-line bodies, `;`, soft keywords used as names,
# decorators over several lines, continuation lines, strings over several lines.
TOKEN_SHAPES = '''\
import os; import sys
x = 1; y = 2;
if x: y = 3; z = 4
elif y: pass
else: z = 5
match = {"case": 1}
case = match["case"]; match["case"] = case
match(x)
match (x):
    case {"a": 1} if y:
        pass
    case [a, b]:
        pass
    case _: pass
total = (1 +
         2) + \\
    3
doc = """one
two"""
lambda: 0
async def worker(queue):
    async for item in queue:
        async with item: pass
    while True: break
    else: return
@decorator(
    key=1,
)
class Box(Base): pass
try: pass
except (ValueError, TypeError) as error: raise
else: pass
finally: os.sync()
with open(doc) as fh, open(doc) as gh:
    for line in fh: print(line); continue
def f(a: int = 1, *, b: "dict[str, int]" = {}) -> None: return None
'''


@pytest.mark.parametrize("path", [None, Path(__file__)] + FIXTURES[::7],
                         ids=lambda p: "token-shapes" if p is None else p.name)
def test_tokens_pair_every_statement_at_the_lines_ast_gives(path: Path | None) -> None:
    """Without an `ast` (syntax newer than the interpreter), `tokenize` gives the statements'
    lines: each statement's first line is the one the `ast` pairing gives, a small statement's
    last line too; a compound statement is never taken for one line long."""
    source = TOKEN_SHAPES if path is None else path.read_text(encoding="utf-8")
    module = cst.parse_module(source)
    paired = statement_lines(module, ast.parse(source))
    from_tokens = token_statement_lines(module, source)
    assert paired and set(from_tokens) == set(paired)
    for statement in (n for n in _all_nodes(module)
                      if isinstance(n, (cst.BaseSmallStatement, cst.BaseCompoundStatement))):
        first, last = paired[id(statement)]
        if isinstance(statement, cst.BaseCompoundStatement):
            assert from_tokens[id(statement)] == (first, first + 1)
        else:
            assert from_tokens[id(statement)] == (first, last)


def test_without_an_ast_statement_lines_come_from_tokens_not_the_fallback() -> None:
    """Python 3.12's `type` statement and generic class read by libcst, not by an older `ast`
    (simulated: no tree): the statements' lines are libcst's positions, and the fallback is
    never asked for them. A text that does not pair gives no lines."""
    source = ("type Pairs = list[tuple[int, int]]\n\n\nclass Box[T](Base):\n"
              "    @property\n    def item(self) -> T: return self._item\n")
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    asked: list[cst.CSTNode] = []
    lines = NodeLines(module, source, lambda node: asked.append(node) or 0, lambda: None)
    statements = [n for n in _all_nodes(module)
                  if isinstance(n, (cst.BaseSmallStatement, cst.BaseCompoundStatement))]
    assert len(statements) == 4
    assert [lines(s) for s in statements] == [positions[s].start.line for s in statements]
    assert asked == []
    assert token_statement_lines(module, source + "x = 1\n") == {}  # one statement too many
    assert token_statement_lines(module, 'def f(:\n    """\n') == {}  # does not tokenize
