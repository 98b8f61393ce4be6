"""Giving freed memory back to the operating system (glibc's `malloc_trim`; elsewhere nothing).

glibc keeps the pages that freed blocks leave behind, so a process stays at the size of the
largest thing it ever held: libcst's native parser, for one, needs about 200 bytes per byte of
source while it runs (80 MB for a 400 KB file), all freed when it returns and all kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable

_trim: list[Callable[[int], int] | None] = []  # [] until first asked; [None]: no malloc_trim


def release_freed_memory() -> None:
    """Return the free pages of the C heap to the system (a few ms for a 100 MB heap)."""
    if not _trim:
        _trim.append(_find_trim())
    trim = _trim[0]
    if trim is not None:
        trim(0)


def resident_bytes() -> int | None:
    """This process's resident size (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _find_trim() -> Callable[[int], int] | None:
    try:
        # Imported on first use: a run that never parses a large file does not load ctypes.
        import ctypes

        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (ImportError, AttributeError, OSError):  # no ctypes, or a libc without malloc_trim
        return None
