#!/usr/bin/env python3
"""The pinned real-code corpus: published agent-SDK releases, downloaded and unpacked on demand.

    python benchmarks/corpus.py                      # download + unpack everything, print a table
    python benchmarks/corpus.py --only openhands-sdk@1.58.2 smolagents
    python benchmarks/corpus.py --list               # the pinned list, no download

Each entry of CORPUS is (package, exact version, python version for pip or None). A release is
fetched with `pip download --no-deps --only-binary=:all:` (plus `--python-version X` when the
package requires a newer Python than the one running this script) into the cache folder, and its
wheel (a zip file) is unpacked, once, into `<cache>/src/<name>-<version>/`. That folder is the
source root to check: it is what `site-packages` would hold, so imports between the package's
modules resolve. The folder is marked as its own project (an empty `.git` and a `pyproject.toml`
with `[project] name` and an empty `[tool.llm-affinity-lint]` table, as in the SDK's own
repository), so the checks use the settings the SDK's maintainers get without configuring
anything (the defaults and the preset the tool infers from the project name) and no enclosing
`.gitignore` hides it.

Cache folder: `--cache-dir DIR`, else `$LLA_CORPUS_DIR`, else `/work/sdk-cache` if it exists,
else `benchmarks/.work/sdk` (git-ignored). Nothing third-party is ever committed.

Other scripts use `fetch(entry)` / `fetch_all(...)`, which return a `Release` (root, file count)
or a one-line error for a release that could not be fetched; a failed download never stops the
run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (package, version, python version pip must assume, or None for the running one).
# openhands-* require Python >= 3.12 (they use PEP 695 / 701 syntax in places).
CORPUS: list[tuple[str, str, str | None]] = [
    ("openhands-sdk", "1.20.0", "3.12"),
    ("openhands-sdk", "1.30.0", "3.12"),
    ("openhands-sdk", "1.58.2", "3.12"),
    ("openhands-tools", "1.58.2", "3.12"),
    ("openhands-agent-server", "1.58.2", "3.12"),
    ("pydantic-ai-slim", "2.78.0", None),
    ("openai-agents", "0.24.0", None),
    ("smolagents", "1.26.0", None),
    ("langchain-core", "1.8.4", None),
    ("langchain-openai", "1.8.1", None),
    ("litellm", "1.110.2", None),
    ("langgraph", "1.2.24", None),
    ("haystack-ai", "3.4.1", None),
    ("dspy", "3.4.1", None),
    ("google-adk", "2.13.0", None),
    # letta 0.32+ is "Letta Code", a bundled Node.js CLI (5 .py files); 0.16 is the Python agent server.
    ("letta", "0.16.8", None),
    ("instructor", "1.17.0", None),
    ("atomic-agents", "1.1.11", None),
    ("llama-index-core", "0.14.25", None),
    ("camel-ai", "0.2.90", None),
    ("crewai", "1.15.30", None),
    ("autogen-agentchat", "0.7.5", None),
    ("autogen-core", "0.7.5", None),
    ("mem0ai", "2.2.1", None),
]


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    python: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class Release:
    entry: Entry
    root: Path | None  # the unpacked source root, None when the fetch failed
    files: int = 0  # .py files under root
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.root is not None


ENTRIES = [Entry(*row) for row in CORPUS]


def default_cache_dir() -> Path:
    env = os.environ.get("LLA_CORPUS_DIR")
    if env:
        return Path(env)
    shared = Path("/work/sdk-cache")
    if shared.is_dir():
        return shared
    return REPO / "benchmarks" / ".work" / "sdk"


def select(specs: list[str] | None) -> list[Entry]:
    """Entries matching `name` (every pinned version) or `name@version`; all when specs is empty."""
    if not specs:
        return list(ENTRIES)
    out: list[Entry] = []
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, _, version = part.partition("@")
            hits = [e for e in ENTRIES if e.name == name and (not version or e.version == version)]
            if not hits:
                raise SystemExit(f"error: {part!r} is not in the pinned corpus (see --list)")
            out.extend(h for h in hits if h not in out)
    return out


def _norm(name: str) -> str:
    return name.replace("-", "_").lower()


def _find_wheel(folder: Path, entry: Entry) -> Path | None:
    want = f"{_norm(entry.name)}-{entry.version}-"
    for path in sorted(folder.glob("*.whl")):
        if path.name.lower().startswith(want):
            return path
    return None


def count_py(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.py"))


_TABLE = "[tool.llm-affinity-lint]\n"
_MARKER = re.compile(r'(\[project\]\nname = "[^"\n]*"\n\n)?\[tool\.llm-affinity-lint\]\n')


def mark_project(root: Path, name: str | None = None) -> None:
    """The release's own project: no enclosing .gitignore or settings table applies, and an
    empty table under `[project] name = <distribution>`, as in the SDK's repository (so the
    tool applies the SDK's preset, `PRESET_PROJECTS`, as it does for its maintainers). A
    marker that an older version of this script wrote is brought up to date."""
    (root / ".git").mkdir(exist_ok=True)
    pyproject = root / "pyproject.toml"
    wanted = f'[project]\nname = "{name}"\n\n{_TABLE}' if name else _TABLE
    try:
        current = pyproject.read_text()
    except FileNotFoundError:
        current = None
    if current is None or (current != wanted and name and _MARKER.fullmatch(current)):
        pyproject.write_text(wanted)


def fetch(entry: Entry, cache_dir: Path | None = None, quiet: bool = False) -> Release:
    """Download (once) and unpack (once) one release; never raises for a failed download."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    root = cache / "src" / f"{entry.name}-{entry.version}"
    if (root / ".unpacked").exists():
        mark_project(root, entry.name)
        return Release(entry, root, count_py(root))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        wheel = _find_wheel(cache, entry)
        if wheel is None:
            if not quiet:
                print(f"  downloading {entry.name}=={entry.version}", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "--disable-pip-version-check",
                   "--only-binary=:all:", "-d", str(cache), f"{entry.name}=={entry.version}"]
            if entry.python:
                cmd[4:4] = ["--python-version", entry.python]
            # The machine's pip constraints file would veto versions it does not list.
            env = {**os.environ, "PIP_CONSTRAINT": ""}
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            wheel = _find_wheel(cache, entry)
            if wheel is None:
                lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()
                         and not ln.startswith("WARNING: Location")]
                why = lines[-1].strip() if lines else f"pip exit {proc.returncode}"
                return Release(entry, None, error=f"download failed: {why[:200]}")
        # Unpack into a temporary sibling, then rename: readers never see half a tree, and two
        # runs unpacking at once do not trip over each other.
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
        mark_project(tmp, entry.name)
        (tmp / ".unpacked").write_text(wheel.name + "\n")
        try:
            tmp.rename(root)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # someone else finished first
            if not (root / ".unpacked").exists():
                raise
        return Release(entry, root, count_py(root))
    except (OSError, subprocess.SubprocessError, zipfile.BadZipFile) as exc:
        return Release(entry, None, error=f"{type(exc).__name__}: {exc}"[:200])


