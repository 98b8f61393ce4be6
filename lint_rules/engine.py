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
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import libcst as cst

from lint_rules.analysis.context import FileContext
from lint_rules.analysis.process_state_ast import StoresGlobally
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.analysis.token_filter import TokenFilter
from lint_rules.core.codes import SYNTAX_ERROR
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Diagnostic, Edit, Fix, Location, RelatedLocation
from lint_rules.core.noqa import file_exemption, suppressed
from lint_rules.core.source import LineIndex
from lint_rules.core.target import target_for
from lint_rules.rules import Rule, all_rules
from lint_rules.syntax.parse import (
    LIBCST_PREFIX,
    ParseFailure,
    ast_tree,
    judge_for_target,
    libcst_parse,
    module_name_for,
    syntax_check,
    syntax_verdict,
)
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo, SemanticModel, build_model
from lint_rules.syntax.tree import walk


# ---------------------------------------------------------------------------- dispatch
class _Dispatcher:
    """The rules' walk over a module whose semantic model is already complete: keeps the scope
    stack (`model.current_function`) and calls the rules' node hooks and, as each function or
    class body ends, their function and class checks."""

    def __init__(self, model: SemanticModel, rules: list[Rule]) -> None:
        self.model = model
        self.rules = rules
        self._visits: dict[type, list[Callable]] = {}
        self._leaves: dict[type, list[Callable]] = {}
        self.fn_checks = [r.check_function for r in rules if _overrides(r, "check_function")]
        self.cls_checks = [r.check_class for r in rules if _overrides(r, "check_class")]

    def _handlers(self, node_type: type, prefix: str) -> list[Callable]:
        table = self._visits if prefix == "visit_" else self._leaves
        handlers = table.get(node_type)
        if handlers is None:
            name = prefix + node_type.__name__
            handlers = [h for h in (getattr(r, name, None) for r in self.rules) if h is not None]
            table[node_type] = handlers
        return handlers

    def visit(self, node: cst.CSTNode) -> None:
        scope = self.model.scopes.get(id(node)) if type(node) in _SCOPES else None
        if scope is not None:
            self.model.scope_stack.append(scope)
        for handler in self._handlers(type(node), "visit_"):
            handler(node)

    def leave(self, node: cst.CSTNode) -> None:
        for handler in self._handlers(type(node), "leave_"):
            handler(node)
        if type(node) in _SCOPES and id(node) in self.model.scopes:
            self.scope_ended(self.model.scope_stack.pop())

    def scope_ended(self, scope: ClassInfo | FunctionInfo) -> None:
        for check in self.fn_checks if isinstance(scope, FunctionInfo) else self.cls_checks:
            check(scope)


_SCOPES = frozenset({cst.FunctionDef, cst.ClassDef})  # exact types: no ABC isinstance per node


def _overrides(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


def _has_node_hooks(rule: Rule) -> bool:
    return any(name.startswith(("visit_", "leave_")) for name in dir(type(rule)))


# ---------------------------------------------------------------------------- prefilter
@lru_cache(maxsize=64)
def _token_filter(config: Config, codes: tuple[str, ...],
                  rules: tuple[type[Rule], ...] | None = None) -> TokenFilter | None:
    """The enabled rules' trigger tokens; None when some rule can fire anywhere."""
    tokens: list[str] = []
    for rule in all_rules() if rules is None else rules:
        if rule.code not in codes:
            continue
        rule_tokens = [t for t in rule.trigger_tokens(config) if t]
        if not rule_tokens:
            return None
        tokens.extend(rule_tokens)
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
                        tree: ast.Module | None = None, path: str | None = None,
                        index: ProjectIndex | None = None) -> tuple[type[Rule], ...]:
    return _stages(source, config, codes, rules, tree, path, index)[0]


