"""The result cache: findings of unchanged files, and index summaries of unchanged modules.

Layout: `<project root or cwd>/.llm_affinity_lint_cache/` (or `--cache-dir`), holding a
`.gitignore` with `*` (the folder ignores itself) and one JSON file per (tool, Python, settings):
`<tool fingerprint>/<settings key>.json`.

The cache is data only. A cache folder may be committed, restored from a shared CI cache or
planted in a repository, so nothing read from it may run code (a pickle would): the file is
JSON, every entry is validated field by field as it is read, and an entry that does not
validate is a miss, never a traceback. A cache folder (or its `CACHEDIR.TAG`/`.gitignore`)
that is a symbolic link is refused: the run goes on uncached and writes nothing through it.

What a cached result is keyed on (see docs/performance.md):
- the tool: version, Python version, libcst version and the size/mtime of every module of the
  package (an edited rule never serves old findings), in the folder name;
- the resolved settings (`Config.fingerprint()`) and the working directory, in the file name;
- the file: absolute path + displayed path (per-file-ignores match the displayed path), and the
  blake2b digest of its content;
- its dependencies: every module file the project index probed while checking it (found ones by
  content digest, missing ones by absence) and the `__init__.py` files that give its module
  name. A base class edited in another module therefore invalidates the subclass's findings.
  A check that asked a project fact of the whole package tree (the header census) depends on
  every file of the tree (by content digest) and every folder of it (by the digest of its
  listing, `header_census.listing`), so an added, removed or edited file invalidates it.
- the project's writers (the ast stage's call hops, `rule_stages.Writers`): each question the
  check asked them and that they answered "no writer" (a "yes" leads to a libcst check whose
  reads are recorded as above), with the signature (paths and stat) of every module they were
  read from. While the signature holds, the answers hold. When a module changed, the parent
  compares each module's writer facts with the table it keeps of them (`WritersTable`: only
  changed or racy modules are read): the same facts give the same answers; otherwise it builds
  the writers, asks the questions again and keeps the entry when every answer is still "no".

Warm runs avoid reading unchanged files the way git and ruff do: when a file's stat signature
(size, mtime_ns, ctime_ns, inode) equals the one recorded and the file was already older than
RACY_NS when it was read (so no write can have hidden in the same timestamp tick), the content is
not read again. ctime cannot be set by user tools (`touch -d`, `cp -p` set mtime only), so any
write changes the signature. Otherwise the content is hashed and compared.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from lint_rules.core.module_files import (
    WRITERS_LIMIT,
    ModuleListings,
    listing,
    python_modules,
)
from lint_rules.core.source import content_digest, replace_file
from lint_rules.core.version import __version__

if TYPE_CHECKING:
    from lint_rules.analysis.project_index import ProjectIndex
    from lint_rules.analysis.rule_stages import ModuleScan, Writers
    from lint_rules.analysis.summaries import ModuleSummary
    from lint_rules.analysis.text_facts import FactRows

CACHE_DIR_NAME = ".llm_affinity_lint_cache"
FORMAT = 4  # 2: JSON (1 was a pickle, never read again); 3: `WRITERS_DEP` split; 4: deps table
# A file modified less than this before it was read may change again within one timestamp tick
# (coarse kernel clocks; 2 s on FAT): its stat signature is not trusted, its content is hashed.
RACY_NS = 2_000_000_000
EXISTS = b"exists"  # a dependency that only has to exist (an `__init__.py` that makes a package)
# A dependency on the project's writers (`ProjectIndex.writers`): its "path" is this prefix, the
# JSON of the search folders, NUL and the JSON of the questions answered "no"; its digest the
# modules' signature (`writers_state`).
WRITERS_DEP = "\0writers\0"
UNSETTLED = b"unsettled"  # no signature (past the writers' limit): never matches
RACY_ROW = (-1, -1, -1, -1)  # a module's stat in a `WritersTable` that must be read again

StatSig = tuple[int, int, int, int]


digest = content_digest


def listing_digest(folder: str) -> bytes | None:
    """A folder's dependency digest: what the census sees of it (None when unlistable)."""
    try:
        return digest("\n".join(["dir", *listing(folder)]).encode())
    except OSError:
        return None


def stat_signature(st: os.stat_result) -> StatSig:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def is_settled(st: os.stat_result, read_at_ns: int) -> bool:
    """True when the file was last changed well before it was read (its signature is trusted)."""
    return max(st.st_mtime_ns, st.st_ctime_ns) + RACY_NS < read_at_ns


class Entry(NamedTuple):
    """The findings of one file, and what they were computed from."""

    sig: StatSig
    settled: bool
    digest: bytes
    diagnostics: tuple[Diagnostic, ...]
    deps: tuple[tuple[str, bytes | None], ...]  # (path, digest | EXISTS | None = absent)


class WritersTable(NamedTuple):
    """What the project's writers were built from, module by module, at one signature: an edit
    that leaves every module's facts the same leaves every answer the same."""

    sig: bytes  # `writers_state(...).sig` of these modules
    modules: dict[str, tuple[StatSig, bytes]]  # path -> (stat, `scan_facts`)


