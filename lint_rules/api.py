"""The core API every front-end calls (CLI, flake8 plugin, pre-commit hooks, tests).

    check_source(source, path, config) -> list[Diagnostic]
    fix_source(source, path, config, unsafe=False) -> FixResult
    check_file(path, config, index, fix=...) -> FileResult
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lint_rules.config import Config
from lint_rules.diagnostics import Applicability, Diagnostic, Location, apply_edits
from lint_rules.engine import check_text, parse_module, ParseFailure
from lint_rules.index import ProjectIndex
from lint_rules.rules import SYNTAX_ERROR
from lint_rules.source import DecodedSource, SourceDecodeError, decode_source

MAX_FIX_ROUNDS = 10


def check_source(source: str, path: str = "<stdin>", config: Config | None = None,
                 index: ProjectIndex | None = None) -> list[Diagnostic]:
    """Diagnostics for one file's text. `index` supplies cross-module facts; without one, a
    fresh index looks for base-class modules next to `path`."""
    config = config or Config()
    if index is None:
        index = ProjectIndex(config)
    return check_text(source, path, config, index)


def fix_is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and (unsafe or fix.applicability is Applicability.SAFE)


@dataclass
class FixResult:
    source: str  # the fixed text (the input when nothing applied)
    fixed: list[Diagnostic] = field(default_factory=list)  # what was fixed, in order
    remaining: list[Diagnostic] = field(default_factory=list)  # findings left in `source`
    error: str | None = None  # set when fixing had to stop; `source` is then the input

    @property
    def changed(self) -> bool:
        return bool(self.fixed)


def fix_source(source: str, path: str = "<stdin>", config: Config | None = None, *,
               unsafe: bool = False, index: ProjectIndex | None = None,
               select: Callable[[Diagnostic], bool] | None = None) -> FixResult:
    """Apply fixes in bounded rounds: non-overlapping edits, re-check, until nothing changes.

    Overlapping fixes wait for the next round. The result is only kept if it parses; a loop
    that does not settle within MAX_FIX_ROUNDS is reported and leaves the source untouched.
    """
    config = config or Config()
    index = index or ProjectIndex(config)
    original = source
    fixed: list[Diagnostic] = []
    for _ in range(MAX_FIX_ROUNDS):
        diagnostics = check_text(source, path, config, index)
        chosen = _non_overlapping([
            d for d in diagnostics
            if fix_is_applicable(d, unsafe) and (select is None or select(d))
        ])
        if not chosen:
            return FixResult(source, fixed, diagnostics)
        candidate = apply_edits(source, [e for d in chosen for e in d.fix.edits])  # type: ignore[union-attr]
        if candidate == source:
            return FixResult(source, fixed, diagnostics)
        if isinstance(parse_module(candidate), ParseFailure):
            codes = ", ".join(sorted({d.code for d in chosen}))
            return FixResult(original, [], check_text(original, path, config, index),
                             error=f"fix for {codes} produced invalid code; file left unchanged")
        fixed.extend(chosen)
        source = candidate
    codes = ", ".join(sorted({d.code for d in fixed}))
    return FixResult(original, [], check_text(original, path, config, index),
                     error=f"fixes for {codes} did not converge after {MAX_FIX_ROUNDS} rounds; "
                           "file left unchanged")


def _non_overlapping(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    chosen: list[Diagnostic] = []
    for diagnostic in sorted(diagnostics, key=lambda d: (d.fix.span, d.code)):  # type: ignore[union-attr]
        if all(not diagnostic.fix.overlaps(c.fix) for c in chosen):  # type: ignore[union-attr]
            chosen.append(diagnostic)
    return chosen


# ---------------------------------------------------------------------------- files
@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic]  # findings left (after fixing, when fixing)
    fixed: list[Diagnostic] = field(default_factory=list)
    original: DecodedSource | None = None
    new_text: str | None = None  # the fixed text, when fixing changed something
    error: str | None = None  # an internal error to report (exit 2), e.g. a fix that broke code


def read_error(path: str, message: str) -> Diagnostic:
    loc = Location(1, 1)
    return Diagnostic(SYNTAX_ERROR[0], SYNTAX_ERROR[1], message, path, loc, loc)


def check_file(path: Path, display: str, config: Config, index: ProjectIndex, *,
               fix: bool = False, unsafe: bool = False, max_bytes: int | None = None) -> FileResult:
    """Read, decode, check (and fix in memory) one file. Never raises for bad input."""
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            return FileResult(display, [read_error(display, f"file is larger than {max_bytes} bytes; not checked")])
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(display, [read_error(display, f"cannot read file: {_os_reason(exc)}")])
    try:
        decoded = decode_source(data)
    except SourceDecodeError as exc:
        return FileResult(display, [read_error(display, f"cannot decode file: {exc}")])
    if not fix:
        return FileResult(display, check_text(decoded.text, display, config, index), original=decoded)
    result = fix_source(decoded.text, display, config, unsafe=unsafe, index=index)
    return FileResult(display, result.remaining, result.fixed, decoded,
                      result.source if result.changed else None, result.error)


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
