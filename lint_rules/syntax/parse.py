"""Parsing: CPython's verdict on a file, libcst's tree, CPython's `ast`, and module names.

CPython judges the text first: its messages are better, and libcst's native parser overflows
the C stack (a segfault, not an exception) on nesting that CPython rejects, e.g. 3000
parentheses. A failure is a value (`ParseFailure`), never an exception.

The verdict belongs to the project's target Python (`core.target`), not to the interpreter
that runs the tool: when the target is newer than the interpreter and CPython rejects the text
for a reason other than one of its nesting limits, libcst's parser (which reads the 3.12 and
3.13 grammar: PEP 695 generics, PEP 701 f-strings, PEP 696 defaults) decides instead.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from lint_rules.core.memory import release_freed_memory
from lint_rules.core.target import NEWEST, RUNNING, Version, describe
from lint_rules.syntax.deep_stack import call_on_fresh_stack, call_with_deep_stack


@dataclass(frozen=True)
class ParseFailure:
    row: int
    column: int  # 1-based
    message: str
    # CPython stopped at one of its nesting limits (parentheses, indentation, recursion):
    # libcst must never see the text.
    at_limit: bool = False


LIBCST_PREFIX = "libcst: "
# Source length from which a libcst parse gives its scratch memory back (at 64 K characters:
# about 13 MB back for 2 ms, against a 0.1 s parse).
LARGE_SOURCE = 64_000
# Source length from which a parse takes the large-parse gate, when the process has one: 30 MB
# of scratch memory and more.
GATED_SOURCE = 150_000
_LIBCST_AT = re.compile(r"error at (\d+):(\d+): ")
# CPython's messages for text past its nesting limits (3.10 to 3.13).
_LIMIT_MESSAGES = ("too many nested parentheses", "too many levels of indentation",
                   "too deeply nested", "too complex", "maximum recursion depth")


def parse_module(source: str, path: str = "<unknown>",
                 target: Version = NEWEST) -> cst.Module | ParseFailure:
    """The libcst tree of a file valid for `target` (default: the newest grammar), or why not."""
    failure = syntax_check(source, path)
    return libcst_parse(source) if failure is None else judge_for_target(source, failure, target)


def syntax_verdict(source: str, path: str, target: Version = NEWEST,
                   tree: ast.Module | None = None) -> ParseFailure | None:
    """Why the text is invalid for `target`, or None. Parses with libcst only when CPython's
    verdict cannot stand (the target is newer than the interpreter). `tree`: CPython's `ast` of
    the text, when the caller built one (see `syntax_check`)."""
    failure = syntax_check(source, path, tree)
    if failure is None:
        return None
    judged = judge_for_target(source, failure, target)
    return judged if isinstance(judged, ParseFailure) else None


def judge_for_target(source: str, failure: ParseFailure, target: Version,
                     parse: Callable[[str], cst.Module | ParseFailure] | None = None
                     ) -> cst.Module | ParseFailure:
    """CPython rejected the text (`failure`): its verdict, unless the target is newer than the
    interpreter and the text is shallow enough for libcst, whose tree or verdict then stands."""
    if not _libcst_decides(failure, target, source):
        return failure
    if ast_tree(source) is not None:
        # CPython's grammar accepts it, its compiler does not (a misplaced `from __future__`,
        # `return` outside a function): an error in every version, which libcst cannot see.
        return failure
    parsed = (parse or libcst_parse)(source)
    return _for_target(parsed, failure, target) if isinstance(parsed, ParseFailure) else parsed


def _libcst_decides(failure: ParseFailure, target: Version, source: str) -> bool:
    return target > RUNNING and not failure.at_limit and _shallow(source)


# libcst's native parser overflows the C stack on deep nesting, and CPython may stop at an
# earlier error before reaching its own limit: text deeper than these keeps CPython's verdict.
_MAX_BRACKETS = 100
_MAX_INDENT_LEVELS = 90
_MAX_LINE = 20_000


def _shallow(source: str) -> bool:
    """Cheap over-approximation of nesting: brackets counted everywhere (strings included),
    indentation levels from leading whitespace, and line length (long operator chains)."""
    depth = 0
    for ch in source:
        if ch in "([{":
            depth += 1
            if depth > _MAX_BRACKETS:
                return False
        elif ch in ")]}" and depth:
            depth -= 1
    indents: list[int] = [0]
    for line in source.splitlines():
        if len(line) > _MAX_LINE:
            return False
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(line) - len(stripped)
        while width < indents[-1]:
            indents.pop()
        if width > indents[-1]:
            indents.append(width)
            if len(indents) > _MAX_INDENT_LEVELS:
                return False
    return True


def _for_target(libcst_failure: ParseFailure, cpython: ParseFailure, target: Version) -> ParseFailure:
    """Invalid for the target too. libcst's positions are approximate (its PEG parser reports
    one of the alternatives it tried), so CPython's position stands; where the two stop on
    different lines, the message names both verdicts and the grammar each judged by."""
    detail = libcst_failure.message.removeprefix(LIBCST_PREFIX).removeprefix("parser error: ")
    row = libcst_failure.row
    at = _LIBCST_AT.match(detail)
    if at is not None:
        row = int(at.group(1))
        detail = detail[at.end():]
    if row == cpython.row:
        return cpython
    if len(detail) > 80:
        detail = detail[:77] + "..."
    return ParseFailure(cpython.row, cpython.column,
                        f"{cpython.message} ({describe(RUNNING)}); libcst, for the project's "
                        f"target {describe(target)}, stops on line {row}: {detail}")


# Held around each large parse when set (`gate_large_parses`).
_large_parse_gate: list[AbstractContextManager] = []


def gate_large_parses(gate: AbstractContextManager | None) -> None:
    """Parse large sources only while holding `gate` (None: no gate). The runner gives its
    workers one lock, so that no two of them hold a large parse's scratch memory at once."""
    _large_parse_gate[:] = [] if gate is None else [gate]


