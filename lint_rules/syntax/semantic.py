"""Facts about one module that every rule shares, built during the engine's single traversal.

Deliberately light: libcst's ScopeProvider/QualifiedNameProvider cost about 12x a parse, and
the rules only need (a) which class and function a node sits in, (b) what an imported name
refers to, and (c) dotted spellings of attribute chains. All three are computed here exactly
and cheaply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from lint_rules.syntax.parse import module_name_for
from lint_rules.syntax.tree import walk_statements


def dotted_name(node: cst.BaseExpression | None) -> str | None:
    """`self.agent.llm` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    # Exact types: libcst's node classes are final, and `isinstance` on its ABCs costs 10x.
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)  # type: ignore[union-attr]
        node = node.value  # type: ignore[union-attr]
    if type(node) is cst.Name:
        parts.append(node.value)  # type: ignore[union-attr]
        return ".".join(reversed(parts))
    return None


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The value of a plain (non-f, non-bytes) string literal, including implicit concatenation.

    Iterative: a 3,000-line implicitly concatenated prompt is a tree 3,000 deep."""
    parts: list[str] = []
    stack: list[cst.BaseExpression | None] = [node]
    while stack:
        part = stack.pop()
        if isinstance(part, cst.SimpleString):
            value = part.evaluated_value
            if not isinstance(value, str):
                return None
            parts.append(value)
        elif isinstance(part, cst.ConcatenatedString):
            stack.append(part.right)
            stack.append(part.left)
        else:
            return None
    return "".join(parts)


@dataclass(eq=False)
class ClassInfo:
    node: cst.ClassDef
    name: str
    qualname: str
    bases: tuple[str, ...]  # qualified where an import resolves them, else as spelled
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    # Class-body assignments: name -> value expression.
    attributes: dict[str, cst.BaseExpression] = field(default_factory=dict)


@dataclass(eq=False)
class Param:
    name: str
    annotation: str | None  # dotted spelling of the annotation, unresolved
    node: cst.Param


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef
    name: str
    qualname: str
    cls: ClassInfo | None  # the class this is a method of (directly)
    parent: FunctionInfo | None
    params: tuple[Param, ...]
    # Per-function results of the analysis layer, by the name of the analysis that owns each
    # ("defs", "item_stores", "writes", "guards", "calls", "declared_globals").
    derived: dict[str, object] = field(default_factory=dict, repr=False)
    # Imports in the function's own body (`import google.genai as genai`): local alias ->
    # qualified name. They win over the module's `imports` inside it (`resolve_in`).
    imports: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def self_name(self) -> str | None:
        """The name bound to the instance (`self`), for plain methods."""
        if self.cls is None or not self.params:
            return None
        for deco in self.node.decorators:
            if dotted_name(deco.decorator) in ("staticmethod", "classmethod"):
                return None
        return self.params[0].name

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass
class SemanticModel:
    """Filled by `SemanticBuilder` (`build_model`) before any rule runs, so every question a
    rule asks about the module has the same answer wherever the rule asks it."""

    module_name: str
    imports: dict[str, str] = field(default_factory=dict)  # local alias -> qualified name
    classes: list[ClassInfo] = field(default_factory=list)
    functions: list[FunctionInfo] = field(default_factory=list)
    # Module-level assignments: name -> value expression (the last one wins).
    globals: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # Enclosing classes and functions of the node being visited, innermost last.
    scope_stack: list[ClassInfo | FunctionInfo] = field(default_factory=list)
    # Every class and function by id() of its node, and in the order their bodies end.
    scopes: dict[int, ClassInfo | FunctionInfo] = field(default_factory=dict)
    scopes_in_order: list[ClassInfo | FunctionInfo] = field(default_factory=list)
    # The first class of each name, for `class_named` (rebuilt when classes were added).
    _classes_by_name: dict[str, ClassInfo] = field(default_factory=dict, repr=False, compare=False)
    _classes_indexed: int = field(default=0, repr=False, compare=False)

    @property
    def current_class(self) -> ClassInfo | None:
        return next((s for s in reversed(self.scope_stack) if isinstance(s, ClassInfo)), None)

    @property
    def current_function(self) -> FunctionInfo | None:
        return next((s for s in reversed(self.scope_stack) if isinstance(s, FunctionInfo)), None)

    @property
    def current_scope(self) -> ClassInfo | FunctionInfo | None:
        return self.scope_stack[-1] if self.scope_stack else None

    def resolve(self, dotted: str | None) -> str | None:
        """Qualify a dotted spelling through the module's imports: `LLM` -> `openhands.sdk.LLM`."""
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        target = self.imports.get(head)
        if target is None:
            return dotted
        return f"{target}.{rest}" if rest else target

    def resolve_expr(self, node: cst.BaseExpression) -> str | None:
        return self.resolve(dotted_name(node))

    def resolve_in(self, dotted: str | None, fn: FunctionInfo | None) -> str | None:
        """`resolve`, where an import inside `fn` (or a function around it) wins: one name
        may be imported from different modules in different functions (optional
        dependencies: `genai` is `google.genai` here and `google.generativeai` there)."""
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        scope = fn
        while scope is not None:
            target = scope.imports.get(head)
            if target is not None:
                return f"{target}.{rest}" if rest else target
            scope = scope.parent
        return self.resolve(dotted)

    def class_named(self, name: str) -> ClassInfo | None:
        """The first class of this module with that name (a dict: hierarchies of thousands
        of classes ask once per base)."""
        if self._classes_indexed != len(self.classes):
            self._classes_by_name = {}
            for c in self.classes:
                self._classes_by_name.setdefault(c.name, c)
            self._classes_indexed = len(self.classes)
        return self._classes_by_name.get(name)

    def local_mro(self, cls: ClassInfo, remote: list[str]) -> Iterator[ClassInfo]:
        """The class and its base classes defined in this module (breadth-first); bases
        defined elsewhere are appended to `remote`, for the project index."""
        seen: set[int] = set()
        queue = deque([cls])
        while queue:
            klass = queue.popleft()
            if id(klass) in seen:
                continue
            seen.add(id(klass))
            yield klass
            for base in klass.bases:
                local = self.class_named(base) if "." not in base else None
                if local is None and self.module_name and base.startswith(self.module_name + "."):
                    local = self.class_named(base[len(self.module_name) + 1:])
                if local is not None:
                    queue.append(local)
                elif base not in remote:
                    remote.append(base)


