"""LLA002 swap-without-pin: a method installs a new LLM and skips a pin the class applies."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from lint_rules.analysis.every_path import dominating_statements, guaranteed_after
from lint_rules.analysis.llm_installs import (
    ClassPins,
    Install,
    InstallFinder,
    PinUnit,
    copies_of,
)
from lint_rules.analysis.pin_values import Pin
from lint_rules.analysis.pins import statement_pins
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules.base import Example, Rule
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo, dotted_name
from lint_rules.syntax.tree import nodes_of, small_statements, walk


class SwapWithoutPin(Rule):
    code = "LLA002"
    name = "swap-without-pin"
    summary = "A new LLM is installed into a running conversation without re-applying every pin"
    rationale = """\
A conversation class applies *pins* when it sets a conversation up: pin-helper calls such as
`self._pin_prompt_cache_key()` or `self._pin_session_affinity_header(llm)`, or direct writes of
conversation-scoped values, made in `__init__`, the agent-ready path (`_ensure_agent_ready`, see
`setup-methods`) or the methods they call, in the class or in its bases (also bases defined in
other modules). Code that later puts a different LLM into the running conversation must apply
every one of those pins to the new LLM again; otherwise affinity or prompt caching is silently
lost for the rest of the conversation. This happened for real: the prompt-cache key was lost
after a profile switch, and the first version of the LiteLLM affinity header forgot
`switch_llm` until review.

An *install* is `self.agent = <agent>.model_copy(update={"llm": new, ...})` (also through an
`update` dict built earlier, with the key added conditionally), a component rebuilt from a new
LLM (`update={"condenser": condenser.model_copy(update={"llm": new})}`), `self.agent = Agent(llm=new)`,
`self.agent.llm = new`, `self._state.agent = ...`, `setattr(self.agent, "llm", new)`, or a
configured install method called on an object the conversation holds (`self.agent.set_llm(new)`).

A pin counts as re-applied when it is applied inline to the copy being installed
(`update={"llm": llm.model_copy(update={"extra_headers": {**h, KEY: conversation_id}})}`, a
copy-on-write helper's result `self._with_affinity(llm)`), or to the new LLM before the install
on every path to it, before any component is copied from it: `self._pin_x(new)`,
`new.extra_headers[KEY] = cid`, `new = new.model_copy(update={...pinned...})`, a name bound to
a pinned copy. A header key bound to a module constant is the same key as the literal.

The rule is path-sensitive: every path from the install to the function's exit must apply the
pin: early `return`, explicit `raise`, `if`/`else`, `try`/`except`/`finally`, `with`, loops
and `match` are followed. A pin applied inside `with` or `finally`, or by a method the swap
delegates to (`switch_profile` calling `self.switch_llm(llm)` where `switch_llm` pins), counts.
The message names each missing pin and where the class applies it.

It also reports a component LLM copied from the new LLM *before* a pin helper is applied to the
new LLM (`condenser_llm = new.model_copy()` then `self._pin_x(new)`): the copy misses the pin.

Not reported: `self.agent.model_copy(update={"tools": ...})` (the LLM did not change), installing
the current LLM or a copy of it, an LLM built and returned or kept in a local name, set-up
methods themselves, and classes that apply no pins (nothing to re-apply). When a base class
cannot be found, a call to a method the rule cannot see is assumed to apply every pin (unknown is
"no finding"). Implicit exceptions are paths only inside a `try` that has handlers (the handlers
are there because the body is expected to fail); elsewhere only explicit `raise` statements are.
Installs in module-level functions are not checked: there is no class whose pins they must match.
"""
    fix_description = """\
Inserts the missing pin call(s), `self._pin_x(new_llm)` or `self._pin_x()` following the helper's
parameters, on the line right after the install, at the install's indentation (so inside the same
`with` or `try` block). The argument is the new LLM when it is a plain name, otherwise where the
install put it (`self.agent.llm`). For a copy made before the pin, the pin call is inserted before
the copy. The fix is unsafe when the pin is already applied on some of the paths (the right place
is then ambiguous), when the install is conditional (an `update` dict built earlier: the pin is
then applied to `self.agent.llm`), or when the method to call is not a recognised pin helper. No fix is offered
when the class pins only by direct writes, when the helper returns a pinned copy instead of
pinning in place, or when the helper's parameters are not one LLM.
"""
    bad_examples = (
        Example(
            """\
