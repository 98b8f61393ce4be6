"""The one engine: prefilter, parse once, build shared facts and run every rule in one traversal.

Cost model (see docs/performance.md): reading bytes is cheap, `ast` parsing ~10x that, libcst
parsing ~10x `ast`, libcst's scope metadata ~12x a libcst parse. So:
1. a file whose text holds none of the enabled rules' trigger tokens is never parsed by libcst
   (only compiled by CPython, so LLA000 stays complete);
2. a rule with an `ast` stage (`Rule.may_fire`) is asked next, on CPython's tree, and only the
   rules that pass both stages run: most files that merely mention a common token stop there;
3. no libcst metadata provider runs, except positions, and those only for files with a report;
4. the walk skips whitespace and punctuation nodes, which no rule reads.
"""

from __future__ import annotations

import ast
import gc
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields as dc_fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from lint_rules.config import Config
from lint_rules.diagnostics import Diagnostic, Edit, Fix, Location
from lint_rules.noqa import file_exemption, suppressed
from lint_rules.rules import SYNTAX_ERROR, Rule, all_rules
from lint_rules.semantic import SemanticBuilder, SemanticModel
from lint_rules.source import LineIndex

if TYPE_CHECKING:
    from lint_rules.index import ProjectIndex


# ---------------------------------------------------------------------------- the walk
_SKIPPED_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "comma",
    "semicolon", "newline", "colon", "equal", "dot", "star", "operator", "lbracket", "rbracket",
    "lbrace", "rbrace", "asynchronous", "trailing_whitespace", "first_line", "empty_lines",
    "whitespace", "default_indent", "default_newline",
})


@lru_cache(maxsize=None)
def _child_fields(node_type: type) -> tuple[str, ...]:
    return tuple(
        f.name for f in dc_fields(node_type)
        if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
    )


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children `walk` visits (no whitespace or punctuation), in field order.

    Use this, not libcst's `node.children`, in analysis code: `children` runs a full visitor
    that rebuilds the node (dataclass validation of every child), ~50x slower; on the standard
    library it made two rules cost twice the libcst parse itself.
    """
    children: list[cst.CSTNode] = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            children.append(value)
        elif isinstance(value, (tuple, list)):
            children.extend(v for v in value if isinstance(v, cst.CSTNode))
    return children


def walk(root: cst.CSTNode, visit: Callable[[cst.CSTNode], object],
         leave: Callable[[cst.CSTNode], object]) -> None:
    """Pre/post-order walk over the semantic nodes, iterative (deep trees need no recursion)."""
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, leaving = pop()
        if leaving:
            leave(node)
            continue
        visit(node)
        push((node, True))
        for child in reversed(child_nodes(node)):
            push((child, False))


# ---------------------------------------------------------------------------- file context
class FileContext:
    """Everything a rule may ask about the file being checked."""

    def __init__(self, path: str, source: str, config: Config, module: cst.Module,
                 model: SemanticModel, index: ProjectIndex | None) -> None:
        self.path = path
        self.source = source
        self.config = config
        self.module = module
        self.model = model
        self.index = index
        self.lines = LineIndex(source)
        self._positions: object | None = None

    # --- positions and text (positions are computed on first use only) ---
    def position(self, node: cst.CSTNode) -> CodeRange:
        if self._positions is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        return self._positions[node]  # type: ignore[index]

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """str offsets [start, end) of a node in the source."""
        rng = self.position(node)
        return (self.lines.offset(rng.start.line, rng.start.column),
                self.lines.offset(rng.end.line, rng.end.column))

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def indent_of(self, node: cst.CSTNode) -> str:
        line = self.lines.line(self.position(node).start.line)
        return line[: len(line) - len(line.lstrip())]

    # --- edits ---
    def replace(self, node: cst.CSTNode, text: str) -> Edit:
        start, end = self.span(node)
        return Edit(start, end, text)

    def insert_before(self, node: cst.CSTNode, text: str) -> Edit:
        start, _ = self.span(node)
        return Edit(start, start, text)

    def insert_after(self, node: cst.CSTNode, text: str) -> Edit:
        _, end = self.span(node)
        return Edit(end, end, text)

    def line_start(self, node: cst.CSTNode) -> int:
        return self.lines.starts[self.position(node).start.line - 1]

    def line_end(self, node: cst.CSTNode) -> int:
        """Offset just past the line break of the node's last line."""
        row = self.position(node).end.line
        return self.lines.starts[row] if row < len(self.lines.starts) else len(self.source)

    def newline(self) -> str:
        return self.module.default_newline


