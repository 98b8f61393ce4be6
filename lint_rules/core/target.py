"""The project's target Python: which grammar a file is judged by (LLA000).

A file is valid when the Python the project targets accepts it, whatever interpreter runs the
tool. The target is, in order:

1. `target-version` in `[tool.llm-affinity-lint]` (`"py312"` or `"3.12"`);
2. the lower bound of `[project] requires-python` in the closest `pyproject.toml` above the
   file (the first `pyproject.toml` found ends the search), or, for an unpacked wheel or a
   `site-packages` folder, `Requires-Python` in the `*.dist-info/METADATA` of the distribution
   that holds the file's top-level package;
3. otherwise the newest version the parser knows (`NEWEST`).

Lookups are cached per folder: a tree of thousands of files reads each `pyproject.toml` once.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Version = tuple[int, int]

# The newest grammar libcst's native parser reads (3.12: PEP 695/701, 3.13: PEP 696 defaults).
NEWEST: Version = (3, 14)
RUNNING: Version = (sys.version_info.major, sys.version_info.minor)

_TARGET = re.compile(r"^(?:py(?P<major>3)(?P<minor>\d{1,2})|(?P<dmajor>3)\.(?P<dminor>\d{1,2}))$")
_CLAUSE = re.compile(r"^\s*(?P<op>~=|===|==|>=|>|<=|<|!=)?\s*(?P<major>\d+)(?:\.(?P<minor>\d+|\*))?")


def parse_target_version(text: str) -> Version | None:
    """`"py312"` or `"3.12"` -> (3, 12); anything else -> None."""
    m = _TARGET.match(text.strip())
    if m is None:
        return None
    return (3, int(m.group("minor") or m.group("dminor")))


def requires_python_floor(spec: str) -> Version | None:
    """The lowest Python a `requires-python` specifier admits (`">=3.12"`, `"~=3.11"`,
    `">3.9,<4"`, `"==3.12.*"`), or None when it states no lower bound."""
    floors: list[Version] = []
    for clause in spec.split(","):
        m = _CLAUSE.match(clause)
        if m is None or m.group("major") != "3":
            continue
        op = m.group("op") or "=="
        minor_text = m.group("minor")
        minor = 0 if minor_text in (None, "*") else int(minor_text)
        if op in (">=", "~=", "==", "==="):
            floors.append((3, minor))
        elif op == ">":
            # `>3.9` admits 3.9.1; `>3.9.0`... the minor version is what matters for grammar.
            floors.append((3, minor))
    return max(floors) if floors else None


def target_for(path: str, configured: str = "") -> Version:
    """The Python version whose grammar judges the file at `path`."""
    if configured:
        parsed = parse_target_version(configured)
        if parsed is not None:
            return parsed
    try:
        folder = Path(path).parent.resolve()
    except (OSError, RuntimeError, ValueError):
        return NEWEST
    found = _folder_target(str(folder), Path(path).name)
    return found or NEWEST


_FOLDER_CACHE: dict[tuple[str, str], Version | None] = {}


def _folder_target(folder: str, child: str) -> Version | None:
    """The target from the closest project metadata at or above `folder`; `child` is the
    entry of `folder` on the way to the file (to pick the distribution that owns it).
    Iterative, and every folder visited is remembered."""
    visited: list[tuple[str, str]] = []
    here = Path(folder)
    result: Version | None = None
    while True:
        key = (str(here), child)
        if key in _FOLDER_CACHE:
            result = _FOLDER_CACHE[key]
            break
        visited.append(key)
        try:
            pyproject = here / "pyproject.toml"
            if pyproject.is_file():
                result = _pyproject_target(str(pyproject))
                break
            result = _dist_info_target(str(here), child)
        except OSError:
            result = None
            break
        if result is not None or here.parent == here:
            break
        here, child = here.parent, here.name
    if len(_FOLDER_CACHE) > 65536:
        _FOLDER_CACHE.clear()
    for key in visited:
        _FOLDER_CACHE[key] = result
    return result


@lru_cache(maxsize=256)
def _pyproject_target(pyproject: str) -> Version | None:
    try:
        with open(pyproject, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError, RecursionError, UnicodeDecodeError):
        return None
    project = data.get("project")
    spec = project.get("requires-python") if isinstance(project, dict) else None
    return requires_python_floor(spec) if isinstance(spec, str) else None


def _dist_info_target(folder: str, child: str) -> Version | None:
    """`Requires-Python` of the `*.dist-info` in `folder` whose distribution holds `child`
    (its `top_level.txt` or `RECORD` names it)."""
    top = child[:-3] if child.endswith(".py") else child
    for info in sorted(Path(folder).glob("*.dist-info")):
        if not _owns(info, top):
            continue
        try:
            with open(info / "METADATA", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if not line.strip():
                        break  # end of the headers
                    if line.lower().startswith("requires-python:"):
                        return requires_python_floor(line.split(":", 1)[1])
        except OSError:
            return None
        return None
    return None


def _owns(info: Path, top: str) -> bool:
    try:
        top_level = info / "top_level.txt"
        if top_level.is_file():
            return top in top_level.read_text(encoding="utf-8", errors="replace").split()
        record = info / "RECORD"
        if record.is_file():
            with open(record, encoding="utf-8", errors="replace") as fh:
                return any(line.startswith((f"{top}/", f"{top}.py,")) for line in fh)
    except OSError:
        return False
    return False


def describe(version: Version) -> str:
    return f"Python {version[0]}.{version[1]}"
