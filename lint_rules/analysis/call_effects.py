"""Function summaries: what a call does to its arguments, and the call sites that resolve to one.

A `FunctionSummary` (plain data, see summaries.py) says which parameters a function writes
conversation-scoped values onto in place (directly, through a field, a local alias, or further
down through another call it makes with that parameter), which parameters it returns and whether
it returns a fresh object, and whether it is a pin helper. It is computed once per function of a
module (`EffectSummaries`, owned by `FileFacts`) and, for other modules, by the project index,
which stores it in the module's summary and so in the result cache.

A write onto a parameter is found even when the callee cannot tell it is an LLM (`def
_stamp(target, sid): target.extra_headers[KEY] = sid`): the parameter's writes are looked for as
if it were one, and the call site, which does know the argument is an LLM it borrowed, decides.

`resolve_call` maps a call to a summary: `self.m(...)`/`cls.m(...)` through the class and its
bases (this file, then the project index), `f(...)`/`mod.f(...)` to a function of this module or
of an imported one, `Cls(...)` to `Cls.__init__`, `x.m(...)` where `x` is a parameter annotated
with a class. A call it cannot resolve gives no summary, never a finding. Recursion (a function
reaching itself through its calls) stops at the function being summarised: its own writes count,
the cycle adds nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst

from lint_rules.analysis.global_setters import globals_written
from lint_rules.analysis.llm_objects import LLMFacts, trigger_tokens
from lint_rules.analysis.llm_writes import WriteFinder
from lint_rules.analysis.local_bindings import PARAM, local_defs
from lint_rules.analysis.ownership import Ownership, Verdict
from lint_rules.analysis.pins import calls_with_statement, is_pin_helper
from lint_rules.analysis.rule_stages import Writers, local_writers
from lint_rules.analysis.summaries import ClassSummary, FunctionSummary, ParamWrite
from lint_rules.analysis.token_filter import token_filter
from lint_rules.syntax.deep_stack import code_for_node
from lint_rules.syntax.lines import NodeLines
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo, dotted_name
from lint_rules.syntax.tree import nodes_of

if TYPE_CHECKING:
    from lint_rules.analysis.context import FileFacts
    from lint_rules.analysis.project_index import ProjectIndex

LinesOf = Callable[..., int]  # (node[, the statement holding it]) -> its start line


class _ParamLLMs(LLMFacts):
    """LLM facts that also take every parameter of the function being summarised for an LLM,
    so its in-place writes are found whatever the callee calls it."""

    def __init__(self, base: LLMFacts, fn: FunctionInfo) -> None:
        super().__init__(base.config, base.model)
        self._fn = fn
        self._params = {p.name for p in fn.params} - {fn.self_name}

    def _name_is_llm(self, name: str, fn: FunctionInfo | None,
                     stack: list[cst.BaseExpression]) -> bool:
        if fn is self._fn and name in self._params and any(
                d.kind == PARAM for d in local_defs(fn, name)):
            return True
        return super()._name_is_llm(name, fn, stack)


class _ParamWriteFinder(WriteFinder):
    """A WriteFinder whose results are kept apart from the module's own (`writes`/`guards`)."""

    def writes(self, fn: FunctionInfo):
        cached = fn.derived.get("param_writes")
        if cached is None:
            saved = fn.derived.get("guards")
            fn.derived["guards"] = {}
            cached = []
            body = fn.node.body
            statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
            try:
                self._block(fn, statements, (), cached)
            finally:
                if saved is None:
                    fn.derived.pop("guards", None)
                else:
                    fn.derived["guards"] = saved
            fn.derived["param_writes"] = cached
        return cached


@dataclass(frozen=True)
class Resolved:
    summary: FunctionSummary
    args: dict[str, cst.BaseExpression]  # parameter name -> argument expression at the call
    local: FunctionInfo | None  # the callee's code when it is in this file


