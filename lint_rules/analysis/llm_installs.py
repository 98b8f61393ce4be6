"""What puts a new LLM into a running conversation (an "install"), found in one method.

Installs (the method's instance is `self`; `<llm>` is any of `config.llm_attributes`):

- `self.agent = <expr>.model_copy(update={"llm": new, ...})`, also when `update` is a name bound
  to a dict in the same function with the key added later, maybe conditionally
  (`update["llm"] = new`, `update.update(llm=new)`), and `self._state.agent = ...`: any target
  under `self`;
- a component rebuilt from a new LLM in the same update:
  `update={"condenser": condenser.model_copy(update={"llm": new})}`;
- a class built with an LLM keyword: `self.agent = Agent(llm=new, ...)`;
- `self.agent.llm = new`, `self.llm = new`, `setattr(self.agent, "llm", new)`;
- a configured install method called on something the instance holds:
  `self.agent.set_llm(new)` (on `self` itself it is delegation, not an install).

Not installs: `update={"tools": ...}` (the LLM did not change), an update or assignment whose
new LLM is the installed one or a copy of it (`{"llm": self.agent.llm}`: a copy carries the
pins with it), an LLM built and returned or stored in a local name, `None`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from lint_rules.analysis.context import FileContext
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.project_index import local_summary
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo, dotted_name, string_value
from lint_rules.syntax.trampoline import run
from lint_rules.syntax.tree import small_statements, walk

COPY_METHODS = frozenset({"model_copy", "copy"})
COPY_FUNCTIONS = frozenset({"copy.copy", "copy.deepcopy", "deepcopy"})


@dataclass(frozen=True)
class Install:
    statement: cst.BaseSmallStatement  # the Assign / Expr that installs
    line: cst.CSTNode  # the SimpleStatementLine (or suite) holding it
    new_llm: cst.BaseExpression | None  # the expression of the new LLM, when one is visible
    location: str | None  # where the new LLM lives afterwards: "self.agent.llm"
    what: str  # short description for messages
    # The new LLM comes from an `update` dict built earlier (its key may be added conditionally):
    # `new_llm` is then not a safe argument, the install location is.
    through_dict: bool = False


def derivation_root(node: cst.BaseExpression | None) -> str | None:
    """`self.agent.llm` for `self.agent.llm.model_copy(...)` / `copy.copy(self.agent.llm)`."""
    while isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in COPY_METHODS:
            node = func.value
        elif dotted_name(func) in COPY_FUNCTIONS and node.args:
            node = node.args[0].value
        else:
            return None
    return dotted_name(node)


def _keyword(call: cst.Call, names: tuple[str, ...] | frozenset[str]) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value in names), None)


def _is_class_name(func: cst.BaseExpression) -> bool:
    name = dotted_name(func)
    return bool(name) and name.rsplit(".", 1)[-1][:1].isupper()  # type: ignore[union-attr]


class InstallFinder:
    """Installs in one method; `fn.self_name` must be set."""

    def __init__(self, fn: FunctionInfo, config: Config) -> None:
        self.fn = fn
        self.me = fn.self_name or ""
        self.llm_attrs = frozenset(config.llm_attributes)
        self.install_methods = frozenset(config.llm_install_methods)
        self._dict_keys: dict[str, list[tuple[str, cst.BaseExpression]]] | None = None

    # --- dicts built in the function: name -> [(key, value)] over every way a key is added ---
    def dict_entries(self, name: str) -> list[tuple[str, cst.BaseExpression]]:
        if self._dict_keys is None:
            self._dict_keys = {}
            for small, _ in small_statements(self.fn.node.body):
                self._collect_dict(small)
        return self._dict_keys.get(name, [])

    def _collect_dict(self, small: cst.BaseSmallStatement) -> None:
        assert self._dict_keys is not None
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            value = small.value
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for target in targets:
                if isinstance(target, cst.Name) and value is not None:
                    self._dict_keys.setdefault(target.value, []).extend(_literal_entries(value))
                elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                    key = _subscript_key(target)
                    if key is not None and value is not None:
                        self._dict_keys.setdefault(target.value.value, []).append((key, value))
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                    and func.attr.value in ("update", "setdefault")):
                entries = self._dict_keys.setdefault(func.value.value, [])
                if func.attr.value == "setdefault" and len(call.args) == 2:
                    key = string_value(call.args[0].value)
                    if key is not None:
                        entries.append((key, call.args[1].value))
                else:
                    for arg in call.args:
                        if arg.keyword is not None:
                            entries.append((arg.keyword.value, arg.value))
                        elif not arg.star:
                            entries.extend(_literal_entries(arg.value))

    def _update_entries(self, update: cst.BaseExpression) -> list[tuple[str, cst.BaseExpression]]:
        if isinstance(update, cst.Name):
            return self.dict_entries(update.value)
        return _literal_entries(update)

    # --- the new LLM inside an expression that builds an agent / component ---
    def new_llm_in(self, value: cst.BaseExpression, path: str,
                   depth: int = 0) -> tuple[cst.BaseExpression, str, str] | None:
        """(new LLM, where it ends up, what) when `value` builds an object with a new LLM."""
        if depth > 3 or not isinstance(value, cst.Call):
            return None
        func = value.func
        entries: list[tuple[str, cst.BaseExpression]] = []
        if isinstance(func, cst.Attribute) and func.attr.value == "model_copy":
            update = _keyword(value, ("update",))
            if update is None:
                return None
            entries = self._update_entries(update.value)
        elif _is_class_name(func):
            entries = [(a.keyword.value, a.value) for a in value.args if a.keyword is not None]
        else:
            return None
        for key, item in entries:
            if key in self.llm_attrs and self._is_new_llm(item):
                return item, f"{path}.{key}", "installs a new LLM"
        for key, item in entries:
            inner = self.new_llm_in(item, f"{path}.{key}", depth + 1)
            if inner is not None:
                return inner[0], inner[1], f"rebuilds `{key}` from a new LLM"
        return None

    def _is_new_llm(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
                              cst.Integer, cst.Float, cst.Dict, cst.List, cst.Tuple)):
            return False
        if isinstance(value, cst.Name) and value.value in ("None", "True", "False"):
            return False
        root = derivation_root(value)
        # The installed LLM itself, or a copy of it: its pins travel with it.
        if root is not None and root.startswith(self.me + ".") and root.rsplit(".", 1)[-1] in self.llm_attrs:
            return False
        return True

    # --- installs ---
    def installs(self) -> list[Install]:
        if not self.me:
            return []
        found: list[Install] = []
        for small, line in small_statements(self.fn.node.body):
            install = self.install_of(small, line)
            if install is not None:
                found.append(install)
        return found

    def _under_me(self, target: cst.BaseExpression) -> str | None:
        name = dotted_name(target)
        if name and name.startswith(self.me + "."):
            return name
        return None

    def install_of(self, small: cst.BaseSmallStatement, line: cst.CSTNode) -> Install | None:
        if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for target in targets:
                where = self._under_me(target)
                if where is None:
                    continue
                if where.rsplit(".", 1)[-1] in self.llm_attrs:
                    if self._is_new_llm(small.value) and derivation_root(small.value) != where:
                        return Install(small, line, small.value, where, f"`{where} = ...` installs a new LLM")
                    continue
                inner = self.new_llm_in(small.value, where)
                if inner is not None:
                    new, location, what = inner
                    update = _keyword(small.value, ("update",)) if isinstance(small.value, cst.Call) else None
                    through_dict = update is not None and isinstance(update.value, cst.Name)
                    return Install(small, line, new, location, f"`{where} = ...` {what}", through_dict)
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if dotted_name(func) == "setattr" and len(call.args) == 3:
                where = self._under_me(call.args[0].value)
                attr = string_value(call.args[1].value)
                if where and attr in self.llm_attrs and self._is_new_llm(call.args[2].value):
                    return Install(small, line, call.args[2].value, f"{where}.{attr}",
                                   f"`setattr({where}, {attr!r}, ...)` installs a new LLM")
            if isinstance(func, cst.Attribute) and func.attr.value in self.install_methods:
                where = self._under_me(func.value)
                if where is not None:
                    arg = _keyword(call, self.llm_attrs) or next(
                        (a for a in call.args if a.keyword is None and not a.star), None)
                    new = arg.value if arg is not None else None
                    return Install(small, line, new, None,
                                   f"`{where}.{func.attr.value}(...)` installs a new LLM")
        return None


def _subscript_key(target: cst.Subscript) -> str | None:
    if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    return string_value(target.slice[0].slice.value)


def _literal_entries(value: cst.BaseExpression) -> list[tuple[str, cst.BaseExpression]]:
    """Key/value pairs of `{"k": v}` or `dict(k=v)`; `**spread` parts are skipped."""
    out: list[tuple[str, cst.BaseExpression]] = []
    if isinstance(value, cst.Dict):
        for element in value.elements:
            if isinstance(element, cst.DictElement):
                key = string_value(element.key)
                if key is not None:
                    out.append((key, element.value))
    elif isinstance(value, cst.Call) and dotted_name(value.func) == "dict":
        out.extend((a.keyword.value, a.value) for a in value.args if a.keyword is not None)
    return out


def copies_of(name: str, body: cst.CSTNode) -> Iterator[tuple[cst.Call, cst.BaseSmallStatement, cst.CSTNode]]:
    """Calls that copy the LLM bound to `name` (`name.model_copy(...)`, `copy.copy(name)`)."""
    for small, line in small_statements(body):
        found: list[cst.Call] = []

        def visit(node: cst.CSTNode) -> None:
            if isinstance(node, cst.Call):
                func = node.func
                if (isinstance(func, cst.Attribute) and func.attr.value in COPY_METHODS
                        and isinstance(func.value, cst.Name) and func.value.value == name):
                    found.append(node)
                elif (dotted_name(func) in COPY_FUNCTIONS and node.args
                      and isinstance(node.args[0].value, cst.Name)
                      and node.args[0].value.value == name):
                    found.append(node)

        walk(small, visit, lambda _n: None)
        for call in found:
            yield call, small, line


# ---------------------------------------------------------------------------- the class's pins
@dataclass(frozen=True)
class PinUnit:
    """One way the class applies pins at set-up: a call of `method` made in `setup`.

    `method` is None for a direct write in the set-up method itself (nothing to call again).
    """

    method: str | None
    pins: frozenset[Pin]
    setup: str  # the set-up method that applies it
    where: object  # () -> "file:line" of the call (local) or of the set-up method (elsewhere)
    params: tuple[str, ...]  # the called method's parameters after `self`
    is_helper: bool
    local: object | None  # the FunctionInfo when the method is in the checked file
    returns_value: bool  # a copy-on-write helper returns the pinned copy


class ClassPins:
    """The pins a class applies at set-up, and what each of its methods pins (transitively).

    Methods resolve through the class, its bases in the same file and, through the project
    index, its bases in other modules (breadth-first: an MRO approximation).
    """

    def __init__(self, ctx: FileContext, cls: ClassInfo) -> None:
        self.ctx = ctx
        self.config: Config = ctx.config
        self.classes = []  # [(ClassSummary, ClassInfo | None)]
        self.unresolved_bases = False
        seen: set[str] = set()
        queue = [cls]
        while queue:
            current = queue.pop(0)
            summary = local_summary(ctx, current)
            if summary.qualname in seen:
                continue
            seen.add(summary.qualname)
            self.classes.append((summary, current))
            for base in current.bases:
                local = ctx.model.class_named(base) if "." not in base else None
                if local is not None and local is not current:
                    queue.append(local)
                    continue
                if _library_base(base):
                    continue
                remote = ctx.index.ancestors((base,), near=Path(ctx.path)) if ctx.index else []
                if not remote:
                    self.unresolved_bases = True
                for found in remote:
                    if found.qualname not in seen:
                        seen.add(found.qualname)
                        self.classes.append((found, None))
                        # A base of a base that is not on disk hides methods too.
                        if ctx.index is not None and any(
                                not _library_base(b) and ctx.index.lookup_class(b, Path(found.path)) is None
                                for b in found.bases):
                            self.unresolved_bases = True
        self._pins: dict[str, frozenset[Pin] | None] = {}

    def method(self, name: str):
        """(MethodSummary, ClassSummary, ClassInfo | None) of the first class defining `name`."""
        for summary, info in self.classes:
            found = summary.methods.get(name)
            if found is not None:
                return found, summary, info
        return None

    def is_pin_helper(self, name: str) -> bool:
        found = self.method(name)
        return name in self.config.pin_helpers or (found is not None and found[0].is_pin_helper)

    def pins_of(self, name: str) -> frozenset[Pin] | None:
        """Pins `self.<name>()` applies, following its own `self.` calls; None when unknown.
        Written recursively as a generator (`syntax.trampoline`): a chain of methods that each
        call the next costs no stack."""
        return run(self._pins_of(name))

    def _pins_of(self, name: str):
        if name in self._pins:
            return self._pins[name] or frozenset()  # a cycle in progress counts as nothing more
        found = self.method(name)
        if found is None:
            return None
        self._pins[name] = frozenset()
        summary = found[0]
        pins = set(summary.pins)
        if not pins and self.is_pin_helper(name):
            pins.add(Pin("helper", name))
        for callee in summary.self_calls:
            if callee != name:
                pins |= (yield self._pins_of(callee)) or frozenset()
        self._pins[name] = frozenset(pins)
        return self._pins[name]

    # --- set-up ---
    def setup_units(self) -> tuple[list[PinUnit], set[str]]:
        """The pin units of the set-up methods, and every method run as part of set-up."""
        setup_names = set(self.config.setup_methods)
        units: list[PinUnit] = []
        reached: set[str] = set(setup_names)
        # Every class's own set-up methods run (`super().__init__()` chains), not only the first.
        pending = [(name, owner.methods[name], owner, info)
                   for owner, info in self.classes
                   for name in self.config.setup_methods if name in owner.methods]
        for name, summary, owner, info in pending:
            if summary.pins:
                units.append(PinUnit(None, frozenset(summary.pins), name,
                                     lambda a=(name, summary, owner, info, None): self._where(*a), (), False,
                                     None, False))
            for callee in sorted(summary.self_calls):
                if callee in setup_names:
                    continue  # its own definitions are in `pending` already
                pins = self.pins_of(callee)
                if not pins:
                    continue
                callee_found = self.method(callee)
                assert callee_found is not None
                c_summary, c_owner, c_info = callee_found
                local_fn = c_info.methods.get(callee) if c_info is not None else None
                units.append(PinUnit(callee, pins, name,
                                     lambda a=(name, summary, owner, info, callee): self._where(*a),
                                     tuple(c_summary.params[1:]), self.is_pin_helper(callee),
                                     local_fn, c_summary.returns_value))
                if callee not in self.config.llm_install_methods:
                    reached |= self._callees(callee)
        return units, reached

    def _callees(self, name: str) -> set[str]:
        """`name` and every method it reaches through `self.` calls (a worklist: a chain of
        methods that each call the next is as deep as the class is long)."""
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            found = self.method(current)
            if found is not None:
                pending.extend(callee for callee in found[0].self_calls
                               if callee not in self.config.llm_install_methods)
        return seen

    def _where(self, setup: str, summary, owner, info, callee: str | None) -> str:
        if info is not None:  # a class of the checked file: exact line, computed at report time
            fn = info.methods.get(setup)
            line = self.ctx.position(fn.node).start.line if fn is not None else 0
            if fn is not None and callee is not None:
                call = _find_self_call(fn, callee)
                if call is not None:
                    line = self.ctx.position(call).start.line
            return f"{Path(self.ctx.path).name}:{line}"
        try:
            shown = os.path.relpath(owner.path, Path(self.ctx.path).resolve().parent)
        except ValueError:
            shown = owner.path
        return f"{Path(shown).as_posix()}:{summary.line}"


# Bases from these modules define no pins of a conversation (and are never on the project's disk).
_LIBRARY_MODULES = frozenset({"abc", "typing", "typing_extensions", "builtins", "enum",
                              "dataclasses", "collections", "pydantic", "threading"})
_LIBRARY_NAMES = frozenset({"object", "Generic", "Protocol", "ABC", "BaseModel", "Exception"})


def _library_base(base: str) -> bool:
    return base in _LIBRARY_NAMES or base.split(".", 1)[0] in _LIBRARY_MODULES


def _find_self_call(fn, name: str) -> cst.Call | None:
    me = fn.self_name
    found: list[cst.Call] = []

    def visit(node: cst.CSTNode) -> None:
        if not found and isinstance(node, cst.Call) and dotted_name(node.func) == f"{me}.{name}":
            found.append(node)

    walk(fn.node.body, visit, lambda _n: None)
    return found[0] if found else None
