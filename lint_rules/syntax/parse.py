"""Parsing: CPython's verdict on a file, libcst's tree, CPython's `ast`, and module names.

CPython judges the text first: its messages are better, and libcst's native parser overflows
the C stack (a segfault, not an exception) on nesting that CPython rejects, e.g. 3000
parentheses. A failure is a value (`ParseFailure`), never an exception.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from pathlib import Path

import libcst as cst


@dataclass(frozen=True)
class ParseFailure:
    row: int
    column: int  # 1-based
    message: str


LIBCST_PREFIX = "libcst: "


def parse_module(source: str) -> cst.Module | ParseFailure:
    """CPython's verdict, then the libcst tree."""
    return syntax_check(source, "<unknown>") or libcst_parse(source)


def libcst_parse(source: str) -> cst.Module | ParseFailure:
    """libcst alone: only for text that `syntax_check` has accepted (failures say "libcst: ")."""
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


def syntax_check(source: str, path: str) -> ParseFailure | None:
    """CPython's own verdict: a full compile, so errors of the compiler stage (misplaced
    `from __future__`, `return` outside a function) count too. Compiling to bytecode is also
    cheaper than building Python AST objects (PyCF_ONLY_AST)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        column = (exc.offset or 1)
        return ParseFailure(exc.lineno or 1, max(column, 1), f"{type(exc).__name__}: {exc.msg}")
    except (RecursionError, MemoryError):
        return ParseFailure(1, 1, "SyntaxError: too deeply nested to parse")
    except (ValueError, OverflowError, SystemError) as exc:
        # ValueError: "source code string cannot contain null bytes"
        return ParseFailure(1, 1, f"SyntaxError: {exc}")
    return None


def ast_tree(source: str) -> ast.Module | None:
    """CPython's tree, or None when it cannot be built (the syntax check reports why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


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
