"""Path-sensitive "is X applied on every path from statement S to the function's exit?".

A backward must-analysis over libcst's structured statements (no CFG is built). For a point P,
G(P) is the set of facts (e.g. pin names) applied on *every* path from P to an exit of the
function. It is computed from the end of the function backwards:

- a simple statement adds the facts it applies: G(before s) = facts(s) | G(after s);
- `return` / `raise` jump to the function's exit through the enclosing `finally` blocks (an
  explicit `raise` inside `try` goes to the handlers, and also past them unless one is a bare
  `except`, `except Exception` or `except BaseException`);
- `if` / `match`: the intersection over the branches (a missing `else` / irrefutable case is an
  empty branch);
- `for` / `while`: the body may run zero times, `break` leaves, `continue` goes back to the
  head; the head is a fixed point computed from the top of the lattice (`while True` has no
  zero-iteration path);
- `with`: the items, then the body (the exit of a context manager applies nothing);
- `try`: the body continues into `else` then `finally`, and each of its statements may fail into
  a handler; handlers continue into `finally`;
  `finally` runs on every way out, so what it applies is added to every continuation;
- nested `def` / `class` / `lambda` apply nothing (defining is not running).

Implicit exceptions (any call may raise) are paths only inside a `try` that has handlers: the
handlers exist because the body is expected to fail, so every statement of the body may continue
into them (what a failing statement applies itself still counts: a pin helper that raises is
not the path this is about). Elsewhere they are not paths: a linter that assumed every call can
raise would ask for `try/finally` around every swap. The facts of a statement are whatever the
caller's `facts(node)` says; it is called on simple statements and on compound statements'
header expressions only.

`guaranteed_after(body, target, facts, universe)` answers for one target statement: the facts
applied on every path from just after the target to the exit (the intersection over every time
the analysis reaches the target, so a target in a `finally` or a loop is handled). Blocks are
memoised on (block, continuation, exits), so nested `finally` bodies and loops, which are
evaluated for several continuations, stay cheap.

`dominating_statements(body, target)` is the forward counterpart used for "applied before": the
statements that run on every path reaching the target.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import libcst as cst

from lint_rules.syntax.trampoline import run

Facts = frozenset[str]
FactsOf = Callable[[cst.CSTNode], Facts]
Steps = Generator[Any, Any, Facts]

# Exception names a handler catches "everything" with (an explicit raise never gets past it).
_CATCH_ALL = frozenset({"Exception", "BaseException"})


@dataclass(frozen=True)
class _Exits:
    """What is guaranteed at each non-sequential way out of the current point."""

    ret: Facts
    exc: Facts
    brk: Facts | None = None
    cont: Facts | None = None
    # Inside `try` with handlers: what is guaranteed once a statement fails and a handler runs.
    implicit: Facts | None = None


class _Analysis:
    def __init__(self, target: cst.CSTNode, facts: FactsOf, universe: Facts) -> None:
        self.target = target
        self.facts = facts
        self.universe = universe
        self.found: Facts | None = None
        # (block, continuation, exits) -> result: `finally` bodies and loop bodies are evaluated
        # for several continuations; nested ones would otherwise multiply. Recording the target
        # again for the same inputs would record the same value, so skipping it is exact.
        self._memo: dict[tuple[int, Facts, _Exits], Facts] = {}

    def _record(self, node: cst.CSTNode, after: Facts) -> None:
        if node is self.target:
            self.found = after if self.found is None else self.found & after

    def _of(self, node: cst.CSTNode | None) -> Facts:
        return self.facts(node) if node is not None else frozenset()

    # --- blocks ---
    # The analysis is written recursively, as generators that yield the generator of each
    # sub-problem (`state = yield self.block(...)`) and run under `syntax.trampoline.run`:
    # nested statements (a 2,000-branch `elif` chain) cost heap, never stack.
    def block(self, body: Sequence[cst.CSTNode] | cst.BaseSuite | None, after: Facts,
              exits: _Exits) -> Steps:
        if body is None:
            return after
        key = (id(body), after, exits)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        result = yield self._block(body, after, exits)
        self._memo[key] = result
        return result

    def _block(self, body: Sequence[cst.CSTNode] | cst.BaseSuite, after: Facts,
               exits: _Exits) -> Steps:
        if isinstance(body, cst.SimpleStatementSuite):
            return self.small_statements(body, body.body, after, exits)
        if isinstance(body, cst.IndentedBlock):
            body = body.body
        for statement in reversed(body):
            after = yield self.statement(statement, after, exits)
        return after

    def small_statements(self, line: cst.CSTNode, smalls: Sequence[cst.BaseSmallStatement],
                         after: Facts, exits: _Exits) -> Facts:
        self._record(line, after)
        for small in reversed(smalls):
            self._record(small, after)
            if isinstance(small, cst.Return):
                after = self._of(small.value) | exits.ret
            elif isinstance(small, cst.Raise):
                after = self._of(small.exc) | exits.exc
            elif isinstance(small, cst.Break):
                after = exits.brk if exits.brk is not None else after
            elif isinstance(small, cst.Continue):
                after = exits.cont if exits.cont is not None else after
            else:
                # The statement may fail into a handler; what it applies itself is taken as
                # done (a pin helper that raises is not the path this analysis is about).
                if exits.implicit is not None:
                    after = after & exits.implicit
                after = self._of(small) | after
        return after

    # --- statements ---
    def statement(self, node: cst.CSTNode, after: Facts, exits: _Exits) -> Steps:
        if isinstance(node, cst.SimpleStatementLine):
            return self.small_statements(node, node.body, after, exits)
        self._record(node, after)
        if isinstance(node, cst.If):
            branch = yield self.block(node.body, after, exits)
            other = after
            if isinstance(node.orelse, cst.If):
                other = yield self.statement(node.orelse, after, exits)
            elif isinstance(node.orelse, cst.Else):
                other = yield self.block(node.orelse.body, after, exits)
            return self._of(node.test) | (branch & other)
        if isinstance(node, (cst.For, cst.While)):
            return (yield self.loop(node, after, exits))
        if isinstance(node, cst.With):
            head: Facts = frozenset()
            for item in node.items:
                head |= self._of(item.item)
            return head | (yield self.block(node.body, after, exits))
        if isinstance(node, (cst.Try, cst.TryStar)):
            return (yield self.try_(node, after, exits))
        if isinstance(node, cst.Match):
            result: Facts | None = None
            irrefutable = False
            for case in node.cases:
                branch = self._of(case.guard) | (yield self.block(case.body, after, exits))
                result = branch if result is None else result & branch
                if case.guard is None and _irrefutable(case.pattern):
                    irrefutable = True
            if not irrefutable:
                result = after if result is None else result & after
            return self._of(node.subject) | (result if result is not None else after)
        # FunctionDef, ClassDef and anything unknown: defining runs nothing we track.
        return after

    def loop(self, node: cst.For | cst.While, after: Facts, exits: _Exits) -> Steps:
        header = self._of(node.iter) if isinstance(node, cst.For) else self._of(node.test)
        infinite = isinstance(node, cst.While) and _always_true(node.test)
        # `else` runs when the loop ends without `break` (also after zero iterations).
        normal_end = after
        if node.orelse is not None:
            normal_end = yield self.block(node.orelse.body, after, exits)
        head = self.universe if infinite else header | normal_end
        for _ in range(len(self.universe) + 2):  # the lattice is finite: this converges
            inner = replace(exits, brk=after, cont=head)
            body = yield self.block(node.body, head, inner)
            new_head = header | body if infinite else header | (normal_end & body)
            if new_head == head:
                break
            head = new_head
        return head

    def _fin(self, node: cst.Try | cst.TryStar, x: Facts | None, exits: _Exits) -> Steps:
        if x is None or node.finalbody is None:
            return x
        return (yield self.block(node.finalbody.body, x, exits))

    def try_(self, node: cst.Try | cst.TryStar, after: Facts, exits: _Exits) -> Steps:
        outer = _Exits(ret=(yield self._fin(node, exits.ret, exits)),  # type: ignore[arg-type]
                       exc=(yield self._fin(node, exits.exc, exits)),  # type: ignore[arg-type]
                       brk=(yield self._fin(node, exits.brk, exits)),
                       cont=(yield self._fin(node, exits.cont, exits)),
                       implicit=(yield self._fin(node, exits.implicit, exits)))
        done = yield self._fin(node, after, exits)
        assert done is not None
        handled: Facts | None = None
        catches_all = False
        for handler in node.handlers:
            branch = yield self.block(handler.body, done, outer)
            handled = branch if handled is None else handled & branch
            caught = handler.type
            if caught is None or _dotted(caught) in _CATCH_ALL:
                catches_all = True
        implicit = handled
        if implicit is not None and not catches_all and outer.implicit is not None:
            implicit = implicit & outer.implicit
        if handled is None or not catches_all:
            handled = outer.exc if handled is None else handled & outer.exc
        normal = done if node.orelse is None else (yield self.block(node.orelse.body, done, outer))
        inner = replace(outer, exc=handled, implicit=implicit if node.handlers else outer.implicit)
        return (yield self.block(node.body, normal, inner))


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    if isinstance(test, cst.Integer):
        return test.value not in ("0", "0x0", "0o0", "0b0")
    return False


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    """`case x`, `case _`, `case (y as x)`, `case A() | x`: an OR over the alternatives, with
    a worklist (no recursion on the pattern's nesting)."""
    todo = [pattern]
    while todo:
        current = todo.pop()
        if isinstance(current, cst.MatchAs):
            if current.pattern is None:
                return True
            todo.append(current.pattern)
        elif isinstance(current, cst.MatchOr):
            todo.extend(p.pattern for p in current.patterns)
    return False


def guaranteed_after(body: cst.BaseSuite, target: cst.CSTNode, facts: FactsOf,
                     universe: Facts) -> Facts | None:
    """Facts applied on every path from just after `target` to the function's exit.

    `body` is the function's body; `target` a statement in it (a small statement, a
    `SimpleStatementLine` or a compound statement). None when `target` is not reached
    (it sits in a nested function, or is not in `body`).
    """
    analysis = _Analysis(target, facts, universe)
    run(analysis.block(body, frozenset(), _Exits(ret=frozenset(), exc=frozenset())))
    return analysis.found


def dominating_statements(body: cst.BaseSuite, target: cst.CSTNode) -> list[cst.CSTNode]:
    """Statements that run on every path that reaches `target`: in structured code, the earlier
    siblings of `target` and of each statement enclosing it (small statements of a line are
    included one by one). Empty when `target` is not found."""
    found: list[cst.CSTNode] = []

    def search(block: cst.CSTNode | None, before: list[cst.CSTNode]) -> bool:
        if block is None:
            return False
        if isinstance(block, cst.SimpleStatementSuite):
            statements_: Sequence[cst.CSTNode] = block.body
        elif isinstance(block, cst.IndentedBlock):
            statements_ = block.body
        else:
            return False
        seen: list[cst.CSTNode] = []
        for statement in statements_:
            if statement is target:
                found.extend(before + seen)
                return True
            if isinstance(statement, cst.SimpleStatementLine):
                for i, small in enumerate(statement.body):
                    if small is target:
                        found.extend(before + seen + list(statement.body[:i]))
                        return True
            elif _search_compound(statement, before + seen, search):
                return True
            seen.append(statement)
        return False

    search(body, [])
    return found


def _search_compound(node: cst.CSTNode, before: list[cst.CSTNode], search) -> bool:
    # An `elif` chain is followed with a loop; the blocks recurse through `search` once per
    # level of indentation, which CPython caps at 100 levels.
    while isinstance(node, cst.If) and isinstance(node.orelse, cst.If):
        node = node.orelse  # (as before: the branches ahead of the last `elif` are not searched)
    blocks: list[cst.CSTNode | None] = []
    if isinstance(node, (cst.If, cst.For, cst.While, cst.With, cst.Try, cst.TryStar)):
        blocks.append(node.body)
    if isinstance(node, cst.If):
        orelse = node.orelse
        blocks.append(orelse.body if orelse is not None else None)
    elif isinstance(node, (cst.For, cst.While)):
        blocks.append(node.orelse.body if node.orelse is not None else None)
    elif isinstance(node, (cst.Try, cst.TryStar)):
        blocks.extend(h.body for h in node.handlers)
        blocks.append(node.orelse.body if node.orelse is not None else None)
        blocks.append(node.finalbody.body if node.finalbody is not None else None)
    elif isinstance(node, cst.Match):
        blocks.extend(c.body for c in node.cases)
    return any(search(b, before) for b in blocks)