# ---------------------------------------------------------------------------- dispatch
class _Dispatcher:
    """Calls the semantic builder first on visit and last on leave, rules in between."""

    def __init__(self, builder: SemanticBuilder, rules: list[Rule]) -> None:
        self.builder = builder
        self.rules = rules
        self.model = builder.model
        self._visits: dict[type, list[Callable]] = {}
        self._leaves: dict[type, list[Callable]] = {}
        self._fn_checks = [r.check_function for r in rules if hasattr(r, "check_function")]
        self._cls_checks = [r.check_class for r in rules if hasattr(r, "check_class")]

    def _handlers(self, node_type: type, prefix: str) -> list[Callable]:
        table = self._visits if prefix == "visit_" else self._leaves
        handlers = table.get(node_type)
        if handlers is None:
            name = prefix + node_type.__name__
            objects: list[object] = [*self.rules]
            objects = [self.builder, *objects] if prefix == "visit_" else [*objects, self.builder]
            handlers = [getattr(o, name) for o in objects if hasattr(o, name)]
            table[node_type] = handlers
        return handlers

    def visit(self, node: cst.CSTNode) -> None:
        for handler in self._handlers(type(node), "visit_"):
            handler(node)

    def leave(self, node: cst.CSTNode) -> None:
        node_type = type(node)
        if node_type is cst.FunctionDef:
            for handler in self._handlers(node_type, "leave_")[:-1]:
                handler(node)
            fn = self.model.current_function
            for check in self._fn_checks:
                check(fn)
            self.builder.leave_FunctionDef(node)
        elif node_type is cst.ClassDef:
            for handler in self._handlers(node_type, "leave_")[:-1]:
                handler(node)
            cls = self.model.current_class
            for check in self._cls_checks:
                check(cls)
            self.builder.leave_ClassDef(node)
        else:
            for handler in self._handlers(node_type, "leave_"):
                handler(node)


# ---------------------------------------------------------------------------- prefilter
_IDENTIFIER_RUN = re.compile(r"[A-Za-z0-9_]+")


class TokenFilter:
    """`any(token in source for token in tokens)`, exactly, at `str.find` speed.

    A regex alternation of ~70 tokens costs ~100 ns per character; `in` (CPython's two-way/
    memchr search) is ~50x faster per token. Tokens containing another token are implied by it
    and dropped; the rest are grouped under their longest identifier run (`" llm"`, `"(llm"`,
    `"llm="` -> `"llm"`), so a file without `llm` costs one scan for the whole group.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        unique = sorted(set(tokens), key=lambda t: (len(t), t))
        kept: list[str] = []
        for token in unique:
            if not any(shorter in token for shorter in kept):
                kept.append(token)
        groups: dict[str, list[str]] = {}
        for token in kept:
            runs = _IDENTIFIER_RUN.findall(token)
            anchor = max(runs, key=len) if runs else token
            groups.setdefault(anchor, []).append(token)
        self.tokens = tuple(kept)
        # (anchor, tokens to confirm; empty when the anchor is itself the only token)
        self.groups = tuple((a, tuple(g) if g != [a] else ()) for a, g in sorted(groups.items()))

    def search(self, source: str) -> bool:
        for anchor, group in self.groups:
            if anchor in source and (not group or any(t in source for t in group)):
                return True
        return False


@lru_cache(maxsize=64)
def _token_filter(config: Config, codes: tuple[str, ...],
                  rules: tuple[type[Rule], ...] | None = None) -> TokenFilter | None:
    """The enabled rules' trigger tokens; None when some rule can fire anywhere."""
    tokens: set[str] = set()
    for rule in all_rules() if rules is None else rules:
        if rule.code not in codes:
            continue
        rule_tokens = [t for t in rule.trigger_tokens(config) if t]
        if not rule_tokens:
            return None
        tokens.update(rule_tokens)
    return TokenFilter(tokens)  # no rule enabled: no tokens, matches nothing


