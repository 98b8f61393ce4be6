"""Running a check over paths: discovery, parallel workers, writing fixes. No printing here."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lint_rules.api import FileResult, check_file, read_error
from lint_rules.config import Config
from lint_rules.diagnostics import Diagnostic
from lint_rules.discovery import DiscoveryError, SourceFile, iter_source_files
from lint_rules.index import ProjectIndex
from lint_rules.source import FileChangedError, file_digest, write_atomically

# Below this many files, worker start-up costs more than it saves.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class RunOptions:
    fix: bool = False
    unsafe_fixes: bool = False
    write: bool = True  # False for --diff: compute fixes, write nothing
    jobs: int | None = None  # None: one per core


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


def _init_worker(config: Config, roots: list[Path], options: RunOptions) -> None:
    _worker_state["config"] = config
    _worker_state["index"] = ProjectIndex(config, roots)
    _worker_state["options"] = options


def _work(item: tuple[str, str]) -> FileResult:
    path, display = item
    options: RunOptions = _worker_state["options"]  # type: ignore[assignment]
    try:
        return check_file(Path(path), display, _worker_state["config"],  # type: ignore[arg-type]
                          _worker_state["index"], fix=options.fix,  # type: ignore[arg-type]
                          unsafe=options.unsafe_fixes)
    except Exception as exc:  # an engine bug must not take the whole run down
        return FileResult(display, [], error=f"{display}: internal error: {type(exc).__name__}: {exc}")


def run(paths: list[Path], config: Config, options: RunOptions,
        project_root: Path | None = None) -> RunResult:
    result = RunResult()
    items: list[tuple[str, str]] = []
    for found in iter_source_files(paths, config, project_root=project_root):
        if isinstance(found, DiscoveryError):
            result.files.append(FileResult(found.display, [read_error(found.display, found.message)]))
        else:
            items.append((str(found.path), found.display))
    roots = [project_root] if project_root else []
    real_paths = {display: path for path, display in items}
    for file_result in _check_all(items, config, roots, options):
        result.files.append(file_result)
        if file_result.error:
            result.errors.append(file_result.error)
        if options.fix and options.write and file_result.new_text is not None:
            _write(file_result, real_paths[file_result.path], result)
    return result


def _check_all(items: list[tuple[str, str]], config: Config, roots: list[Path],
               options: RunOptions) -> Iterator[FileResult]:
    jobs = options.jobs or os.cpu_count() or 1
    if jobs <= 1 or len(items) < PARALLEL_THRESHOLD:
        _init_worker(config, roots, options)
        yield from map(_work, items)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(config, roots, options)) as pool:
        # Each file goes to exactly one worker, and only the parent writes: no two
        # processes ever write the same file.
        yield from pool.map(_work, items, chunksize=chunk)


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