import copy


class Conversation:
    def __init__(self, agent):
        self.agent = copy.deepcopy(agent)  # the conversation owns its LLMs
        self._pin_prompt_cache_key()
        self._pin_session_affinity_header(self.agent.llm)

    def _pin_prompt_cache_key(self):
        self.agent.llm = self.agent.llm.model_copy(update={"_prompt_cache_key": str(self.id)})

    def _pin_session_affinity_header(self, llm):
        self.agent.llm = llm.model_copy(
            update={"extra_headers": {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}}
        )

    def switch_llm(self, llm):
        self.agent = self.agent.model_copy(update={"llm": llm})  # LLA002
        self._pin_prompt_cache_key()
""",
            fixed="""\
import copy


class Conversation:
    def __init__(self, agent):
        self.agent = copy.deepcopy(agent)  # the conversation owns its LLMs
        self._pin_prompt_cache_key()
        self._pin_session_affinity_header(self.agent.llm)

    def _pin_prompt_cache_key(self):
        self.agent.llm = self.agent.llm.model_copy(update={"_prompt_cache_key": str(self.id)})

    def _pin_session_affinity_header(self, llm):
        self.agent.llm = llm.model_copy(
            update={"extra_headers": {**(llm.extra_headers or {}), "x-litellm-session-id": str(self.id)}}
        )

    def switch_llm(self, llm):
        self.agent = self.agent.model_copy(update={"llm": llm})  # LLA002
        self._pin_session_affinity_header(llm)
        self._pin_prompt_cache_key()
""",
            title="the affinity pin is forgotten on the swap path",
        ),
        Example(
            """\
import copy


class Conversation:
    def __init__(self, agent):
        self.agent = copy.deepcopy(agent)  # the conversation owns its LLMs
        self._pin_prompt_cache_key()

    def _pin_prompt_cache_key(self):
        self.agent.llm = self.agent.llm.model_copy(update={"_prompt_cache_key": str(self.id)})

    def switch_llm(self, llm, dry_run=False):
        self.agent.llm = llm  # LLA002
        if dry_run:
            return
        self._pin_prompt_cache_key()
""",
            title="an early return skips the pin",
        ),
    )
    good_examples = (
        Example(
            """\
import copy


class Conversation:
    def __init__(self, agent):
        self.agent = copy.deepcopy(agent)  # the conversation owns its LLMs
        self._pin_prompt_cache_key()

    def _pin_prompt_cache_key(self):
        self.agent.llm = self.agent.llm.model_copy(update={"_prompt_cache_key": str(self.id)})

    def switch_llm(self, llm):
        self.agent = self.agent.model_copy(update={"llm": llm})
        try:
            self.notify(llm)
        finally:
            self._pin_prompt_cache_key()

    def switch_profile(self, name):
        self.switch_llm(self.registry.load_profile(name))

    def set_tools(self, tools):
        self.agent = self.agent.model_copy(update={"tools": tools})
