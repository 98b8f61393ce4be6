"""The `ast` stages of LLA001-LLA004, LLA006 and LLA008: "may this file hold a finding?".

Stage one (trigger tokens) lets through every agent-SDK file that mentions an LLM: three
quarters of an SDK. These checks run on CPython's `ast` (about a tenth of a libcst parse, and
flake8 hands the plugin its own) and answer False only when the libcst analysis cannot report.
Each is a necessary condition, over-approximated: every test errs towards "maybe".

- `scoped_sources` (S): the file spells something `ScopedValues`/`HeaderKeys` could take for a
  conversation-scoped value: a string holding a scoped header key (any case; header keys are
  read from literals and from module or class constants of the same file only) or a keyword
  spelling one (`dict(key=v)`), an identifier,
  attribute, keyword or string equal to a scoped attribute, or a name/attribute chain whose
  tail is a conversation-id expression (the chain's trailing names are compared even where
  libcst's `dotted_name` gives up, e.g. `f().state.id`). Every write, guard or pin of a scoped
  value in the file needs one of them. `ScopedValues` reads a function's own expressions and
  locals, and the file's header-key constants: S of one function (`scoped_functions`) is its
  own spellings, or a header key anywhere in the file.
  Hook attributes (`Config.hook_attributes`) and keys spelled like a conversation id's last
  name (`"rollout_id"`) count as S too: `llm_writes.WriteFinder` takes their writes for pins.
- `mentions_header_keyword`: LLA004 reads headers only under a configured header keyword
  (`extra_headers`...), spelled as a string, a module constant holding one, an attribute, a
  keyword or a name. A file whose pinned headers can only be LLM header fields
  (`pins_beyond_llm_fields` False) reports nothing when the project's header census proves
  that no scoped header is ever written into one (`StageInput.may_bypass_headers`).
- `holds_llm(function)`: `process_state_ast`'s answer to "may `LLMFacts.is_llm` take some
  expression of this function for an LLM?" (an LLM spelling, or a class of the file that may
  be an LLM class, in the function or around it).
- LLA003 reports a guard that keeps a value read from an LLM against a scoped value pinned in
  the same function (`stale_guards` follows the function's own locals): one function with S
  that holds an LLM.
- LLA001/LLA006 report a write (a store onto an attribute or item, or an in-place write call,
  `AstFacts.stores`) of a scoped value onto an LLM in a function with S that holds an LLM, or
  a call whose callee, here or in another module, writes a scoped value onto a parameter (a
  call hop, `call_effects.borrowed_call_hops`; a callee here is one of `local_writers`).
  A callee's summary with writes needs a scoped write in the callee's own module (summaries of
  other modules are built without the index, so a callee's writes never come from a third
  module), so its module holds S. `Writers` (built by the project index from the text of every
  module it could ever find) names every function, method and class defined in such a module
  that may write (`param_flow`: a scoped value pinned onto an object a parameter reaches, or
  such an object passed on to a writer), the aliases they are imported under, and the classes
  that inherit from them; a call hop in this file then calls one of those names.
  `StageInput.may_hop` answers True when some call passes an argument and names one of them
  (or when the writers are unknown); from a function
  that holds no LLM expression, only one that writes onto an LLM it sees itself
  (`ModuleWriters.onto_llm`, `Writers.may_write_onto_llm`).

Keep this module in step with `scoped_values.py`, `header_keys.py`, `request_headers.py`,
`call_effects.py`, and, for the writers (`param_flow`), `ownership.py`, `llm_writes.py` and
`local_bindings.py`; `benchmarks/prefilter_audit.py` (`--writers` for the writers) and
`tests/test_prefilter*.py` compare the findings with and without the stages.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lint_rules.analysis.process_state_ast import (
    ModuleFacts,
    StoresGlobally,
    file_facts,
    functions_holding_llm,
)
from lint_rules.analysis.text_facts import MEMO, ScanFacts, WriterFacts
from lint_rules.analysis.write_shapes import (
    ARGUMENT_METHODS,
    HASH_MODULES,
    MUTATING_METHODS,
    SETATTR_CALLEES,
    STRING_BUILTINS,
    id_keys,
)
from lint_rules.core.config import Config
from lint_rules.core.source import SourceDecodeError, content_digest, decode_source
from lint_rules.syntax.ast_fields import child_fields, child_nodes


@dataclass
class AstFacts:
    """What the stages read from one module's (or function's) `ast`, gathered in one walk."""

    strings: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)  # names, attributes, keywords, params...
    chains: set[tuple[str, ...]] = field(default_factory=set)  # trailing name chains
    # Called names (last segment) with arguments, of callees a call hop may resolve.
    calls: set[str] = field(default_factory=set)
    # A store, deletion or in-place write call (`write_shapes`) on something other than
    # `self`/`cls` (where a write onto a parameter, or an alias of one, must be).
    mutates: bool = False
    # A store onto an attribute or item, or an in-place write call, on anything (`self` too):
    # where `llm_writes.WriteFinder` may find a write.
    stores: bool = False
    base_names: set[str] = field(default_factory=set)  # every name in a class's bases
    # Calls by dotted callee (`Session`, `self._build`): how many, and their keyword names.
    callee_counts: dict[str, int] = field(default_factory=dict)
    callee_keywords: dict[str, set[str]] = field(default_factory=dict)


_OWN = frozenset({"self", "cls"})
_STORES = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.For, ast.AsyncFor)


# Each function (nested ones included), its enclosing class and its facts; every string.
FunctionFacts = tuple[list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, "str | None", AstFacts]],
                      set[str]]


def gather(tree: ast.AST) -> AstFacts:
    return _walk(tree, split=False)[0].facts


@dataclass
class _Scope:
    """One function's facts in `function_facts` (its own nodes; nested ones are merged in
    after the walk), and what the walk needs to finish them."""
    node: ast.AST | None
    owner: str | None  # the enclosing class (a function nested in a method counts for it)
    parent: int  # index of the enclosing function's scope, -1 for the module
    facts: AstFacts = field(default_factory=AstFacts)
    method_calls: list[ast.Attribute] = field(default_factory=list)


def function_facts(tree: ast.Module) -> FunctionFacts:
    """Every function of the module (nested ones included) with its enclosing class and what
    `gather(function)` would read from it (its nested code included), and every string of the
    module, in one walk of the module instead of one per function. Method calls are kept by
    the receivers and imports of the whole module (a superset of the function's own)."""
    return split_facts(tree)[1]


def split_facts(tree: ast.Module) -> tuple[AstFacts, FunctionFacts]:
    """`gather(tree)` and `function_facts(tree)`, from one walk."""
    scopes = _walk(tree, split=True)
    module = AstFacts()
    for scope in scopes:
        _merge(module, scope.facts, by_callee=True)
    for scope in reversed(scopes[1:]):  # inner functions were opened after their parents
        if scope.parent > 0:
            _merge(scopes[scope.parent].facts, scope.facts)
    functions = [(scope.node, scope.owner, scope.facts) for scope in scopes[1:]]
    return module, (functions, module.strings)  # type: ignore[return-value]


def _merge(into: AstFacts, other: AstFacts, by_callee: bool = False) -> None:
    into.strings |= other.strings
    into.identifiers |= other.identifiers
    into.chains |= other.chains
    into.calls |= other.calls
    into.mutates = into.mutates or other.mutates
    into.stores = into.stores or other.stores
    into.base_names |= other.base_names
    if by_callee:
        for callee, count in other.callee_counts.items():
            into.callee_counts[callee] = into.callee_counts.get(callee, 0) + count
        for callee, keywords in other.callee_keywords.items():
            into.callee_keywords.setdefault(callee, set()).update(keywords)


def _walk(tree: ast.AST, split: bool) -> list[_Scope]:
    """One iterative walk: the module's facts (`split` False: one scope), or per function."""
    scopes = [_Scope(None, None, -1)]
    AST = ast.AST
    stack: list[tuple[ast.AST, int, str | None]] = [(tree, 0, None)]  # never recursive
    pop, push = stack.pop, stack.append
    Constant, Name, Attribute, Call = ast.Constant, ast.Name, ast.Attribute, ast.Call
    receivers: set[str] = set()  # first parameters and annotated parameters
    imported: set[str] = set()  # names an import binds
    while stack:
        node, at, owner = pop()
        kind = type(node)
        if split and kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            scopes.append(_Scope(node, owner, at))
            at = len(scopes) - 1
        elif kind is ast.ClassDef:
            owner = node.name
        scope = scopes[at]
        facts = scope.facts
        if kind is Constant:
            if type(node.value) is str:
                facts.strings.add(node.value)
            continue
        if kind is Name:
            facts.identifiers.add(node.id)
            facts.chains.add((node.id,))
            continue
        if kind is Attribute:
            facts.identifiers.add(node.attr)
            facts.chains.add(_chain(node))
        elif kind is Call:
            dotted = _dotted(node.func)
            if dotted is not None:
                facts.callee_counts[dotted] = facts.callee_counts.get(dotted, 0) + 1
                if node.keywords:
                    facts.callee_keywords.setdefault(dotted, set()).update(
                        k.arg for k in node.keywords if k.arg)
            if node.args or node.keywords:
                # `call_effects.resolve` needs a dotted name (`f`, `self.m`, `mod.f`): a callee
                # such as `super().__init__` or `f(x)(llm)` resolves to nothing.
                func = node.func
                if type(func) is Name:
                    facts.calls.add(func.id)
                elif type(func) is Attribute:
                    scope.method_calls.append(func)
            if not facts.stores and _writes_in_place(node.func, own=True):
                facts.stores = True
            if not facts.mutates and _writes_in_place(node.func):
                facts.mutates = True
        elif kind is ast.keyword:
            if node.arg:
                facts.identifiers.add(node.arg)
        elif kind is ast.arg:
            facts.identifiers.add(node.arg)
            if node.annotation is not None and _names_a_class(node.annotation):
                receivers.add(node.arg)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            facts.identifiers.add(node.name)
            if kind is not ast.ClassDef:
                first = (*node.args.posonlyargs, *node.args.args)[:1]
                receivers.update(a.arg for a in first)
            else:
                for base in (*node.bases, *node.keywords):
                    for inner in ast.walk(base):
                        if type(inner) is Name:
                            facts.base_names.add(inner.id)
                        elif type(inner) is Attribute:
                            facts.base_names.add(inner.attr)
        elif kind is ast.alias:
            facts.identifiers.update(node.name.split("."))
            if node.asname:
                facts.identifiers.add(node.asname)
            imported.add(node.asname or node.name.split(".")[0])
        elif kind in (ast.Global, ast.Nonlocal):
            facts.identifiers.update(node.names)
        elif kind in _STORES or kind is ast.withitem:
            if kind is ast.AugAssign and type(node.target) is Name and type(node.op) is ast.BitOr:
                facts.mutates = facts.stores = True  # `headers |= {...}`: a merge into an alias
            if not facts.mutates or not facts.stores:
                targets = (node.targets if kind in (ast.Assign, ast.Delete) else
                           [node.optional_vars] if kind is ast.withitem else [node.target])
                facts.mutates = facts.mutates or any(_foreign(t) for t in targets if t is not None)
                facts.stores = facts.stores or any(_onto_object(t) for t in targets if t is not None)
        for name in child_fields(kind):
            value = getattr(node, name, None)
            if type(value) is list:
                for v in reversed(value):
                    if isinstance(v, AST):
                        push((v, at, owner))
            elif isinstance(value, AST):
                push((value, at, owner))
    # A method call resolves (`EffectSummaries._target`) only as `self.m`/`cls.m` (the first
    # parameter of a method), `x.m` with `x` an annotated parameter, or through an import
    # (`mod.f`, `pkg.mod.f`): `kwargs.update(...)` or `self.x.update(...)` never does.
    receivers |= imported
    for scope in scopes:
        for func in scope.method_calls:
            root: ast.AST = func.value
            depth = 2
            while type(root) is Attribute:
                root = root.value
                depth += 1
            if type(root) is Name and (root.id in imported
                                       or (depth == 2 and root.id in receivers)):
                scope.facts.calls.add(func.attr)
        scope.method_calls = []
    return scopes


def _names_a_class(annotation: ast.expr) -> bool:
    """An annotation `semantic._annotation_text` may spell as a class, for
    `EffectSummaries._target`: a dotted name, `A | None`, `Optional[A]`, or a string
    (`dict[str, Any]` never resolves)."""
    kind = type(annotation)
    if kind is ast.Constant:
        return type(annotation.value) is str  # type: ignore[attr-defined]
    if kind is ast.BinOp and type(annotation.op) is ast.BitOr:  # type: ignore[attr-defined]
        return any(_dotted(side) is not None
                   for side in (annotation.left, annotation.right))  # type: ignore[attr-defined]
    if kind is ast.Subscript:
        return _dotted(annotation.value) in ("Optional", "typing.Optional")  # type: ignore[attr-defined]
    return _dotted(annotation) is not None


def _foreign(target: ast.AST, call: bool = False) -> bool:
    """A store target (or, with `call`, a callee) that may reach something other than the
    function's own `self`/`cls`: `x.a[k] = v`, `x.update(...)`, `setattr(...)`."""
    if type(target) in (ast.Tuple, ast.List):
        return any(_foreign(t) for t in target.elts)
    if type(target) is ast.Starred:
        return _foreign(target.value)
    if type(target) is ast.Name:
        return call and target.id in ("setattr", "delattr")
    root = target
    steps = 0
    while type(root) in (ast.Attribute, ast.Subscript, ast.Call) and steps < 10_000:
        root = root.func if type(root) is ast.Call else root.value
        steps += 1
    if type(root) is ast.Name:
        return root.id not in _OWN and not (call and root.id == "super" and steps >= 2)
    return True


def _onto_object(target: ast.AST) -> bool:
    """A store target that changes an object (`x.a = v`, `self.d[k] = v`), not a name."""
    if type(target) in (ast.Tuple, ast.List):
        return any(_onto_object(t) for t in target.elts)
    if type(target) is ast.Starred:
        return _onto_object(target.value)
    return type(target) in (ast.Attribute, ast.Subscript)


def _writes_in_place(func: ast.AST, own: bool = False) -> bool:
    """A callee the write finder takes for a write (`write_shapes`) onto something other than
    the function's own `self`/`cls` (with `own`, onto anything): `x.d.update(...)`,
    `setattr(x, ...)`. Any other call (`x.run(...)`, `log.info(...)`) writes nothing in place
    for it."""
    if type(func) is ast.Name:
        return func.id in SETATTR_CALLEES
    if type(func) is not ast.Attribute:
        return False
    return (func.attr in MUTATING_METHODS and (own or _foreign(func, call=True))) \
        or _dotted(func) in SETATTR_CALLEES


def _rooted_at_name(node: ast.Attribute) -> bool:
    current: ast.AST = node
    while type(current) is ast.Attribute:
        current = current.value
    return type(current) is ast.Name


def _dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain (libcst's `dotted_name`), else None."""
    if type(node) is ast.Name:
        return node.id
    if type(node) is not ast.Attribute or not _rooted_at_name(node):
        return None
    return ".".join(_chain(node))


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
    if _spells_scoped_key(facts, config):
        return True
    attributes = {a for a in config.scoped_attributes if a} | _hooks_and_id_keys(config)
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


def _spells_scoped_key(facts: AstFacts, config: Config) -> bool:
    """A string holding a scoped header key (any case), or a keyword spelling one
    (`dict(session_key=v)`, `scoped_values.ScopedValues._keys`)."""
    if _holds_header_key(facts.strings, config):
        return True
    keys = {k.lower() for k in config.scoped_header_keys if k}
    return bool(keys) and not keys.isdisjoint(i.lower() for i in facts.identifiers)


def _holds_header_key(strings: Iterable[str], config: Config) -> bool:
    """A header key can be a module or class constant (`KEY = "x-litellm-session-id"`) that a
    function names: a key in any string of the module counts for every function in it."""
    keys = [k.lower() for k in config.scoped_header_keys if k]
    return bool(keys) and any(k in value.lower() for value in strings for k in keys)


def _hooks_and_id_keys(config: Config) -> set[str]:
    """What `llm_writes.WriteFinder` also takes for a pin: a hook attribute written onto an LLM
    (`llm.callback_manager = cm`) and a key spelled like a conversation id's last name
    (`llm.kwargs["rollout_id"] = rid`, `.update({"rollout_id": rid})`)."""
    hooks = {h for h in getattr(config, "hook_attributes", ()) if h}
    return hooks | id_keys(config)


def mentions_header_keyword(facts: AstFacts, config: Config) -> bool:
    keywords = {k for k in config.header_keywords if k}
    return bool(keywords & facts.identifiers or keywords & facts.strings)


def pins_beyond_llm_fields(facts: AstFacts, config: Config) -> bool:
    """May some pinned headers of this file be more than LLM header fields: a dict spelling a
    scoped header key (literals and constants of this file, any case) or a call context's
    headers (`call_context.headers()`, an owner named by `call-context-keywords` or a scoped
    attribute)? When not, every LLA004 finding is `only_llm_fields`, which the project's
    header census may clear."""
    keys = [k.lower() for k in config.scoped_header_keys if k]
    if keys and any(k in s.lower() for s in facts.strings for k in keys):
        return True
    contexts = {c for c in (*config.call_context_keywords, *config.scoped_attributes) if c}
    return bool(contexts & facts.identifiers)


# ---------------------------------------------------------------------------- writers
_DEF = re.compile(r"\b(?:def|class)[\s\\]+(\w+)")
# A class statement starts a line (decorators stand on lines of their own).
_ANY_CLASS = re.compile(r"^[ \t]*class[\s\\]+(\w+)", re.M)
_CLASS = re.compile(r"^[ \t]*class[\s\\]+(\w+)[\s\\]*\(", re.M)
_ALIAS = re.compile(r"(\w+)[\s\\]+as[\s\\]+(\w+)")
# An import statement starts a logical line (or follows a `;`); its names run to the closing
# parenthesis, or to the end of the line (continuations included).
_IMPORT = re.compile(r"(?:^|;)[ \t]*(?:from[ \t\\]+[\w.]+[ \t\\]+)?import\b[ \t\\]*(\()?", re.M)
_LINE_END = re.compile(r"(?<!\\)\n")
_WORD = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")


def text_may_hold_scoped(text: str, config: Config) -> bool:
    """`scoped_sources` on text, for modules that are never parsed: a superset of it (a string
    escape such as `"\\x2dsession"` or a comment inside a dotted chain aside)."""
    lowered = None
    for key in config.scoped_header_keys:
        if key:
            lowered = text.lower() if lowered is None else lowered
            if key.lower() in lowered:
                return True
    for name in (*config.scoped_attributes, *_hooks_and_id_keys(config)):
        if name and name in text:
            return True
    for expression in config.conversation_id_expressions:
        if expression and expression.rsplit(".", 1)[-1] in text and \
                _chain_in(expression, text):
            return True
    return False


def _chain_in(expression: str, text: str) -> bool:
    # The pattern starts with the chain's first name (a literal: the regex engine scans for it
    # quickly); the word boundary before it is checked here.
    pattern = _chain_pattern(expression)
    position = 0
    while True:
        found = pattern.search(text, position)
        if found is None:
            return False
        start = found.start()
        if start == 0 or _WORD_CHAR.match(text, start - 1) is None:
            return True
        position = start + 1


_CHAIN_PATTERNS: dict[str, re.Pattern[str]] = {}


def _chain_pattern(expression: str) -> re.Pattern[str]:
    pattern = _CHAIN_PATTERNS.get(expression)
    if pattern is None:
        # Between the names of a chain: whitespace, line continuations, parentheses, comments.
        filler = r"(?:[\s\\()]|#[^\n]*\n)*"  # a comment runs to the line end: no backtracking
        gap = filler + r"\." + filler
        pattern = re.compile(gap.join(map(re.escape, expression.split("."))) + r"\b")
        _CHAIN_PATTERNS[expression] = pattern
    return pattern


# How many modules `Writers.may_write` parses to answer one question, and in all: past either,
# the answer is "may write" (sound: the stage lets the file through to the full analysis). A
# common name (`get`, `update`) in a large package (litellm: 1,382 candidate modules) would
# otherwise cost more `ast` parses than the analysis the gate can skip.
PARSE_PER_QUESTION = 16
PARSE_IN_ALL = 200


# (module file, digest of its bytes) -> its text, or None when the file no longer holds it
ReadText = Callable[[str, bytes], "str | None"]


class Writers:
    """Names a call hop into a module of the project could use (see the module docstring).

    Read from the text of every module first: in a module whose text may hold a scoped value,
    every `def`/`class` name is a candidate, closed over aliases and subclasses (`candidates`).
    `may_write(names)` answers from the candidates when none of the names is one (the common
    case: no module is parsed); otherwise it parses (`ast`, once per module) the modules that
    define a candidate those names depend on, through aliases and bases, and answers from
    their writing functions (`_module_writers`): the same answer as parsing every module."""

    def __init__(self, config: Config, digests: dict[str, bytes], read: ReadText,
                 defined: dict[str, list[str]], bases: dict[str, set[str]],
                 aliases: list[tuple[str, str, str]], pin_classes: frozenset[str]) -> None:
        self.config = config
        self._digests = digests  # path -> its bytes' digest, modules that may hold a scoped value
        self._read = read
        self._defined = defined  # candidate name -> scoped module files that define it
        self._bases = bases  # class -> terminal names of its bases (every module)
        self._aliases = aliases  # (original, alias, path), every module
        self._originals: dict[str, set[str]] = {}  # alias -> the names imported under it
        for original, alias, _path in aliases:
            self._originals.setdefault(alias, set()).add(original)
        self.pin_classes = pin_classes
        self._precise: dict[str, frozenset[str]] = {}  # path -> its writing names (parsed)
        self._precise_onto_llm: dict[str, frozenset[str]] = {}  # path -> those onto an LLM
        # path -> writing method -> the classes defining it (None: unknown, every class)
        self._owners: dict[str, dict[str, frozenset[str]] | None] = {}
        self._closure: frozenset[str] | None = None
        self._onto_llm_base: set[str] | None = None

    @property
    def candidates(self) -> frozenset[str]:
        if self._closure is None:
            self._closure = frozenset(_close(self._base(self._precise), self._bases,
                                             self._aliases))
        return self._closure

    def _base(self, precise: dict[str, frozenset[str]]) -> set[str]:
        """Every name defined in a module not parsed yet, and the parsed modules' `precise`
        names (before the closure over aliases and subclasses)."""
        base: set[str] = set()
        for name, paths in self._defined.items():
            if any(path not in self._precise for path in paths):
                base.add(name)
        for found in precise.values():
            base |= found
        return base

    def may_write(self, names: Iterable[str]) -> bool:
        asked = set(names)
        hits = asked & self.candidates
        if not hits:
            return False
        support = self._support(hits)
        missing = {path for name in support for path in self._defined.get(name, ())
                   if path not in self._precise}
        if len(missing) > PARSE_PER_QUESTION or len(self._precise) + len(missing) > PARSE_IN_ALL:
            return True  # unknown: parsing would cost more than the check it could skip
        for path in sorted(missing):
            facts = module_writer_facts(path, self._digests[path], self._read, self.config)
            if facts is None:  # changed or gone since the scan: every definition may write
                self._precise[path] = frozenset(n for n, ps in self._defined.items() if path in ps)
                self._precise_onto_llm[path] = self._precise[path]
                self._owners[path] = None
            else:
                self._precise[path], self._owners[path] = facts.names, facts.owners
                self._precise_onto_llm[path] = facts.onto_llm
        if missing:
            self._closure = None
            self._onto_llm_base = None
        return bool(asked & self.candidates)

    def may_write_onto_llm(self, names: Iterable[str]) -> bool:
        """`may_write`, for a callee whose write is onto an LLM it sees itself and left to its
        callers (`ModuleWriters.onto_llm`): a call site that holds no LLM expression can only
        hand a borrowed object to such a callee. One of `names` is such a candidate when a
        name it stands for, through aliases and bases (`_support`), is one before the
        closure: the closure's answer, without building a second closure."""
        asked = set(names)
        if not self.may_write(asked):  # parses the modules the answer depends on
            return False
        if self._onto_llm_base is None:
            self._onto_llm_base = self._base(self._precise_onto_llm)
        return not self._onto_llm_base.isdisjoint(self._support(asked & self.candidates))

    def names_pin_class(self, names: Iterable[str]) -> bool:
        """Does one of `names` (the base names of a class) name a pin class of the project?"""
        return not self.pin_classes.isdisjoint(names)

    def may_write_method(self, name: str, bases: Iterable[str]) -> bool:
        """May the method `name` of a class with these bases (their last names), or of one of
        their ancestors, write onto a parameter? The ancestors are every class the project's
        text names as a base of one of them, by name (and through `as` aliases), to a fixed
        point: an over-approximation of what `ProjectIndex.ancestors` can find."""
        if not self.may_write((name,)):
            return False
        owners: set[str] = set()
        for path in self._defined.get(name, ()):
            found = self._owners.get(path, None) if path in self._precise else None
            if found is None:
                return True  # not parsed, or unparsable: any class may define it
            owners |= found.get(name, set())
        return bool(owners) and not owners.isdisjoint(self._support(set(bases)))

    def _support(self, hits: set[str]) -> set[str]:
        """`hits` and the names they stand for, backwards through aliases and bases: the names
        whose definitions can make one of `hits` a writer, or a class's ancestors."""
        out: set[str] = set()
        stack = list(hits)
        while stack:
            name = stack.pop()
            if name in out:
                continue
            out.add(name)
            stack.extend(self._originals.get(name, ()))
            stack.extend(self._bases.get(name, ()))
        return out


def _close(names: set[str], bases: dict[str, set[str]],
           aliases: list[tuple[str, str, str]]) -> set[str]:
    """`names`, plus every class with one of them among its bases and every name one of them is
    imported under, to a fixed point."""
    changed = True
    while changed:
        changed = False
        for cls, words in bases.items():
            if cls not in names and words & names:
                names.add(cls)
                changed = True
        for original, alias, _path in aliases:
            if original in names and alias not in names:
                names.add(alias)
                changed = True
    return names


def module_writer_facts(path: str, digest: bytes, read: ReadText,
                        config: Config) -> WriterFacts | None:
    """The module's writers and, per writing method, the classes that may define it: all that
    `Writers` takes from the text of a module that may hold a scoped value (kept per text and
    settings, `text_facts`: several `Writers` of one run, and later runs, share the modules).
    `digest`: the module file's (`content_digest` of its bytes); `read(path, digest)` gives the
    text, or None when the file no longer holds it (then None: unknown, and nothing is kept)."""
    def parse() -> WriterFacts:
        text = read(path, digest)
        if text is None:
            raise _TextGone
        return _parse_writers(text, config)

    try:
        return MEMO.get(config.fingerprint(), ("writers", path, digest, ""), WriterFacts, parse)
    except _TextGone:
        return None


class _TextGone(Exception):
    """The text a digest was taken of cannot be read any more."""


def text_on_disk(path: str, digest: bytes) -> str | None:
    """The text of the module file at `path` when its bytes' digest is still `digest`."""
    try:
        data = Path(path).read_bytes()
        return decode_source(data).text if content_digest(data) == digest else None
    except (OSError, SourceDecodeError):
        return None


def _parse_writers(text: str, config: Config) -> WriterFacts:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        # Cannot tell (e.g. syntax newer than this interpreter): every definition may write,
        # as a method of any class the text defines.
        names = frozenset(m.group(1) for m in _DEF.finditer(text))
        classes = frozenset(m.group(1) for m in _ANY_CLASS.finditer(text))
        return WriterFacts(names, {name: classes for name in names}, names)
    owners: dict[str, set[str]] = {}
    llm: list[frozenset[int]] = []

    def holds_llm(node: ast.AST) -> bool:
        if not llm:
            llm.append(functions_holding_llm(file_facts(tree, text, config)))
        return id(node) in llm[0]

    found = _module_writers(tree, config, owners, holds_llm=holds_llm)
    return WriterFacts(frozenset(found.names), {m: frozenset(c) for m, c in owners.items()},
                       frozenset(found.onto_llm))


def _base_list(text: str, start: int) -> str:
    """The text of a class statement's bases, from just after its `(` to the matching `)`
    (nested calls and subscripts included: `class A(make(B), C)`), or to the end of the text."""
    depth = 1
    position = start
    for found in _PARENS.finditer(text, start):
        position = found.end()
        depth += 1 if found.group() == "(" else -1
        if depth == 0:
            return text[start:position - 1]
    return text[start:]


_PARENS = re.compile(r"[()]")


@dataclass(frozen=True)
class ModuleScan:
    """What `collect_writers` reads off one module's text (no parse): kept per file by the
    project index, so a run that builds several `Writers` (one per set of search folders)
    scans each module once."""
    path: str
    bases: tuple[tuple[str, frozenset[str]], ...]  # class -> terminal names of its bases
    aliases: tuple[tuple[str, str], ...]  # (original, alias)
    classes: frozenset[str]  # every class the text defines
    pins: bool  # names a pin helper
    # The digest of the file's bytes, when it may hold a scoped value: `Writers` reads such a
    # text again to parse it (keeping the texts cost each process about 25 MB on SDK code).
    digest: bytes | None
    defined: tuple[str, ...]  # its `def` names, when it may


def scan_module(path: str, text: str, config: Config, digest: bytes) -> ModuleScan:
    """`digest`: of the file's bytes (`content_digest`), which `Writers` reads again."""
    bases: dict[str, set[str]] = {}
    aliases: list[tuple[str, str]] = []
    if "class" in text:
        for match in _CLASS.finditer(text):
            bases.setdefault(match.group(1), set()).update(
                _WORD.findall(_base_list(text, match.end())))
    if " as" in text:
        for match in _IMPORT.finditer(text):
            if match.group(1):
                stop = text.find(")", match.end())
            else:
                found = _LINE_END.search(text, match.end())
                stop = found.start() if found else -1
            names_part = text[match.end(): stop if stop >= 0 else len(text)]
            aliases.extend((a.group(1), a.group(2)) for a in _ALIAS.finditer(names_part))
    classes = frozenset(m.group(1) for m in _ANY_CLASS.finditer(text)) if "class" in text \
        else frozenset()
    scoped = text_may_hold_scoped(text, config)
    return ModuleScan(
        path, tuple((c, frozenset(w)) for c, w in bases.items()), tuple(aliases), classes,
        any(h in text for h in config.pin_helpers if h), digest if scoped else None,
        tuple(m.group(1) for m in _DEF.finditer(text)) if scoped else ())


def scan_facts_of(scan: ModuleScan) -> ScanFacts:
    """What `text_facts` keeps of a scan: all of it but the path and the digest."""
    return ScanFacts(dict(scan.bases), scan.aliases, scan.classes, scan.pins,
                     scan.digest is not None, scan.defined)


def module_scan_of(path: str, facts: ScanFacts, digest: bytes) -> ModuleScan:
    """The scan of the module file at `path` whose bytes' digest is `digest`, from its facts."""
    return ModuleScan(path, tuple(facts.bases.items()), facts.aliases, facts.classes,
                      facts.pins, digest if facts.scoped else None, facts.defined)


def collect_writers(files: Iterable[tuple[str, str]], config: Config) -> Writers:
    """`files`: (path, text) of every module the project index could find."""
    texts = dict(files)
    scans = (scan_module(path, text, config, content_digest(text.encode("utf-8", "surrogatepass")))
             for path, text in texts.items())
    return writers_from_scans(scans, config, lambda path, _digest: texts[path])


def writers_from_scans(scans: Iterable[ModuleScan], config: Config,
                       read: ReadText = text_on_disk) -> Writers:
    """A module whose text cannot hold a scoped value has no writing callee. In the others (parsed
    with `ast` on demand, see `Writers`), a function may write onto a parameter when its body
    holds a scoped source and a write that may pin a scoped value onto an object one of its
    parameters reaches (`param_flow`), or passes such an object to (by name) another function
    of the same module that may (summaries follow calls within their module only): a fixed
    point per module. A class is a writer when its `__init__` is; so is, by name, any class
    of any module that lists a writer among its bases, and any name a writer is imported under
    (`as`)."""
    defined: dict[str, list[str]] = {}
    bases: dict[str, set[str]] = {}  # class -> terminal names of its bases
    aliases: list[tuple[str, str, str]] = []  # (original, alias, path)
    digests: dict[str, bytes] = {}
    pin_classes: set[str] = set()
    for scan in scans:
        for cls, words in scan.bases:
            bases.setdefault(cls, set()).update(words)
        aliases.extend((original, alias, scan.path) for original, alias in scan.aliases)
        if scan.digest is None:
            if scan.pins:
                pin_classes.update(scan.classes)
            continue
        digests[scan.path] = scan.digest
        pin_classes.update(scan.classes)
        for name in scan.defined:
            defined.setdefault(name, []).append(scan.path)
    return Writers(config, digests, read, defined, bases, aliases,
                   frozenset(_close(pin_classes, bases, aliases)))


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class ModuleWriters(NamedTuple):
    names: set[str]  # writing functions, methods and classes
    # Those whose summary may list a write `onto_llm` that its own file does not report
    # (`ParamWrite.reported_in_callee`): a write the module's own analysis sees as one onto an
    # LLM (`LLMFacts.is_llm` in the writing function) is reported there unless it is in a
    # private method (`ownership._parameter`: fed by its callers), and a chain of calls is
    # reported where its last write is. A call site needs no LLM expression of its own to
    # hand such a callee a borrowed object (`call_effects.borrowed_call_hops`).
    onto_llm: set[str]


def _module_writers(tree: ast.Module, config: Config,
                    owners: dict[str, set[str]] | None = None,
                    remote: Callable[[set[str]], bool] | None = None,
                    functions: FunctionFacts | None = None,
                    holds_llm: Callable[[ast.AST], bool] | None = None,
                    remote_onto_llm: Callable[[set[str]], bool] | None = None) -> ModuleWriters:
    """The module's writing functions, methods and classes by name; `owners` gets, for each
    writing method, the classes it is defined in (a function nested in a method counts for
    that class). With `remote` (the project's `Writers.may_write`), a function that passes its
    parameters to a callee of another module that may write is a writer too (the checked
    file's own summaries follow such calls); `remote_onto_llm` (`Writers.may_write_onto_llm`)
    tells which of those write onto an LLM. `holds_llm(function)`: may the function hold an
    LLM expression (None: any may)."""
    defined, strings = functions or function_facts(tree)
    module_key = _holds_header_key(strings, config)
    statements: list[tuple[dict[int, ast.ClassDef], PinSpellings | None]] = []
    carries: dict[int, frozenset[str]] = {}  # class -> its `_self_carries`
    flows: dict[int, ParamFlow] = {}
    sources = frozenset(config.llm_sources)

    def flow(child: ast.FunctionDef | ast.AsyncFunctionDef) -> ParamFlow:
        """`param_flow` of a function, on first use: most functions are never asked."""
        found = flows.get(id(child))
        if found is None:
            if not statements:
                methods, imports = _statement_facts(tree)
                statements.append((methods, None if module_key else PinSpellings(config, imports)))
            methods, pins = statements[0]
            cls = methods.get(id(child))
            if cls is not None and id(cls) not in carries:
                carries[id(cls)] = _self_carries(cls)
            found = flows[id(child)] = param_flow(
                child, cls is not None, pins,
                carries[id(cls)] if cls is not None else frozenset(), sources)
        return found

    def passed_on(child: ast.FunctionDef | ast.AsyncFunctionDef, calls: set[str],
                  among: set[str]) -> set[str]:
        """Those of `calls` (the function's) among `among` to which it passes an object one
        of its parameters reaches."""
        found = calls & among
        return found & flow(child).calls if found else found

    Function = ast.FunctionDef | ast.AsyncFunctionDef
    # name, writes, calls, class, takes parameters, the function
    table: list[tuple[str, bool, set[str], str | None, bool, Function]] = []
    # name, private, hop, the writers it passes a parameter's object on to, node
    writing: list[tuple[str, bool, bool, set[str], Function]] = []
    for child, owner, facts in defined:
        params = [a.arg for a in (*child.args.posonlyargs, *child.args.args,
                                  *child.args.kwonlyargs)]
        extra = bool(child.args.vararg or child.args.kwarg)
        takes = extra or any(p not in ("self", "cls") for p in params) or (
            bool(params) and (owner is None or bool(child.decorator_list)))
        # nested functions included: an over-approximation
        # `stores`, not `mutates`: `self.<attr>` may carry a parameter (`_self_carries`)
        direct = takes and facts.stores and (module_key or scoped_sources(facts, config)) \
            and flow(child).writes
        hop_calls: set[str] = set()
        if takes and remote is not None and facts.calls and remote(facts.calls):
            hop_calls = passed_on(child, facts.calls, facts.calls)
        hop = bool(hop_calls) and remote is not None and remote(hop_calls)
        if direct or hop:
            private = owner is not None and child.name.startswith("_") \
                and not child.name.startswith("__")
            writing.append((child.name, private, hop, hop_calls, child))
        table.append((child.name, direct or hop, facts.calls, owner, takes, child))
    names = {row[0] for row in table if row[1]}
    changed = True
    while changed:
        changed = False
        for name, _writes, calls, _owner, takes, node in table:
            if takes and name not in names and passed_on(node, calls, names):
                names.add(name)
                changed = True
    onto_llm: set[str] = set()
    onto_nodes: set[int] = set()  # the functions themselves: a class's own `__init__` counts
    if names:  # asked only then: `holds_llm` costs a walk of the module
        llm = (lambda _node: True) if holds_llm is None else holds_llm
        # A direct write seen onto an LLM and left unreported (a private method's), or a call
        # that passes a parameter on to another module's writer: onto an LLM the callee
        # sees, or one this function holds (`_compute`'s `onto_llm` down a call).
        for name, private, hop, calls, node in writing:
            if (private and llm(node)) or (hop and (
                    llm(node) or remote_onto_llm is None or remote_onto_llm(calls))):
                onto_llm.add(name)
                onto_nodes.add(id(node))
        changed = True
        while changed:
            changed = False
            for name, _writes, calls, _owner, takes, node in table:
                # Passing a parameter on to a writer that knows its LLM, or, holding an LLM
                # expression, to any writer (`_compute`'s `onto_llm` down a call).
                if takes and id(node) not in onto_nodes and calls & names and (
                        passed_on(node, calls, onto_llm)
                        or (llm(node) and passed_on(node, calls, names))):
                    onto_llm.add(name)
                    onto_nodes.add(id(node))
                    changed = True
    for name, _w, _c, owner, _t, node in table:
        if owner and name == "__init__":
            if name in names:
                names.add(owner)
            if id(node) in onto_nodes:
                onto_llm.add(owner)
    if owners is not None:
        for name, writes, calls, owner, takes, node in table:
            # This very function writes, or passes its parameters on to a writer.
            if owner and (writes or (takes and passed_on(node, calls, names))):
                owners.setdefault(name, set()).add(owner)
    return ModuleWriters(names, onto_llm)


class ParamFlow(NamedTuple):
    """What may reach one function's parameters (`param_flow`)."""
    writes: bool  # a write that may pin a scoped value onto an object reached from one
    calls: frozenset[str]  # called names with an argument reached from one


class _Reach(NamedTuple):
    """Where an object may take a parameter's origin from (`_object_reach`)."""
    whole: set[str]  # names whose own object it may be
    part: set[str]  # names of which it may be a part (an attribute, an item, an element)


class _Write(NamedTuple):
    """An in-place write in `param_flow`: what `WriteFinder._pins` reads a pin from."""
    container: _Reach  # the object written
    attribute: str | None  # the attribute rebound (`x.a = v`, `setattr(x, "a", v)`)
    keys: list[ast.AST]  # item keys (`d[k] = v`, `d.setdefault(k, v)`)
    values: list[ast.AST]  # the values stored or merged, every argument of a write call
    keywords: list[str]  # a write call's keyword names (`d.update(rollout_id=rid)`)


def param_flow(function: ast.FunctionDef | ast.AsyncFunctionDef, method: bool,
               pins: PinSpellings | None = None,
               self_carries: frozenset[str] = frozenset(),
               sources: frozenset[str] | None = None) -> ParamFlow:
    """A summary lists a write onto a parameter (`call_effects._compute`) only when the write
    (`llm_writes.WriteFinder`, parameters taken for LLMs) pins a scoped value, and
    `Ownership.origins` of its container, or of an argument passed on to a writing callee, has
    that parameter as its `param`.

    - An origin starts at the parameter's name and reaches the container through local
      `name = value` and `for name in value` bindings (`local_bindings`: unpacking, `with`,
      walrus and the rest bind opaque names), attributes, subscripted objects, both arms of
      `a or b` / `x if c else y`, and a source call's receiver; a new container, a copy or a
      constructor's result has no `param` of its own, but its parts (items, a copy's base,
      a constructor's keywords) keep theirs. So the closure from the parameters (`self` of a
      plain method aside: `own` leaves it out) keeps two sets: the names whose object may
      have a parameter's origin, and those of which some part may (`_object_reach`,
      `_reaching_names`, `_close_reach`).
    - A pin is read off the write's attribute, keys, values and keywords (`PinSpellings`),
      through the function's scoped locals. `pins` None: every write may pin.

    Over-approximated by name, flow-insensitively, over the whole subtree (nested code and
    other scopes' names included). `method`: the function is defined directly in a class body
    (`FunctionInfo.self_name`); `self_carries`: that class's `_self_carries`; `sources`: the
    methods that hand out LLMs (`llm-sources`; None: any method may)."""
    me, reached = _own_parameters(function, method)
    if me is None or reached.isdisjoint(self_carries):
        me = None
    else:
        reached.add(me + ".")  # `self.<attr>` may carry one of them (`_self_carries`)
    if not reached:
        return ParamFlow(False, frozenset())
    # name <- (the reach of its object, the names any part of its object may come from)
    bindings: list[tuple[str, _Reach, set[str]]] = []
    # `ScopedValues`' locals: name <- the values it is bound to or stores
    stored: list[tuple[str, list[ast.AST]]] = []
    writes: list[_Write] = []
    calls: list[tuple[str, list[_Reach]]] = []
    stack: list[ast.AST] = [*function.body, *function.decorator_list]
    pop, push = stack.pop, stack.append
    Name, Attribute, Subscript = ast.Name, ast.Attribute, ast.Subscript
    while stack:
        node = pop()
        kind = type(node)
        if kind in (ast.Assign, ast.AnnAssign, ast.AugAssign) and node.value is not None:
            value = node.value
            for target in (node.targets if kind is ast.Assign else [node.target]):
                if type(target) is Name:
                    if kind is not ast.AugAssign:
                        bindings.append((target.id, _object_reach(value, me, sources),
                                         _reaching_names(value, me)))
                        stored.append((target.id, [value]))
                    elif type(node.op) is ast.BitOr:  # `headers |= {...}` merges in place
                        writes.append(_Write(_Reach({target.id}, set()), None, [], [value], []))
                        stored.append((target.id, [value]))
                    continue
                for element in _store_elements(target):
                    # the object written: `x` of `x.a = v`, `x.d` of `x.d[k] = v`
                    container = _object_reach(element.value, me, sources)
                    if type(element) is Subscript:
                        write = _Write(container, None, [element.slice], [value], [])
                    else:
                        write = _Write(container, element.attr, [], [value], [])
                    writes.append(write)
                    root = _root_name(element)
                    if root is not None:
                        stored.append((root, [value]))
        elif kind in (ast.For, ast.AsyncFor, ast.comprehension):
            if type(node.target) is Name:
                # an element of anything a parameter reaches (`Ownership._iteration`)
                iterated = _reaching_names(node.iter, me)
                bindings.append((node.target.id, _Reach(set(), iterated), iterated))
        elif kind is ast.Call:
            func = node.func
            positional = [a.value if type(a) is ast.Starred else a for a in node.args]
            passed = [*positional, *(k.value for k in node.keywords)]
            name: str | None = None
            if type(func) is Attribute:
                name = func.attr
                if func.attr in MUTATING_METHODS:
                    keys = positional[:1] if func.attr in ("setdefault", "__setitem__") else []
                    writes.append(_Write(_object_reach(func.value, me, sources), None, keys,
                                         passed, [k.arg for k in node.keywords if k.arg]))
                    root = _root_name(func.value)
                    if root is not None:
                        stored.append((root, passed))
            elif type(func) is Name:
                name = func.id
            if (name in SETATTR_CALLEES or _dotted(func) in SETATTR_CALLEES) and node.args:
                spelled = node.args[1] if len(node.args) > 1 else None
                attribute = spelled.value if type(spelled) is ast.Constant \
                    and type(spelled.value) is str else None
                writes.append(_Write(_object_reach(node.args[0], me, sources), attribute, [],
                                     passed[2:], []))
            if name is not None and passed:
                calls.append((name, [_object_reach(argument, me, sources) for argument in passed]))
        for field_name in child_fields(kind):
            child = getattr(node, field_name, None)
            if type(child) is list:
                stack.extend(c for c in child if isinstance(c, ast.AST))
            elif isinstance(child, ast.AST):
                push(child)
    whole, part = _close_reach(reached, bindings)

    def hit(reach: _Reach) -> bool:
        return not reach.whole.isdisjoint(whole) or not reach.part.isdisjoint(part)

    onto = [w for w in writes if hit(w.container)]
    if onto and pins is not None:
        scoped = pins.scoped_locals(stored)
        onto = [w for w in onto if pins.may_pin(w, scoped)]
    return ParamFlow(bool(onto), frozenset(n for n, reaches in calls if any(map(hit, reaches))))


def _close_reach(parameters: set[str], bindings: list[tuple[str, _Reach, set[str]]]
                 ) -> tuple[set[str], set[str]]:
    """(the names whose object may have a parameter's origin, those of which some part may),
    to a fixed point over the bindings."""
    whole, part = set(parameters), set(parameters)
    changed = True
    while changed:
        changed = False
        for name, reach, anywhere in bindings:
            if name not in part and not anywhere.isdisjoint(part):
                part.add(name)
                changed = True
            if name not in whole and (not reach.whole.isdisjoint(whole)
                                      or not reach.part.isdisjoint(part)):
                whole.add(name)
                changed = True
    return whole, part


def _object_reach(expression: ast.AST, me: str | None,
                  sources: frozenset[str] | None) -> _Reach:
    """Where the object `expression` evaluates to may take a parameter's origin from
    (`Ownership._origins` at its top level): a name's own object, any part of what an
    attribute, item or a source call (`x.get_all_llms()`, `_source`: the receiver's) is read
    from. A new container, a copy, a constructor's or any other call's result is a new object
    (OWNED or UNKNOWN: no `param` of its own), whatever its parts hold."""
    whole: set[str] = set()
    part: set[str] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            whole.add(node.id)
        elif kind in (ast.Attribute, ast.Subscript):
            if _reads_own_field(node, me):
                part.add(me + ".")  # type: ignore[operator]
            else:
                part |= _reaching_names(node.value, me)
        elif kind is ast.BoolOp:
            stack.extend(node.values)
        elif kind is ast.IfExp:
            stack.extend((node.body, node.orelse))
        elif kind in (ast.Await, ast.NamedExpr, ast.Starred):
            stack.append(node.value)
        elif kind is ast.Call and type(node.func) is ast.Attribute and (
                sources is None or node.func.attr in sources):
            part |= _reaching_names(node.func.value, me)
    return _Reach(whole, part)


def _root_name(node: ast.AST) -> str | None:
    """`d` of `d`, `d.a`, `d[k]`, `d.a[k].b`."""
    while type(node) in (ast.Attribute, ast.Subscript):
        node = node.value
    return node.id if type(node) is ast.Name else None


class PinSpellings:
    """`WriteFinder._pins` and `ScopedValues.is_scoped`, over-approximated on `ast`, for a
    module whose strings hold no scoped header key (with one, `param_flow` takes every write
    for a pin): a header key is then only a keyword (`dict(session_key=v)`).

    A write pins when its attribute is a scoped or hook attribute, a key or keyword is spelled
    like a conversation id's last name (`kwargs["rollout_id"] = rid`) or a header key, or a
    value is scoped: a conversation-id expression (suffix-matched), a scoped attribute, a read
    of `x["<conversation id name>"]`, a scoped local, or built from one by f-strings,
    operators, conditionals, dict displays, `str(...)`-like builtins, `.format`/`.join`, any
    method of a scoped receiver, hash-module functions and constructor-like calls (a
    capitalised segment). Any other call's result is not scoped (`_scoped_call_parts`)."""

    def __init__(self, config: Config, imports: dict[str, set[str]]) -> None:
        self.attributes = frozenset(a for a in config.scoped_attributes if a)
        self.pinning_attributes = self.attributes | frozenset(
            h for h in getattr(config, "hook_attributes", ()) if h)
        self.id_keys = id_keys(config)
        self.id_names = frozenset(e for e in config.conversation_id_expressions
                                  if e and "." not in e)
        self.id_chains = tuple(tuple(e.split(".")) for e in config.conversation_id_expressions
                               if e)
        self.key_words = frozenset(k.lower() for k in config.scoped_header_keys if k)
        self.imports = imports  # local name -> what it may be imported as, in any scope

    def may_pin(self, write: _Write, scoped: set[str]) -> bool:
        if write.attribute is not None and write.attribute in self.pinning_attributes:
            return True
        for key in write.keys:
            if type(key) is ast.Constant and key.value in self.id_keys:
                return True
        if any(k in self.id_keys or k.lower() in self.key_words for k in write.keywords):
            return True
        return any(self._value_pins(v, scoped) for v in write.values)

    def scoped_locals(self, stored: list[tuple[str, list[ast.AST]]]) -> set[str]:
        """The names bound to, or storing items of, a scoped value, to a fixed point."""
        scoped: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, values in stored:
                if name not in scoped and any(self.is_scoped(v, scoped) for v in values):
                    scoped.add(name)
                    changed = True
        return scoped

    def _value_pins(self, value: ast.AST, scoped: set[str]) -> bool:
        if type(value) is ast.Dict and any(type(k) is ast.Constant and k.value in self.id_keys
                                           for k in value.keys):
            return True  # `llm.kwargs.update({"rollout_id": rid})`
        return self.is_scoped(value, scoped)

    def is_scoped(self, value: ast.AST, scoped: set[str]) -> bool:
        stack = [value]
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Name:
                if node.id in self.id_names or node.id in scoped:
                    return True
            elif kind is ast.Attribute:
                if node.attr in self.attributes:
                    return True
                dotted = _dotted(node)
                if dotted is not None:
                    parts = tuple(dotted.split("."))
                    if any(len(parts) >= len(e) and parts[-len(e):] == e for e in self.id_chains):
                        return True
            elif kind is ast.JoinedStr:
                stack.extend(v.value for v in node.values if type(v) is ast.FormattedValue)
            elif kind is ast.BinOp:
                stack.extend((node.left, node.right))
            elif kind is ast.BoolOp:
                stack.extend(node.values)
            elif kind is ast.IfExp:
                stack.extend((node.body, node.orelse))
            elif kind in (ast.Await, ast.NamedExpr):
                stack.append(node.value)
            elif kind is ast.Dict:
                stack.extend(node.values)  # spreads included
            elif kind is ast.Subscript:
                key = node.slice
                for part in key.elts if type(key) is ast.Tuple else [key]:
                    if type(part) is ast.Constant and part.value in self.id_names:
                        return True
            elif kind is ast.Call and self._call_parts(node, stack):
                return True
        return False

    def _call_parts(self, call: ast.Call, stack: list[ast.AST]) -> bool:
        """Push the parts of a call whose being scoped makes its result scoped; True for a
        `dict(...)` keyword spelling a header key."""
        func = call.func
        name = _dotted(func)
        arguments = [a.value if type(a) is ast.Starred else a for a in call.args]
        arguments += [k.value for k in call.keywords]
        if name in STRING_BUILTINS:
            if name == "dict" and any(k.arg and k.arg.lower() in self.key_words
                                      for k in call.keywords):
                return True
            stack.extend(arguments)
            return False
        if type(func) is ast.Attribute:
            stack.append(func.value)
            if func.attr in ARGUMENT_METHODS:
                stack.extend(arguments)
                return False
        if name is not None and (self._hashes(name) or any(
                part[:1].isupper() for part in name.split("."))):
            stack.extend(arguments)
        return False

    def _hashes(self, name: str) -> bool:
        """May `name` resolve into a hash module (`SemanticModel.resolve`)?"""
        head, _, rest = name.partition(".")
        targets = self.imports.get(head) or {head}
        return name.startswith(HASH_MODULES) or any(
            (f"{t}.{rest}" if rest else t).startswith(HASH_MODULES) for t in targets)


def _store_elements(target: ast.AST) -> list[ast.AST]:
    """The attribute and item targets of an assignment target (unpacking included)."""
    if type(target) in (ast.Tuple, ast.List):
        return [e for t in target.elts for e in _store_elements(t)]
    if type(target) is ast.Starred:
        return _store_elements(target.value)
    return [target] if type(target) in (ast.Attribute, ast.Subscript) else []


# `Ownership._origins` reads no object out of these: a new value, or UNKNOWN.
_NO_OBJECT = (ast.Constant, ast.JoinedStr, ast.Lambda, ast.BinOp, ast.UnaryOp, ast.Compare)


def _reads_own_field(node: ast.AST, me: str | None) -> bool:
    """`self.<attr>`, with `me` the method's `self` (None: no such method)."""
    return me is not None and type(node) is ast.Attribute and type(node.value) is ast.Name \
        and node.value.id == me


def _reaching_names(expression: ast.AST, me: str | None = None) -> set[str]:
    """Every name the object `expression` evaluates to may come from (`Ownership._origins`):
    an item's key and a conditional's test aside, any name under it. With `me` (a method's
    `self`), `me + "."` stands for an attribute of it (`Ownership._self_attribute`), apart
    from `me` itself (`_self_object`)."""
    names: set[str] = set()
    stack = [expression]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            names.add(node.id)
        elif kind is ast.Attribute:
            if _reads_own_field(node, me):
                names.add(me + ".")  # type: ignore[operator]
            else:
                stack.append(node.value)
        elif kind is ast.Subscript:
            stack.append(node.value)  # the container, not the key
        elif kind is ast.IfExp:
            stack.extend((node.body, node.orelse))
        elif kind not in _NO_OBJECT:
            stack.extend(child_nodes(node))
    return names


def _statement_facts(tree: ast.Module) -> tuple[dict[int, ast.ClassDef], dict[str, set[str]]]:
    """`id()` of each function defined directly in a class body (`FunctionInfo.cls`) with its
    class, and what each imported name may stand for (imports of every scope), from the
    statements alone."""
    methods: dict[int, ast.ClassDef] = {}
    imports: dict[str, set[str]] = {}
    for node in _statements(tree.body):
        kind = type(node)
        if kind is ast.ClassDef:
            methods.update((id(s), node) for s in node.body if type(s) in _FUNCTIONS)
        elif kind is ast.Import:
            for alias in node.names:
                head = alias.name.split(".")[0]
                imports.setdefault(alias.asname or head, set()).add(
                    alias.name if alias.asname else head)
        elif kind is ast.ImportFrom:
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                imports.setdefault(alias.asname or alias.name, set()).add(
                    f"{module}.{alias.name}")
    return methods, imports


def _self_carries(cls: ast.ClassDef) -> frozenset[str]:
    """The parameter names an origin of `self.<attr>` may carry in a method of `cls`
    (`Ownership._compute_self_attribute`). A public method's parameter stored into
    `self.<attr>` as it is, or an attribute or item of it, loses its name there; a copy or a
    container of it (`p.model_copy()`, `Ctx(x=p)`, `[p]`, a local bound to one) keeps it, and
    so does anything a private method stores (`Ownership._parameter` keeps its parameters'
    names). Over-approximated: the parameters a stored value reaches through the method's
    locals, when the value may be such a copy (`_may_copy`) or the method is private."""
    carried: set[str] = set()
    for method in cls.body:
        if type(method) not in _FUNCTIONS:
            continue
        me, own = _own_parameters(method, True)
        if me is None or not own:
            continue
        private = method.name.startswith("_") and not method.name.startswith("__")
        bound: dict[str, list[ast.AST]] = {}  # local -> the values it is bound to, iterated
        stored: list[ast.AST] = []
        # Statements only: a comprehension's variable never reaches a stored value but
        # inside its comprehension, which `_may_copy` and `_sources` read whole.
        for node in _statements(method.body):
            kind = type(node)
            if kind in (ast.Assign, ast.AnnAssign) and node.value is not None:
                for target in (node.targets if kind is ast.Assign else [node.target]):
                    if type(target) is ast.Name:
                        bound.setdefault(target.id, []).append(node.value)
                    elif type(target) is ast.Attribute and type(target.value) is ast.Name \
                            and target.value.id == me:
                        stored.append(node.value)
            elif kind in (ast.For, ast.AsyncFor) and type(node.target) is ast.Name:
                bound.setdefault(node.target.id, []).append(node.iter)
        for value in stored:
            if private or _may_copy(value, bound):
                carried |= _sources(value, bound) & own
    return frozenset(carried)


def _statements(body: list[ast.stmt]) -> list[ast.AST]:
    """Every statement of a block, nested blocks and definitions included."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        found.append(node)
        for field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field_name, None)
            if type(block) is list:
                stack.extend(block)
    return found


def _may_copy(value: ast.AST, bound: dict[str, list[ast.AST]]) -> bool:
    """May `value` evaluate to a new object (a call's result, a display, a comprehension),
    through locals, attributes, items and both arms of `or` / `if`-`else`?"""
    stack = [value]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            if node.id in bound and node.id not in seen:
                seen.add(node.id)
                stack.extend(bound[node.id])
        elif kind in (ast.Attribute, ast.Subscript, ast.Await, ast.NamedExpr, ast.Starred):
            stack.append(node.value)
        elif kind is ast.BoolOp:
            stack.extend(node.values)
        elif kind is ast.IfExp:
            stack.extend((node.body, node.orelse))
        elif kind in (ast.Call, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp,
                      ast.SetComp, ast.DictComp, ast.GeneratorExp):
            return True
    return False


def _sources(value: ast.AST, bound: dict[str, list[ast.AST]]) -> set[str]:
    """The names `value` may take its object from (`_reaching_names`), through locals."""
    names = _reaching_names(value)
    todo = list(names)
    while todo:
        for inner in bound.get(todo.pop(), ()):
            for name in _reaching_names(inner) - names:
                names.add(name)
                todo.append(name)
    return names


def _own_parameters(function: ast.FunctionDef | ast.AsyncFunctionDef,
                    method: bool) -> tuple[str | None, set[str]]:
    """(`FunctionInfo.self_name`, the other parameters: `call_effects`' `own`)."""
    args = function.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    me = None
    if method and positional and not any(_dotted(d) in ("staticmethod", "classmethod")
                                         for d in function.decorator_list):
        me = positional.pop(0)
    return me, {*positional, *(a.arg for a in args.kwonlyargs),
                *(a.arg for a in (args.vararg, args.kwarg) if a is not None)}


def local_writers(tree: ast.Module, config: Config, writers: Writers | None) -> set[str]:
    """Names of the functions of the checked module whose summary may list a write onto a
    parameter (`EffectSummaries` skips the others: only writes matter at a call site)."""
    return _module_writers(tree, config, None, (lambda calls: True) if writers is None
                           else writers.may_write).names


class StageInput:
    """One file as the `ast` stages see it: the tree, and what they read from it, on demand."""

    def __init__(self, tree: ast.Module, source: str, config: Config,
                 writers_of: Callable[[], Writers | None] | None = None,
                 stores: StoresGlobally | None = None,
                 census_clear: Callable[[], bool] | None = None,
                 module_name: str | None = None) -> None:
        self.tree = tree
        self.source = source
        self.config = config
        self.module_name = module_name  # `module_name_for(path)`; None when there is no path
        self._writers_of = writers_of
        # LLA005's hop across modules: may an imported function store a parameter globally?
        self.stores = stores
        # LLA004: does the project's header census prove no scoped header in an LLM's header
        # field (`ProjectIndex.header_census`)? Asked only when needed.
        self._census_clear = census_clear
        self._facts: AstFacts | None = None
        self._scoped: bool | None = None
        self._functions: FunctionFacts | None = None
        self._scoped_functions: list[tuple[ast.AST, AstFacts]] | None = None
        self._llm_functions: frozenset[int] | None = None
        self._process_facts: ModuleFacts | None = None

    @property
    def facts(self) -> AstFacts:
        if self._facts is None:
            self._facts, self._functions = split_facts(self.tree)
        return self._facts

    def scoped(self) -> bool:
        if self._scoped is None:
            self._scoped = scoped_sources(self.facts, self.config)
        return self._scoped

    def functions(self) -> FunctionFacts:
        if self._functions is None:
            self._facts, self._functions = split_facts(self.tree)
        return self._functions

    def scoped_functions(self) -> list[tuple[ast.AST, AstFacts]]:
        """The functions (nested ones included) that hold a scoped source: their own (S), or
        a header key of the file, which a module or class constant carries into any of them."""
        if self._scoped_functions is None:
            if not self.scoped():
                self._scoped_functions = []
            else:
                defined, strings = self.functions()
                module_key = _holds_header_key(strings, self.config)
                self._scoped_functions = [(node, facts) for node, _owner, facts in defined
                                          if module_key or scoped_sources(facts, self.config)]
        return self._scoped_functions

    def holds_llm(self, function: ast.AST) -> bool:
        """May `LLMFacts.is_llm` take some expression of `function` for an LLM?"""
        if self._llm_functions is None:
            self._llm_functions = functions_holding_llm(self.process_facts())
        return id(function) in self._llm_functions

    def process_facts(self) -> ModuleFacts:
        """`process_state_ast.file_facts` of this file: LLA005's stage and `holds_llm` share
        one walk."""
        if self._process_facts is None:
            self._process_facts = file_facts(self.tree, self.source, self.config,
                                             self.module_name)
        return self._process_facts

    def may_pin_stale(self) -> bool:
        """LLA003: a stale guard keeps a value read from an LLM (`stale_guards`: through the
        function's own expressions and locals) against a scoped value pinned in the same
        function."""
        return any(self.holds_llm(node) for node, _facts in self.scoped_functions())

    def may_install_and_pin(self) -> bool:
        """LLA002: the class that installs an LLM has pins to re-apply: from its own module (S,
        a pin helper named here), from a call hop, or from a base class of another module."""
        if self.scoped():
            return True
        facts = self.facts
        if facts.identifiers & set(self.config.pin_helpers):
            return True
        if not facts.base_names and not facts.calls:
            return False
        writers = self._writers_of() if self._writers_of else None
        if writers is None:
            return True
        return writers.names_pin_class(facts.base_names) or writers.may_write(facts.calls)

    def may_bypass_headers(self) -> bool:
        """LLA004: headers read or written under a header keyword, with pinned headers that the
        header census cannot clear (`pins_beyond_llm_fields`, or a census that may find a
        scoped header in an LLM's header field, or none)."""
        if not mentions_header_keyword(self.facts, self.config):
            return False
        if pins_beyond_llm_fields(self.facts, self.config) or self._census_clear is None:
            return True
        return not self._census_clear()

    def sibling_calls(self, keyword_fragments: Iterable[str]) -> bool:
        """LLA008: two calls of one dotted callee, one of them with a keyword whose name
        contains one of `keyword_fragments` (the rule groups calls by class and callee and
        reports one without the keyword another passes)."""
        fragments = tuple(keyword_fragments)
        counts = self.facts.callee_counts
        return any(counts.get(callee, 0) >= 2 and any(f in k for k in keywords for f in fragments)
                   for callee, keywords in self.facts.callee_keywords.items())

    def may_write_or_hop(self) -> bool:
        """LLA001/LLA006 report in a function: a scoped write onto an LLM there (a store, a
        scoped source and an LLM expression in that function: `WriteFinder` and
        `ScopedValues` read nothing outside it but the file's header-key constants and
        `LLMFacts`' class facts), or a call hop from it into a writing callee of this module
        (`_module_writers`, as `local_writers` gates `EffectSummaries`' call sites) or of
        another (`Writers`)."""
        if any(facts.stores and self.holds_llm(node) for node, facts in self.scoped_functions()):
            return True
        return self.may_hop()

    def may_hop(self) -> bool:
        """A call that hands a borrowed object to a writing callee: any writer, from a function
        that may hold an LLM expression (the argument must be one, `is_llm`), else only a
        writer onto an LLM it sees itself (`ModuleWriters.onto_llm`)."""
        if not self.facts.calls:
            return False
        writers = self._writers_of() if self._writers_of else None
        if writers is None:
            return True
        if not self.scoped() and not writers.may_write(self.facts.calls):
            return False  # no writer here (no scoped source) and none elsewhere
        local = _module_writers(self.tree, self.config, None, writers.may_write, self.functions(),
                                self.holds_llm, writers.may_write_onto_llm)
        defined = self.functions()[0]
        calls = {name for _node, _owner, facts in defined for name in facts.calls}
        if not calls & local.names and not writers.may_write(calls):
            return False  # the split below needs `holds_llm`: a walk of the module
        with_llm = {name for node, _owner, facts in defined if self.holds_llm(node)
                    for name in facts.calls}
        others = {name for node, _owner, facts in defined if not self.holds_llm(node)
                  for name in facts.calls}
        if with_llm & local.names or others & local.onto_llm:
            return True
        return (bool(with_llm) and writers.may_write(with_llm)) or (
            bool(others) and writers.may_write_onto_llm(others))
