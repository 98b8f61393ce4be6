"""The project index as a cached run's checks use it: module summaries reused from the result
cache (by content), and everything each check read recorded as the dependencies of its entry
(module files, package listings, the writers' "no" answers with their modules' signature).
Loaded by the workers that check files, never by a run that serves every file from the cache.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lint_rules.analysis.header_census import HeaderCensus, package_root, walk_package
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.analysis.rule_stages import Writers
from lint_rules.analysis.summaries import ModuleSummary
from lint_rules.analysis.text_facts import MEMO, FactRows
from lint_rules.cache import (
    UNSETTLED,
    Digested,
    SummaryKey,
    SummaryStore,
    WritersQuestions,
    digest,
    is_settled,
    listing_digest,
    stat_signature,
    writers_state,
)
from lint_rules.core.config import Config
from lint_rules.syntax.parse import module_name_for

_UNKNOWN = object()


class CachingIndex(ProjectIndex):
    """A ProjectIndex that reuses cached module summaries and records what each check read."""

    def __init__(self, config: Config, roots: list[Path] | None = None,
                 summaries: SummaryStore | dict[SummaryKey, ModuleSummary | None] | None = None
                 ) -> None:
        super().__init__(config, roots)
        MEMO.keep_fresh = True  # `drain` hands the text facts this process computes to the cache
        self.known = summaries if summaries is not None else {}
        self.fresh: dict[tuple[str, bytes, str], ModuleSummary | None] = {}
        self.digests: dict[str, Digested] = {}  # every module file summarised in this process
        self._fresh_digests: dict[str, Digested] = {}
        # Module name -> the paths looked at for it (a set, kept in order: asked again and
        # again, a list grew to 42,611 entries for 4,966 paths on the agent-SDK corpus).
        self._probed: dict[str, dict[str, None]] = {}
        self._recording: set[str] | None = None
        self._census_deps: dict[str, list[tuple[str, bytes | None]]] = {}
        self._census_recording: set[str] = set()
        self._census_file_deps: dict[str, bytes | None] = {}
        self._writer_signatures: dict[tuple[Path, ...], bytes | None] = {}
        self._writer_questions: dict[tuple[Path, ...], WritersQuestions] = {}

    # --- recording ---
    def start_recording(self) -> None:
        self._recording = set()
        self._writer_questions = {}

    def stop_recording(self) -> list[tuple[str, bytes | None]]:
        names, self._recording = self._recording or set(), None
        deps: dict[str, bytes | None] = {}
        for bases, questions in self._writer_questions.items():
            deps[questions.dep_path(bases)] = self._writer_signatures.get(bases) or UNSETTLED
        self._writer_questions = {}
        for root in self._census_recording:
            deps.update(self._census_deps.get(root, ()))
        self._census_recording = set()
        for name in names:
            for path in self._probed.get(name, ()):
                found = self.digests.get(path)
                deps[path] = found.digest if found is not None else None
        return sorted(deps.items())

    def drain(self) -> tuple[dict, dict, FactRows]:
        """Summaries, digests and text facts learned since the last drain (to send to the
        parent)."""
        fresh, digests = self.fresh, self._fresh_digests
        self.known.update(fresh)
        self.fresh, self._fresh_digests = {}, {}
        return fresh, digests, MEMO.drain(self.config.fingerprint())

    # --- hooks into ProjectIndex ---
    def writers(self, near: Path | None):
        # A check depends on the writers' "no" answers (the "yes" ones lead to reads that are
        # recorded): a proxy records them with the signature of the modules they came from.
        bases = self.writers_bases(near)
        if bases in self._writer_signatures:
            found = self.writers_at(bases)
        else:
            # Taken before the modules are read: a module written in between changes the
            # signature the next run sees, which then asks the questions again.
            state = writers_state(bases, self.listings)
            found = self.writers_at(bases)
            self._writer_signatures[bases] = None if state is None else state.as_read_at(
                self.writers_read_at(bases))
        return None if found is None else _RecordedWriters(found, self, bases)

    def _heard_no(self, bases: tuple[Path, ...], kind: str, question) -> None:
        if self._recording is not None:
            self._writer_questions.setdefault(bases, WritersQuestions()).add(kind, question)

    def census_clears_for_stage(self, near) -> bool:
        # A check that asks the census depends on every file of the package: asked by LLA004's
        # stage for most files that mention headers, one edit would re-check them all. With a
        # result cache the stage does not ask (the rule still does, for its rare findings).
        return False

    def module(self, module: str, near: Path | None = None) -> ModuleSummary | None:
        if self._recording is not None:
            self._recording.add(module)
        return super().module(module, near)

    def _candidates(self, module: str, near: Path | None):
        probed = self._probed.setdefault(module, {})
        for candidate in super()._candidates(module, near):
            probed[str(candidate)] = None
            yield candidate

    def header_census(self, near) -> HeaderCensus | None:
        root = package_root(near) if str(near) not in ("", "-", "<stdin>") else None
        if root is None:
            return super().header_census(near)
        key = str(root)
        if key not in self._census_deps:
            # Folders by listing, files by content: whatever the census read or could read.
            deps: dict[str, bytes | None] = {}
            walked = walk_package(root)
            for folder in walked.folders if walked is not None else [key]:
                deps[folder] = listing_digest(folder)
            self._census_file_deps = deps
            super().header_census(near)
            self._census_deps[key] = sorted(deps.items())
        if self._recording is not None:
            self._census_recording.add(key)
        return super().header_census(near)

    def callers_reinject(self, near, name: str) -> bool:
        self.header_census(near)  # records the whole tree as dependencies of this check
        return super().callers_reinject(near, name)

    def _census_read(self, path: str) -> bytes | None:
        data = super()._census_read(path)
        self._census_file_deps[path] = None if data is None else digest(data)
        return data

    def _stores(self, module: str, name: str, near: Path | None):
        # LLA005's stage read this module (or found none): the check depends on it.
        if self._recording is not None:
            self._recording.add(module)
        return super()._stores(module, name, near)

    def _read_module(self, path: Path) -> bytes | None:
        try:
            read_at = time.time_ns()
            st = os.stat(path)
            data = path.read_bytes()
        except OSError:
            return None
        record = Digested(stat_signature(st), is_settled(st, read_at), digest(data))
        self.digests[str(path)] = self._fresh_digests[str(path)] = record
        return data

    def _summarize_file(self, path: Path) -> ModuleSummary | None:
        key_path = str(path)
        data = self._read_module(path)  # records the file's digest
        if data is None:
            return None
        key = (key_path, self.digests[key_path].digest, module_name_for(key_path)[0])
        known = self.known.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        if key in self.fresh:
            return self.fresh[key]
        summary = self._summary_of(path, data)  # the bytes whose digest is recorded
        self.fresh[key] = summary
        return summary



class _RecordedWriters:
    """`Writers` as a check of a cached run sees them: every "no" is recorded (`WRITERS_DEP`)."""

    def __init__(self, writers: Writers, index: CachingIndex, bases: tuple[Path, ...]) -> None:
        self._writers, self._index, self._bases = writers, index, bases

    def may_write(self, names) -> bool:
        names = tuple(names)
        return self._heard("calls", names, self._writers.may_write(names))

    def may_write_onto_llm(self, names) -> bool:
        names = tuple(names)
        return self._heard("onto_llm", names, self._writers.may_write_onto_llm(names))

    def may_write_method(self, name: str, bases) -> bool:
        bases = tuple(sorted(set(bases)))
        return self._heard("method", (name, bases), self._writers.may_write_method(name, bases))

    def names_pin_class(self, names) -> bool:
        names = tuple(names)
        return self._heard("pins", names, self._writers.names_pin_class(names))

    def _heard(self, kind: str, question, found: bool) -> bool:
        if not found:
            self._index._heard_no(self._bases, kind, question)
        return found
