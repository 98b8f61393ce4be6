"""The human formats: `concise` and `full` (ruff's layouts)."""

from __future__ import annotations

import unicodedata
from typing import TextIO

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.output._common import fix_applies

TAB_WIDTH = 4


def header(diagnostic: Diagnostic, *, fix_mode_hint: bool, unsafe_fixes: bool) -> str:
    """`path:row:col: CODE [*] message`, with `[*]` when `--fix` would apply the fix."""
    marker = "[*] " if fix_mode_hint and fix_applies(diagnostic.fix, unsafe_fixes) else ""
    where = f"{diagnostic.path}:{diagnostic.start.row}:{diagnostic.start.column}"
    return f"{where}: {diagnostic.code} {marker}{diagnostic.message}"


def write_concise(
    diagnostics: list[Diagnostic], stream: TextIO, *, fix_mode_hint: bool, unsafe_fixes: bool
) -> None:
    for diagnostic in diagnostics:
        stream.write(header(diagnostic, fix_mode_hint=fix_mode_hint, unsafe_fixes=unsafe_fixes))
        stream.write("\n")


def _char_width(char: str) -> int:
    if char == "\t":
        return TAB_WIDTH
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _display(text: str) -> str:
    return text.replace("\t", " " * TAB_WIDTH)


def _width(text: str) -> int:
    return sum(_char_width(char) for char in text)


def underline(diagnostic: Diagnostic, line: str) -> tuple[int, int]:
    """Display offset and length of the caret underline under `line` (at least one caret).

    Columns are 1-based character counts; the end column is exclusive. A range that ends on a
    later row is underlined to the end of the first line.
    """
    start = min(max(diagnostic.start.column - 1, 0), len(line))
    if diagnostic.end.row == diagnostic.start.row:
        end = min(max(diagnostic.end.column - 1, start), len(line))
    else:
        end = len(line)
    return _width(line[:start]), max(_width(line[start:end]), 1)


def render_full(diagnostic: Diagnostic, *, fix_mode_hint: bool, unsafe_fixes: bool) -> str:
    line = diagnostic.line_text.rstrip("\r\n")
    row = str(diagnostic.start.row)
    pad = " " * len(row)
    offset, length = underline(diagnostic, line)
    lines = [
        header(diagnostic, fix_mode_hint=fix_mode_hint, unsafe_fixes=unsafe_fixes),
        f"{pad} |",
        f"{row} | {_display(line)}".rstrip(),
        f"{pad} | {' ' * offset}{'^' * length} {diagnostic.code}",
        f"{pad} |",
    ]
    if diagnostic.fix is not None:
        lines.append(f"{pad} = help: {diagnostic.fix.message}")
    for step in getattr(diagnostic, "related", ()):
        lines.append(f"{pad} = note: {step.message} ({step.path}:{step.row})")
    return "\n".join(lines) + "\n"


def write_full(
    diagnostics: list[Diagnostic], stream: TextIO, *, fix_mode_hint: bool, unsafe_fixes: bool
) -> None:
    # As ruff does, every finding is followed by a blank line.
    for diagnostic in diagnostics:
        text = render_full(diagnostic, fix_mode_hint=fix_mode_hint, unsafe_fixes=unsafe_fixes)
        stream.write(text)
        stream.write("\n")


def write_grouped(
    diagnostics: list[Diagnostic], stream: TextIO, *, fix_mode_hint: bool, unsafe_fixes: bool
) -> None:
    """ruff's `grouped`: the file once, then `  row:col CODE [*] message` per finding, rows
    right-aligned and columns padded within the file, a blank line after each file."""
    groups: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        groups.setdefault(d.path, []).append(d)
    for path, found in groups.items():
        stream.write(f"{path}:\n")
        row_width = max(len(str(d.start.row)) for d in found)
        col_width = max(len(str(d.start.column)) for d in found)
        for d in found:
            marker = "[*] " if fix_mode_hint and fix_applies(d.fix, unsafe_fixes) else ""
            stream.write(f"  {d.start.row:>{row_width}}:{str(d.start.column):<{col_width}} "
                         f"{d.code} {marker}{d.message}\n")
        stream.write("\n")