def libcst_parse(source: str) -> cst.Module | ParseFailure:
    """libcst alone: only for text that `syntax_check` has accepted (failures say "libcst: ")."""
    if len(source) < GATED_SOURCE or not _large_parse_gate:
        return _libcst_parse(source)
    with _large_parse_gate[0]:
        return _libcst_parse(source)


def _libcst_parse(source: str) -> cst.Module | ParseFailure:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        return ParseFailure(exc.raw_line, exc.raw_column + 1, f"{LIBCST_PREFIX}{message}")
    except RecursionError:
        return ParseFailure(1, 1, f"{LIBCST_PREFIX}too deeply nested to parse")
    except (MemoryError, ValueError) as exc:
        return ParseFailure(1, 1, f"{LIBCST_PREFIX}{exc}")
    finally:
        if len(source) >= LARGE_SOURCE:
            # The parser's scratch memory (about 200 bytes per source byte) is freed but kept by
            # glibc: give it back now, not after the file's whole check, so that it does not
            # stack with the analysis' memory or with another worker's parse.
            release_freed_memory()


def syntax_check(source: str, path: str, tree: ast.Module | None = None) -> ParseFailure | None:
    """CPython's own verdict: a full compile, so errors of the compiler stage (misplaced
    `from __future__`, `return` outside a function) count too. Compiling to bytecode is also
    cheaper than building Python AST objects (PyCF_ONLY_AST).

    `tree`: `ast.parse(source)`, when the caller built it for the prefilter's second stage; the
    grammar has accepted the text then, and compiling the tree gives the compiler stage's
    verdict without parsing the text a second time (one parse shared by LLA000 and the stages).
    Compiling a tree recurses deeper than compiling text (a 500-branch `elif` chain that the
    text compiles fine): when the tree fails in any way, the text is compiled instead, so the
    verdict is always the text's.

    The compiler's recursion limit counts the frames of its caller: when it runs out, the text
    is judged again on a fresh stack at the same limit, so the verdict on deep code (a
    2,900-term `a + b + ...`) is the same whoever asks. Past that, the file is "too deeply
    nested" (LLA000; CPython could not import it either), and libcst never sees it."""
    if tree is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(tree, path, "exec", dont_inherit=True)
            return None
        except Exception:  # noqa: BLE001 - the text's compile below gives the verdict
            pass
    failure = _compile_verdict(source, path, fresh_stack=False)
    if failure is _RETRY:
        failure = _compile_verdict(source, path, fresh_stack=True)
    return failure if isinstance(failure, ParseFailure) or failure is None else _TOO_DEEP


_RETRY = object()
_TOO_DEEP = ParseFailure(1, 1, "SyntaxError: too deeply nested to parse", True)


def _compile(source: str, path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile(source, path, "exec", dont_inherit=True)


def _compile_verdict(source: str, path: str, *, fresh_stack: bool) -> ParseFailure | object | None:
    try:
        if fresh_stack:
            call_on_fresh_stack(_compile, source, path)
        else:
            _compile(source, path)
    except SyntaxError as exc:
        column = (exc.offset or 1)
        limit = any(m in str(exc.msg) for m in _LIMIT_MESSAGES)
        return ParseFailure(exc.lineno or 1, max(column, 1), f"{type(exc).__name__}: {exc.msg}", limit)
    except RecursionError:
        return _TOO_DEEP if fresh_stack else _RETRY
    except MemoryError:
        return _TOO_DEEP
    except (ValueError, OverflowError, SystemError) as exc:
        # ValueError: "source code string cannot contain null bytes"
        return ParseFailure(1, 1, f"SyntaxError: {exc}")
    return None


def ast_tree(source: str) -> ast.Module | None:
    """CPython's tree, or None when it cannot be built (the syntax check reports why). Every
    `ast` of the package is built here: building the Python objects of a deep tree (a
    2,900-term `+`, which CPython compiles) may run out of the caller's stack, and is then
    retried on a deep one (`deep_stack`), so a file CPython accepts always has its tree."""
    try:
        return _ast_parse(source)
    except RecursionError:
        pass
    except (SyntaxError, ValueError, OverflowError, MemoryError):
        return None
    try:
        return call_with_deep_stack(_ast_parse, source)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


def _ast_parse(source: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def module_name_for(path: str) -> tuple[str, bool]:
    """Dotted module name of a file from the packages (folders with __init__.py) around it."""
    p = Path(path)
    is_package = p.name == "__init__.py"
    parts = [] if is_package else [p.stem]
    folder = p.parent
    try:
        while (folder / "__init__.py").is_file():
            parts.append(folder.name)
            if folder.parent == folder:
                break
            folder = folder.parent
    except OSError:
        pass
    return ".".join(reversed(parts)), is_package
