"""Running a check over paths: discovery, parallel workers, writing fixes. No printing here."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lint_rules.api import FileResult, check_file, fix_is_applicable, internal_error, read_error
from lint_rules.cache import (
    ResultCache,
    WorkerYield,
    checked_entry,
    is_settled,
    stat_signature,
    unchanged,
)
from lint_rules.core.config import Config, ConfigResolver
from lint_rules.core.diagnostics import Diagnostic
from lint_rules.core.memory import release_freed_memory, resident_bytes
from lint_rules.core.run_store import (
    RunStore,
    new_run_folder,
    remove_run_folder,
    use_run_store,
)
from lint_rules.core.source import FileChangedError, file_digest, write_atomically
from lint_rules.discovery import DiscoveryError, walker

if TYPE_CHECKING:
    from lint_rules.cache_index import CachingIndex

# A worker's resident size above which it gives freed pages back after a file (below it, the
# pages are reused by the next file for less than the system calls cost).
TRIM_ABOVE = 96 << 20

# Below this many files, worker start-up costs more than it saves.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class RunOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    write: bool = True  # False for --diff: compute fixes, write nothing
    jobs: int | None = None  # None: one per core
    cache_dir: Path | None = None  # None: no result cache (the CLI passes one unless --no-cache)


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # internal errors: exit 2

    @property
    def diagnostics(self) -> list[Diagnostic]:
        out = [d for f in self.files for d in f.diagnostics]
        return sorted(out, key=Diagnostic.sort_key)

    @property
    def fixed(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.fixed]


# One index per process: workers are forked with an empty one and fill it lazily.
_worker_state: dict[str, object] = {}


def _init_worker(config: Config, roots: list[Path], options: RunOptions,
                 summaries: dict | None = None, facts: dict | None = None) -> None:
    # The checker's project index, loaded by the processes that check files only: a run that
    # serves every file from the cache never imports the analysis or libcst.
    from lint_rules.analysis.project_index import ProjectIndex
    from lint_rules.analysis.text_facts import MEMO
    from lint_rules.cache_index import CachingIndex

    if facts:
        MEMO.seed(config.fingerprint(), facts)

    _worker_state["config"] = config
    _worker_state["index"] = (ProjectIndex(config, roots) if summaries is None
                              else CachingIndex(config, roots, summaries))
    _worker_state["options"] = options


def _work(item: tuple[str, str]) -> FileResult:
    path, display = item
    options: RunOptions = _worker_state["options"]  # type: ignore[assignment]
    try:
        return check_file(Path(path), display, _worker_state["config"],  # type: ignore[arg-type]
                          _worker_state["index"], fix=options.fix,  # type: ignore[arg-type]
                          unsafe=options.unsafe_fixes)
    except Exception as exc:  # an engine bug must not take the whole run down
        return FileResult(display, [], error=internal_error(display, exc))


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to a worker when the CLI process dies, however it dies
    (even SIGKILL), so no worker outlives its run."""
    if not sys.platform.startswith("linux"):
        return
    try:
        # Imported in the worker: a run that starts no pool does not need it.
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl: do not linger
            os._exit(1)
    except Exception:
        pass


def _trim_after_each_file() -> None:
    """glibc keeps the pages a file's trees were freed into, so a worker would stay at the size
    of the largest file it checked: give them back after each file."""
    _worker_state["trim"] = True


def _init_pool_worker(large_parse_gate, shared: tuple, *args) -> None:
    # Imported here, as in `_init_worker`: a run served from the cache never loads libcst.
    from lint_rules.syntax.parse import gate_large_parses

    _die_with_parent()
    _trim_after_each_file()
    gate_large_parses(large_parse_gate)
    folder, started, jobs = shared
    with started.get_lock():  # this worker's ordinal: where it starts the writers' scans
        ordinal = started.value
        started.value += 1
    use_run_store(RunStore(folder, ordinal % jobs, jobs) if folder is not None else None)
    # Worker processes only (the API may run in a caller's process: leave its GC alone).
    # Objects inherited from the parent never become garbage: freezing them keeps full
    # collections short (and pages shared); libcst trees are acyclic and freed by refcount,
    # so rarer young collections cost nothing in memory. Measured: ~10% less CPU per file.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    _init_worker(*args)