class EffectSummaries:
    """Summaries of the functions of one module, computed on first use."""

    def __init__(self, facts: FileFacts, path: str, lines_of: LinesOf,
                 index: ProjectIndex | None = None,
                 tree_of: Callable[[], ast.Module | None] | None = None) -> None:
        self.facts = facts
        self.path = path
        self.lines_of = lines_of
        self.index = index
        # The checked file's `ast` (the call-hop gate `_may_write_locally`); None: no gate.
        self._tree_of = tree_of
        self._local_writers: object = _UNSET
        self._done: dict[object, FunctionSummary] = {}
        self._busy: set[int] = set()
        self._writers: object = _UNSET
        self._warming = False

    # ------------------------------------------------------------------ summaries
    def summary(self, fn: FunctionInfo) -> FunctionSummary:
        key = id(fn)
        done = self._done.get(key)
        if done is not None:
            return done
        if key in self._busy:  # recursion: the function's own writes, without its calls
            return self._direct(fn)
        if not self._warming:
            self._warm(fn)
        self._busy.add(key)
        try:
            result = self._compute(fn)
        finally:
            self._busy.discard(key)
        self._done[key] = result
        return result

    def _warm(self, root: FunctionInfo) -> None:
        """Summarise the functions of this module that `root` calls (transitively) first,
        callees before callers, with an explicit stack: a chain of helpers calling helpers
        costs heap, not stack (issue 17). The order and the functions on the path (`_busy`,
        what a cycle sees) are those of the recursive computation, so each summary is the
        one it would have been; computing `root` then finds its callees done."""
        self._warming = True
        self._busy.add(id(root))
        stack: list[tuple[FunctionInfo, Iterator[FunctionInfo]]] = [
            (root, iter(self._local_callees(root)))]
        try:
            while stack:
                fn, pending = stack[-1]
                callee = next((c for c in pending if id(c) not in self._busy
                               and id(c) not in self._done), None)
                if callee is None:
                    stack.pop()
                    if fn is not root:
                        self._busy.discard(id(fn))
                        self.summary(fn)  # its callees are done, or on the path (a cycle)
                    continue
                self._busy.add(id(callee))
                stack.append((callee, iter(self._local_callees(callee))))
        finally:
            for fn, _ in stack:
                self._busy.discard(id(fn))
            self._busy.discard(id(root))
            self._warming = False

    def _local_callees(self, fn: FunctionInfo) -> Iterator[FunctionInfo]:
        """The functions of this module `fn`'s calls run, in the order `_compute` asks."""
        for _, call in calls_with_statement(fn):
            try:
                found = self._target(call, fn)
            except (OSError, ValueError, RecursionError):
                continue
            if found is not None and found[1] is not None and self._may_write_locally(found[1]):
                yield found[1]

    def _direct(self, fn: FunctionInfo) -> FunctionSummary:
        """What a cycle sees of a function being summarised: its own writes only."""
        key = ("direct", id(fn))
        done = self._done.get(key)  # type: ignore[call-overload]
        if done is None:
            done = self._compute(fn, follow_calls=False)
            self._done[key] = done  # type: ignore[index]
        return done

    def _qualname(self, fn: FunctionInfo) -> str:
        module = self.facts.model.module_name
        return f"{module}.{fn.qualname}" if module else fn.qualname

    def _compute(self, fn: FunctionInfo, follow_calls: bool = True) -> FunctionSummary:
        facts = self.facts
        params = tuple(p.name for p in fn.params)
        own = {p for p in params if p != fn.self_name}
        writes: list[ParamWrite] = []
        helper = fn.self_name is not None and is_pin_helper(fn, facts)
        # Writes the module's own analysis sees (the LLM is recognised there).
        seen_writes = {id(w.statement): w for w in facts.writes.writes(fn) if w.pins}
        finder = _ParamWriteFinder(_ParamLLMs(facts.llms, fn), facts.scoped)
        for write in finder.writes(fn):
            if not write.pins:
                continue
            for origin in facts.ownership.origins(write.container, fn, write.statement):
                if origin.param is None or origin.param not in own:
                    continue
                seen = id(write.statement) in seen_writes
                reported = seen and (helper or (origin.kind is Ownership.BORROWED
                                                and not origin.via_call))
                writes.append(ParamWrite(origin.param, write.pins, self.path,
                                         self.lines_of(write.node, write.statement),
                                         _spelled(facts, write),
                                         reported, onto_llm=seen))
                break
        # Writes made further down, through a call that passes a parameter on.
        for statement, call in calls_with_statement(fn) if follow_calls else ():
            resolved = self.resolve(call, fn)
            if resolved is None:
                continue
            for w in resolved.summary.writes:
                arg = resolved.args.get(w.param)
                if arg is None:
                    continue
                for origin in facts.ownership.origins(arg, fn, statement):
                    if origin.param is None or origin.param not in own:
                        continue
                    chain = resolved.summary.name + (f" -> {w.via}" if w.via else "")
                    writes.append(ParamWrite(origin.param, w.pins, w.path, w.line, w.spelled,
                                             w.reported_in_callee, chain,
                                             w.onto_llm or facts.llms.is_llm(arg, fn)))
                    break
        returns_params: set[str] = set()
        fresh = []
        for ret in nodes_of(fn.node.body, cst.Return):
            if ret.value is None:
                continue
            origins = facts.ownership.origins(ret.value, fn, ret)
            returns_params |= {o.param for o in origins if o.param in own}
            fresh.append(bool(origins) and all(o.kind is Ownership.OWNED and o.param is None
                                               for o in origins))
        stored = globals_written(fn, facts, self.path, self.lines_of)
        line = self.lines_of(fn.node) if writes or stored else 0  # positions cost a pass: only when useful
        return FunctionSummary(fn.name, self._qualname(fn), self.path, line, params, fn.self_name is not None, tuple(_unique(writes)),
                               frozenset(returns_params), bool(fresh) and all(fresh), helper,
                               stored)

    # ------------------------------------------------------------------ call sites
    def resolve(self, call: cst.Call, fn: FunctionInfo) -> Resolved | None:
        """The summary of the function a call runs, with its arguments by parameter name."""
        try:
            found = self._resolve(call, fn)
        except (OSError, ValueError, RecursionError):
            return None
        if found is None:
            return None
        summary, local, bound = found
        args = _bind(call, summary.params, bound)
        if args is None:
            return None
        return Resolved(summary, args, local)

    def resolve_remote(self, call: cst.Call, fn: FunctionInfo) -> Resolved | None:
        """The summary of the function of another module a call runs (project index), with its
        arguments by parameter name; None for a function of this module, which is not
        summarised here. Ungated: the writers gate (`_may_write_remotely`) only knows writes
        onto parameters, while LLA005 asks what the callee stores into process-global state."""
        try:
            found = self._target(call, fn, ungated=True)
        except (OSError, ValueError, RecursionError):
            return None
        if found is None or found[1] is not None:
            return None
        summary, _, bound = found
        args = _bind(call, summary.params, bound)
        return None if args is None else Resolved(summary, args, None)

    def _resolve(self, call: cst.Call, fn: FunctionInfo):
        found = self._target(call, fn)
        if found is None:
            return None
        summary, local, bound = found
        if local is not None:
            if not self._may_write_locally(local):
                return None  # its summary lists no write: nothing for a call site
            return self.summary(local), local, bound
        return summary, None, bound

    def _may_write_locally(self, fn: FunctionInfo) -> bool:
        """False when the function's summary cannot list a write onto a parameter: its name is
        not among `rule_stages.local_writers` of this module's `ast` (with the project's
        writers for calls into other modules)."""
        if self._local_writers is _UNSET:
            tree = self._tree_of() if self._tree_of is not None else None
            self._local_writers = None if tree is None else local_writers(
                tree, self.facts.config, self._project_writers())
        names = self._local_writers
        return names is None or fn.name in names  # type: ignore[operator]

    def _project_writers(self) -> Writers | None:
        if self._writers is _UNSET:
            writers_of = getattr(self.index, "writers", None)
            self._writers = writers_of(Path(self.path)) if writers_of is not None else None
        return self._writers  # type: ignore[return-value]

    def _target(self, call: cst.Call, fn: FunctionInfo, ungated: bool = False):
        """(None, the callee, bound) for a function of this module, (its summary, None, bound)
        for one of another module (summarised already), None when unresolved."""
        model = self.facts.model
        func = call.func
        spelled = dotted_name(func)
        if spelled is None:
            return None
        head, _, method = spelled.rpartition(".")
        # self.m(...) / cls.m(...)
        if head and fn.cls is not None and fn.params and head == fn.params[0].name \
                and (fn.self_name is not None or head == "cls"):
            return self._method(fn.cls, method, bound=True)
        if not head:
            local = _module_function(model, spelled)
            if local is not None:
                return None, local, False
            cls = model.class_named(spelled)
            if cls is not None:
                return self._method(cls, "__init__", bound=True)
        if head and "." not in head:
            # x.m(...) with `x` a parameter annotated with a class
            param = fn.param(head)
            if param is not None and param.annotation and any(
                    d.kind == PARAM for d in local_defs(fn, head)):
                cls_name = param.annotation.strip("'\"")
                local_cls = model.class_named(cls_name)
                if local_cls is not None:
                    return self._method(local_cls, method, bound=True)
                return self._remote_method(model.resolve(cls_name) or cls_name, method)
        resolved = model.resolve(spelled)
        if resolved is None or resolved == spelled and spelled not in model.imports \
                and head not in model.imports:
            return None
        return self._remote(resolved, ungated)

    def _method(self, cls: ClassInfo, name: str, bound: bool):
        remote: list[str] = []
        for klass in self.facts.model.local_mro(cls, remote):
            method = klass.methods.get(name)
            if method is not None:
                return None, method, method.self_name is not None and bound
        index = self.index
        if index is None or not remote or not self._may_write_remotely(name, remote):
            return None
        for ancestor in index.ancestors(tuple(remote), Path(self.path)):
            found = _effects_of(ancestor, name)
            if found is not None:
                return found, None, found.bound
        return None

    def _remote_method(self, qualname: str, name: str):
        if self.index is None or "." not in qualname \
                or not self._may_write_remotely(name, (qualname,)):
            return None
        for ancestor in self.index.ancestors((qualname,), Path(self.path)):
            found = _effects_of(ancestor, name)
            if found is not None:
                return found, None, found.bound
        return None

    def _remote(self, qualname: str, ungated: bool = False):
        """`pkg.mod.func` or `pkg.mod.Class` (its `__init__`) through the project index."""
        index = self.index
        if index is None:
            return None
        module, _, name = qualname.rpartition(".")
        if not module:
            return None
        if ungated:
            may_store = getattr(index, "may_store_globally", None)
            if may_store is not None and not may_store(module, name, Path(self.path)):
                return None
        elif not self._may_write_remotely(name):
            return None
        near = Path(self.path)
        summary = index.module(module, near)
        if summary is not None:
            found = getattr(summary, "functions", {}).get(name)
            if found is not None:
                return found, None, False
            target = summary.imports.get(name)
            if target and target != qualname and target.rpartition(".")[0] != module:
                inner = index.module(target.rpartition(".")[0], Path(summary.path))
                if inner is not None and target.rpartition(".")[2] in inner.functions:
                    return inner.functions[target.rpartition(".")[2]], None, False
        cls = index.lookup_class(qualname, near)
        if cls is not None:
            found = _effects_of(cls, "__init__")
            if found is not None:
                return found, None, True
        return None

    def _may_write_remotely(self, name: str, bases: list[str] | tuple[str, ...] | None = None
                            ) -> bool:
        """False when no module the index can find defines, imports or subclasses a callee of
        that name that may write onto a parameter (`ProjectIndex.writers`, an over-approximation
        read from `ast` and text): whatever another module's summary says of such a callee has
        no writes, and only writes matter to a call site, so the module is not summarised (a
        libcst parse). With `bases` (qualified names of the classes whose ancestors are
        searched for the method `name`), the writing method must also be defined in a class
        that can be one of them or their ancestors (`Writers.may_write_method`).
        Unknown writers (no index method, a result cache): True."""
        writers = self._project_writers()
        if writers is None:
            return True
        if bases is None:
            return writers.may_write((name,))  # type: ignore[attr-defined]
        return writers.may_write_method(  # type: ignore[attr-defined]
            name, [b.rsplit(".", 1)[-1] for b in bases])