@lru_cache(maxsize=64)
def _rule_token_filters(config: Config, rules: tuple[type[Rule], ...]
                        ) -> tuple[tuple[type[Rule], TokenFilter | None], ...]:
    return tuple((rule, _token_filter(config, (rule.code,), (rule,))) for rule in rules)


def may_have_findings(source: str, config: Config, codes: tuple[str, ...],
                      rules: tuple[type[Rule], ...] | None = None) -> bool:
    """Stage one: the text holds a trigger token of some enabled rule (one pass for all)."""
    token_filter = _token_filter(config, codes, rules)
    return token_filter is None or token_filter.search(source)


def rules_that_may_fire(source: str, config: Config, codes: tuple[str, ...],
                        rules: tuple[type[Rule], ...] | None = None,
                        tree: ast.Module | None = None) -> tuple[type[Rule], ...]:
    """The enabled rules that may report in this source, by both prefilter stages: the trigger
    tokens in the text, then, for rules that have one, their check of CPython's `ast` (`tree`,
    or parsed here: ~10x cheaper than libcst). Only these rules need to run: each stage is a
    necessary condition for its rule's findings."""
    if not may_have_findings(source, config, codes, rules):
        return ()
    rule_set = all_rules() if rules is None else rules
    passing = [rule for rule, token_filter in _rule_token_filters(config, rule_set)
               if rule.code in codes and (token_filter is None or token_filter.search(source))]
    if any(getattr(rule, "ast_prefilter", False) for rule in passing):
        if not isinstance(tree, ast.Module):
            tree = _ast_tree(source)
        if tree is not None:
            passing = [rule for rule in passing
                       if not getattr(rule, "ast_prefilter", False)
                       or rule.may_fire(tree, source, config)]
    return tuple(passing)


def _ast_tree(source: str) -> ast.Module | None:
    """CPython's tree, or None when it cannot be built (the syntax check reports why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


# ---------------------------------------------------------------------------- checking
@dataclass(frozen=True)
class ParseFailure:
    row: int
    column: int  # 1-based
    message: str


def parse_module(source: str) -> cst.Module | ParseFailure:
    """libcst parse; a failure (syntax, or nesting too deep for the parser) is a value.

    CPython's compiler judges the text first: libcst's native parser overflows the C stack
    (a segfault, not an exception) on nesting that CPython rejects, e.g. 3000 parentheses.
    """
    return syntax_check(source, "<unknown>") or _libcst_parse(source)


_LIBCST_PREFIX = "libcst: "


def _libcst_parse(source: str) -> cst.Module | ParseFailure:
    """libcst alone: only for text that `syntax_check` has accepted (failures say "libcst: ")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = str(exc.message).strip().splitlines()[0] if exc.message else "invalid syntax"
        return ParseFailure(exc.raw_line, exc.raw_column + 1, f"{_LIBCST_PREFIX}{message}")
    except RecursionError:
        return ParseFailure(1, 1, f"{_LIBCST_PREFIX}too deeply nested to parse")
    except (MemoryError, ValueError) as exc:
        return ParseFailure(1, 1, f"{_LIBCST_PREFIX}{exc}")