def _work_lean(item: tuple[str, str]) -> FileResult:
    result = _work(item)
    _trim()
    if not _worker_state["options"].fix:  # type: ignore[attr-defined]
        result.original = None  # only fixing needs the text: do not ship it back to the parent
    return result


def _trim() -> None:
    if _worker_state.get("trim"):
        resident = resident_bytes()
        if resident is not None and resident > TRIM_ABOVE:
            release_freed_memory()


def _served(display: str, path: str, entry) -> tuple[FileResult, WorkerYield] | None:
    """The entry's findings when the file's content is unchanged (its stat was not trusted),
    with the entry refreshed to the stat just read; None when the file must be checked."""
    same = unchanged(path, entry)
    if same is None:
        return None
    st, read_at = same
    refreshed = entry._replace(sig=stat_signature(st), settled=is_settled(st, read_at))
    return FileResult(display, list(refreshed.diagnostics)), WorkerYield(refreshed)


def _work_cached(item: tuple[str, str, object]) -> tuple[FileResult, WorkerYield]:
    """`_work` inside a cache lookup: check the file and return what the cache should learn
    (the entry, new index summaries, file digests)."""
    path, display, _entry = item
    index: CachingIndex = _worker_state["index"]  # type: ignore[assignment]
    read_at = time.time_ns()
    try:
        st = os.stat(path)
    except OSError:
        st = None
    index.start_recording()
    try:
        result = _work((path, display))
    finally:
        deps = index.stop_recording()
    learned = WorkerYield()
    if st is not None:
        learned.entry = checked_entry(path, st, read_at, result, deps)
    learned.summaries, learned.digests, learned.facts = index.drain()
    _trim()
    if not _worker_state["options"].fix:  # type: ignore[attr-defined]
        result.original = None
    return result, learned


def run(paths: list[Path], config: Config, options: RunOptions,
        project_root: Path | None = None, resolver: ConfigResolver | None = None) -> RunResult:
    """Check `paths`. With a `resolver` (the CLI), each path is walked with its own settings and
    each file is checked with the settings of its closest table (ruff's rule: argument order
    does not matter, a nested project's table applies inside it); otherwise `config` for all."""
    result = RunResult()
    groups: dict[tuple, tuple[Config, Path | None, list[tuple[str, str]]]] = {}
    walkers: dict[tuple, object] = {}  # one walker per distinct settings
    failed: set[str] = set()  # `check sub .` with `sub` unreadable: one finding, not two
    taken: set[str] = set()  # a file reached from two arguments is checked once
    keys: dict[int, tuple] = {}  # id(config) -> key: the resolver hands out one object per table

    def key_of(c: Config, root: Path | None) -> tuple:
        if id(c) not in keys:
            keys[id(c)] = _config_key(c, root)
        return keys[id(c)]

    for given in paths:
        walk_config, walk_root = resolver.for_path(given) if resolver else (config, project_root)
        walk_key = key_of(walk_config, walk_root)
        if walk_key not in walkers:
            walkers[walk_key] = walker(walk_config, project_root=walk_root)
        for found in walkers[walk_key].visit(given):  # type: ignore[attr-defined]
            if isinstance(found, DiscoveryError):
                if found.display in failed:
                    continue
                failed.add(found.display)
                result.files.append(FileResult(found.display, [read_error(found.display, found.message)]))
                continue
            if len(paths) > 1:  # one argument: its walker never yields a file twice
                real = os.path.realpath(found.path)
                if real in taken:
                    continue
                taken.add(real)
            file_config, file_root = walk_config, walk_root
            if resolver is not None:
                file_config, file_root = resolver.for_path(found.path, is_file=True)
                key = key_of(file_config, file_root)
                if key != walk_key:  # a nested project: its own excludes apply inside it
                    if key not in walkers:
                        walkers[key] = walker(file_config, project_root=file_root)
                    if walkers[key].excluded(found.path):  # type: ignore[attr-defined]
                        continue
            else:
                key = walk_key
            groups.setdefault(key, (file_config, file_root, []))[2].append((str(found.path), found.display))
    for group_config, group_root, items in groups.values():
        _run_group(items, group_config, [group_root] if group_root else [], options, result)
    return result


def _config_key(config: Config, root: Path | None) -> tuple:
    return (config.fingerprint(), config.anchor, str(root))


