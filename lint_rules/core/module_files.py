"""Which Python files a project holds, read off the file system alone (no parse, no checker):
shared by the analysis (the project index, the header census) and by the result cache, whose
warm path validates dependencies without loading the checker."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

# Past this many modules under its search folders the project's writers are not read (a file
# then counts every call as a possible call hop): `ProjectIndex.writers`.
WRITERS_LIMIT = 20_000
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


def python_modules(bases: Iterable[Path], limit: int) -> list[Path] | None:
    """Every `.py` file a dotted module name could reach under `bases` (folders whose names are
    identifiers), or None past `limit` files (then the writers are unknown: every call counts)."""
    out: list[Path] = []
    seen: set[Path] = set()
    for base in bases:
        stack = [base]
        while stack:
            folder = stack.pop()
            if folder in seen:
                continue
            seen.add(folder)
            if len(seen) > limit:
                return None
            try:
                # `scandir`: the entries' types come with the listing, so only a symlink costs a
                # `stat` (an edit run walks the folders once per set of search folders).
                with os.scandir(folder) as scanned:
                    entries = list(scanned)
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                try:
                    if name.endswith(".py") and name[:-3].isidentifier() and entry.is_file():
                        out.append(folder / name)
                        if len(out) > limit:
                            return None
                    elif name.isidentifier() and entry.is_dir(follow_symlinks=False):
                        stack.append(folder / name)
                except OSError:
                    continue
    return sorted(out)


class FileStat(NamedTuple):
    """The fields of `os.stat_result` that the index reads, under the same names: a run keeps
    one per module it looked at, and a whole `stat_result` is about four times the size."""

    st_mode: int
    st_mtime_ns: int
    st_ctime_ns: int
    st_size: int


class ModuleListings:
    """`python_modules` and `os.stat` for the many sets of search folders of one run (a file in
    a folder without `__init__.py` searches that folder and the project's: litellm has 414 such
    sets over one tree of 3,135 modules). Each folder is walked once and each file stat'ed once:
    a run sees one state of the disk. Below the limit the files are those of
    `python_modules(bases)`; past `limit` modules for one folder or for the union, None (near
    the limit the two may disagree on None: the cache then re-checks, which is safe)."""

    def __init__(self, limit: int = WRITERS_LIMIT) -> None:
        self.limit = limit
        self._walked: dict[Path, list[Path] | None] = {}
        self._stats: dict[Path, FileStat | None] = {}

    def modules(self, bases: Iterable[Path]) -> list[Path] | None:
        found: set[Path] = set()
        for base in bases:
            if base not in self._walked:
                self._walked[base] = python_modules((base,), self.limit)
            files = self._walked[base]
            if files is None:
                return None
            found.update(files)
        return None if len(found) > self.limit else sorted(found)

    def stat(self, path: Path) -> FileStat | None:
        """`os.stat(path)`'s fields, None when it fails; asked once per run."""
        if path not in self._stats:
            try:
                st = os.stat(path)
            except OSError:
                self._stats[path] = None
            else:
                self._stats[path] = FileStat(st.st_mode, st.st_mtime_ns, st.st_ctime_ns,
                                             st.st_size)
        return self._stats[path]


def listing(folder: str | Path) -> list[str]:
    """What the census sees of one folder: its sub-folders (`d:`) and Python files (`f:`),
    sorted. The result cache digests the same listing to notice added or removed files."""
    out: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if name not in SKIP_DIRS:
                    out.append(f"d:{name}")
            elif name.endswith(".py") and entry.is_file():
                out.append(f"f:{name}")
    return sorted(out)