""",
            title="a pin in `finally`, delegation, and an update that keeps the LLM",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        # Every install names an LLM attribute as a string key (`{"llm": new}`, `update["llm"]`,
        # `setattr(x, "llm", new)`), an attribute (`self.agent.llm = new`) or a keyword
        # (`Agent(llm=new)`, `dict(llm=new)`: the name is followed by whitespace or `=`), or it
        # calls an install method. Bare `llm` would match `smallmap` and `callmethod`.
        tokens: list[str] = list(config.llm_install_methods)
        for attr in config.llm_attributes:
            tokens += [f'"{attr}"', f"'{attr}'", f".{attr}", f"{attr}="]
            tokens += [f"{attr}{space}" for space in (" ", "\t", "\n", "\r", "\f", "\\")]
        return tuple(tokens)

    ast_prefilter = True

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        return stage.may_install_and_pin()  # see analysis/rule_stages.py

    def check_class(self, cls: ClassInfo) -> None:
        if not cls.methods:
            return
        setup_names = set(self.ctx.config.setup_methods)
        candidates: list[tuple[FunctionInfo, list[Install]]] = []
        for fn in cls.methods.values():
            if fn.name in setup_names or fn.self_name is None:
                continue
            installs = InstallFinder(fn, self.ctx.config).installs()
            if installs:
                candidates.append((fn, installs))
        if not candidates:
            return
        pins = ClassPins(self.ctx, cls)
        units, setup_reached = pins.setup_units()
        required = frozenset().union(*(u.pins for u in units)) if units else frozenset()
        if not required:
            return
        for fn, installs in candidates:
            if fn.name in setup_reached:
                continue
            _SwapCheck(self, pins, units, required, fn, installs).run()


class _SwapCheck:
    """One swap method: path analysis per install, messages and fixes."""

    def __init__(self, rule: SwapWithoutPin, pins: ClassPins, units: list[PinUnit],
                 required: frozenset[Pin], fn: FunctionInfo, installs: list[Install]) -> None:
        self.rule = rule
        self.ctx = rule.ctx
        self.pins = pins
        self.units = units
        self.required = required
        self.fn = fn
        self.me = fn.self_name or "self"
        self.installs = installs
        self._facts: dict[int, frozenset[Pin]] = {}

    # --- what a piece of code pins ---
    def facts(self, node: cst.CSTNode) -> frozenset[Pin]:
        key = id(node)
        cached = self._facts.get(key)
        if cached is not None:
            return cached
        # Pins applied by calling a method of the class, and, for a statement, the pins it
        # applies itself (a scoped write onto an LLM, a pinned copy): `pins.statement_pins`.
        found: set[Pin] = set()
        for call in nodes_of(node, cst.Call):
            name = self.called_method(call)
            if name is None:
                continue
            applied = self.pins.pins_of(name)
            if applied is None:
                # A method we cannot see (an unresolved base) may pin anything.
                if self.pins.unresolved_bases:
                    found.update(self.required)
            else:
                found.update(applied)
        if isinstance(node, cst.BaseSmallStatement):
            found |= statement_pins(node, self.fn, self.ctx.facts)
        result = frozenset(found)
        self._facts[key] = result
        return result

    def called_method(self, call: cst.Call) -> str | None:
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        owner = func.value
        if isinstance(owner, cst.Name) and owner.value == self.me:
            return func.attr.value
        if (isinstance(owner, cst.Call) and dotted_name(owner.func) == "super"):
            return func.attr.value
        return None

    # --- the check ---
    def run(self) -> None:
        for install in self.installs:
            self.check_install(install)
        self.check_copies_before_pin()

    def check_install(self, install: Install) -> None:
        undone = self.install_target(install)

        def facts(node: cst.CSTNode) -> frozenset[Pin]:
            # Restoring the previous object (a rollback) leaves nothing new to pin.
            if node is not install.statement and undone is not None and self.assigns(node, undone):
                return self.required
            return self.facts(node)

        after = guaranteed_after(self.fn.node.body, install.statement, facts, self.required)
        if after is None:
            return
        applied = after | self.facts(install.statement) | self.pinned_before(install)
        missing = self.required - applied
        if not missing:
            return
        chosen: list[PinUnit] = []
        for pin in sorted(missing):
            unit = next((u for u in self.units if pin in u.pins), None)
            if unit is not None and unit not in chosen:
                chosen.append(unit)
        names = " and ".join(self.describe(u) for u in chosen)
        message = (f"{install.what} but does not re-apply {names} on every path to the end of "
                   f"`{self.fn.name}`")
        self.rule.report(install.statement, message, self.fix_for(install, chosen, missing))

    def pinned_before(self, install: Install) -> frozenset[Pin]:
        """Pins the new LLM object carries when it is installed, applied on every path to the
        install: `self._pin_x(new)`, a scoped write onto it (`new.extra_headers[KEY] = cid`), or
        binding it to a pinned copy (`new = new.model_copy(update={"extra_headers": {...}})`,
        `new = self._pinned(new)` for a copy-on-write helper). Pins of the last two kinds count
        only while no component has been copied from the new LLM yet: a copy made earlier misses
        them (a helper call after such a copy is reported at the copy instead)."""
        if not isinstance(install.new_llm, cst.Name) or install.through_dict:
            return frozenset()
        new = install.new_llm.value
        analysis = self.ctx.facts
        writes_by_statement: dict[int, list] = {}
        for write in analysis.writes.writes(self.fn):
            if write.pins:
                writes_by_statement.setdefault(id(write.statement), []).append(write)
        out: set[Pin] = set()
        copied = False  # a component was copied from the new LLM
        for statement in dominating_statements(self.fn.node.body, install.statement):
            smalls = statement.body if isinstance(statement, cst.SimpleStatementLine) else [statement]
            for small in smalls:
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    call = small.value
                    method = self.called_method(call)
                    # Only a pin helper handed the new LLM pins that object; a method such as
                    # `_repin(llm)` may also pin the agent's current LLMs, which the install replaces.
                    if method and self.pins.is_pin_helper(method) and any(
                            isinstance(a.value, cst.Name) and a.value.value == new for a in call.args):
                        out |= self.pins_of_helper(method)
                        continue
                target = _assigned_name(small)
                if target == new:
                    # Rebound: pins on the old object stay only when the new one copies it.
                    value = small.value  # type: ignore[union-attr]
                    carried = out if _copies(value, new) else set()
                    out = set(carried) | (set() if copied else set(self.rebinding_pins(small, value, new)))
                    continue
                if not copied:
                    for write in writes_by_statement.get(id(small), ()):
                        if dotted_name(write.llm) == new:
                            out |= write.pins
            if any(_assigned_name(small) != new for _, small, _ in copies_of(new, statement)):
                copied = True
        return frozenset(out)

    def pins_of_helper(self, method: str) -> frozenset[Pin]:
        return self.pins.pins_of(method) or frozenset()

    def rebinding_pins(self, small: cst.CSTNode, value: cst.BaseExpression | None,
                       new: str) -> frozenset[Pin]:
        """What `new = <value>` pins on the object bound: a pinned copy (`statement_pins` of the
        statement, when the value is itself the copy), or a copy-on-write helper's result."""
        if not isinstance(value, cst.Call):
            return frozenset()
        method = self.called_method(value)
        if method is not None:
            if self.pins.is_pin_helper(method):
                return self.pins_of_helper(method)
            return frozenset()
        if isinstance(value.func, cst.Attribute) and value.func.attr.value in ("model_copy", "copy") \
                or self.ctx.facts.llms.is_llm_class(dotted_name(value.func)):
            return statement_pins(small, self.fn, self.ctx.facts)
        return frozenset()

    @staticmethod
    def install_target(install: Install) -> str | None:
        small = install.statement
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            return dotted_name(small.targets[0].target)
        return None

    @staticmethod
    def assigns(node: cst.CSTNode, target: str) -> bool:
        return (isinstance(node, cst.Assign) and len(node.targets) == 1
                and dotted_name(node.targets[0].target) == target)

    def describe(self, unit: PinUnit) -> str:
        where = unit.where() if callable(unit.where) else unit.where
        if unit.method is None:
            return f"the pins written directly in `{unit.setup}` ({where})"
        return f"`{unit.method}` (applied in `{unit.setup}`, {where})"

    # --- fixes ---
    def call_text(self, unit: PinUnit, llm: str | None) -> str | None:
        if unit.method is None or len(unit.params) > 1 or _returns_copy(unit):
            return None
        if unit.params:
            if llm is None:
                return None
            return f"{self.me}.{unit.method}({llm})"
        return f"{self.me}.{unit.method}()"

    def llm_argument(self, install: Install) -> str | None:
        if isinstance(install.new_llm, cst.Name) and not install.through_dict:
            return install.new_llm.value
        return install.location

    def fix_for(self, install: Install, chosen: list[PinUnit], missing: frozenset[Pin]) -> Fix | None:
        line = install.line
        if not chosen or not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return None
        llm = self.llm_argument(install)
        calls = [self.call_text(u, llm) for u in chosen]
        if any(c is None for c in calls):
            return None
        indent = self.ctx.indent_of(line)
        newline = self.ctx.newline()
        text = "".join(f"{indent}{c}{newline}" for c in calls)
        at = self.ctx.line_end(line)
        safe = (all(u.is_helper for u in chosen) and not install.through_dict
                and not (self.applied_somewhere_after(install) & missing))
        names = ", ".join(f"`{c}`" for c in calls)
        return Fix(f"Insert {names} after the install", (Edit(at, at, text),),
                   Applicability.SAFE if safe else Applicability.UNSAFE)

    def applied_somewhere_after(self, install: Install) -> frozenset[Pin]:
        """Pins applied on at least one path after the install (a textual over-approximation)."""
        seen = False
        out: set[str] = set()
        for small, _ in small_statements(self.fn.node.body):
            if seen:
                out |= self.facts(small)
            elif small is install.statement:
                seen = True
        return frozenset(out)

    # --- a component copied from the new LLM before the pin ---
    def check_copies_before_pin(self) -> None:
        order = {id(small): i for i, (small, _) in enumerate(small_statements(self.fn.node.body))}
        install_statements = {id(i.statement) for i in self.installs}
        for install in self.installs:
            if not isinstance(install.new_llm, cst.Name):
                continue
            new = install.new_llm.value
            pin_calls = self.pin_calls_on(new)
            if not pin_calls:
                continue
            for copy, small, line, where in self.copies_of_new(new):
                if not self.copy_is_installed(small, install_statements):
                    continue
                later = [(c, s, ln) for c, s, ln in pin_calls if order[id(s)] > order[id(small)]]
                if not later or len(later) < len(pin_calls):
                    continue  # no pin after the copy, or the LLM was already pinned before it
                pin_call, pin_small, pin_line = later[0]
                text = self.ctx.code(pin_call)
                shown = self.ctx.code(copy)
                if "\n" in shown or len(shown) > 60:
                    shown = f"{self.ctx.code(copy.func)}(...)"
                message = (f"`{shown}` copies the new LLM{where} before "
                           f"`{text}` pins it: the copy misses the pin")
                fix = None
                if isinstance(line, cst.SimpleStatementLine) and isinstance(pin_line, cst.SimpleStatementLine):
                    indent = self.ctx.indent_of(line)
                    same_block = indent == self.ctx.indent_of(pin_line)
                    at = self.ctx.line_start(line)
                    fix = Fix(f"Apply `{text}` before the copy",
                              (Edit(at, at, f"{indent}{text}{self.ctx.newline()}"),),
                              Applicability.SAFE if same_block else Applicability.UNSAFE)
                self.rule.report(small, message, fix)
                break

    def copies_of_new(self, new: str):
        """Copies of the new LLM made here, or by a method of the class this passes it to
        (`update["condenser"] = self._condenser_for(new_llm)` whose body copies its parameter)."""
        for copy, small, line in copies_of(new, self.fn.node.body):
            yield copy, small, line, ""
        for small, line in small_statements(self.fn.node.body):
            calls: list[cst.Call] = []
            walk(small, lambda n: calls.append(n) if isinstance(n, cst.Call) else None,
                 lambda _n: None)
            for call in calls:
                method = self.called_method(call)
                callee = self.local_method(method) if method else None
                if callee is None or callee is self.fn:
                    continue
                param = _parameter_receiving(callee, call, new)
                if param is not None and next(copies_of(param, callee.node.body), None) is not None:
                    yield call, small, line, f" (in `{method}`)"

    def local_method(self, name: str) -> FunctionInfo | None:
        for summary, info in self.pins.classes:
            if name in summary.methods:
                return info.methods.get(name) if info is not None else None
        return None

    def pin_calls_on(self, name: str) -> list[tuple[cst.Call, cst.BaseSmallStatement, cst.CSTNode]]:
        out = []
        for small, line in small_statements(self.fn.node.body):
            if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
                continue
            call = small.value
            method = self.called_method(call)
            if method is None or not self.pins.pins_of(method):
                continue
            if any(isinstance(a.value, cst.Name) and a.value.value == name for a in call.args):
                out.append((call, small, line))
        return out

    def copy_is_installed(self, small: cst.BaseSmallStatement, installs: set[int]) -> bool:
        """The copy is part of an install, or bound to a name that reaches an install (through
        other local names), and that name is not pinned itself afterwards."""
        if id(small) in installs:
            return True
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            return False
        target = small.targets[0].target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            return target.value.value in self.names_reaching_installs()  # `update["x"] = copy`
        if not isinstance(target, cst.Name):
            return False
        if self.pin_calls_on(target.value):
            return False
        installed = self.names_reaching_installs()
        return target.value in installed

    def names_reaching_installs(self) -> set[str]:
        def names_in(node: cst.CSTNode) -> set[str]:
            found: set[str] = set()
            walk(node, lambda n: found.add(n.value) if isinstance(n, cst.Name) else None,
                 lambda _n: None)
            return found

        reached: set[str] = set()
        for install in self.installs:
            reached |= names_in(install.statement)
        assignments = [(small.targets[0].target.value, names_in(small.value))
                       for small, _ in small_statements(self.fn.node.body)
                       if isinstance(small, cst.Assign) and len(small.targets) == 1
                       and isinstance(small.targets[0].target, cst.Name)]
        changed = True
        while changed:
            changed = False
            for name, uses in assignments:
                if name in reached:
                    new = uses - reached
                    if new:
                        reached |= new
                        changed = True
        return reached