def _run_group(items: list[tuple[str, str]], config: Config, roots: list[Path], options: RunOptions,
               result: RunResult) -> None:
    real_paths = {display: path for path, display in items}
    cache = ResultCache.open(options.cache_dir, config) if options.cache_dir is not None else None
    checked = (_check_all(items, config, roots, options) if cache is None
               else _check_cached(items, config, roots, options, cache))
    for file_result in checked:
        result.files.append(file_result)
        if file_result.error:
            result.errors.append(file_result.error)
        if options.fix and options.write and file_result.new_text is not None:
            _write(file_result, real_paths[file_result.path], result)
    if cache is not None:
        cache.save()


def _check_all(items: list, config: Config, roots: list[Path], options: RunOptions,
               work: Callable = _work_lean, summaries: dict | None = None,
               facts: dict | None = None) -> Iterator:
    if not items:
        return
    jobs = options.jobs or os.cpu_count() or 1
    if jobs <= 1 or len(items) < PARALLEL_THRESHOLD:
        _init_worker(config, roots, options, summaries, facts)
        yield from map(work, items)
        return
    # Imported here: a run that checks few files never starts a pool (20 ms of its start).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # The checker, imported here before the fork: forked workers share its pages instead of
    # each importing it again (a run with nothing to check never gets here).
    import lint_rules.cache_index
    import lint_rules.fixes  # noqa: F401  (the engine, the rules, libcst)
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    folder = new_run_folder()
    shared = (folder, context.Value("i", 0), jobs)  # the workers' shared facts (core/run_store)
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_pool_worker,
                                 initargs=(context.Lock(), shared, config, roots, options,
                                           summaries, facts)) as pool:
            # Each file goes to exactly one worker, and only the parent writes: no two
            # processes ever write the same file.
            yield from pool.map(work, items, chunksize=chunk)
    finally:
        remove_run_folder(folder)


def _check_cached(items: list[tuple[str, str]], config: Config, roots: list[Path],
                  options: RunOptions, cache: ResultCache) -> Iterator[FileResult]:
    """Serve unchanged files from the cache, check the others, keep the input order."""
    usable = None
    if options.fix:  # a cached file is reused by --fix only when it has nothing to fix
        def usable(entry) -> bool:
            return not any(fix_is_applicable(d, options.unsafe_fixes) for d in entry.diagnostics)
    served: dict[int, FileResult] = {}
    todo: list[tuple[int, str, str, object]] = []
    for i, (path, display) in enumerate(items):
        found = cache.lookup(path, display, usable=usable)
        if isinstance(found, list):
            served[i] = FileResult(display, found)
            continue
        # A stat too recent to trust: the content decides, here rather than in a worker, so a
        # run whose files are all unchanged starts no worker and loads no checker.
        same = _served(display, path, found) if found is not None else None
        if same is not None:
            served[i] = same[0]
            cache.store(path, display, same[1])
        else:
            todo.append((i, path, display, found))
    checked = _check_all([(p, d, e) for _, p, d, e in todo], config, roots, options,
                         _work_cached, cache.summaries if todo else {},
                         cache.text_facts if todo else None)
    pending = iter(zip(todo, checked))
    for i in range(len(items)):
        if i in served:
            yield served[i]
            continue
        (_, path, display, _), (file_result, learned) = next(pending)
        cache.store(path, display, learned)
        yield file_result


def _write(file_result: FileResult, path: str, result: RunResult) -> None:
    """Only the parent process writes (workers return text): no two processes of a run ever
    write the same file, and a file is written at most once per run."""
    original = file_result.original
    assert original is not None and file_result.new_text is not None
    try:
        data = original.encode(file_result.new_text)
        write_atomically(path, data, original.digest or file_digest(original.encode(original.text)))
    except (OSError, FileChangedError, UnicodeEncodeError) as exc:
        if isinstance(exc, FileChangedError):
            message = str(exc)
        elif isinstance(exc, UnicodeEncodeError):
            message = f"{file_result.path}: fixed text cannot be encoded as {original.encoding}; not written"
        else:
            message = f"{file_result.path}: cannot write fixes: {(exc.strerror or str(exc)).lower()}"
        result.errors.append(message)
        file_result.new_text = None
        # Nothing was written: the findings of the file as read still stand.
        if file_result.unfixed is not None:
            file_result.diagnostics = file_result.unfixed
        file_result.fixed = []
