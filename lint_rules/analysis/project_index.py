"""The project index: facts that cross modules, built lazily and cheaply.

Rules ask for a class by qualified name (`agentsdk.conversation.base.BaseConversation`); the
index finds its module on disk next to the file being checked (package folders with
`__init__.py`, the project root, `src/`), parses it once, and keeps a small, picklable
`ModuleSummary`, not the tree. Only modules that a checked class actually inherits from are
ever summarised, so the cost is a few extra parses, never a second pass over the tree. A file
checked alone (flake8, stdin) gets the same answers, as long as its bases are on disk; a base
that cannot be found is "unknown", and rules treat unknown as "no facts" (never a finding).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import libcst as cst

from lint_rules.analysis.call_effects import EffectSummaries
from lint_rules.analysis.context import FileContext, FileFacts
from lint_rules.analysis.global_setters_ast import StoringFacts, storing_facts
from lint_rules.analysis.header_census import (
    HeaderCensus,
    package_root,
    take_census,
    walk_package,
)
from lint_rules.analysis.pins import summarize_method
from lint_rules.analysis.request_callers import callers_reinject
from lint_rules.analysis.rule_stages import (
    ModuleScan,
    Writers,
    module_scan_of,
    scan_facts_of,
    scan_module,
    writers_from_scans,
)
from lint_rules.analysis.summaries import ClassSummary, FunctionSummary, ModuleSummary
from lint_rules.analysis.text_facts import MEMO, ScanFacts
from lint_rules.core.config import Config
from lint_rules.core.module_files import FileStat, ModuleListings
from lint_rules.core.run_store import run_store, shared
from lint_rules.core.source import SourceDecodeError, content_digest, decode_source
from lint_rules.syntax.lines import NodeLines
from lint_rules.syntax.parse import (
    ParseFailure,
    ast_tree,
    module_name_for,
    parse_module,
)
from lint_rules.syntax.semantic import ClassInfo, SemanticModel, build_model


def summarize_model(model: SemanticModel, path: str, config: Config,
                    lines_of: Callable[[cst.CSTNode], int],
                    index: ProjectIndex | None = None) -> ModuleSummary:
    """A module's summary from its semantic model (`lines_of(node)` gives a node's start line).
    With `index`, function summaries follow calls into other modules too."""
    facts = FileFacts(config, model)
    effects = EffectSummaries(facts, path, lines_of, index)
    classes: dict[str, ClassSummary] = {}
    for cls in model.classes:
        if "." in cls.qualname:
            continue  # nested classes are not inherited across modules in practice
        methods = {
            name: replace(summarize_method(fn, facts, lines_of(fn.node)),
                          effects=_worth_keeping(effects.summary(fn)))
            for name, fn in cls.methods.items()
        }
        qual = f"{model.module_name}.{cls.name}" if model.module_name else cls.name
        classes[cls.name] = ClassSummary(cls.name, qual, path, lines_of(cls.node), cls.bases,
                                         methods)
    functions: dict[str, FunctionSummary] = {}
    for fn in model.functions:
        if fn.cls is None and fn.parent is None:
            kept = _worth_keeping(effects.summary(fn))
            if kept is not None:
                functions[fn.name] = kept
    return ModuleSummary(model.module_name, path, classes, dict(model.imports), functions)


def _worth_keeping(summary: FunctionSummary) -> FunctionSummary | None:
    """Only summaries that say something are stored (the cache stays small)."""
    if summary.writes or summary.returns_params or summary.returns_fresh or summary.is_pin_helper \
            or summary.globals_written:
        return summary
    return None


class ProjectIndex:
    """Cross-module facts for one run; `roots` are extra folders to look for modules in."""

    def __init__(self, config: Config, roots: list[Path] | None = None) -> None:
        self.config = config
        self.roots = [r.resolve() for r in roots or []]
        self._modules: dict[str, ModuleSummary | None] = {}
        self._writers: dict[tuple[Path, ...], Writers | None] = {}
        self._writers_read_at: dict[tuple[Path, ...], int] = {}
        self._censuses: dict[str, HeaderCensus | None] = {}
        self._callers: dict[str, bool] = {}
        self._storing: dict[Path, StoringFacts] = {}  # may_store_globally, per module
        # Where modules are looked for, per folder of the asking file, and which candidate
        # files exist (`listings.stat`): asked for every imported call of every checked
        # function (a run sees one state of the disk).
        self._bases: dict[Path | None, list[Path]] = {}
        # The modules under each set of search folders, and each file's stat, once per run.
        self.listings = ModuleListings()

    # --- finding modules on disk ---
    def _search_bases(self, near: Path | None) -> list[Path]:
        key = near.parent if near is not None else None
        found = self._bases.get(key)
        if found is None:
            found = self._bases[key] = self._find_search_bases(near)
        return found

    def _find_search_bases(self, near: Path | None) -> list[Path]:
        bases: list[Path] = []
        if near is not None:
            folder = near.resolve().parent
            while (folder / "__init__.py").is_file() and folder.parent != folder:
                folder = folder.parent
            bases.append(folder)
        for root in self.roots:
            bases.extend([root, root / "src"])
        return bases

    def _is_file(self, path: Path) -> bool:
        st = self.listings.stat(path)
        return st is not None and stat.S_ISREG(st.st_mode)

    def _candidates(self, module: str, near: Path | None) -> Iterator[Path]:
        rel = Path(*module.split("."))
        bases = self._search_bases(near)
        seen: set[Path] = set()
        for base in bases:
            if base in seen:
                continue
            seen.add(base)
            yield base / rel.with_suffix(".py")
            yield base / rel / "__init__.py"

    def module(self, module: str, near: Path | None = None) -> ModuleSummary | None:
        if module in self._modules:
            return self._modules[module]
        self._modules[module] = None  # guards against import cycles while summarising
        for candidate in self._candidates(module, near):
            if self._is_file(candidate):
                self._modules[module] = self._summarize_file(candidate)
                break
        return self._modules[module]

    def may_store_globally(self, module: str, name: str, near: Path | None = None) -> bool:
        """May the module-level function `module.name` store one of its parameters into
        process-global state (global_setters_ast.py, on CPython's tree: the gate in front of
        LLA005's hop across modules, which needs the module's summary)? A name the module
        imports is followed one step, as `EffectSummaries._remote` follows it. A module already
        summarised answers from its summary."""
        found = self._stores(module, name, near)
        if not isinstance(found, tuple):
            return found
        target, path = found
        inner, _, inner_name = target.rpartition(".")
        if not inner or inner == module:
            return False
        again = self._stores(inner, inner_name, path)
        return again is True

    def _stores(self, module: str, name: str, near: Path | None) -> bool | tuple[str, Path]:
        """True/False for a function of `module`, or (what the name is imported as, the
        module's file) for a re-export."""
        if module in self._modules:
            summary = self._modules[module]
            if summary is None:
                return False
            fn = summary.functions.get(name)
            if fn is not None:
                return bool(fn.globals_written)
            target = summary.imports.get(name)
            return (target, Path(summary.path)) if target else False
        for candidate in self._candidates(module, near):
            if self._is_file(candidate):
                facts = self._storing_facts(candidate)
                if name in facts.functions:
                    return True
                target = facts.reexports.get(name)
                return (target, candidate) if target else False
        return False

    def _storing_facts(self, path: Path) -> StoringFacts:
        """`global_setters_ast.storing_facts` of one module file, computed once per run (and
        once per text, `text_facts`)."""
        found = self._storing.get(path)
        if found is None:
            data = self._read_module(path)
            if data is None:
                found = StoringFacts(frozenset(), {})
            else:
                name, is_package = module_name_for(str(path))
                key = ("storing", str(path), content_digest(data), f"{name}\0{is_package}")
                found = MEMO.get(self.config.fingerprint(), key, StoringFacts,
                                 lambda: self._storing_facts_of(path, data))
            self._storing[path] = found
        return found

    def _read_module(self, path: Path) -> bytes | None:
        """A module's bytes for the `ast` gates (the result cache records what it read)."""
        try:
            return path.read_bytes()
        except OSError:
            return None

    @staticmethod
    def _storing_facts_of(path: Path, data: bytes) -> StoringFacts:
        try:
            tree = ast_tree(decode_source(data).text)
        except SourceDecodeError:
            tree = None
        if tree is None:
            return StoringFacts(frozenset(), {})
        return storing_facts(tree, *module_name_for(str(path)))

    def _summarize_file(self, path: Path) -> ModuleSummary | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return self._summary_of(path, data)

    def _summary_of(self, path: Path, data: bytes) -> ModuleSummary | None:
        """The summary of the module file `path` holding `data`."""
        if run_store() is None:
            return self._summarize_text(path, data)  # no digest to take
        # Another worker of this run may have summarised these bytes already.
        key = ("module summary", self.config.fingerprint(), str(path), content_digest(data))
        return shared(key, lambda: self._summarize_text(path, data))

    def _summarize_text(self, path: Path, data: bytes) -> ModuleSummary | None:
        try:
            source = decode_source(data).text
        except SourceDecodeError:
            return None
        parsed = parse_module(source)
        if isinstance(parsed, ParseFailure):
            return None
        model = build_model(parsed, str(path))
        lines = NodeLines(parsed, source)
        # No index here: a module's summary depends on its own text only, so the cache can
        # keep it until that file changes (calls into other modules resolve at the call site).
        return summarize_model(model, str(path), self.config, lines)

    # --- project facts ---
    def census_clears_for_stage(self, near: str | Path | None) -> bool:
        """LLA004's stage: the header census proves that no code of the package of `near`
        writes a scoped header into an LLM's header field (the rule's
        `_no_scoped_header_in_llm_fields`)."""
        census = self.header_census(near) if near else None
        return census is not None and not census.may_hold_scoped_header

    def header_census(self, near: str | Path) -> HeaderCensus | None:
        """Can a scoped header be in an LLM's header field anywhere in the package tree of
        `near` (header_census.py)? None: not in a package, or the tree cannot be read."""
        root = package_root(near) if str(near) not in ("", "-", "<stdin>") else None
        if root is None:
            return None
        key = str(root)
        if key not in self._censuses:
            self._censuses[key] = take_census(root, self.config, self._census_read)
        return self._censuses[key]

    def callers_reinject(self, near: str | Path, name: str) -> bool:
        """Every use of the module-level function `name` of `near` in its package tree is a call
        whose result is re-injected later (request_callers.py); False when unresolved."""
        root = package_root(near) if str(near) not in ("", "-", "<stdin>") else None
        walked = walk_package(root) if root is not None else None
        if root is None or walked is None:
            return False
        key = f"{Path(near).resolve()}\0{name}"
        if key not in self._callers:
            self._callers[key] = callers_reinject(root, str(near), name, self.config,
                                                  self._census_read, walked.files)
        return self._callers[key]

    def _census_read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError:
            return None

    # --- the ast stage's call hops ---
    def writers(self, near: Path | None) -> Writers | None:
        """Which callees, among every module this index could find from `near`, may write a
        conversation-scoped value onto a parameter (`rule_stages.Writers`); None: unknown."""
        return self.writers_at(self.writers_bases(near))

    def writers_bases(self, near: Path | None) -> tuple[Path, ...]:
        """The folders `writers(near)` reads every module under."""
        return tuple(dict.fromkeys(b.resolve() for b in self._search_bases(near)))

    def writers_at(self, bases: tuple[Path, ...]) -> Writers | None:
        if bases in self._writers:
            return self._writers[bases]
        found: Writers | None = None
        files = self.listings.modules(bases)  # past the limit: None, the writers unknown
        if files is not None:
            # Shared by every index of the process (the API builds one per call) while no
            # module changed (paths, sizes and mtimes). The writers are read off the modules
            # alone: search folders that list the same modules share them.
            signature = tuple(_stat_fields(f, self.listings.stat(f)) for f in files)
            key = (self.config.fingerprint(), signature)
            memo = _WRITERS_MEMO.get(key)
            if memo is not None:
                found, read_at = memo
            else:
                store = run_store()
                if store is not None:
                    # Workers start at different modules: each publishes the scans it made
                    # for the others (`core.run_store`); the writers read them in list order.
                    for path in store.rotated(files):
                        self._scan_and_time(path)
                read: list[int] = []
                found = writers_from_scans(self._module_scans(files, read), self.config)
                read_at = min(read, default=time.time_ns())
                if len(_WRITERS_MEMO) > 16:
                    _WRITERS_MEMO.clear()
                _WRITERS_MEMO[key] = (found, read_at)
            self._writers_read_at[bases] = read_at
        self._writers[bases] = found
        return found

    def writers_read_at(self, bases: tuple[Path, ...]) -> int | None:
        """When the oldest module text behind `writers_at(bases)` was read (`time.time_ns()`),
        which may be before this index asked (the process keeps scans and writers while the
        modules' stat is unchanged): a module changed shortly before that read may have been
        read half-written, so a result cache must not trust its stat (cache.RACY_NS)."""
        return self._writers_read_at.get(bases)

    def _module_scans(self, files: list[Path], read_at: list[int]) -> Iterator[ModuleScan]:
        """Each module's `ModuleScan`, read once per process while its stat is unchanged
        (folders without `__init__.py` give every file its own set of search folders); the
        time each was read goes to `read_at`."""
        for path in files:
            found = self._scan_and_time(path)
            if found is not None:
                read_at.append(found[1])
                yield found[0]

    def module_scan(self, path: Path) -> ModuleScan | None:
        """What `writers` reads off one module (None: unreadable, which `writers` skips)."""
        found = self._scan_and_time(path)
        return None if found is None else found[0]

    def _scan_and_time(self, path: Path) -> tuple[ModuleScan, int] | None:
        fingerprint = self.config.fingerprint()
        key = (_stat_key(path), fingerprint)
        found = _SCAN_MEMO.get(key)
        if found is None:
            read_at = time.time_ns()  # before the read: the conservative time
            try:
                data = path.read_bytes()
                data_digest = content_digest(data)
                # Decoded only when the facts of these bytes are not known yet.
                facts = MEMO.get(fingerprint, ("scan", str(path), data_digest, ""), ScanFacts,
                                 lambda: scan_facts_of(scan_module(
                                     str(path), decode_source(data).text, self.config,
                                     data_digest)))
            except (OSError, SourceDecodeError):
                return None
            if len(_SCAN_MEMO) > 50_000:
                _SCAN_MEMO.clear()
            found = _SCAN_MEMO[key] = (module_scan_of(str(path), facts, data_digest), read_at)
        return found

    # --- classes ---
    def lookup_class(self, qualname: str, near: Path | None = None) -> ClassSummary | None:
        """The class `qualname` names, followed through re-exports (`from .base import Base`
        in `__init__`): a loop, each name once (a chain of re-exports, or a cycle of them,
        costs no stack)."""
        seen: set[str] = set()
        while qualname not in seen:
            seen.add(qualname)
            module, _, name = qualname.rpartition(".")
            if not module:
                return None
            summary = self.module(module, near)
            if summary is None:
                return None
            found = summary.classes.get(name)
            if found is not None:
                return found
            target = summary.imports.get(name)
            if not target:
                return None
            qualname, near = target, Path(summary.path)
        return None

    def ancestors(self, bases: tuple[str, ...], near: Path | None = None) -> list[ClassSummary]:
        """Base classes found on disk, breadth-first (an MRO approximation), each once."""
        out: list[ClassSummary] = []
        seen: set[str] = set()
        queue = [(b, near) for b in bases]
        while queue:
            base, where = queue.pop(0)
            if base in seen:
                continue
            seen.add(base)
            found = self.lookup_class(base, where)
            if found is None:
                continue
            out.append(found)
            queue.extend((b, Path(found.path)) for b in found.bases)
        return out


_WRITERS_MEMO: dict[tuple, tuple[Writers, int]] = {}  # (settings, stats) -> (writers, read at)
_SCAN_MEMO: dict[tuple, tuple[ModuleScan, int]] = {}


def _stat_key(path: Path) -> tuple[str, int, int, int]:
    try:
        st = path.stat()
    except OSError:
        st = None
    return _stat_fields(path, st)


def _stat_fields(path: Path, st: os.stat_result | FileStat | None) -> tuple[str, int, int, int]:
    if st is None:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def local_summary(ctx: FileContext, cls: ClassInfo) -> ClassSummary:
    """The summary of a class of the file being checked (same shape as the index's).

    Lines are 0 here: positions cost a codegen pass, so a rule that reports a local method's line
    asks `ctx.position(fn.node)` at report time instead.
    """
    model = ctx.model
    methods = {name: summarize_method(fn, ctx.facts, 0) for name, fn in cls.methods.items()}
    qual = f"{model.module_name}.{cls.qualname}" if model.module_name else cls.qualname
    return ClassSummary(cls.name, qual, ctx.path, 0, cls.bases, methods)