_UNSET = object()


def _effects_of(cls: ClassSummary, name: str) -> FunctionSummary | None:
    method = cls.methods.get(name)
    return getattr(method, "effects", None) if method is not None else None


def _module_function(model, name: str) -> FunctionInfo | None:
    for fn in model.functions:
        if fn.name == name and fn.cls is None and fn.parent is None:
            return fn
    return None


def _bind(call: cst.Call, params: tuple[str, ...], bound: bool) -> dict[str, cst.BaseExpression] | None:
    names = list(params[1:] if bound else params)
    out: dict[str, cst.BaseExpression] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            return out  # `*args`/`**kw`: what follows cannot be placed
        if arg.keyword is not None:
            out[arg.keyword.value] = arg.value
        elif position < len(names):
            out[names[position]] = arg.value
            position += 1
    return out


def _spelled(facts: FileFacts, write) -> str:
    empty = cst.Module([])

    def code(node: cst.CSTNode) -> str:
        return code_for_node(empty, node)

    llm = " ".join(code(write.llm).split())
    if write.kind == "attr":
        text = f"{llm}.{write.name}" if write.name else llm
    else:
        text = f"{llm}.{write.name or '...'}"
        if write.key is not None and write.kind in ("item", "setdefault"):
            text += f"[{' '.join(code(write.key).split())}]"
    return text if len(text) <= 70 else text[:67] + "..."


