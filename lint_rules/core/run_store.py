"""Facts shared by the worker processes of one run: what one worker computed from a module's
text, the others read instead of computing it again.

Every worker needs most of the project's facts (each module's scan for the writers, the
summaries of the modules its calls reach, LLA005's storing facts), and each built all of them:
on the agent-SDK corpus 12 s of CPU per worker, a fifth of a cold run's wall time. The parent
makes a private folder for the run and removes it at the end; a fact is one file in it, named
after everything the fact is a function of (the settings' fingerprint, the digest of the text,
the kind, the detail). A worker that misses computes the fact and publishes it. Two workers
that compute one fact at once publish the same value, and either file is right.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from typing import TypeVar

from lint_rules.core.source import replace_file

T = TypeVar("T")

MISSING = object()  # `load` found nothing


class RunStore:
    """One run's shared facts (`folder`), as seen by worker `ordinal` of `workers` (None: the
    process id tells, for workers forked with one store, as flake8's are)."""

    def __init__(self, folder: str, ordinal: int | None = 0, workers: int = 1) -> None:
        self.folder = folder
        self.ordinal = ordinal
        self.workers = workers

    def _path(self, key: tuple) -> str:
        return os.path.join(self.folder, hashlib.sha1(repr(key).encode()).hexdigest())

    def load(self, key: tuple) -> object:
        """The value a worker published under `key`, or `MISSING`."""
        try:
            with open(self._path(key), "rb") as fh:
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - not published yet, or torn: compute the fact instead
            return MISSING

    def save(self, key: tuple, value: object) -> None:
        """Publish `value` under `key`; a fact that cannot be written is simply not shared."""
        try:
            # Readers see a whole file or none; a run's facts need not survive a crash.
            replace_file(self._path(key), pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
                         durable=False)
        except Exception:  # noqa: BLE001 - unpicklable or unwritable: the other workers compute it
            return

    def rotated(self, items: list) -> list:
        """`items` starting at this worker's share: workers that need the same facts at the
        same moment (the writers, at each worker's first file) compute different ones first."""
        if self.workers <= 1 or not items:
            return items
        ordinal = os.getpid() if self.ordinal is None else self.ordinal
        start = len(items) * (ordinal % self.workers) // self.workers
        return items[start:] + items[:start]


def new_run_folder() -> str | None:
    """A private folder for one run's shared facts; None when no temporary folder is usable
    (then each worker computes every fact itself)."""
    try:
        return tempfile.mkdtemp(prefix="llm-affinity-lint-run-")
    except OSError:
        return None


def remove_run_folder(folder: str | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


_active: list[RunStore] = []


def use_run_store(store: RunStore | None) -> None:
    """This process's run store (a pool worker's; None: facts are not shared)."""
    _active[:] = [store] if store is not None else []


def run_store() -> RunStore | None:
    return _active[0] if _active else None


def shared(key: tuple, compute: Callable[[], T]) -> T:
    """What another worker of this run published under `key`, else `compute()`, published for
    the others; without a run store, `compute()`."""
    store = run_store()
    if store is None:
        return compute()
    found = store.load(key)
    if found is MISSING:
        found = compute()
        store.save(key, found)
    return found  # type: ignore[return-value]