def _parameter_receiving(fn: FunctionInfo, call: cst.Call, name: str) -> str | None:
    """The parameter of method `fn` that `call` (`self.m(...)`) binds to the local `name`."""
    params = [p.name for p in fn.params][1:]  # after `self`
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for index, arg in enumerate(positional):
        if isinstance(arg.value, cst.Name) and arg.value.value == name and index < len(params):
            return params[index]
    for arg in call.args:
        if arg.keyword is not None and isinstance(arg.value, cst.Name) and arg.value.value == name:
            return arg.keyword.value if arg.keyword.value in params else None
    return None


def _assigned_name(small: cst.CSTNode) -> str | None:
    """The plain name a one-target assignment binds."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1 \
            and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value is not None:
        return small.target.value
    return None


def _copies(value: cst.BaseExpression | None, name: str) -> bool:
    """`name.model_copy(...)`, `name.copy()`, `copy.copy(name)`, `self._pin(name)`: the value
    starts from the object `name` holds (so what was pinned on it is carried over)."""
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == name:
        return func.attr.value in ("model_copy", "copy")
    return any(isinstance(a.value, cst.Name) and a.value.value == name for a in value.args)


def _returns_copy(unit: PinUnit) -> bool:
    """A copy-on-write helper returns the pinned copy: calling it as a statement pins nothing."""
    return unit.method is not None and unit.returns_value