def _stages(source: str, config: Config, codes: tuple[str, ...],
            rules: tuple[type[Rule], ...] | None, tree: ast.Module | None, path: str | None,
            index: ProjectIndex | None) -> tuple[tuple[type[Rule], ...], ast.Module | None]:
    """The enabled rules that may report in this source, by both prefilter stages: the trigger
    tokens in the text, then, for rules that have one, their check of CPython's `ast` (`tree`,
    or parsed here: ~10x cheaper than libcst). Only these rules need to run: each stage is a
    necessary condition for its rule's findings."""
    if not may_have_findings(source, config, codes, rules):
        return (), tree
    rule_set = all_rules() if rules is None else rules
    passing = [rule for rule, token_filter in _rule_token_filters(config, rule_set)
               if rule.code in codes and (token_filter is None or token_filter.search(source))]
    if any(rule.ast_prefilter for rule in passing):
        if not isinstance(tree, ast.Module):
            tree = ast_tree(source)
        if tree is not None:
            near = Path(path) if path else None
            module_name, is_package = module_name_for(path) if path else (None, False)
            writers_of = stores = census_clear = None
            if index is not None:
                writers_of = lambda: index.writers(near)  # asked lazily
                stores = StoresGlobally(lambda module, name: index.may_store_globally(
                    module, name, near), module_name or "", is_package)
                census_clear = lambda: index.census_clears_for_stage(path)
            stage = StageInput(tree, source, config, writers_of, stores, census_clear,
                               module_name)
            passing = [rule for rule in passing
                       if not rule.ast_prefilter or rule.ast_stage(stage)]
    return tuple(passing), tree


# ---------------------------------------------------------------------------- checking
def failure_diagnostic(path: str, failure: ParseFailure, line_text: str = "") -> Diagnostic:
    loc = Location(failure.row, failure.column)
    return Diagnostic(SYNTAX_ERROR[0], SYNTAX_ERROR[1], failure.message, path, loc, loc,
                      line_text=line_text)


def check_parsed(ctx: FileContext, rule_classes: Iterable[type[Rule]]) -> list[Diagnostic]:
    """Run the given rules over one parsed module whose model is complete: a walk of the tree
    only when some rule visits nodes, else the function and class checks in the order the
    walk would make them."""
    rules = [cls(ctx) for cls in rule_classes]
    dispatcher = _Dispatcher(ctx.model, rules)
    if any(_has_node_hooks(rule) for rule in rules):
        walk(ctx.module, dispatcher.visit, dispatcher.leave)
    else:
        for scope in ctx.model.scopes_in_order:
            dispatcher.scope_ended(scope)
    for rule in rules:
        rule.check_module()
    out: list[Diagnostic] = []
    for rule in rules:
        for report in rule.reports:
            diagnostic = _to_diagnostic(ctx, rule, report.node, report.message, report.fix)
            if report.related:
                diagnostic = replace(diagnostic, related=_related(ctx, report.related))
            out.append(diagnostic)
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


def _related(ctx: FileContext, steps) -> tuple[RelatedLocation, ...]:
    out = []
    for step in steps:
        if step.node is not None:
            rng = ctx.position(step.node)
            out.append(RelatedLocation(step.message, ctx.path, rng.start.line, rng.start.column + 1))
        elif step.path is not None and step.row > 0:
            out.append(RelatedLocation(step.message, step.path, step.row))
    return tuple(out)


def _locate(ctx: FileContext, edit: Edit) -> Edit:
    row, col = ctx.lines.location(edit.start)
    end_row, end_col = ctx.lines.location(edit.end)
    return Edit(edit.start, edit.end, edit.content, Location(row, col + 1),
                Location(end_row, end_col + 1))