class Digested(NamedTuple):
    sig: StatSig
    settled: bool
    digest: bytes | None


@dataclass
class WorkerYield:
    """What a worker learned that the parent should persist."""

    entry: Entry | None = None
    summaries: dict[tuple[str, bytes, str], ModuleSummary | None] = field(default_factory=dict)
    digests: dict[str, Digested] = field(default_factory=dict)
    facts: FactRows = field(default_factory=dict)  # `text_facts` computed by the worker


# ---------------------------------------------------------------------------- keys
@lru_cache(maxsize=1)
def tool_fingerprint() -> str:
    parts = [f"{FORMAT}", __version__, sys.version, _libcst_version()]
    package = Path(__file__).resolve().parent
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                full = os.path.join(folder, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                parts.append(f"{os.path.relpath(full, package)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


def _libcst_version() -> str:
    """The installed libcst's version file, read without importing libcst (0.1 s) or
    `importlib.metadata` (15 ms): a warm run needs neither."""
    try:
        spec = importlib.util.find_spec("libcst")
        folder = spec.submodule_search_locations[0]  # type: ignore[union-attr,index]
        with open(os.path.join(folder, "_version.py"), "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=8).hexdigest()
    except (ImportError, ValueError, AttributeError, TypeError, IndexError, OSError):
        pass  # not found as a package, or a build without the file: ask the distribution
    # Only a libcst without `_version.py` needs the distributions' metadata.
    from importlib import metadata

    try:
        return metadata.version("libcst")
    except metadata.PackageNotFoundError:
        return "?"


def default_cache_dir(project_root: Path | None) -> Path:
    env = os.environ.get("LLM_AFFINITY_LINT_CACHE_DIR")
    if env:
        return Path(env)
    return (project_root or Path.cwd()) / CACHE_DIR_NAME


class UnsafeCacheDir(OSError):
    """The cache folder, or a file the tool writes in it, is a symbolic link."""


def check_cache_dir(cache_dir: Path) -> None:
    """Refuse a cache folder that is a symlink, or holds a symlink where the tool writes:
    a repository could otherwise make the tool write wherever the link points (r11)."""
    for path in (cache_dir, cache_dir / ".gitignore", cache_dir / "CACHEDIR.TAG"):
        if path.is_symlink():
            raise UnsafeCacheDir(f"{path}: is a symbolic link; the cache is not used")


def ensure_cache_dir(cache_dir: Path) -> None:
    """Create the folder with a `.gitignore` of `*`, so it never shows up in `git status`."""
    check_cache_dir(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    check_cache_dir(cache_dir)
    ignore = cache_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by llm-affinity-lint automatically.\n*\n", encoding="utf-8")
    tag = cache_dir / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n"
                       "# This file is a cache directory tag created by llm-affinity-lint.\n",
                       encoding="utf-8")


def clean_cache(cache_dir: Path) -> bool:
    """Remove the cache folder; True when there was one. Refuses folders that are not ours."""
    check_cache_dir(cache_dir)
    if not cache_dir.is_dir():
        return False
    if not (cache_dir / ".gitignore").exists() and any(cache_dir.iterdir()):
        raise OSError(f"{cache_dir}: does not look like an llm-affinity-lint cache; not removed")
    shutil.rmtree(cache_dir)
    return True


def package_deps(path: str) -> list[tuple[str, bytes | None]]:
    """The `__init__.py` files that make up a file's module name (engine.module_name_for)."""
    out: list[tuple[str, bytes | None]] = []
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        init = os.path.join(folder, "__init__.py")
        if not os.path.isfile(init):
            out.append((init, None))
            break
        out.append((init, EXISTS))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return out


class WritersQuestions:
    """The questions a check asked the project's writers and heard "no" to."""

    def __init__(self, calls=(), methods=(), pin_bases=(), onto_llm=()) -> None:
        self.calls: set[str] = set(calls)  # may_write: no callee of these names writes
        self.onto_llm: set[str] = set(onto_llm)  # may_write_onto_llm: none writes onto an LLM
        self.methods: set[tuple[str, tuple[str, ...]]] = set(methods)  # may_write_method
        self.pin_bases: set[str] = set(pin_bases)  # names_pin_class: none is a pin class

    def add(self, kind: str, question) -> None:
        if kind == "calls":
            self.calls.update(question)
        elif kind == "onto_llm":
            self.onto_llm.update(question)
        elif kind == "method":
            self.methods.add(question)
        else:
            self.pin_bases.update(question)

    def dep_path(self, bases: tuple[Path, ...]) -> str:
        """`WRITERS_DEP`, the search folders, NUL, the questions (JSON never holds a raw NUL):
        a run that finds the writers' facts unchanged reads the folders alone."""
        return (WRITERS_DEP + json.dumps([str(b) for b in bases], separators=(",", ":")) + "\0"
                + json.dumps({"c": sorted(self.calls), "o": sorted(self.onto_llm),
                              "m": sorted([n, list(b)] for n, b in self.methods),
                              "p": sorted(self.pin_bases)}, separators=(",", ":")))

    @staticmethod
    def bases_of_dep_path(path: str) -> str | None:
        """The search folders' part of a `dep_path` (as written), or None."""
        bases, nul, _ = path[len(WRITERS_DEP):].partition("\0")
        return bases if nul else None

    @staticmethod
    def decode_bases(raw: str) -> tuple[Path, ...] | None:
        try:
            data = json.loads(raw)
            _need(isinstance(data, list))
            return tuple(Path(_str(b)) for b in data)
        except (ValueError, RecursionError):  # _Bad is a ValueError
            return None

    @staticmethod
    def from_dep_path(path: str) -> WritersQuestions | None:
        try:
            data = json.loads(path[len(WRITERS_DEP):].partition("\0")[2])
            calls = [_str(c) for c in data["c"]]
            onto_llm = [_str(c) for c in data["o"]]
            methods = []
            for item in data["m"]:
                _need(isinstance(item, list) and len(item) == 2 and isinstance(item[1], list))
                methods.append((_str(item[0]), tuple(_str(b) for b in item[1])))
            pins = [_str(b) for b in data["p"]]
        except (ValueError, KeyError, TypeError, RecursionError):  # _Bad is a ValueError
            return None
        return WritersQuestions(calls, methods, pins, onto_llm)

    def still_no(self, writers: Writers) -> bool:
        """Does every question still get "no" from these writers?"""
        return not (writers.may_write(self.calls) or writers.names_pin_class(self.pin_bases)
                    or writers.may_write_onto_llm(self.onto_llm)
                    or any(writers.may_write_method(n, b) for n, b in sorted(self.methods)))


class WritersState(NamedTuple):
    sig: bytes  # the signature an entry records (marked racy when `racy` is not empty)
    racy: frozenset[str]  # modules written too recently to trust their stat
    stats: bytes  # the stat of every module alone: equal when nothing was written in between
    newest_ns: int  # the latest change (mtime or ctime) of any module
    bases: tuple[Path, ...]
    # Each module and its stat (None: it could not be stat'ed), as the signature read them: a
    # comparison with the table reads these instead of walking the folders again.
    modules: tuple[tuple[str, StatSig | None], ...]

    def as_read_at(self, read_at_ns: int | None) -> bytes:
        """The signature of writers built from module texts read at `read_at_ns` (earlier than
        this state, when the process kept them): marked racy when a module was too recent to
        trust at that read, as the parent marks it when it validates entries then; an entry
        recorded unmarked there would never match the parent's table after back-to-back
        edits, and every later edit would rebuild the writers."""
        if self.racy or read_at_ns is None or self.newest_ns + RACY_NS < read_at_ns:
            return self.sig
        return digest(self.stats + b"racy")


def writers_state(bases: tuple[Path, ...], listings: ModuleListings | None = None
                  ) -> WritersState | None:
    """The signature of every module `ProjectIndex.writers_at(bases)` reads (paths and stat),
    and the modules written too recently to trust their stat (RACY_NS): with any of those the
    signature is marked racy, so it never counts as "unchanged" by stat alone. None past the
    writers' limit. `listings`: the run's listings of the folders (the same files), when the
    caller keeps them; the stat is always taken now."""
    files = python_modules(bases, WRITERS_LIMIT) if listings is None else listings.modules(bases)
    if files is None:
        return None
    now = time.time_ns()
    racy: set[str] = set()
    newest = 0
    modules: list[tuple[str, StatSig | None]] = []
    for path in files:
        name = str(path)
        try:
            st = os.stat(path)
        except OSError:
            modules.append((name, None))
            continue
        if not is_settled(st, now):
            racy.add(name)
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
        modules.append((name, stat_signature(st)))
    stats = _stats_digest(bases, modules)
    return WritersState(digest(stats + b"racy") if racy else stats, frozenset(racy), stats,
                        newest, bases, tuple(modules))


def _stats_digest(bases: tuple[Path, ...], modules: list[tuple[str, StatSig | None]]) -> bytes:
    parts = [_bases_key(bases)]
    parts.extend(f"{name}\0-" if sig is None else f"{name}\0{sig}" for name, sig in modules)
    return digest("\n".join(parts).encode("utf-8", "surrogateescape"))


def _unwritten_since(state: WritersState) -> bool:
    """No module of `state` was written (or removed) since its stat was taken. A module added
    since is not in the state, so the signature of the next run's state differs anyway."""
    now: list[tuple[str, StatSig | None]] = []
    for name, _ in state.modules:
        try:
            now.append((name, stat_signature(os.stat(name))))
        except OSError:
            now.append((name, None))
    return _stats_digest(state.bases, now) == state.stats


def scan_facts(scan: ModuleScan | None, config: Config) -> bytes:
    """A module's part in the project's writers: everything `writers_from_scans` reads of its
    `ModuleScan`, without its path; of the text of a module that may hold a scoped value, what
    `Writers` parses out of it (`module_writer_facts`), so an edit of a comment, a docstring or
    a body that writes nothing leaves the facts the same."""
    # The ast stages' reading of a module: loaded only when an edit is compared with the table.
    from lint_rules.analysis.rule_stages import module_writer_facts, text_on_disk

    if scan is None:
        return digest(b"unreadable")
    parsed = None
    if scan.digest is not None:
        facts = module_writer_facts(scan.path, scan.digest, text_on_disk, config)
        if facts is None:  # written since the scan: facts no table holds
            return digest(b"changed")
        parsed = [sorted(facts.names), sorted([m, sorted(c)] for m, c in facts.owners.items()),
                  sorted(facts.onto_llm)]
    parts = [sorted([c, sorted(w)] for c, w in scan.bases), [list(a) for a in scan.aliases],
             sorted(scan.classes), scan.pins, scan.digest is not None, list(scan.defined), parsed]
    return digest(json.dumps(parts).encode("utf-8"))


def _bases_key(bases: tuple[Path, ...]) -> str:
    return json.dumps([str(b) for b in bases])


# ---------------------------------------------------------------------------- the store
class ResultCache:
    """One run's view of the cache file: lookups in the parent, entries merged back from workers."""

    def __init__(self, path: Path, data: dict | None = None, config: Config | None = None) -> None:
        self.path = path
        self.config = config
        data = data or {}
        self.entries: dict[str, Entry] = data.get("entries", {})
        # Each summary is decoded when a check asks for it: a warm run that checks no file
        # decodes none, an edit run the few its checks read (rebuilding them all cost an edit
        # run of the agent-SDK corpus 0.4 s).
        self.summaries = SummaryStore(data.get("summaries_raw", []))
        # Facts of module texts (`analysis.text_facts`), plain data: rebuilt in a process that
        # asks for them.
        self.text_facts: FactRows = data.get("text_facts", {})
        self.writer_tables: dict[str, WritersTable] = data.get("writer_tables", {})
        self._facts_hold: dict[tuple[Path, ...], bytes | None] = {}  # this run's
        self.digests: dict[str, Digested] = data.get("digests", {})
        self._current: dict[str, bytes | None] = {}  # this run's digests of dependency files
        self._seen: set[str] = set()
        self._bases: dict[str, tuple[Path, ...] | None] = {}  # decoded `WRITERS_DEP` folders
        # The search folders (as spelled) and signatures of the `WRITERS_DEP` dependencies of
        # the entries this run stored.
        self._checked_writers: set[tuple[str, bytes]] = set()
        self._states: dict[tuple[Path, ...], WritersState | None] = {}  # this run's
        self._writers_index: ProjectIndex | None = None
        self._renewed: dict[str, bytes] = {}  # writers deps that still hold: their new signature
        # This run's unchanged, trusted signatures: the digest covers the search folders and
        # every module's stat, so an entry recorded under one holds without parsing its
        # questions (a warm run otherwise decoded the JSON of every entry's dependency).
        self._settled: set[bytes] = set()
        # One tuple per (path, digest) dependency for the entries this run stores: each worker's
        # entry arrives with its own copies, and most entries name the same modules.
        self._dep_rows: dict[tuple[str, bytes | None], tuple[str, bytes | None]] = {}
        self.dirty = False

    @classmethod
    def open(cls, cache_dir: Path, config: Config) -> ResultCache:
        settings = hashlib.blake2b(
            f"{config.fingerprint()}\0{os.getcwd()}".encode(), digest_size=8).hexdigest()
        path = cache_dir / tool_fingerprint() / f"{settings}.json"
        data = None
        try:
            check_cache_dir(cache_dir)
            if not path.parent.is_symlink() and not path.is_symlink():
                with open(path, "rb") as fh:
                    data = decode_cache(fh.read())
        except Exception:  # missing, unreadable, truncated, a symlink: start empty
            data = None
        return cls(path, data, config)

    @staticmethod
    def key(path: str, display: str) -> str:
        return f"{os.path.abspath(path)}\0{display}"

    # --- lookups ---
    def lookup(self, path: str, display: str, *, usable=None) -> Entry | list[Diagnostic] | None:
        """Cached findings (stat unchanged), the entry to compare content against, or None."""
        key = self.key(path, display)
        self._seen.add(key)
        entry = self.entries.get(key)
        if entry is None or (usable is not None and not usable(entry)):
            return None
        if not self.deps_valid(entry.deps):
            return None
        if self._renewed and any(p in self._renewed for p, _ in entry.deps):
            # The writers' answers held under a new signature: the next run trusts it at once.
            entry = self.entries[key] = entry._replace(deps=tuple(
                (p, self._renewed.get(p, expected)) for p, expected in entry.deps))
            self.dirty = True
        try:
            st = os.stat(path)
        except OSError:
            return None
        if entry.settled and stat_signature(st) == entry.sig:
            return list(entry.diagnostics)
        return entry

    def deps_valid(self, deps: tuple[tuple[str, bytes | None], ...]) -> bool:
        return all(self._writers_hold(p, expected) if p.startswith(WRITERS_DEP)
                   else self.current_digest(p, expected == EXISTS) == expected
                   for p, expected in deps)

    def _writers_hold(self, path: str, signature: bytes | None) -> bool:
        """Do the writers still answer "no" to the questions of a `WRITERS_DEP` dependency?"""
        if path in self._renewed or (signature is not None and signature in self._settled):
            return True
        raw = WritersQuestions.bases_of_dep_path(path)
        bases = None if raw is None else self._decoded_bases(raw)
        if bases is None or self.config is None:
            return False
        if bases not in self._states:
            self._states[bases] = writers_state(bases)
        state = self._states[bases]
        if state is None:
            return False  # past the writers' limit: they are unknown
        current, racy = state.sig, state.racy
        if not racy and current == signature:
            self._settled.add(current)
            return True
        self._open_writers_index()
        if self._facts_unchanged_since(bases, state) == signature:
            self._renewed[path] = current  # no module's facts changed: nor did any answer
            return True
        questions = WritersQuestions.from_dep_path(path)
        if questions is None:
            return False
        writers = self._writers_index.writers_at(bases)
        self._record_table(bases, state)
        if writers is None or not questions.still_no(writers):
            return False
        self._renewed[path] = current
        return True

    def _decoded_bases(self, raw: str) -> tuple[Path, ...] | None:
        """The search folders of a `WRITERS_DEP` dependency, decoded once per spelling (the
        entries share a few lists)."""
        if raw not in self._bases:
            self._bases[raw] = WritersQuestions.decode_bases(raw)
        return self._bases[raw]

    def _open_writers_index(self) -> None:
        """The index the writers and their table are read with, built only when a module
        changed or a table is recorded."""
        if self._writers_index is not None or self.config is None:
            return
        # Imported here: a run that serves every file from the cache never loads the analysis
        # (most of a warm run's start-up).
        from lint_rules.analysis.project_index import ProjectIndex
        from lint_rules.analysis.text_facts import MEMO

        MEMO.seed(self.config.fingerprint(), self.text_facts)
        MEMO.keep_fresh = True  # what the comparison computes is saved with the cache
        self._writers_index = ProjectIndex(self.config)

    def _record_checked_tables(self) -> None:
        """The table of the writers' facts for each set of search folders this run's checks
        asked the writers about, unless one holds at the signature the checks recorded: the
        first edit after a cold run then compares facts instead of building the writers
        (0.3-3 s of it on the agent-SDK corpus). Skipped when a module changed since, or is too
        recent to trust: the table must describe the modules the checks' writers were read
        from."""
        if self.config is None:
            return
        for raw, signature in sorted(self._checked_writers):
            bases = self._decoded_bases(raw)
            if bases is None:
                continue
            table = self.writer_tables.get(_bases_key(bases))
            if table is not None and table.sig == signature:
                continue
            state = writers_state(bases)
            if state is None or state.racy or state.sig != signature:
                continue
            self._open_writers_index()
            self._record_table(bases, state)

    def _facts_unchanged_since(self, bases: tuple[Path, ...], state: WritersState) -> bytes | None:
        """The signature of the stored `WritersTable` when every module's facts are still the
        same (the table then moves to the current signature), else None; once a run per search
        folders. Only modules whose stat changed, or is too recent to trust, are read again."""
        if bases in self._facts_hold:
            return self._facts_hold[bases]
        self._facts_hold[bases] = None
        key = _bases_key(bases)
        table = self.writer_tables.get(key)
        if table is None or {name for name, _ in state.modules} != set(table.modules):
            return None
        rows = self._rows(state, table.modules)
        if rows is None or not _unwritten_since(state):  # or written meanwhile
            return None
        self.writer_tables[key] = WritersTable(state.sig, rows)
        self.dirty = True
        self._facts_hold[bases] = table.sig
        return table.sig

    def _record_table(self, bases: tuple[Path, ...], state: WritersState) -> None:
        """The facts of every module the writers were just built from, at `state`."""
        key = _bases_key(bases)
        table = self.writer_tables.get(key)
        if table is not None and table.sig == state.sig:
            return
        rows = self._rows(state, None)
        if rows is not None and _unwritten_since(state):  # nothing written meanwhile
            self.writer_tables[key] = WritersTable(state.sig, rows)
            self.dirty = True

    def _rows(self, state: WritersState, stored: dict[str, tuple[StatSig, bytes]] | None
              ) -> dict[str, tuple[StatSig, bytes]] | None:
        """Each module's (stat, `scan_facts`) at `state`; with `stored`, None as soon as one
        module's facts differ from it (a module whose stat is unchanged and trusted is not
        read). A racy module's row gets no stat, so the next comparison reads it again."""
        index = self._writers_index
        assert index is not None
        rows: dict[str, tuple[StatSig, bytes]] = {}
        for name, sig in state.modules:
            if sig is None:
                return None
            racy = name in state.racy
            if stored is not None and sig == stored[name][0] and not racy:
                rows[name] = stored[name]
                continue
            facts = scan_facts(index.module_scan(Path(name)), index.config)
            if stored is not None and facts != stored[name][1]:
                return None
            rows[name] = (RACY_ROW if racy else sig, facts)
        return rows

    def current_digest(self, path: str, existence_only: bool = False) -> bytes | None:
        memo_key = ("?" if existence_only else "#") + path
        if memo_key in self._current:
            return self._current[memo_key]
        value: bytes | None
        try:
            read_at = time.time_ns()
            st = os.stat(path)
        except OSError:
            value = None
        else:
            if stat.S_ISDIR(st.st_mode) and not existence_only:
                value = listing_digest(path)  # a folder the census listed
            elif not stat.S_ISREG(st.st_mode):
                value = None
            elif existence_only:
                value = EXISTS
            else:
                known = self.digests.get(path)
                sig = stat_signature(st)
                if known is not None and known.settled and known.sig == sig:
                    value = known.digest
                else:
                    try:
                        with open(path, "rb") as fh:
                            value = digest(fh.read())
                    except OSError:
                        value = None
                    self.digests[path] = Digested(sig, is_settled(st, read_at), value)
                    self.dirty = True
        self._current[memo_key] = value
        return value

    # --- updates ---
    def store(self, path: str, display: str, result: WorkerYield) -> None:
        if result.entry is not None:
            rows = self._dep_rows
            entry = result.entry._replace(deps=tuple(rows.setdefault(d, d) for d in result.entry.deps))
            self.entries[self.key(path, display)] = entry
            self.dirty = True
            for dep, signature in entry.deps:
                if signature is not None and dep.startswith(WRITERS_DEP):
                    raw = WritersQuestions.bases_of_dep_path(dep)
                    if raw is not None:
                        self._checked_writers.add((raw, signature))
        if result.summaries:
            self.summaries.update(result.summaries)
            self.dirty = True
        if result.digests:
            self.digests.update(result.digests)
            self.dirty = True
        self.learn_facts(result.facts)

    def learn_facts(self, rows: FactRows) -> None:
        for kind, by_path in rows.items():
            self.text_facts.setdefault(kind, {}).update(by_path)
            self.dirty = True

    def save(self) -> None:
        """Write atomically; a cache that cannot be written is silently skipped."""
        try:
            self._record_checked_tables()
        except Exception:  # the table only saves the next edit time: never fail a run for it
            pass
        memo = sys.modules.get("lint_rules.analysis.text_facts")
        if memo is not None and self.config is not None:  # facts this process computed itself
            self.learn_facts(memo.MEMO.drain(self.config.fingerprint()))
        if not self.dirty:
            return
        # Drop entries of files that are gone (the others may belong to other sub-trees).
        for key in [k for k in self.entries if k not in self._seen]:
            if not os.path.exists(key.split("\0", 1)[0]):
                del self.entries[key]
        for by_path in self.text_facts.values():
            for path in [p for p in by_path if not os.path.exists(p)]:
                del by_path[path]
        try:
            payload = encode_cache(self.entries, self.summaries, self.digests, self.writer_tables,
                                   self.text_facts)
            ensure_cache_dir(self.path.parent.parent)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.parent.is_symlink() or self.path.is_symlink():
                raise UnsafeCacheDir(f"{self.path}: is a symbolic link")
            replace_file(self.path, payload)
        except Exception:  # unwritable or unsafe folder, full disk: run uncached
            pass
        self.dirty = False


# ---------------------------------------------------------------------------- in the worker
def checked_entry(path: str, st: os.stat_result, read_at: int, result, deps) -> Entry | None:
    """The entry for a fresh FileResult, when its findings depend on the file content only."""
    original = result.original
    if original is None or result.error or result.fixed or result.new_text is not None:
        return None  # unreadable, internal error, or rewritten by fixes: nothing to reuse
    data_digest = digest(original.encode(original.text))
    return Entry(stat_signature(st), is_settled(st, read_at), data_digest,
                 tuple(result.diagnostics), tuple(deps) + tuple(package_deps(path)))


def unchanged(path: str, entry: Entry) -> tuple[os.stat_result, int] | None:
    """(stat, read time) when the file's content still has the entry's digest."""
    try:
        read_at = time.time_ns()
        st = os.stat(path)
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return (st, read_at) if digest(data) == entry.digest else None


# ---------------------------------------------------------------------------- JSON codec
# Data only: every value is rebuilt from plain JSON types and checked; whatever does not fit
# raises _Bad, and the entry (or the whole file, for a bad top level) is dropped.
class _Bad(ValueError):
    pass


def _need(cond: bool) -> None:
    if not cond:
        raise _Bad


def _int(v: object) -> int:
    _need(type(v) is int)
    return v  # type: ignore[return-value]


def _str(v: object) -> str:
    _need(type(v) is str)
    return v  # type: ignore[return-value]


def _hex(v: object) -> bytes:
    try:
        return bytes.fromhex(_str(v))
    except ValueError:
        raise _Bad from None


def _dep_digest(v: object) -> bytes | None:
    if v is None:
        return None
    if v == "exists":
        return EXISTS
    return _hex(v)


def _enc_dep_digest(v: bytes | None) -> str | None:
    return None if v is None else "exists" if v == EXISTS else v.hex()


def _loc(v: object):
    _need(isinstance(v, list) and len(v) == 2)
    return Location(_int(v[0]), _int(v[1]))  # type: ignore[index]


def _enc_diag(d: Diagnostic) -> dict:
    fix = None
    if d.fix is not None:
        fix = {"m": d.fix.message, "a": d.fix.applicability.value,
               "e": [[e.start, e.end, e.content,
                      None if e.location is None else [e.location.row, e.location.column],
                      None if e.end_location is None else [e.end_location.row, e.end_location.column]]
                     for e in d.fix.edits]}
    return {"c": d.code, "n": d.name, "m": d.message, "p": d.path,
            "s": [d.start.row, d.start.column], "e": [d.end.row, d.end.column],
            "f": fix, "l": d.line_text}


def _dec_diag(v: object) -> Diagnostic:
    _need(isinstance(v, dict))
    assert isinstance(v, dict)
    fix = None
    raw = v.get("f")
    if raw is not None:
        _need(isinstance(raw, dict) and isinstance(raw.get("e"), list))
        edits = []
        for e in raw["e"]:
            _need(isinstance(e, list) and len(e) == 5)
            edits.append(Edit(_int(e[0]), _int(e[1]), _str(e[2]),
                              None if e[3] is None else _loc(e[3]),
                              None if e[4] is None else _loc(e[4])))
        try:
            applicability = Applicability(raw.get("a"))
        except ValueError:
            raise _Bad from None
        fix = Fix(_str(raw.get("m")), tuple(edits), applicability)
    return Diagnostic(_str(v.get("c")), _str(v.get("n")), _str(v.get("m")), _str(v.get("p")),
                      _loc(v.get("s")), _loc(v.get("e")), fix, _str(v.get("l")))


def _table_row(table: list[tuple[str, bytes | None] | None], number: object
               ) -> tuple[str, bytes | None]:
    """The dependency an entry names by its number in the file's table."""
    _need(type(number) is int and 0 <= number < len(table))  # type: ignore[operator]
    row = table[number]  # type: ignore[index]
    _need(row is not None)
    return row


def _sig(v: object) -> StatSig:
    _need(isinstance(v, list) and len(v) == 4)
    return tuple(_int(x) for x in v)  # type: ignore[return-value,union-attr]


def _enc_summary(m: ModuleSummary | None) -> object:
    # Imported when a summary is written or rebuilt: a warm run, which passes the stored ones
    # through undecoded, never needs the summaries' classes (10 ms of its start).
    from lint_rules.analysis.summaries import to_data

    return None if m is None else to_data(m)


def _dec_summary(v: object) -> ModuleSummary | None:
    if v is None:
        return None
    # Imported here for the reason `_enc_summary` gives.
    from lint_rules.analysis.summaries import ModuleSummary, from_data

    try:
        return from_data(ModuleSummary, v)  # type: ignore[return-value]
    except (ValueError, TypeError):
        raise _Bad from None


def encode_cache(entries: dict[str, Entry], summaries: SummaryStore | dict,
                 digests: dict[str, Digested],
                 writer_tables: dict[str, WritersTable] | None = None,
                 text_facts: FactRows | None = None) -> bytes:
    """`summaries`: a store (its undecoded summaries are written back as they were read), or
    a dict of decoded ones."""
    # Each distinct dependency once, entries by its number: most entries share the same
    # `__init__.py` files and modules (6,380 distinct of 27,896 on the agent-SDK corpus).
    numbers: dict[tuple[str, bytes | None], int] = {}
    data = {
        "format": FORMAT,
        "entries": {key: {"sig": list(e.sig), "settled": e.settled, "digest": e.digest.hex(),
                          "diagnostics": [_enc_diag(d) for d in e.diagnostics],
                          "deps": [numbers.setdefault(dep, len(numbers)) for dep in e.deps]}
                    for key, e in entries.items()},
        "deps": [[p, _enc_dep_digest(x)] for p, x in numbers],
        "summaries": summaries.rows() if isinstance(summaries, SummaryStore) else
        [[p, d.hex(), m, _enc_summary(s)] for (p, d, m), s in summaries.items()],
        "digests": {p: [list(d.sig), d.settled, None if d.digest is None else d.digest.hex()]
                    for p, d in digests.items()},
        "writer_tables": {key: [t.sig.hex(), {p: [*sig, facts.hex()]
                                              for p, (sig, facts) in t.modules.items()}]
                          for key, t in (writer_tables or {}).items()},
        "text_facts": {kind: {p: [d.hex(), detail, plain] for p, (d, detail, plain) in rows.items()}
                       for kind, rows in (text_facts or {}).items()},
    }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def decode_cache(raw: bytes) -> dict | None:
    """The cache's content, validated; None when the file is not a cache of this format.
    Entries that do not validate are dropped one by one (each is a miss). The index summaries
    stay raw ("summaries_raw", `SummaryStore`) until a check asks for one."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    table: list[tuple[str, bytes | None] | None] = []  # None: a row that does not validate
    raw_table = data.get("deps")
    for dep in raw_table if isinstance(raw_table, list) else ():
        try:
            _need(isinstance(dep, list) and len(dep) == 2)
            table.append((_str(dep[0]), _dep_digest(dep[1])))
        except _Bad:
            table.append(None)
    entries: dict[str, Entry] = {}
    raw_entries = data.get("entries")
    for key, e in (raw_entries.items() if isinstance(raw_entries, dict) else ()):
        try:
            _need(isinstance(e, dict) and type(e.get("settled")) is bool)
            _need(isinstance(e.get("diagnostics"), list) and isinstance(e.get("deps"), list))
            deps = tuple(_table_row(table, n) for n in e["deps"])
            entries[_str(key)] = Entry(_sig(e.get("sig")), e["settled"], _hex(e.get("digest")),
                                       tuple(_dec_diag(d) for d in e["diagnostics"]), deps)
        except _Bad:
            continue
    raw_summaries = data.get("summaries")
    digests: dict[str, Digested] = {}
    raw_digests = data.get("digests")
    for path, d in (raw_digests.items() if isinstance(raw_digests, dict) else ()):
        try:
            _need(isinstance(d, list) and len(d) == 3 and type(d[1]) is bool)
            digests[_str(path)] = Digested(_sig(d[0]), d[1], None if d[2] is None else _hex(d[2]))
        except _Bad:
            continue
    tables: dict[str, WritersTable] = {}
    raw_tables = data.get("writer_tables")
    for key, t in (raw_tables.items() if isinstance(raw_tables, dict) else ()):
        try:
            _need(isinstance(t, list) and len(t) == 2 and isinstance(t[1], dict))
            modules = {}
            for path, row in t[1].items():
                _need(isinstance(row, list) and len(row) == 5)
                modules[_str(path)] = (_sig(row[:4]), _hex(row[4]))
            tables[_str(key)] = WritersTable(_hex(t[0]), modules)
        except _Bad:
            continue
    facts: FactRows = {}
    raw_facts = data.get("text_facts")
    for kind, rows in (raw_facts.items() if isinstance(raw_facts, dict) else ()):
        if not isinstance(rows, dict):
            continue
        kept = facts[kind] = {}
        for path, row in rows.items():  # the data itself is checked when a process asks for it
            try:
                _need(isinstance(row, list) and len(row) == 3)
                kept[_str(path)] = (_hex(row[0]), _str(row[1]), row[2])
            except _Bad:
                continue
    return {"format": FORMAT, "entries": entries, "digests": digests, "writer_tables": tables,
            "summaries_raw": raw_summaries if isinstance(raw_summaries, list) else [],
            "text_facts": facts}


SummaryKey = tuple[str, bytes, str]  # (module file, its content digest, its module name)
_ABSENT = object()


class SummaryStore:
    """The index summaries of a cache file (`decode_cache`'s "summaries_raw") by key, each
    rebuilt and validated when first asked for: one that does not validate is absent (its
    module is summarised again). Summaries learned in this run are added decoded."""

    def __init__(self, raw: list) -> None:
        self._raw: dict[SummaryKey, object] = {}
        self._decoded: dict[SummaryKey, ModuleSummary | None] = {}
        for item in raw:
            try:
                _need(isinstance(item, list) and len(item) == 4)
                self._raw[(_str(item[0]), _hex(item[1]), _str(item[2]))] = item[3]
            except _Bad:
                continue

    def get(self, key: SummaryKey, default=None):
        if key in self._decoded:
            return self._decoded[key]
        raw = self._raw.pop(key, _ABSENT)
        if raw is _ABSENT:
            return default
        try:
            found = self._decoded[key] = _dec_summary(raw)
        except _Bad:
            return default
        return found

    def __contains__(self, key: object) -> bool:
        return self.get(key, _ABSENT) is not _ABSENT  # type: ignore[arg-type]

    def __getitem__(self, key: SummaryKey) -> ModuleSummary | None:
        found = self.get(key, _ABSENT)
        if found is _ABSENT:
            raise KeyError(key)
        return found  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._raw) + len(self._decoded)

    def __iter__(self):
        return iter([*self._raw, *self._decoded])

    def update(self, learned: dict[SummaryKey, ModuleSummary | None]) -> None:
        for key in learned:
            self._raw.pop(key, None)
        self._decoded.update(learned)

    def rows(self) -> list:
        """The cache file's rows: undecoded ones as they were read."""
        return ([[p, d.hex(), m, raw] for (p, d, m), raw in self._raw.items()]
                + [[p, d.hex(), m, _enc_summary(s)] for (p, d, m), s in self._decoded.items()])
