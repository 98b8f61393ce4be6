"""The `ast` stage of LLA001, LLA003, LLA004 and LLA006: "may this file hold a finding?".

Stage one (trigger tokens) lets through every agent-SDK file that mentions an LLM: three
quarters of an SDK. These checks run on CPython's `ast` (about a tenth of a libcst parse, and
flake8 hands the plugin its own) and answer False only when the libcst analysis cannot report.
Each is a necessary condition, over-approximated: every test errs towards "maybe".

- `scoped_sources` (S): the file spells something `ScopedValues`/`HeaderKeys` could take for a
  conversation-scoped value: a string holding a scoped header key (any case; header keys are
  read from literals and from module or class constants of the same file only), an identifier,
  attribute, keyword or string equal to a scoped attribute, or a name/attribute chain whose
  tail is a conversation-id expression (the chain's trailing names are compared even where
  libcst's `dotted_name` gives up, e.g. `f().state.id`). Every write, guard or pin of a scoped
  value in the file needs one of them, so LLA003 (stale guards, file-local) needs S.
- `mentions_header_keyword`: LLA004 reads headers only under a configured header keyword
  (`extra_headers`...), spelled as a string, a module constant holding one, an attribute, a
  keyword or a name.
- LLA001/LLA006 report a write in this file (needs S) or a call whose callee, here or in another
  module, writes a scoped value onto a parameter (a call hop, `call_effects.borrowed_call_hops`).
  A callee's summary with writes needs a scoped write in the callee's own module (summaries of
  other modules are built without the index, so a callee's writes never come from a third
  module), so its module holds S. `Writers` (built by the project index from the text of every
  module it could ever find) names every function, method and class defined in such a module,
  the aliases they are imported under, and the classes that inherit from them; a call hop in
  this file then calls one of those names. `may_hop` answers True when some call passes an
  argument and names one of them (or when the writers are unknown).

Keep this module in step with `scoped_values.py`, `header_keys.py`, `request_headers.py` and
`call_effects.py`; `benchmarks/prefilter_audit.py` and `tests/test_prefilter*.py` compare the
findings with and without the stages.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lint_rules.core.config import Config


@dataclass
class AstFacts:
    """What the stages read from one module's `ast`, gathered in one walk."""

    strings: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)  # names, attributes, keywords, params...
    chains: set[tuple[str, ...]] = field(default_factory=set)  # trailing name chains
    calls: set[str] = field(default_factory=set)  # called names (last segment), with args


def gather(tree: ast.AST) -> AstFacts:
    facts = AstFacts()
    strings, identifiers, chains, calls = facts.strings, facts.identifiers, facts.chains, facts.calls
    for node in ast.walk(tree):  # iterative (a deque), never recursive
        kind = type(node)
        if kind is ast.Constant:
            if isinstance(node.value, str):
                strings.add(node.value)
        elif kind is ast.Name:
            identifiers.add(node.id)
            chains.add((node.id,))
        elif kind is ast.Attribute:
            identifiers.add(node.attr)
            chains.add(_chain(node))
        elif kind is ast.keyword:
            if node.arg:
                identifiers.add(node.arg)
        elif kind is ast.arg:
            identifiers.add(node.arg)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            identifiers.add(node.name)
        elif kind is ast.alias:
            identifiers.update(node.name.split("."))
            if node.asname:
                identifiers.add(node.asname)
        elif kind is ast.Call:
            if node.args or node.keywords:
                func = node.func
                while type(func) is ast.Call:  # `f(x)(llm)`: libcst gives up, count `f`
                    func = func.func
                if type(func) is ast.Name:
                    calls.add(func.id)
                elif type(func) is ast.Attribute:
                    calls.add(func.attr)
                else:
                    calls.add("")  # a callee without a name: libcst resolves none
        elif kind in (ast.Global, ast.Nonlocal):
            identifiers.update(node.names)
    return facts


def _chain(node: ast.Attribute) -> tuple[str, ...]:
    parts: list[str] = []
    current: ast.AST = node
    while type(current) is ast.Attribute:
        parts.append(current.attr)
        current = current.value
    if type(current) is ast.Name:
        parts.append(current.id)
    return tuple(reversed(parts))


# ---------------------------------------------------------------------------- S
def scoped_sources(facts: AstFacts, config: Config) -> bool:
    keys = [k.lower() for k in config.scoped_header_keys if k]
    if keys and any(k in s.lower() for s in facts.strings for k in keys):
        return True
    attributes = {a for a in config.scoped_attributes if a}
    if attributes & facts.identifiers or attributes & facts.strings:
        return True
    expressions = [tuple(e.split(".")) for e in config.conversation_id_expressions if e]
    tails = {e[-1] for e in expressions}
    if not tails & facts.identifiers:
        return False
    for chain in facts.chains:
        if chain and chain[-1] in tails:
            for e in expressions:
                # `len(chain) < len(e)` where the chain's head is not a name (`f().state.id`
                # against `self.state.id`): libcst has no dotted name there either.
                if len(chain) >= len(e) and chain[-len(e):] == e:
                    return True
    return False


def mentions_header_keyword(facts: AstFacts, config: Config) -> bool:
    keywords = {k for k in config.header_keywords if k}
    return bool(keywords & facts.identifiers or keywords & facts.strings)


