"""The core API every front-end calls (CLI, flake8 plugin, pre-commit hooks, tests).

    check_source(source, path, config) -> list[Diagnostic]
    fix_source(source, path, config, unsafe=False) -> FixResult
    check_file(path, config, index, fix=...) -> FileResult
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lint_rules.config import Config
from lint_rules.diagnostics import Applicability, Diagnostic, Edit, Location, apply_edits
from lint_rules.engine import ParseFailure, check_text, exhausted_stack, parse_module
from lint_rules.index import ProjectIndex
from lint_rules.rules import SYNTAX_ERROR, Rule
from lint_rules.source import DecodedSource, SourceDecodeError, decode_source

MAX_FIX_ROUNDS = 10
# Larger files are reported as LLA000 and not read: no hand-written module is this big, and
# libcst needs minutes for one (docs/cli.md, "Limits").
MAX_FILE_BYTES = 10 * 1024 * 1024


def check_source(source: str, path: str = "<stdin>", config: Config | None = None,
                 index: ProjectIndex | None = None, *,
                 rules: Sequence[type[Rule]] | None = None) -> list[Diagnostic]:
    """Diagnostics for one file's text. `index` supplies cross-module facts; without one, a
    fresh index looks for base-class modules next to `path`. `rules` replaces the registry's
    rules (for tests of rules and of the fix engine)."""
    config = config or Config()
    if index is None:
        index = ProjectIndex(config)
    return check_text(source, path, config, index, rules=rules)


def fix_is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and (unsafe or fix.applicability is Applicability.SAFE)


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
    try:
        for _ in range(MAX_FIX_ROUNDS):
            applicable = chosen_fixes(diagnostics)
            if not applicable:
                return FixResult(source, fixed, diagnostics, initial=initial)
            for diagnostic in applicable:
                _validate_fix(source, diagnostic)
            chosen = _non_overlapping(applicable)
            candidate = _apply(source, chosen)
            if candidate == source:  # only no-op edits left: settled
                return FixResult(source, fixed, diagnostics, initial=initial)
            failure = parse_module(candidate)
            if isinstance(failure, ParseFailure):
                # Name the fixes that break the code on their own, when some do.
                culprits = [d for d in chosen
                            if isinstance(parse_module(_apply(source, [d])), ParseFailure)]
                raise _FixAbort(f"fix for {_rules_of(culprits or chosen)} produced invalid code "
                                f"({failure.message} on line {failure.row})")
            if candidate in seen:
                raise _FixAbort(f"fixes for {_rules_of(chosen)} undo each other and never "
                                "converge")
            seen.add(candidate)
            fixed.extend(chosen)
            source = candidate
            diagnostics = check(source)
        still = chosen_fixes(diagnostics)
        if still and _apply(source, _non_overlapping(still)) != source:
            raise _FixAbort(f"fixes for {_rules_of(still)} did not converge after "
                            f"{MAX_FIX_ROUNDS} rounds")
        return FixResult(source, fixed, diagnostics, initial=initial)
    except _FixAbort as abort:
        return FixResult(original, [], initial, error=f"{abort}; file left unchanged", initial=initial)


def _rules_of(diagnostics: list[Diagnostic]) -> str:
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


# ---------------------------------------------------------------------------- files
@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic]  # findings left (after fixing, when fixing)
    fixed: list[Diagnostic] = field(default_factory=list)
    original: DecodedSource | None = None
    new_text: str | None = None  # the fixed text, when fixing changed something
    error: str | None = None  # an internal error to report (exit 2), e.g. a fix that broke code
    # When fixing: the findings of the text as read, reported if the fixed text is not written.
    unfixed: list[Diagnostic] | None = None


def read_error(path: str, message: str) -> Diagnostic:
    loc = Location(1, 1)
    return Diagnostic(SYNTAX_ERROR[0], SYNTAX_ERROR[1], message, path, loc, loc)


def check_file(path: Path, display: str, config: Config, index: ProjectIndex, *,
               fix: bool = False, unsafe: bool = False, max_bytes: int | None = MAX_FILE_BYTES,
               rules: Sequence[type[Rule]] | None = None) -> FileResult:
    """Read, decode, check (and fix in memory) one file. Never raises for bad input: a file
    that cannot be read, is not a regular file, is larger than `max_bytes` or cannot be
    decoded is one LLA000 finding. Fixing never writes; `new_text` is set only when an edit
    was applied and the result can be encoded back in the file's encoding."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            # Reading a FIFO or a device would block or never end.
            return FileResult(display, [read_error(display, f"not a regular file ({_kind(st.st_mode)}); not checked")])
        if max_bytes is not None and st.st_size > max_bytes:
            return FileResult(display, [read_error(
                display, f"file is too large to check ({st.st_size} bytes; the limit is {max_bytes})")])
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(display, [read_error(display, f"cannot read file: {_os_reason(exc)}")])
    try:
        decoded = decode_source(data)
    except SourceDecodeError as exc:
        return FileResult(display, [read_error(display, f"cannot decode file: {exc}")])
    try:
        if not fix:
            return FileResult(display, check_text(decoded.text, display, config, index, rules=rules),
                              original=decoded)
        result = fix_source(decoded.text, display, config, unsafe=unsafe, index=index, rules=rules)
    except Exception as exc:  # an engine bug (or code too deep even for the deep stack):
        # this file is an internal error (exit 2); the run goes on with the others.
        return FileResult(display, [], [], decoded, None, internal_error(display, exc))
    if result.error:
        return FileResult(display, result.initial, [], decoded, None, f"{display}: {result.error}")
    if not result.changed or result.source == decoded.text:
        return FileResult(display, result.remaining, [], decoded)
    try:
        decoded.encode(result.source)
    except UnicodeEncodeError as exc:
        return FileResult(display, result.initial, [], decoded, None,
                          f"{display}: fix for {_rules_of(result.fixed)} inserts "
                          f"{exc.object[exc.start:exc.end]!r}, which {decoded.encoding} cannot "
                          "encode; file left unchanged")
    return FileResult(display, result.remaining, result.fixed, decoded, result.source,
                      unfixed=result.initial)


def describe_exception(exc: BaseException) -> str:
    """A one-line description of an unexpected exception, cheap and safe to build: a KeyError
    holding a libcst node would print the whole tree (hundreds of MB for deep code)."""
    if exhausted_stack(exc):
        return "RecursionError: the code is nested too deeply to analyse"
    name = type(exc).__name__
    if not all(isinstance(a, (str, int, float)) for a in exc.args):
        return name
    try:
        text = str(exc)
    except Exception:
        return name
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > 200:
        first = first[:200] + "..."
    return f"{name}: {first}" if first else name


def internal_error(display: str, exc: BaseException) -> str:
    return f"{display}: internal error: {describe_exception(exc)}; this file was not checked"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
