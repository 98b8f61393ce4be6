"""The values every front-end speaks: findings, fixes and their edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Applicability(str, Enum):
    """Ruff's terms: a safe fix keeps behaviour; an unsafe one needs `--unsafe-fixes`."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Location:
    """Row is 1-based; column is 1-based and counts characters, as ruff reports them."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the characters [start, end) of the source with `content` (offsets in str indices).

    The engine fills `location`/`end_location` (row/column of start and end) for the reports.
    """

    start: int
    end: int
    content: str
    location: Location | None = field(default=None, compare=False)
    end_location: Location | None = field(default=None, compare=False)

    def overlaps(self, other: Edit) -> bool:
        if self.start == self.end == other.start == other.end:
            return True  # two insertions at one point: their order would be arbitrary
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Fix:
    message: str
    edits: tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE

    @property
    def span(self) -> tuple[int, int]:
        return min(e.start for e in self.edits), max(e.end for e in self.edits)

    def overlaps(self, other: Fix) -> bool:
        return any(a.overlaps(b) for a in self.edits for b in other.edits)


@dataclass(frozen=True)
class RelatedLocation:
    """One step of a finding's evidence: where the object became shared, or where the value is
    written (possibly in another file). Row and column are 1-based; column 1 when unknown."""

    message: str
    path: str
    row: int
    column: int = 1


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    path: str
    start: Location
    end: Location
    fix: Fix | None = None
    # Source text of the reported line, kept for the `full` output format and for noqa.
    line_text: str = field(default="", compare=False)
    # The evidence, oldest step first (`full` text, JSON `related`, SARIF relatedLocations).
    related: tuple[RelatedLocation, ...] = field(default=(), compare=False)

    def sort_key(self) -> tuple:
        return (self.path, self.start.row, self.start.column, self.code, self.message)


def fix_applies(fix: Fix | None, unsafe_fixes: bool) -> bool:
    """Would `--fix` apply this fix? Ruff's rule: safe fixes always, unsafe ones on request."""
    return fix is not None and (unsafe_fixes or fix.applicability is Applicability.SAFE)


def fix_is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    return fix_applies(diagnostic.fix, unsafe)


def apply_edits(source: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits; the caller has already removed overlaps."""
    out = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(source[pos : edit.start])
        out.append(edit.content)
        pos = edit.end
    out.append(source[pos:])
    return "".join(out)
