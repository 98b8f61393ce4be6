"""The fix loop: apply non-overlapping fixes in bounded rounds, re-check, until nothing changes.

Every front-end fixes through `fix_source` (the API re-exports it); nothing half-fixed is ever
returned: a fix that breaks the code, fixes that undo each other, or a loop that does not settle
leave the input unchanged with `error` set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Diagnostic, Edit, apply_edits, fix_is_applicable
from lint_rules.engine import check_text
from lint_rules.rules import Rule
from lint_rules.syntax.parse import ParseFailure, libcst_parse, parse_module

MAX_FIX_ROUNDS = 10


@dataclass
class FixResult:
    source: str  # the fixed text (the input when nothing applied)
    fixed: list[Diagnostic] = field(default_factory=list)  # what was fixed, in order
    remaining: list[Diagnostic] = field(default_factory=list)  # findings left in `source`
    error: str | None = None  # set when fixing had to stop; `source` is then the input
    initial: list[Diagnostic] = field(default_factory=list)  # findings in the input

    @property
    def changed(self) -> bool:
        return bool(self.fixed)


class _FixAbort(Exception):
    """Fixing this file must stop; the message says why (it names the rules)."""


def fix_source(source: str, path: str = "<stdin>", config: Config | None = None, *,
               unsafe: bool = False, index: ProjectIndex | None = None,
               select: Callable[[Diagnostic], bool] | None = None,
               rules: Sequence[type[Rule]] | None = None) -> FixResult:
    """Apply fixes in bounded rounds: non-overlapping edits, re-check, until nothing changes.

    Each round applies every applicable fix that overlaps none applied before it in the round
    (ordered by position); the others wait for the next round, when they are recomputed on the
    new text. A round's result is kept only if it still compiles (CPython) and parses (libcst).
    A malformed fix, a fix that breaks the code, fixes that undo each other, or a loop that has
    not settled after MAX_FIX_ROUNDS are errors naming the rules: the input is returned unchanged,
    with `error` set, so nothing half-fixed is ever written.
    """
    config = config or Config()
    index = index or ProjectIndex(config)

    def check(text: str) -> list[Diagnostic]:
        return check_text(text, path, config, index, rules=rules)

    def chosen_fixes(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        return [d for d in diagnostics
                if fix_is_applicable(d, unsafe) and (select is None or select(d))]

    original = source
    fixed: list[Diagnostic] = []
    seen = {source}
    diagnostics = initial = check(source)
    # Does libcst print `source` back exactly? Asked of the input once; a fixed text is known
    # from the parse that validates it.
    reproduced: bool | None = None
    try:
        for _ in range(MAX_FIX_ROUNDS):
            applicable = chosen_fixes(diagnostics)
            if not applicable:
                return FixResult(source, fixed, diagnostics, initial=initial)
            for diagnostic in applicable:
                _validate_fix(source, diagnostic)
            if reproduced is None:
                reproduced = _libcst_reproduces(libcst_parse(source), source)
            if not reproduced:
                raise _FixAbort("libcst does not reproduce this text exactly (it drops a "
                                "line continuation that ends in a lone carriage return), so no "
                                "fix can be placed safely")
            chosen = _non_overlapping(applicable)
            candidate = _apply(source, chosen)
            if candidate == source:  # only no-op edits left: settled
                return FixResult(source, fixed, diagnostics, initial=initial)
            failure = parse_module(candidate)
            if isinstance(failure, ParseFailure):
                # Name the fixes that break the code on their own, when some do.
                culprits = [d for d in chosen
                            if isinstance(parse_module(_apply(source, [d])), ParseFailure)]
                raise _FixAbort(f"fix for {rules_of(culprits or chosen)} produced invalid code "
                                f"({failure.message} on line {failure.row})")
            if candidate in seen:
                raise _FixAbort(f"fixes for {rules_of(chosen)} undo each other and never "
                                "converge")
            seen.add(candidate)
            fixed.extend(chosen)
            source, reproduced = candidate, _libcst_reproduces(failure, candidate)
            diagnostics = check(source)
        still = chosen_fixes(diagnostics)
        if still and _apply(source, _non_overlapping(still)) != source:
            raise _FixAbort(f"fixes for {rules_of(still)} did not converge after "
                            f"{MAX_FIX_ROUNDS} rounds")
        return FixResult(source, fixed, diagnostics, initial=initial)
    except _FixAbort as abort:
        return FixResult(original, [], initial, error=f"{abort}; file left unchanged", initial=initial)


def _libcst_reproduces(parsed: cst.Module | ParseFailure, source: str) -> bool:
    """Fixes are placed by libcst's view of the text: when its tree (`parsed`) does not print
    back to the very text (its tokenizer loses a `\\` + lone CR continuation), a fix could land
    on the wrong characters. A lone CR ending the file, which libcst drops too, is past every
    position and harmless."""
    return not isinstance(parsed, ParseFailure) and parsed.code in (
        source, source.removesuffix("\r"))


def rules_of(diagnostics: list[Diagnostic]) -> str:
    return ", ".join(sorted({f"{d.code} ({d.name})" for d in diagnostics}))


def _validate_fix(source: str, diagnostic: Diagnostic) -> None:
    """A rule bug must not become a corrupt file: edits in range, ordered, not overlapping."""
    fix = diagnostic.fix
    assert fix is not None
    where = f"{diagnostic.code} ({diagnostic.name}) at {diagnostic.start.row}:{diagnostic.start.column}"
    if not fix.edits:
        raise _FixAbort(f"fix for {where} has no edits")
    edits = sorted(fix.edits, key=lambda e: (e.start, e.end))
    for edit in edits:
        if not 0 <= edit.start <= edit.end <= len(source):
            raise _FixAbort(f"fix for {where} has an edit out of range "
                            f"({edit.start}..{edit.end} in a text of {len(source)} characters)")
    for a, b in zip(edits, edits[1:]):
        if a.overlaps(b):
            raise _FixAbort(f"fix for {where} has overlapping edits")


def _non_overlapping(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    chosen: list[Diagnostic] = []
    for diagnostic in sorted(diagnostics, key=lambda d: (d.fix.span, d.code)):  # type: ignore[union-attr]
        if all(not diagnostic.fix.overlaps(c.fix) for c in chosen):  # type: ignore[union-attr]
            chosen.append(diagnostic)
    return chosen


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _apply(source: str, chosen: list[Diagnostic]) -> str:
    edits = [_with_local_newlines(source, e) for d in chosen for e in d.fix.edits]  # type: ignore[union-attr]
    return apply_edits(source, edits)


def _with_local_newlines(source: str, edit: Edit) -> Edit:
    """Line breaks in inserted text take the ending of the line they land on, so a CRLF (or
    mixed) file keeps its endings whatever a rule wrote. Python reads every ending the same
    way, inside string literals too, so this never changes behaviour."""
    if "\n" not in edit.content and "\r" not in edit.content:
        return edit
    after = _LINE_BREAK.search(source, edit.end)
    if after is not None:
        ending = after.group()
    else:
        before = [m.group() for m in _LINE_BREAK.finditer(source)]
        ending = before[-1] if before else "\n"
    content = _LINE_BREAK.sub(ending, edit.content)
    if content == edit.content:
        return edit
    return Edit(edit.start, edit.end, content, edit.location, edit.end_location)