def check_text(source: str, path: str, config: Config, index: ProjectIndex | None = None,
               *, prefilter: bool = True, rules: Sequence[type[Rule]] | None = None,
               codes: Iterable[str] | None = None, tree: ast.Module | None = None,
               noqa: bool = True) -> list[Diagnostic]:
    """All diagnostics for one decoded source, sorted.

    `rules`: run these rule classes instead of the registry's (tests of the fix engine use
    rules of their own). `codes`: the codes to report (LLA000 included), when the front-end
    selects them itself (flake8); by default the configuration's selection for `path`.
    `tree`: CPython's `ast` of the source, when the caller has it. `noqa`: apply `# noqa`
    comments (flake8 applies its own). The analyses never recurse on the depth of the code;
    libcst's code generator does, and runs on a deep stack when it must
    (`syntax.deep_stack`). Whatever fails is raised to the caller, which reports it as an
    internal error of this file.
    """
    return _check_text(source, path, config, index, prefilter=prefilter, rules=rules,
                       codes=codes, tree=tree, noqa=noqa)


def _check_text(source: str, path: str, config: Config, index: ProjectIndex | None, *,
                prefilter: bool, rules: Sequence[type[Rule]] | None,
                codes: Iterable[str] | None, tree: ast.Module | None,
                noqa: bool) -> list[Diagnostic]:
    rule_set = all_rules() if rules is None else tuple(rules)
    if codes is None:
        enabled = set(config.enabled_codes([r.code for r in rule_set], path))
        syntax_enabled = config.rule_enabled(SYNTAX_ERROR[0], path)
    else:
        enabled = set(codes)
        syntax_enabled = SYNTAX_ERROR[0] in enabled
    selected = tuple(r.code for r in rule_set if r.code in enabled)
    file_codes = file_exemption(source) if noqa else None
    if file_codes is not None and not file_codes:
        # Exempt: no rule runs, but a file that does not parse is still reported (LLA000).
        failure = syntax_check(source, path) if syntax_enabled else None
        if failure is None:
            return []
        return [failure_diagnostic(path, failure, LineIndex(source).line(failure.row))]
    if not selected and not syntax_enabled:
        return []
    with gc_paused():
        if not prefilter:
            to_run: Sequence[type[Rule]] = [r for r in rule_set if r.code in selected]
        elif selected:
            to_run, tree = _stages(source, config, selected, None if rules is None else rule_set,
                                   tree, path, index)
        else:
            to_run = ()
        found, failure, lines = _run_rules(source, path, config, index, to_run, syntax_enabled,
                                           tree if isinstance(tree, ast.Module) else None)
    if failure is not None:
        lines = LineIndex(source)
        found = [failure_diagnostic(path, failure, lines.line(failure.row))]
    if not found:
        return []
    if noqa:
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
               to_run: Sequence[type[Rule]], syntax_enabled: bool, tree: ast.Module | None = None
               ) -> tuple[list[Diagnostic], ParseFailure | None, LineIndex | None]:
    lines: LineIndex | None = None  # line offsets cost a pass: built only when needed
    # Valid means valid for the project's target Python, not for the interpreter running us.
    target = target_for(path, config.target_version)
    if to_run:
        # CPython first: its messages are better, and libcst must never see what CPython
        # rejects at its nesting limits (see parse_module); libcst decides only for a target
        # newer than the interpreter.
        cpython = syntax_check(source, path, tree)
        parsed = libcst_parse(source) if cpython is None else judge_for_target(
            source, cpython, target, libcst_parse)
        if isinstance(parsed, ParseFailure) and parsed.message.startswith(LIBCST_PREFIX):
            # Valid for CPython, not for libcst (its grammar lags behind): not the user's
            # syntax error, but the rules could not run, so it is still reported.
            detail = parsed.message[len(LIBCST_PREFIX):]
            parsed = ParseFailure(parsed.row, parsed.column,
                                  f"libcst cannot parse this file, which CPython accepts: {detail}")
        if isinstance(parsed, ParseFailure):
            failure: ParseFailure | None = parsed if syntax_enabled else None
            found = []
        else:
            name, _ = module_name_for(path)
            model = build_model(parsed, path, name)
            ctx = FileContext(path, source, config, parsed, model, index, tree)
            found = check_parsed(ctx, to_run)
            failure, lines = None, ctx.lines
    else:
        failure = syntax_verdict(source, path, target, tree) if syntax_enabled else None
        found = []
    return found, failure, lines
