"""Is this expression an LLM object? (the objects conversation-scoped values must not leak onto)

An expression is an LLM when:

- its type says so: a parameter annotated with a configured LLM class (`llm_classes`, matched by
  qualified name through the imports, or by bare class name: `LLM`, `Optional[LLM]`, `"LLM"`),
  or `self` inside a method of such a class;
- its spelling says so: an attribute chain ending in a configured attribute (`llm_attributes`:
  `self.agent.llm`, `agent.condenser.llm`), or a bare name equal to one (`llm`);
- it comes from a source of LLMs: a constructor call of an LLM class, `LLM.model_validate(...)`,
  `x.model_copy(...)` / `copy.copy(x)` / `copy.deepcopy(x)` of an LLM, a call of a configured
  source method (`llm_sources`: `get_all_llms()` anywhere; generic names such as `get` and
  `values` only on a receiver that names a registry or a collection of LLMs,
  `self.llm_registry.get(...)`, `self._llms.values()`), or a method of the class annotated
  `-> LLM`;
- it is a local variable bound to any of those (assignment, or `for llm in <source>`).

Usage:

    llms = LLMFacts(ctx.config, ctx.model)
    llms.is_llm(expr, fn)            # -> bool
    llms.source_call(call)           # -> "self.agent.get_all_llms()" | None: yields shared LLMs
    llms.is_llm_class("agentsdk.llm.LLM")

The tokens every one of these paths needs in the source text are `trigger_tokens(config)`: a
file without any of them has no LLM expression (the prefilter relies on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

import libcst as cst

from lint_rules.analysis.local_bindings import ASSIGN, LOOP, PARAM, local_defs
from lint_rules.core.config import GENERIC_CLASS_NAMES, Config
from lint_rules.syntax.search import depth_first_any
from lint_rules.syntax.semantic import (
    ClassInfo,
    FunctionInfo,
    SemanticModel,
    annotation_names,
    dotted_name,
    string_value,
)
from lint_rules.syntax.tree import small_statements

_FACTORY_PREFIXES = ("create", "build", "new", "make", "copy", "clone", "fork")
COPY_METHODS = frozenset({"model_copy", "copy"})
VALIDATE_METHODS = frozenset({"model_validate", "model_construct", "parse_obj", "construct"})
# `for b in [a]: for c in [b]: ...`: how many `iterates_llms` questions may be open at once
# (each literal collection asks `is_llm` of its elements, which may ask again); deeper, the
# answer is unknown (not an LLM: silent).
ITERATION_NESTING = 24
_ELEMENT_WRAPPERS = frozenset({"list", "tuple", "sorted", "reversed", "set", "frozenset", "iter"})
REGISTRY_HINTS = ("registry", "Registry", "REGISTRY", "llms", "Llms", "LLMs", "LLMS")


# Structural recognition: a class whose instances make model calls has a method of these names
# and a model-name field; a config object has a model-name field and a request-extras field.
MODEL_CALL_METHODS = frozenset({
    "completion", "acompletion", "generate", "agenerate", "_generate", "_agenerate", "invoke",
    "ainvoke", "stream", "astream", "responses", "aresponses", "chat", "achat", "request",
    "request_stream", "generate_content_async", "forward", "aforward", "create",
    "create_stream", "get_response", "stream_response",
})
# Embedding models make model calls too (LlamaIndex `BaseEmbedding`, LangChain `Embeddings`):
# shared by every index and retriever of an application like an LLM by every agent.
EMBEDDING_CALL_METHODS = frozenset({
    "get_text_embedding", "aget_text_embedding", "get_query_embedding", "aget_query_embedding",
    "_get_text_embedding", "_get_query_embedding", "embed_query", "aembed_query",
    "embed_documents", "aembed_documents",
})
MODEL_NAME_FIELDS = frozenset({
    "model", "_model", "model_name", "_model_name", "model_id", "model_type", "model_str",
})
_MODEL_FIELD_TOKEN = "model"  # a substring of every name in MODEL_NAME_FIELDS

# Characters that can precede an identifier in Python source: an identifier spelled `llm` (not
# `fullmatch`) is always preceded by one of these (a function body never starts a file).
_BEFORE_IDENTIFIER = " \t\n\r\f([{,.:;=+-*/%&|^~<>!@\\"


def trigger_tokens(config: Config) -> tuple[str, ...]:
    """Substrings of which one must occur in a file that contains an LLM expression inside a
    function: an LLM class name (also the only way a generic `registry.get()` counts, see
    `LLMFacts._mentions_llm_class`), a shared class name, `model` (every class recognised from
    what it does has a model-name field, and all of those are spelled with `model`), a configured
    attribute or name as a whole identifier, or a specific source method."""
    tokens = {_literal_part(c.rsplit(".", 1)[-1])
              for c in (*config.llm_classes, *config.shared_classes)}
    tokens.add(_MODEL_FIELD_TOKEN)
    tokens |= {before + a for a in config.llm_attributes for before in _BEFORE_IDENTIFIER}
    tokens |= {s for s in config.llm_sources if _specific_source(s)}
    return tuple(sorted(t for t in tokens if t.strip(_BEFORE_IDENTIFIER)))


def _literal_part(name: str) -> str:
    """The longest run of a class-name pattern without wildcards (`*ChatGenerator` ->
    `ChatGenerator`): every name the pattern matches contains it."""
    return max(re.split(r"[*?\[\]]", name), key=len)


def _specific_source(method: str) -> bool:
    """`get_all_llms`, `get_lm` name LLMs themselves; `get`/`values` need a registry-like
    receiver."""
    lower = method.lower()
    return "llm" in lower or lower.endswith(("_lm", "_lms"))


def _registry_like(receiver: cst.BaseExpression) -> bool:
    name = dotted_name(receiver)
    if name is None and isinstance(receiver, cst.Call):
        name = dotted_name(receiver.func)
    if name is None:
        return False
    last = name.split(".")[-1]
    return any(h in last for h in REGISTRY_HINTS)


def llm_class_names(config: Config) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """The configured LLM classes as `LLMFacts` matches them: (patterns, qualified names, bare
    names)."""
    classes = (*config.llm_classes, *config.shared_classes)
    # `pydantic_ai.models.*Model`: a family of provider classes, by qualified name only.
    patterns = tuple(c for c in classes if "*" in c)
    classes = tuple(c for c in classes if "*" not in c)
    qualified = frozenset(c for c in classes if "." in c)
    # Bare names: unqualified entries, and the last segment of a qualified one unless it is
    # a generic word (`pydantic_ai.models.Model` does not make every `Model` an LLM).
    bare = frozenset(c.rsplit(".", 1)[-1] for c in classes
                     if "." not in c or c.rsplit(".", 1)[-1] not in GENERIC_CLASS_NAMES)
    return patterns, qualified, bare


@dataclass(frozen=True)
class LLMSpellings:
    """`trigger_tokens` identifier by identifier, for a stage that has the file's `ast`: a file
    holds an LLM expression only if one of these holds (each path of `LLMFacts` starts at one).

    - an identifier (a name, an attribute, an import's segments, a class's name) is a bare
      class name, a configured attribute or name, a specific source method, or a model-name
      field (every class recognised from what it does declares one);
    - a class's name contains a bare class name (`TenantLLMConfig`, read by `InstanceData`);
    - a qualified name or pattern may be resolved: its first segment (`pydantic_ai`, or the
      prefix `langchain_` of `langchain_*.Chat*`) is an identifier's, or the module's own (a
      relative import resolves under it, a class of the module is qualified by it);
    - a pattern that starts with a wildcard (`*LLM`) keeps its text token (`anywhere`).

    A string names a class only as an annotation (`"LLM | None"`): there, its words count.
    LLA005's stage asks this after `trigger_tokens`' text test: each is necessary on its own."""

    words: frozenset[str]
    bare: frozenset[str]
    heads: frozenset[str]  # a first segment equal to one of these
    head_prefixes: tuple[str, ...]  # a first segment starting with one of these
    anywhere: tuple[str, ...]

    def mentioned(self, identifiers: set[str], class_names: Iterable[str], module_name: str,
                  annotation_strings: Iterable[str], source: str) -> bool:
        """`identifiers`, `class_names` and the strings inside annotations are the file's, its
        module is `module_name` (`syntax.parse.module_name_for`)."""
        firsts = set(identifiers)
        for text in annotation_strings:  # `"LLM | None"`: read as names by `annotation_names`
            firsts.update(WORD.findall(text))
        if not self.words.isdisjoint(firsts):
            return True
        if any(bare in name for name in class_names for bare in self.bare):
            return True
        if any(token in source for token in self.anywhere):
            return True
        firsts.add(module_name.partition(".")[0])
        return not self.heads.isdisjoint(firsts) or (
            bool(self.head_prefixes) and any(f.startswith(self.head_prefixes) for f in firsts))


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a name inside an annotation string


@lru_cache(maxsize=8)
def llm_spellings(config: Config) -> LLMSpellings:
    patterns, qualified, bare = llm_class_names(config)
    heads: set[str] = set()
    prefixes: set[str] = set()
    anywhere: set[str] = set()
    for name in (*qualified, *patterns):
        prefix = re.split(r"[*?\[]", name, maxsplit=1)[0]
        if "." in prefix:
            heads.add(prefix.split(".", 1)[0])
        elif prefix:
            prefixes.add(prefix)
        else:
            anywhere.add(_literal_part(name))
    words = bare | set(config.llm_attributes) | MODEL_NAME_FIELDS
    words |= {s for s in config.llm_sources if _specific_source(s)}
    return LLMSpellings(frozenset(w for w in words if w), frozenset(b for b in bare if b),
                        frozenset(heads), tuple(sorted(prefixes)),
                        tuple(sorted(a for a in anywhere if a)))


class LLMFacts:
    """Answers "is this an LLM?" for one module."""

    def __init__(self, config: Config, model: SemanticModel) -> None:
        self.config = config
        self.model = model
        self.patterns, self.qualified, self.bare = llm_class_names(config)
        self.call_methods = (MODEL_CALL_METHODS | EMBEDDING_CALL_METHODS
                             | frozenset(config.llm_call_methods))
        self.extra_fields = frozenset(config.request_extra_fields)
        self._class_verdicts: dict[int, bool] = {}
        self._typed_attrs: dict[int, frozenset[str]] = {}
        self.attributes = frozenset(config.llm_attributes)
        self.sources = frozenset(config.llm_sources)
        self._visiting: set[int] = set()
        self._iterating = 0  # `iterates_llms` questions open (see ITERATION_NESTING)
        self._mentions: bool | None = None

    def _mentions_llm_class(self) -> bool:
        """The module imports or defines an LLM class: only then is `registry.get(...)` taken
        to hand out LLMs (and only then can the prefilter's class-name token be relied on)."""
        if self._mentions is None:
            self._mentions = any(self.is_llm_class(q) for q in self.model.imports.values()) or any(
                self.class_is_llm(c) or self.is_llm_class(c.name) for c in self.model.classes)
        return self._mentions

    # ------------------------------------------------------------------ classes
    def is_llm_class(self, name: str | None) -> bool:
        """A (dotted, possibly unresolved) class name that denotes an LLM class: a configured
        one (qualified through the imports, or bare), or a class of this module that is one."""
        if not name:
            return False
        if self._names_llm_class(name):
            return True
        local = self._local_class(name)
        return local is not None and self.class_is_llm(local)

    def _names_llm_class(self, name: str) -> bool:
        """`name` is a configured LLM class (no look at the classes of this module)."""
        resolved = self.model.resolve(name) or name
        if resolved in self.qualified or name in self.qualified:
            return True
        if resolved.rsplit(".", 1)[-1] in self.bare:
            return True
        return bool(self.patterns) and "." in resolved and any(
            fnmatchcase(resolved, p) for p in self.patterns)

    def _local_class(self, name: str) -> ClassInfo | None:
        """The class of this module a bare, unresolved base name denotes."""
        if "." in name or (self.model.resolve(name) or name) != name:
            return None
        return self.model.class_named(name)

    def is_llm_annotation(self, text: str | None) -> bool:
        return bool(text) and self.is_llm_class(text.strip().strip("'\""))  # type: ignore[union-attr]

    def annotation_is_llm(self, node: cst.BaseExpression | None) -> bool:
        """An annotation naming an LLM class, alone or as a member of a union: `Model`,
        `Model | str | None`, `Optional[BaseChatModel]`, `Union[str, Model]`, `"Model"`."""
        return any(self.is_llm_class(name) for name in annotation_names(node))

    def class_is_llm(self, cls: ClassInfo | None) -> bool:
        """A class of this module is an LLM class when its name is a configured one, a base is
        one (through the imports, or another class of this module), or it is one by what it
        does: a model-call method (`completion`, `invoke`, `generate`, ...) or a request-extras
        field (`extra_body`, `model_kwargs`, ...), together with a model-name field.

        An OR over the class and its local bases, transitively: explored depth-first with an
        explicit stack (a hierarchy of 3,000 classes each deriving from the previous one is
        that deep), each class's verdict kept. A base on the current path (a cycle of local
        bases) adds nothing; a False that saw such a cycle is kept only for the class asked
        about, whose search covered the whole cycle."""
        if cls is None:
            return False
        verdicts = self._class_verdicts
        if id(cls) in verdicts:
            return verdicts[id(cls)]
        # Frames: [class, local bases still to ask, verdict so far, saw a cycle].
        stack: list[list] = [self._class_frame(cls)]
        on_path = {id(cls)}
        while True:
            frame = stack[-1]
            klass, todo, verdict, cycle = frame
            if not verdict and todo:
                base = todo.pop()
                if id(base) in verdicts:
                    frame[2] = verdicts[id(base)]
                elif id(base) in on_path:
                    frame[3] = True
                else:
                    on_path.add(id(base))
                    stack.append(self._class_frame(base))
                continue
            stack.pop()
            on_path.discard(id(klass))
            if verdict or not cycle or not stack:
                verdicts[id(klass)] = verdict
            if not stack:
                return verdict
            parent = stack[-1]
            parent[2] = parent[2] or verdict
            parent[3] = parent[3] or cycle

    def _class_frame(self, cls: ClassInfo) -> list:
        """[cls, its local bases to ask (last first), whether it is an LLM class by itself or
        through a configured base, False]."""
        qual = f"{self.model.module_name}.{cls.qualname}" if self.model.module_name else cls.qualname
        if cls.name in self.bare or qual in self.qualified or self._acts_as_llm(cls) \
                or any(self._names_llm_class(b) for b in cls.bases if b):
            return [cls, [], True, False]
        local = [c for c in (self._local_class(b) for b in cls.bases if b) if c is not None]
        return [cls, local[::-1], False, False]

    def _acts_as_llm(self, cls: ClassInfo) -> bool:
        fields = _declared_fields(cls)
        if not fields & MODEL_NAME_FIELDS:
            return False
        return bool(self.call_methods & cls.methods.keys()) or bool(fields & self.extra_fields)

    def typed_attributes(self, cls: ClassInfo | None) -> frozenset[str]:
        """Attributes of a class declared to hold an LLM: a class-level annotation
        (`llm: BaseChatModel`, `model: Model | str`), an annotated `self.x: Model = ...`, or
        `self.x = param` where the parameter is annotated with an LLM class."""
        if cls is None:
            return frozenset()
        cached = self._typed_attrs.get(id(cls))
        if cached is not None:
            return cached
        self._typed_attrs[id(cls)] = frozenset()
        found: set[str] = set()
        body = cls.node.body
        for statement in body.body if isinstance(body, cst.IndentedBlock) else ():
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) \
                            and self.annotation_is_llm(small.annotation.annotation):
                        found.add(small.target.value)
        for fn in cls.methods.values():
            found |= self._self_typed_stores(fn)
        result = frozenset(found)
        self._typed_attrs[id(cls)] = result
        return result

    def _self_typed_stores(self, fn: FunctionInfo) -> set[str]:
        found: set[str] = set()
        if fn.self_name is None:
            return found
        for small, _line in small_statements(fn.node):
            if isinstance(small, cst.AnnAssign) and _is_self_attr(small.target, fn.self_name) \
                    and self.annotation_is_llm(small.annotation.annotation):
                found.add(small.target.attr.value)  # type: ignore[union-attr]
            elif isinstance(small, cst.Assign) and isinstance(small.value, cst.Name):
                param = fn.param(small.value.value)
                if param is None or not self.annotation_is_llm(_param_annotation(param.node)):
                    continue
                for target in small.targets:
                    if _is_self_attr(target.target, fn.self_name):
                        found.add(target.target.attr.value)  # type: ignore[union-attr]
        return found

    def is_llm_attribute(self, name: str | None) -> bool:
        return name is not None and name in self.attributes

    # ------------------------------------------------------------------ sources
    def source_call(self, node: cst.BaseExpression | None) -> str | None:
        """`x.get_all_llms()`, `registry.get(...)`: a call that hands out LLMs by reference.
        Returns a short spelling of the source for messages."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return None
        method = node.func.attr.value
        if method not in self.sources:
            return None
        receiver = node.func.value
        if not _specific_source(method) and not (_registry_like(receiver) and self._mentions_llm_class()):
            return None
        spelled = dotted_name(receiver)
        if spelled is None and isinstance(receiver, cst.Call):
            inner = dotted_name(receiver.func)
            spelled = f"{inner}(...)" if inner else None
        return f"{spelled or '...'}.{method}({'...' if node.args else ''})"

    def registry_lookup(self, node: cst.BaseExpression | None) -> str | None:
        """`self.llm_registry.load_profile(name)`: any method of a registry-like receiver in a
        module that uses an LLM class, except factories (`create_*`, `build_*`, `new_*`, ...).
        Registries hand out the object they hold, the same one on every lookup."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return None
        method = node.func.attr.value
        if method.startswith(_FACTORY_PREFIXES) or method.startswith("__"):
            return None
        receiver = node.func.value
        if not (_registry_like(receiver) and self._mentions_llm_class()):
            return None
        return f"{dotted_name(receiver) or '...'}.{method}({'...' if node.args else ''})"

    # ------------------------------------------------------------------ expressions
    def is_llm(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> bool:
        """Is the value of `node` an LLM? An OR over the expressions it may come from: the
        operands of `a or b`, `x if c else y`, `await x`, `(y := x)`, the receiver of a copy
        (`x.model_copy()`, `copy.copy(x)`), a local's assigned values. Explored depth-first with
        an explicit stack, in the order a recursive walk would take, never by recursion on the
        expression (a 2,000-link `x.model_copy().model_copy()...` or a 3,000-term `or` is a tree
        that deep). The expressions on the current path are in `_visiting`: a cycle through
        locals stops there, and a question asked again from inside (`iterates_llms`) sees them."""
        return depth_first_any(node, self._visiting,
                               lambda current, children: self._is_llm_step(current, fn, children))

    def _is_llm_step(self, node: cst.BaseExpression, fn: FunctionInfo | None,
                     children: list[cst.BaseExpression]) -> bool:
        """True when `node` itself is known to be an LLM; else list, in order, the expressions
        its value may come from."""
        if isinstance(node, cst.Name):
            return self._name_is_llm(node.value, fn, children)
        if isinstance(node, cst.Attribute):
            if self.is_llm_attribute(node.attr.value):
                return True
            # `self.model` where the class declares `model: Model` (or stores an LLM parameter)
            return (fn is not None and fn.cls is not None and fn.self_name is not None
                    and isinstance(node.value, cst.Name) and node.value.value == fn.self_name
                    and node.attr.value in self.typed_attributes(fn.cls))
        if isinstance(node, cst.Call):
            return self._call_is_llm(node, fn, children)
        if isinstance(node, (cst.Await, cst.NamedExpr)):
            children.append(node.expression if isinstance(node, cst.Await) else node.value)
        elif isinstance(node, cst.BooleanOperation):
            children.extend((node.left, node.right))
        elif isinstance(node, cst.IfExp):
            children.extend((node.body, node.orelse))
        return False

    def _name_is_llm(self, name: str, fn: FunctionInfo | None,
                     children: list[cst.BaseExpression]) -> bool:
        if fn is None:
            return False
        if name == fn.self_name:
            return self.class_is_llm(fn.cls)
        if name in self.attributes:
            return True  # configured names: `llm`
        for d in local_defs(fn, name):
            if d.kind == PARAM:
                param = fn.param(name)
                if param is not None and (self.is_llm_annotation(param.annotation)
                                          or self.annotation_is_llm(_param_annotation(param.node))):
                    return True
            elif d.kind == ASSIGN and d.value is not None:
                children.append(d.value)
            elif d.kind == LOOP and self.iterates_llms(d.value, fn):
                return True
        return False

    def iterates_llms(self, node: cst.BaseExpression | None, fn: FunctionInfo | None) -> bool:
        """`for x in <node>` binds LLMs: a source call, or a literal collection of LLMs, or
        one wrapped (`list(src)`, `sorted(src)`, `itertools.chain(src, ...)`, `[x for x in
        src]`) or bound to a local (issue 13). An OR over those, explored with a worklist (a
        wrapper of a wrapper ..., or a chain of locals, is as deep as the code is long).

        A literal collection asks `is_llm` of its elements, which asks this again for a loop
        variable (`for b in [a]: for c in [b]: ...`): that nesting is capped at
        `ITERATION_NESTING` questions, beyond which the answer is unknown, i.e. not an LLM
        (silent)."""
        if node is None or self._iterating >= ITERATION_NESTING:
            return False
        self._iterating += 1
        # Locals followed are in `_visiting` until the answer is known: a question asked
        # again from inside (`is_llm` of an element) does not follow them again.
        followed: list[int] = []
        try:
            todo: list[cst.BaseExpression] = [node]
            seen: set[int] = set()
            while todo:
                current = todo.pop()
                if id(current) in seen:
                    continue
                seen.add(id(current))
                if isinstance(current, cst.Name):
                    if id(current) in self._visiting:
                        continue
                    self._visiting.add(id(current))
                    followed.append(id(current))
                if self.source_call(current) is not None:
                    return True
                if isinstance(current, (cst.List, cst.Tuple, cst.Set)):
                    if current.elements and all(
                            not isinstance(el, cst.StarredElement) and self.is_llm(el.value, fn)
                            for el in current.elements):
                        return True
                    continue
                todo.extend(reversed(self._iterated_sources(current, fn)))
            return False
        finally:
            self._iterating -= 1
            self._visiting.difference_update(followed)

    def _iterated_sources(self, node: cst.BaseExpression, fn: FunctionInfo | None
                          ) -> list[cst.BaseExpression]:
        """What a wrapper iterates (`list(src)`, `sorted(src)`, `itertools.chain(src, ...)`,
        `[x for x in src]`), or a local's assigned values: the elements are still theirs."""
        if isinstance(node, cst.Call):
            name = self.model.resolve(dotted_name(node.func))
            args = [a.value for a in node.args if a.keyword is None and not a.star]
            if name in _ELEMENT_WRAPPERS and args:
                return args[:1]
            if name in ("itertools.chain", "chain") and args:
                return args
            return []
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            comp = node.for_in
            if comp.inner_for_in is None and isinstance(comp.target, cst.Name) \
                    and isinstance(node.elt, cst.Name) and node.elt.value == comp.target.value:
                return [comp.iter]
            return []
        if isinstance(node, cst.Name) and fn is not None:
            return [d.value for d in local_defs(fn, node.value)
                    if d.kind == ASSIGN and d.value is not None]
        return []

    def _call_is_llm(self, node: cst.Call, fn: FunctionInfo | None,
                     children: list[cst.BaseExpression]) -> bool:
        func = node.func
        name = dotted_name(func)
        if name is not None and self.is_llm_class(name):
            return True  # `LLM(...)`
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in COPY_METHODS:
                children.append(func.value)
            if method in VALIDATE_METHODS and self.is_llm_class(dotted_name(func.value)):
                return True
            if not _plural(method) and (self.source_call(node) is not None
                                        or self.registry_lookup(node) is not None):
                return True
            if fn is not None and fn.cls is not None and dotted_name(func.value) == fn.self_name:
                target = fn.cls.methods.get(method)
                if target is not None and self.is_llm_annotation(_return_annotation(target)):
                    return True
        resolved = self.model.resolve(name) if name else None
        if resolved in ("copy.copy", "copy.deepcopy") and node.args:
            children.append(node.args[0].value)
        return False


def _plural(method: str) -> bool:
    """`get_all_llms`/`values` yield several LLMs: the call itself is not one."""
    return method.endswith("s") or "all" in method


def _return_annotation(fn: FunctionInfo) -> str | None:
    returns = fn.node.returns
    if returns is None:
        return None
    expr = returns.annotation
    text = string_value(expr)
    return text if text is not None else dotted_name(expr)


def _param_annotation(node: cst.Param) -> cst.BaseExpression | None:
    return node.annotation.annotation if node.annotation is not None else None


def _is_self_attr(target: cst.BaseExpression, self_name: str) -> bool:
    return (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
            and target.value.value == self_name)


def _declared_fields(cls: ClassInfo) -> set[str]:
    """Field names a class declares: class-level assignments and annotations, and the
    attributes its `__init__` sets on `self`."""
    found = set(cls.attributes)
    body = cls.node.body
    for statement in body.body if isinstance(body, cst.IndentedBlock) else ():
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    found.add(small.target.value)
    init = cls.methods.get("__init__")
    if init is not None and init.self_name is not None:
        for small, _line in small_statements(init.node):
            targets: list[cst.BaseExpression] = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, cst.AnnAssign):
                targets = [small.target]
            for target in targets:
                if _is_self_attr(target, init.self_name):
                    found.add(target.attr.value)  # type: ignore[union-attr]
    return found