def may_hop(facts: AstFacts, writers: Writers | None) -> bool:
    """Some call passes an argument to a callee that may write a scoped value onto it."""
    if not facts.calls:
        return False
    if writers is None:
        return True
    return bool(facts.calls & writers.names)


# ---------------------------------------------------------------------------- writers
_DEF = re.compile(r"\b(?:def|class)[\s\\]+(\w+)")
_CLASS = re.compile(r"\bclass[\s\\]+(\w+)[\s\\]*\(([^)]*)\)")
_ALIAS = re.compile(r"\b(\w+)[\s\\]+as[\s\\]+(\w+)")
_WORD = re.compile(r"\w+")


def text_may_hold_scoped(text: str, config: Config) -> bool:
    """`scoped_sources` on text, for modules that are never parsed: a superset of it (a string
    escape such as `"\\x2dsession"` or a comment inside a dotted chain aside)."""
    lowered = None
    for key in config.scoped_header_keys:
        if key:
            lowered = text.lower() if lowered is None else lowered
            if key.lower() in lowered:
                return True
    for name in config.scoped_attributes:
        if name and name in text:
            return True
    for expression in config.conversation_id_expressions:
        if expression and expression.rsplit(".", 1)[-1] in text and \
                _chain_pattern(expression).search(text):
            return True
    return False


_CHAIN_PATTERNS: dict[str, re.Pattern[str]] = {}


def _chain_pattern(expression: str) -> re.Pattern[str]:
    pattern = _CHAIN_PATTERNS.get(expression)
    if pattern is None:
        gap = r"[\s\\()]*\.[\s\\()]*"
        pattern = re.compile(r"\b" + gap.join(map(re.escape, expression.split("."))) + r"\b")
        _CHAIN_PATTERNS[expression] = pattern
    return pattern


@dataclass
class Writers:
    """Names a call hop into a module of the project could use (see the module docstring), and
    which module files define each (the result cache records those as dependencies)."""

    names: frozenset[str]
    scoped_files: tuple[str, ...]  # module files that may hold a scoped write
    defined_in: dict[str, tuple[str, ...]]  # name -> module files that define or alias it


def collect_writers(files: Iterable[tuple[str, str]], config: Config) -> Writers:
    """`files`: (path, text) of every module the project index could find."""
    defined: dict[str, list[str]] = {}
    bases: dict[str, set[str]] = {}  # class -> terminal names of its bases
    aliases: list[tuple[str, str, str]] = []  # (original, alias, path)
    scoped: list[str] = []
    names: set[str] = set()
    for path, text in files:
        has_scoped = text_may_hold_scoped(text, config)
        if has_scoped:
            scoped.append(path)
        for match in _DEF.finditer(text):
            defined.setdefault(match.group(1), []).append(path)
            if has_scoped:
                names.add(match.group(1))
        for match in _CLASS.finditer(text):
            words = set(_WORD.findall(match.group(2)))
            bases.setdefault(match.group(1), set()).update(words)
        if " as" in text or "\\" in text:
            for match in _ALIAS.finditer(text):
                aliases.append((match.group(1), match.group(2), path))
    # A constructor call of a subclass runs its base's `__init__`; a name imported under an
    # alias is called by the alias. Both to a fixed point (each round adds names or stops).
    changed = True
    while changed:
        changed = False
        for cls, words in bases.items():
            if cls not in names and words & names:
                names.add(cls)
                changed = True
        for original, alias, path in aliases:
            if original in names and alias not in names:
                names.add(alias)
                defined.setdefault(alias, []).append(path)
                changed = True
    return Writers(frozenset(names), tuple(scoped),
                   {n: tuple(dict.fromkeys(defined.get(n, ()))) for n in names})


def python_modules(bases: Iterable[Path], limit: int) -> list[Path] | None:
    """Every `.py` file a dotted module name could reach under `bases` (folders whose names are
    identifiers), or None past `limit` files (then the writers are unknown: every call counts)."""
    out: list[Path] = []
    seen: set[Path] = set()
    for base in bases:
        stack = [base]
        while stack:
            folder = stack.pop()
            if folder in seen:
                continue
            seen.add(folder)
            if len(seen) > limit:
                return None
            try:
                entries = list(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                try:
                    if name.endswith(".py") and name[:-3].isidentifier() and entry.is_file():
                        out.append(entry)
                        if len(out) > limit:
                            return None
                    elif name.isidentifier() and entry.is_dir() and not entry.is_symlink():
                        stack.append(entry)
                except OSError:
                    continue
    return sorted(out)


class StageInput:
    """One file as the `ast` stages see it: the tree, and what they read from it, on demand."""

    def __init__(self, tree: ast.Module, source: str, config: Config,
                 writers_of: Callable[[], Writers | None] | None = None) -> None:
        self.tree = tree
        self.source = source
        self.config = config
        self._writers_of = writers_of
        self._facts: AstFacts | None = None
        self._scoped: bool | None = None

    @property
    def facts(self) -> AstFacts:
        if self._facts is None:
            self._facts = gather(self.tree)
        return self._facts

    def scoped(self) -> bool:
        if self._scoped is None:
            self._scoped = scoped_sources(self.facts, self.config)
        return self._scoped

    def may_write_or_hop(self) -> bool:
        """LLA001/LLA006: a scoped write here, or a call hop into a writing callee."""
        if self.scoped():
            return True
        if not self.facts.calls:
            return False
        return may_hop(self.facts, self._writers_of() if self._writers_of else None)