def annotation_names(node: cst.BaseExpression | None) -> list[str]:
    """The class names an annotation allows, unions unwrapped: `Model`, `Model | None`,
    `Optional[Model]`, `Union[str, Model]`, `Annotated[Model, ...]`, `"Model | None"`."""
    names: list[str] = []
    stack = [node] if node is not None else []
    seen = 0
    while stack and seen < 32:  # annotations are small; bounded all the same
        seen += 1
        expr = stack.pop()
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
            stack.extend((expr.left, expr.right))
        elif isinstance(expr, cst.Subscript):
            head = (dotted_name(expr.value) or "").rsplit(".", 1)[-1]
            if head in ("Optional", "Union", "Annotated"):
                elements = expr.slice if head != "Annotated" else expr.slice[:1]
                stack.extend(el.slice.value for el in elements if isinstance(el.slice, cst.Index))
        else:
            text = string_value(expr)
            if text is None:
                name = dotted_name(expr)
                if name:
                    names.append(name)
            else:
                parts = text.replace("Optional[", "").replace("]", "").split("|")
                names.extend(p.strip() for p in parts if p.strip())
    return names


def relative_base(module_name: str, level: int, is_package: bool) -> str:
    parts = module_name.split(".") if module_name else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    return ".".join(parts)


class SemanticBuilder:
    """Visitor hooks the engine calls first on every node (and last on leave)."""

    def __init__(self, model: SemanticModel, is_package: bool) -> None:
        self.model = model
        self.is_package = is_package

    def visit(self, node: cst.CSTNode) -> None:
        handler = getattr(self, "visit_" + type(node).__name__, None)
        if handler is not None:
            handler(node)

    def leave(self, node: cst.CSTNode) -> None:
        handler = getattr(self, "leave_" + type(node).__name__, None)
        if handler is not None:
            handler(node)

    # --- imports ---
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None:
                local = dotted_name(alias.asname.name)
                if local:
                    self._bind(local, full)
            else:
                head = full.split(".")[0]
                self._bind(head, head, keep=True)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = dotted_name(node.module) if node.module is not None else ""
        level = len(node.relative)
        if level:
            base = relative_base(self.model.module_name, level, self.is_package)
            module = ".".join(p for p in (base, module) if p)
        if isinstance(node.names, cst.ImportStar) or module is None:
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = dotted_name(alias.asname.name) if alias.asname is not None else name
            if local:
                self._bind(local, f"{module}.{name}" if module else name)

    def _bind(self, local: str, full: str, keep: bool = False) -> None:
        """An import: module-wide (`keep`: an earlier binding stays), and the function's own."""
        if keep:
            self.model.imports.setdefault(local, full)
        else:
            self.model.imports[local] = full
        fn = self.model.current_function
        if fn is not None:
            fn.imports[local] = full

    # --- scopes ---
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        outer = self.model.current_scope
        prefix = f"{outer.qualname}." if outer is not None else ""
        bases = tuple(
            self.model.resolve_expr(arg.value) or "" for arg in node.bases if arg.keyword is None
        )
        info = ClassInfo(node=node, name=node.name.value, qualname=prefix + node.name.value,
                         bases=tuple(b for b in bases if b))
        self.model.classes.append(info)
        self.model.scopes[id(node)] = info
        self.model.scope_stack.append(info)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.model.scopes_in_order.append(self.model.scope_stack.pop())

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        parent = self.model.current_function
        outer = self.model.current_scope
        # A method is a function whose nearest enclosing scope is a class body.
        owner_cls = outer if isinstance(outer, ClassInfo) else None
        prefix = f"{outer.qualname}." if outer is not None else ""
        params = tuple(
            Param(name=p.name.value,
                  annotation=_annotation_text(p.annotation),
                  node=p)
            for p in (*node.params.posonly_params, *node.params.params,
                      *node.params.kwonly_params)
        )
        info = FunctionInfo(node=node, name=node.name.value, qualname=prefix + node.name.value,
                            cls=owner_cls, parent=parent, params=params)
        self.model.functions.append(info)
        self.model.scopes[id(node)] = info
        if owner_cls is not None:
            owner_cls.methods.setdefault(info.name, info)
        self.model.scope_stack.append(info)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.model.scopes_in_order.append(self.model.scope_stack.pop())

    # --- module and class level assignments ---
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._record(target.target, node.value)
        module = dynamic_import(node.value)
        if module is not None and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            # `genai = importlib.import_module("google.generativeai")`: an import by another name.
            self._bind(node.targets[0].target.value, module)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._record(node.target, node.value)

    def _record(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        scope = self.model.current_scope
        if isinstance(scope, FunctionInfo) or not isinstance(target, cst.Name):
            return
        if isinstance(scope, ClassInfo):
            scope.attributes[target.value] = value
        else:
            self.model.globals[target.value] = value


def _annotation_text(annotation: cst.Annotation | None) -> str | None:
    if annotation is None:
        return None
    expr = annotation.annotation
    # `LLM | None`, `Optional[LLM]`: keep the first non-None member's spelling.
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
        for side in (expr.left, expr.right):
            name = dotted_name(side)
            if name and name != "None":
                return name
    if isinstance(expr, cst.Subscript) and dotted_name(expr.value) in ("Optional", "typing.Optional"):
        inner = expr.slice[0].slice
        if isinstance(inner, cst.Index):
            return dotted_name(inner.value)
    text = string_value(expr)
    if text is not None:
        return text.strip()
    return dotted_name(expr)


def dynamic_import(value: cst.BaseExpression) -> str | None:
    """The module of `importlib.import_module("a.b")`, also inside `cast(T, ...)` (optional
    dependencies are often imported so); None for anything else. `process_state_ast` keeps
    the same test on CPython's tree."""
    if not isinstance(value, cst.Call):
        return None  # asked of every assignment of the file: most values are no call
    callee = dotted_name(value.func)
    if callee in ("cast", "typing.cast") and len(value.args) == 2 \
            and all(a.keyword is None and not a.star for a in value.args):
        value = value.args[1].value
        callee = dotted_name(value.func) if isinstance(value, cst.Call) else None
    if not (callee in IMPORT_MODULE and isinstance(value, cst.Call) and len(value.args) == 1
            and value.args[0].keyword is None and not value.args[0].star):
        return None
    name = string_value(value.args[0].value)
    return name if name and not name.startswith(".") else None


IMPORT_MODULE = ("importlib.import_module", "import_module")


def build_model(module: cst.Module, path: str, module_name: str | None = None) -> SemanticModel:
    """The module's classes, functions, imports and globals, in one walk of the tree."""
    name, is_package = module_name_for(path) if module_name is None else (
        module_name, Path(path).name == "__init__.py")
    model = SemanticModel(module_name=name)
    builder = SemanticBuilder(model, is_package)
    # Every node the builder reads (imports, classes, functions, assignments) is a statement.
    walk_statements(module, builder.visit, builder.leave)
    return model