def fetch_all(entries: list[Entry], cache_dir: Path | None = None, quiet: bool = False) -> list[Release]:
    out = []
    for entry in entries:
        rel = fetch(entry, cache_dir, quiet=quiet)
        if not rel.ok and not quiet:
            print(f"  SKIP {entry.key}: {rel.error}", file=sys.stderr, flush=True)
        out.append(rel)
    return out


def unpack_sources(releases: dict[str, str], wheels: Path, into: Path, *,
                   skip_tests: bool = True) -> dict[str, Path]:
    """The `.py` files of pinned wheels ({wheel name prefix: pip requirement}) unpacked into
    `into/<prefix>/`, for mutation scripts that edit them: the wheel from `wheels` when it is
    there, else `pip download --no-deps` of the requirement. A release without a wheel is
    skipped with a one-line reason."""
    roots: dict[str, Path] = {}
    for name, requirement in releases.items():
        found = sorted(wheels.glob(f"{name}-*.whl"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d",
                            str(into / "_dl"), requirement], check=False)
            found = sorted((into / "_dl").glob(f"{name}-*.whl"))
        if not found:
            print(f"skipped {name}: no wheel", file=sys.stderr)
            continue
        root = into / name
        with zipfile.ZipFile(found[0]) as zf:
            for member in zf.namelist():
                if member.endswith(".py") and ".dist-info/" not in member \
                        and not (skip_tests and "/tests/" in member):
                    zf.extract(member, root)
        roots[name] = root
    return roots


def parsed_modules(root: Path):
    """(path, `ast` module) of every `.py` file under `root` that parses, in path order: the
    site finders of the mutation scripts."""
    for path in sorted(root.rglob("*.py")):
        try:
            yield path, ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue


def check_files(files: dict[str, str], folder: Path, codes: str,
                ) -> dict[str, list[tuple[str, int]]]:
    """Write {stem: source} as `folder/<stem>.py` (the folder emptied first), check them with
    the rules `codes` (comma list), and return the (code, line) findings per stem."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "lint_rules", "check", "--no-cache", "--select",
                           codes, "--output-format", "json", "--exit-zero", str(folder)],
                          capture_output=True, text=True)
    found: dict[str, list[tuple[str, int]]] = {name: [] for name in files}
    for d in json.loads(proc.stdout or "[]"):
        found[Path(d["filename"]).stem].append((d["code"], d["location"]["row"]))
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="download/unpack folder (default: $LLA_CORPUS_DIR, /work/sdk-cache if it "
                             "exists, else benchmarks/.work/sdk)")
    parser.add_argument("--only", nargs="*", metavar="PKG[@VER]",
                        help="restrict to these packages (comma or space separated)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download and unpack the pinned agent-SDK corpus.")
    add_arguments(parser)
    parser.add_argument("--list", action="store_true", help="print the pinned list and exit")
    args = parser.parse_args(argv)
    entries = select(args.only)
    if args.list:
        for e in entries:
            print(f"{e.name}=={e.version}" + (f"  (python {e.python})" if e.python else ""))
        return 0
    releases = fetch_all(entries, args.cache_dir)
    print("| package | version | .py files | source root |")
    print("| --- | --- | ---: | --- |")
    for r in releases:
        where = str(r.root) if r.ok else f"SKIPPED: {r.error}"
        print(f"| {r.entry.name} | {r.entry.version} | {r.files} | {where} |")
    failed = [r for r in releases if not r.ok]
    return 1 if failed and len(failed) == len(releases) else 0


if __name__ == "__main__":
    sys.exit(main())