def syntax_check(source: str, path: str) -> ParseFailure | None:
    """CPython's own verdict: a full compile, so errors of the compiler stage (misplaced
    `from __future__`, `return` outside a function) count too. Compiling to bytecode is also
    cheaper than building Python AST objects (PyCF_ONLY_AST)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        column = (exc.offset or 1)
        return ParseFailure(exc.lineno or 1, max(column, 1), f"{type(exc).__name__}: {exc.msg}")
    except (RecursionError, MemoryError):
        return ParseFailure(1, 1, "SyntaxError: too deeply nested to parse")
    except (ValueError, OverflowError, SystemError) as exc:
        # ValueError: "source code string cannot contain null bytes"
        return ParseFailure(1, 1, f"SyntaxError: {exc}")
    return None


def failure_diagnostic(path: str, failure: ParseFailure, line_text: str = "") -> Diagnostic:
    loc = Location(failure.row, failure.column)
    return Diagnostic(SYNTAX_ERROR[0], SYNTAX_ERROR[1], failure.message, path, loc, loc,
                      line_text=line_text)


def module_name_for(path: str) -> tuple[str, bool]:
    """Dotted module name of a file from the packages (folders with __init__.py) around it."""
    p = Path(path)
    is_package = p.name == "__init__.py"
    parts = [] if is_package else [p.stem]
    folder = p.parent
    try:
        while (folder / "__init__.py").is_file():
            parts.append(folder.name)
            if folder.parent == folder:
                break
            folder = folder.parent
    except OSError:
        pass
    return ".".join(reversed(parts)), is_package


def build_model(module: cst.Module, path: str) -> SemanticModel:
    """The shared facts alone (no rules): what the project index summarises other modules with."""
    name, is_package = module_name_for(path)
    model = SemanticModel(module_name=name)
    dispatcher = _Dispatcher(SemanticBuilder(model, is_package), [])
    walk(module, dispatcher.visit, dispatcher.leave)
    return model


def check_parsed(ctx: FileContext, rule_classes: Iterable[type[Rule]]) -> list[Diagnostic]:
    """Run the given rules over one parsed module: one traversal, shared facts."""
    rules = [cls(ctx) for cls in rule_classes]
    # The caller already named the module (ctx.model); is_package needs no second walk up the
    # folders' __init__.py files.
    is_package = Path(ctx.path).name == "__init__.py"
    dispatcher = _Dispatcher(SemanticBuilder(ctx.model, is_package), rules)
    walk(ctx.module, dispatcher.visit, dispatcher.leave)
    for rule in rules:
        check_module = getattr(rule, "check_module", None)
        if check_module is not None:
            check_module()
    out: list[Diagnostic] = []
    for rule in rules:
        for report in rule.reports:
            out.append(_to_diagnostic(ctx, rule, report.node, report.message, report.fix))
    return out


def _to_diagnostic(ctx: FileContext, rule: Rule, node: cst.CSTNode, message: str,
                   fix: Fix | None) -> Diagnostic:
    rng = ctx.position(node)
    start = Location(rng.start.line, rng.start.column + 1)
    end = Location(rng.end.line, rng.end.column + 1)
    if fix is not None:
        fix = Fix(fix.message, tuple(_locate(ctx, e) for e in fix.edits), fix.applicability)
    return Diagnostic(rule.code, rule.name, message, ctx.path, start, end, fix,
                      line_text=ctx.lines.line(start.row))


def _locate(ctx: FileContext, edit: Edit) -> Edit:
    row, col = ctx.lines.location(edit.start)
    end_row, end_col = ctx.lines.location(edit.end)
    return Edit(edit.start, edit.end, edit.content, Location(row, col + 1),
                Location(end_row, end_col + 1))


# ---------------------------------------------------------------------------- deep code
# libcst parses, prints and computes positions by recursion on the tree, and a 500-branch
# `elif` chain, a 400-part implicitly concatenated string or a long `a or b or ...` is a tree
# that deep. CPython's default limit (1000 frames) and the main thread's C stack (8 MiB) are
# not enough for that, although CPython itself compiles such code. A check that fails for
# lack of stack is run once more in a thread with a large stack and a matching recursion limit
# (measured on CPython 3.11: 120000 `or` terms need ~400000 frames and well under 256 MiB).
# The limit stays far below what the stack holds, so running out is a RecursionError (an
# internal error for that one file), never a crash of the process.
DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 400_000


def exhausted_stack(exc: BaseException) -> bool:
    """True when `exc` is, or was raised while handling, a RecursionError (libcst's position
    provider turns one into a KeyError as it unwinds)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10_000:
        if isinstance(current, RecursionError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def call_with_deep_stack(fn: Callable, *args, **kwargs):
    """`fn(*args, **kwargs)` in a thread with a large stack and a high recursion limit."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    old_limit = sys.getrecursionlimit()
    old_size = threading.stack_size()
    thread = threading.Thread(target=target, name="llm-affinity-lint-deep", daemon=True)
    try:
        threading.stack_size(DEEP_STACK_BYTES)
        try:
            thread.start()
        finally:
            threading.stack_size(old_size)
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome.get("value")


def check_text(source: str, path: str, config: Config, index: ProjectIndex | None = None,
               *, prefilter: bool = True,
               rules: Sequence[type[Rule]] | None = None) -> list[Diagnostic]:
    """All diagnostics for one decoded source, noqa applied, sorted.

    `rules`: run these rule classes instead of the registry's (tests of the fix engine use
    rules of their own); the configured selection still applies to their codes.
    Code nested deeper than the default stack allows is checked again on a deep stack
    (`call_with_deep_stack`); whatever still fails is raised to the caller, which reports it
    as an internal error of this file.
    """
    try:
        return _check_text(source, path, config, index, prefilter=prefilter, rules=rules)
    except Exception as exc:
        if not exhausted_stack(exc) or threading.current_thread().name == "llm-affinity-lint-deep":
            raise
    return call_with_deep_stack(_check_text, source, path, config, index, prefilter=prefilter,
                                rules=rules)


def _check_text(source: str, path: str, config: Config, index: ProjectIndex | None = None,
                *, prefilter: bool = True,
                rules: Sequence[type[Rule]] | None = None) -> list[Diagnostic]:
    file_codes = file_exemption(source)
    if file_codes is not None and not file_codes:
        # Exempt: no rule runs, but a file that does not parse is still reported (LLA000).
        failure = syntax_check(source, path) if config.rule_enabled(SYNTAX_ERROR[0], path) else None
        if failure is None:
            return []
        return [failure_diagnostic(path, failure, LineIndex(source).line(failure.row))]
    rule_set = all_rules() if rules is None else tuple(rules)
    codes = tuple(config.enabled_codes([r.code for r in rule_set], path))
    syntax_enabled = config.rule_enabled(SYNTAX_ERROR[0], path)
    if not codes and not syntax_enabled:
        return []
    with gc_paused():
        to_run = [r for r in rule_set if r.code in codes] if not prefilter else (
            rules_that_may_fire(source, config, codes, None if rules is None else rule_set)
            if codes else ())
        found, failure, lines = _run_rules(source, path, config, index, to_run, syntax_enabled)
    if failure is not None:
        lines = LineIndex(source)
        found = [failure_diagnostic(path, failure, lines.line(failure.row))]
    if not found:
        return []
    lines = lines or LineIndex(source)
    found = [d for d in found if not suppressed(d, lines, file_codes)]
    return sorted(set(found), key=Diagnostic.sort_key)


@contextmanager
def gc_paused():
    """Parsing builds a few million objects that all die with the file; CPython's cycle
    collector would otherwise scan them over and over (~30% of a libcst parse, measured on the
    standard library). Cycles the analysis leaves (class <-> method facts) are collected once
    it runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_rules(source: str, path: str, config: Config, index: ProjectIndex | None,
               to_run: Sequence[type[Rule]], syntax_enabled: bool
               ) -> tuple[list[Diagnostic], ParseFailure | None, LineIndex | None]:
    lines: LineIndex | None = None  # line offsets cost a pass: built only when needed
    if to_run:
        # CPython first: its messages are better, and libcst must never see what CPython
        # rejects (see parse_module).
        parsed = syntax_check(source, path) or _libcst_parse(source)
        if isinstance(parsed, ParseFailure) and parsed.message.startswith(_LIBCST_PREFIX):
            # Valid for CPython, not for libcst (its grammar lags behind): not the user's
            # syntax error, but the rules could not run, so it is still reported.
            detail = parsed.message[len(_LIBCST_PREFIX):]
            parsed = ParseFailure(parsed.row, parsed.column,
                                  f"libcst cannot parse this file, which CPython accepts: {detail}")
        if isinstance(parsed, ParseFailure):
            failure: ParseFailure | None = parsed if syntax_enabled else None
            found = []
        else:
            name, _ = module_name_for(path)
            ctx = FileContext(path, source, config, parsed, SemanticModel(module_name=name), index)
            found = check_parsed(ctx, to_run)
            failure, lines = None, ctx.lines
    else:
        failure = syntax_check(source, path) if syntax_enabled else None
        found = []
    return found, failure, lines