def _unique(writes: list[ParamWrite]) -> list[ParamWrite]:
    seen: set[tuple] = set()
    out = []
    for w in writes:
        key = (w.param, w.pins, w.path, w.line)
        if key not in seen:
            seen.add(key)
            out.append(w)
    return out[:20]


def effects_of(ctx) -> EffectSummaries:
    """The function summaries of the file being checked (built once, kept on `ctx.facts`)."""
    facts = ctx.facts
    if facts.effects is None:
        lines = NodeLines(ctx.module, ctx.source, lambda node: ctx.position(node).start.line,
                          ctx.ast_tree)
        facts.effects = EffectSummaries(facts, ctx.path, lines, ctx.index, ctx.ast_tree)
    return facts.effects


# ---------------------------------------------------------------------------- call hops
@dataclass(frozen=True)
class CallHop:
    """A call that hands an object the caller borrowed to a callee that writes a
    conversation-scoped value onto it in place."""

    call: cst.Call
    statement: cst.CSTNode
    arg: cst.BaseExpression
    summary: FunctionSummary
    write: ParamWrite
    verdict: Verdict
    local: bool  # the callee is in this file


def borrowed_call_hops(ctx, fn: FunctionInfo) -> list[CallHop]:
    """Call sites of `fn` whose callee writes onto a parameter that receives a borrowed object,
    where the callee's own file does not report the write already. A caller that is itself a
    private method fed by its callers (`via_call`) is skipped: its callers are reported.
    Computed once per function: LLA001 and LLA006 both ask."""
    facts = ctx.facts
    found = facts.call_hops.get(id(fn))
    if found is None:
        found = facts.call_hops[id(fn)] = _borrowed_call_hops(ctx, fn)
    return list(found)


def _borrowed_call_hops(ctx, fn: FunctionInfo) -> list[CallHop]:
    facts = ctx.facts
    effects = effects_of(ctx)
    out: list[CallHop] = []
    # A callee that knows it writes an LLM (`agent.llm.extra_headers[...]`) needs no LLM
    # expression at the call site; the file must still hold an LLM token, so the prefilter
    # (which skips files without one) never hides such a finding.
    if facts.llm_token_in_source is None:
        facts.llm_token_in_source = token_filter(trigger_tokens(ctx.config)).search(ctx.source)
    trusted = facts.llm_token_in_source
    for statement, call in calls_with_statement(fn):
        resolved = effects.resolve(call, fn)
        if resolved is None or not resolved.summary.writes:
            continue
        for w in resolved.summary.writes:
            if w.reported_in_callee:
                continue
            arg = resolved.args.get(w.param)
            if arg is None or not ((w.onto_llm and trusted) or facts.llms.is_llm(arg, fn)):
                continue
            verdict = facts.ownership.verdict(arg, fn, statement)
            if verdict.kind is Ownership.BORROWED and not verdict.via_call:
                out.append(CallHop(call, statement, arg, resolved.summary, w, verdict,
                                   resolved.local is not None))
                break
    return out
