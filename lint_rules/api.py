"""The core API every front-end calls (CLI, flake8 plugin, pre-commit hooks, tests).

    check_source(source, path, config) -> list[Diagnostic]
    fix_source(source, path, config, unsafe=False) -> FixResult
    check_file(path, config, index, fix=...) -> FileResult

`fix_source` and `FixResult` come from the fix loop (`lint_rules.fixes`). The checker (the
engine, the analysis, libcst) is imported on first use: a run whose every file is served from
the result cache never loads it, and that import is most of a warm run's time.
"""

from __future__ import annotations

__all__ = ["FileResult", "FixResult", "MAX_FILE_BYTES", "check_file", "check_source",
           "fix_is_applicable", "fix_source", "read_error"]

import ast
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lint_rules.core.codes import SYNTAX_ERROR
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Diagnostic, Location, fix_is_applicable
from lint_rules.core.source import DecodedSource, SourceDecodeError, decode_source

if TYPE_CHECKING:
    from collections.abc import Callable

    from lint_rules.analysis.project_index import ProjectIndex
    from lint_rules.fixes import FixResult
    from lint_rules.rules import Rule


def __getattr__(name: str) -> Any:
    """`FixResult`, from the fix loop, loaded on first use."""
    if name == "FixResult":
        # The fix loop imports the checker: loaded on first use (see the module docstring).
        from lint_rules.fixes import FixResult
        return FixResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Larger files are reported as LLA000 and not read: no hand-written module is this big, and
# libcst needs minutes for one (docs/cli.md, "Limits").
MAX_FILE_BYTES = 10 * 1024 * 1024


def check_source(source: str, path: str = "<stdin>", config: Config | None = None,
                 index: ProjectIndex | None = None, *,
                 rules: Sequence[type[Rule]] | None = None, codes: Iterable[str] | None = None,
                 tree: ast.Module | None = None, noqa: bool = True) -> list[Diagnostic]:
    """Diagnostics for one file's text. `index` supplies cross-module facts; without one, a
    fresh index looks for base-class modules next to `path`. `rules` replaces the registry's
    rules (for tests of rules and of the fix engine). A front-end that selects codes itself,
    has CPython's tree already or applies `# noqa` itself passes `codes`, `tree`, `noqa`."""
    # The checker, loaded on first use (see the module docstring).
    from lint_rules.analysis.project_index import ProjectIndex
    from lint_rules.engine import check_text

    config = config or Config()
    if index is None:
        index = ProjectIndex(config)
    return check_text(source, path, config, index, rules=rules, codes=codes, tree=tree,
                      noqa=noqa)


def fix_source(source: str, path: str = "<stdin>", config: Config | None = None, *,
               unsafe: bool = False, index: ProjectIndex | None = None,
               select: Callable[[Diagnostic], bool] | None = None,
               rules: Sequence[type[Rule]] | None = None) -> FixResult:
    """The fix loop (`lint_rules.fixes.fix_source`): fixes applied in bounded rounds, each
    re-checked, until nothing changes."""
    # The fix loop imports the checker: loaded on first use (see the module docstring).
    from lint_rules import fixes

    return fixes.fix_source(source, path, config, unsafe=unsafe, index=index, select=select,
                            rules=rules)


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
    # The checker, loaded on first use (see the module docstring).
    from lint_rules.engine import check_text
    from lint_rules.fixes import rules_of

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
                          f"{display}: fix for {rules_of(result.fixed)} inserts "
                          f"{exc.object[exc.start:exc.end]!r}, which {decoded.encoding} cannot "
                          "encode; file left unchanged")
    return FileResult(display, result.remaining, result.fixed, decoded, result.source,
                      unfixed=result.initial)


def describe_exception(exc: BaseException) -> str:
    """A one-line description of an unexpected exception, cheap and safe to build: a KeyError
    holding a libcst node would print the whole tree (hundreds of MB for deep code)."""
    # Only on an error: the deep-stack helpers import libcst.
    from lint_rules.syntax.deep_stack import exhausted_stack

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
