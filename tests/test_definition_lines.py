"""Summaries take class and method lines from one `ast` parse paired with libcst's definitions:
the pairing must give the lines libcst's positions give, in every block shape."""

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from lint_rules.analysis.project_index import _definition_lines

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
    assert _definition_lines(module, source + "def (:\n") == {}
