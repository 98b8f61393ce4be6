"""Rules that exist only to test the fix engine, each with one well-defined fix behaviour.

They are ordinary `Rule` subclasses, run with `check_source(..., rules=...)` /
`fix_source(..., rules=...)`; being defined outside `lint_rules.rules` they never join the
registry. `fix_cli.py` registers them for CLI subprocess tests.

Codes LLA9xx are never used by real rules.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules import Rule


def _assigned(node: cst.Assign, name: str) -> bool:
    return (len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)
            and node.targets[0].target.value == name)


class OneToTwo(Rule):
    """`x = 1` becomes `x = 2` (safe). Touches only the literal."""

    code = "LLA901"
    name = "test-one-to-two"
    summary = "x = 1 becomes x = 2"
    rationale = ""
    fix_description = "replace 1 with 2"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "x") and isinstance(node.value, cst.Integer) and node.value.value == "1":
            self.report(node, "x is 1", Fix("use 2", (self.ctx.replace(node.value, "2"),)))


class PassToEllipsis(Rule):
    """Every `pass` becomes `...` (safe). Fires often in generated programs."""

    code = "LLA902"
    name = "test-pass-to-ellipsis"
    summary = "pass becomes ..."
    rationale = ""
    fix_description = "replace pass with ..."

    def visit_Pass(self, node: cst.Pass) -> None:
        self.report(node, "pass statement", Fix("use ...", (self.ctx.replace(node, "..."),)))


class TwoToThreeUnsafe(Rule):
    """`x = 2` becomes `x = 3`, an UNSAFE fix: with OneToTwo it chains 1 -> 2 -> 3."""

    code = "LLA903"
    name = "test-two-to-three-unsafe"
    summary = "x = 2 becomes x = 3"
    rationale = ""
    fix_description = "replace 2 with 3"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "x") and isinstance(node.value, cst.Integer) and node.value.value == "2":
            self.report(node, "x is 2", Fix("use 3", (self.ctx.replace(node.value, "3"),),
                                            Applicability.UNSAFE))


class RenameCallWhole(Rule):
    """`f(...)` becomes `g(...)` by replacing the WHOLE call: nested calls overlap, so the inner
    one must wait for the next round (applied together they would corrupt the text)."""

    code = "LLA904"
    name = "test-rename-call-whole"
    summary = "f(...) becomes g(...)"
    rationale = ""
    fix_description = "call g"

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "f":
            text = self.ctx.code(node)
            self.report(node, "calls f", Fix("call g", (self.ctx.replace(node, "g" + text[1:]),)))


class NeverConverges(Rule):
    """`counter = N` becomes `counter = N + 1`, forever."""

    code = "LLA905"
    name = "test-never-converges"
    summary = "counts up"
    rationale = ""
    fix_description = "add one"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "counter") and isinstance(node.value, cst.Integer):
            value = int(node.value.value)
            self.report(node, "count", Fix("add one", (self.ctx.replace(node.value, str(value + 1)),)))


class FlipFlop(Rule):
    """`flip = True` <-> `flip = False`: two fixes that undo each other."""

    code = "LLA906"
    name = "test-flip-flop"
    summary = "flips"
    rationale = ""
    fix_description = "flip"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "flip") and isinstance(node.value, cst.Name) and node.value.value in ("True", "False"):
            other = "False" if node.value.value == "True" else "True"
            self.report(node, "flip", Fix("flip", (self.ctx.replace(node.value, other),)))


class BreaksCode(Rule):
    """`broken = 1` becomes `broken = = 1`: a fix producing invalid code."""

    code = "LLA907"
    name = "test-breaks-code"
    summary = "breaks"
    rationale = ""
    fix_description = "break"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "broken"):
            self.report(node, "broken", Fix("break it", (self.ctx.insert_before(node.value, "= "),)))


class MalformedEdit(Rule):
    """`bad_edit = 1` gets a fix whose edit ends past the end of the text."""

    code = "LLA908"
    name = "test-malformed-edit"
    summary = "malformed"
    rationale = ""
    fix_description = "malformed"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "bad_edit"):
            n = len(self.ctx.source)
            self.report(node, "bad", Fix("oops", (Edit(n - 1, n + 5, "1"),)))


class InsertsLines(Rule):
    """A statement `mark()` becomes `marked = <a two-line string>` and `done()` on two lines,
    always written with a bare "\\n": the engine must give the new line breaks the ending of
    the line they land on (CRLF, LF, or the local one in a mixed file)."""

    code = "LLA909"
    name = "test-inserts-lines"
    summary = "inserts a line"
    rationale = ""
    fix_description = "split into two statements"

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        for small in node.body:
            if (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
                    and isinstance(small.value.func, cst.Name) and small.value.func.value == "mark"):
                indent = self.ctx.indent_of(node)
                text = f'marked = """two\nlines"""\n{indent}done()'
                self.report(node, "mark", Fix("insert", (self.ctx.replace(small, text),)))


class NonLatin(Rule):
    """`greeting = "hi"` becomes `greeting = "hi →"`: an arrow no latin-1 file can hold."""

    code = "LLA910"
    name = "test-non-latin"
    summary = "arrow"
    rationale = ""
    fix_description = "arrow"

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigned(node, "greeting") and isinstance(node.value, cst.SimpleString):
            if "→" not in node.value.value:
                self.report(node, "hi", Fix("arrow", (self.ctx.replace(node.value, '"hi →"'),)))


ALL_TEST_RULES: tuple[type[Rule], ...] = (
    OneToTwo, PassToEllipsis, TwoToThreeUnsafe, RenameCallWhole, NeverConverges, FlipFlop,
    BreaksCode, MalformedEdit, InsertsLines, NonLatin,
)
# The well-behaved ones: their fixes always converge and keep the code valid.
GOOD_TEST_RULES: tuple[type[Rule], ...] = (OneToTwo, PassToEllipsis, TwoToThreeUnsafe, RenameCallWhole)
