"""Facts read off one module's text alone, kept by the module's path and the digest of its text.

The `ast` stages read every module a checked file can reach: the project's writers
(`rule_stages.scan_module`, `module_writer_facts`) and LLA005's storing facts
(`global_setters_ast.storing_facts`). A run that checks one edited file used to read them all
again (about 2 s of a 2.4 s edit run on the agent-SDK corpus). Each fact is a function of the
text (and the settings) only, so it is kept here per process and, through the result cache
(`FactRows`), across runs: a run computes the facts of the modules whose text changed, and no
others. A fact whose stored data no longer fits its type is computed again, never trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lint_rules.analysis.summaries import from_data, to_data
from lint_rules.core.run_store import shared

T = TypeVar("T")

# (kind, module file, digest of its text, detail: whatever else than the text the fact depends
# on). The file only says which row the result cache keeps: one text has one fact wherever it is.
FactKey = tuple[str, str, bytes, str]
# What the result cache keeps: per kind and module file, the latest (digest, detail, data).
FactRows = dict[str, dict[str, tuple[bytes, str, object]]]

_MISSING = object()
_LIMIT = 200_000  # facts kept per process; past it the memo starts again (a long-lived API user)


@dataclass(frozen=True)
class ScanFacts:
    """`rule_stages.ModuleScan` without its path and text (`scoped`: the text was kept)."""
    bases: dict[str, frozenset[str]]
    aliases: tuple[tuple[str, ...], ...]
    classes: frozenset[str]
    pins: bool
    scoped: bool
    defined: tuple[str, ...]

    def __post_init__(self) -> None:
        if any(len(pair) != 2 for pair in self.aliases):  # (original, alias) pairs only
            raise ValueError("an alias is not a pair")


@dataclass(frozen=True)
class WriterFacts:
    """`rule_stages.module_writer_facts`: the writing names, each writing method's classes, and
    the writing names that write onto an LLM (`rule_stages.ModuleWriters.onto_llm`)."""
    names: frozenset[str]
    owners: dict[str, frozenset[str]]
    onto_llm: frozenset[str]


class FactMemo:
    """One process's facts, by settings fingerprint and `FactKey`. Facts seeded from the result
    cache stay plain data until asked for; while `keep_fresh` (a process that checks for a
    result cache), facts computed here are also kept as plain data until `drain` hands them
    to the cache."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, bytes, str], object] = {}
        self._plain: dict[tuple[str, str, bytes, str], object] = {}
        self._fresh: dict[str, FactRows] = {}
        self.keep_fresh = False

    def get(self, fingerprint: str, key: FactKey, kind: type[T], compute: Callable[[], T]) -> T:
        kind_name, path, digest, detail = key
        slot = (fingerprint, kind_name, digest, detail)
        found = self._values.get(slot, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        plain = self._plain.pop(slot, _MISSING)
        if plain is not _MISSING:
            try:
                found = from_data(kind, plain)
            except (ValueError, TypeError, RecursionError):
                found = _MISSING
        if found is _MISSING:
            # Another worker of this run may have computed it (`core.run_store`).
            found = shared(("text fact", *slot), compute)
            if len(self._values) > _LIMIT:  # a long-lived process: start again
                self._values.clear()
            if self.keep_fresh:
                self._fresh.setdefault(fingerprint, {}).setdefault(kind_name, {})[path] = (
                    digest, detail, to_data(found))
        self._values[slot] = found
        return found  # type: ignore[return-value]

    def seed(self, fingerprint: str, rows: FactRows) -> None:
        """Facts the result cache kept for these settings (plain data, decoded when asked)."""
        if len(self._plain) > _LIMIT:
            self._plain.clear()
        for kind_name, by_path in rows.items():
            for digest, detail, plain in by_path.values():
                slot = (fingerprint, kind_name, digest, detail)
                if slot not in self._values:
                    self._plain[slot] = plain

    def clear(self) -> None:
        """Forget everything (a new process, as far as these facts go)."""
        self._values.clear()
        self._plain.clear()
        self._fresh.clear()

    def drain(self, fingerprint: str) -> FactRows:
        """The facts computed for these settings since the last drain."""
        return self._fresh.pop(fingerprint, {})


MEMO = FactMemo()  # the process's: facts of a text hold for every index and run of the process
