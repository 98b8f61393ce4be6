"""The `ast` walks of the stages skip expression contexts and operators, and nothing else."""

from __future__ import annotations

import ast
import inspect

from lint_rules.analysis import process_state_ast, rule_stages
from lint_rules.syntax.ast_fields import child_nodes, walk

_SKIPPED_KINDS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _sample() -> ast.Module:
    # Every kind of node the package's own modules hold, and operators of every family.
    source = "\n".join(inspect.getsource(m) for m in (rule_stages, process_state_ast))
    source += "\nx = not a and b or -c < d in e is not f\nx += 1\nx |= {**y}\n"
    return ast.parse(source)


def test_children_are_ast_children_without_contexts_and_operators():
    tree = _sample()
    compared = skipped = 0
    for node in ast.walk(tree):
        expected = [c for c in ast.iter_child_nodes(node) if not isinstance(c, _SKIPPED_KINDS)]
        skipped += sum(isinstance(c, _SKIPPED_KINDS) for c in ast.iter_child_nodes(node))
        assert child_nodes(node) == expected, ast.dump(node)[:200]
        compared += 1
    assert compared > 10_000 and skipped > 1_000  # the sample holds both


def test_walk_is_ast_walk_without_contexts_and_operators():
    tree = _sample()
    expected = [n for n in ast.walk(tree) if not isinstance(n, _SKIPPED_KINDS)]
    assert list(walk(tree)) == expected
