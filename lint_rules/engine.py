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
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import libcst as cst

from lint_rules.analysis.context import FileContext, FileFacts
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.core.codes import SYNTAX_ERROR
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Diagnostic, Edit, Fix, Location
from lint_rules.core.noqa import file_is_exempt, suppressed
from lint_rules.core.source import LineIndex
from lint_rules.rules import Rule, all_rules
from lint_rules.syntax.parse import (
    LIBCST_PREFIX,
    ParseFailure,
    ast_tree,
    libcst_parse,
    module_name_for,
    syntax_check,
)
from lint_rules.syntax.semantic import FunctionInfo, SemanticBuilder, SemanticModel
from lint_rules.syntax.tree import walk


# ---------------------------------------------------------------------------- dispatch
class _Dispatcher:
    """Calls the semantic builder first on visit and last on leave, rules in between; runs the
    rules' function, class and module checks at the ends of those scopes."""

    def __init__(self, builder: SemanticBuilder, rules: list[Rule], facts: FileFacts) -> None:
        self.builder = builder
        self.rules = rules
        self.model = builder.model
        self.facts = facts
        self._visits: dict[type, list[Callable]] = {}
        self._leaves: dict[type, list[Callable]] = {}
        self._fn_now = [r for r in rules if _overrides(r, "check_function") and not r.defer_methods]
        self._fn_later = [r for r in rules if _overrides(r, "check_function") and r.defer_methods]
        self._cls_checks = [r.check_class for r in rules if _overrides(r, "check_class")]
        self._deferred: dict[int, list[FunctionInfo]] = {}

    def _handlers(self, node_type: type, prefix: str) -> list[Callable]:
        table = self._visits if prefix == "visit_" else self._leaves
        handlers = table.get(node_type)
        if handlers is None:
            name = prefix + node_type.__name__
            objects: list[object] = [*self.rules]
            objects = [self.builder, *objects] if prefix == "visit_" else [*objects, self.builder]
            handlers = [h for h in (getattr(o, name, None) for o in objects) if h is not None]
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
            for rule in self._fn_now:
                rule.check_function(fn)
            if self._fn_later:
                if fn.cls is None:
                    for rule in self._fn_later:
                        rule.check_function(fn)
                else:
                    self._deferred.setdefault(id(fn.cls), []).append(fn)
            self.builder.leave_FunctionDef(node)
        elif node_type is cst.ClassDef:
            for handler in self._handlers(node_type, "leave_")[:-1]:
                handler(node)
            cls = self.model.current_class
            self.builder.leave_ClassDef(node)
            self.facts.class_completed(cls)
            for fn in self._deferred.pop(id(cls), []):
                for rule in self._fn_later:
                    rule.check_function(fn)
            for check in self._cls_checks:
                check(cls)
        else:
            for handler in self._handlers(node_type, "leave_"):
                handler(node)


def _overrides(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


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
    if any(rule.ast_prefilter for rule in passing):
        if not isinstance(tree, ast.Module):
            tree = ast_tree(source)
        if tree is not None:
            passing = [rule for rule in passing
                       if not rule.ast_prefilter or rule.may_fire(tree, source, config)]
    return tuple(passing)


# ---------------------------------------------------------------------------- checking
def failure_diagnostic(path: str, failure: ParseFailure, line_text: str = "") -> Diagnostic:
    loc = Location(failure.row, failure.column)
    return Diagnostic(SYNTAX_ERROR[0], SYNTAX_ERROR[1], failure.message, path, loc, loc,
                      line_text=line_text)


def check_parsed(ctx: FileContext, rule_classes: Iterable[type[Rule]]) -> list[Diagnostic]:
    """Run the given rules over one parsed module: one traversal, shared facts."""
    rules = [cls(ctx) for cls in rule_classes]
    # The caller already named the module (ctx.model); is_package needs no second walk up the
    # folders' __init__.py files.
    is_package = Path(ctx.path).name == "__init__.py"
    dispatcher = _Dispatcher(SemanticBuilder(ctx.model, is_package), rules, ctx.facts)
    walk(ctx.module, dispatcher.visit, dispatcher.leave)
    for rule in rules:
        rule.check_module()
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


def check_text(source: str, path: str, config: Config, index: ProjectIndex | None = None,
               *, prefilter: bool = True,
               rules: Sequence[type[Rule]] | None = None) -> list[Diagnostic]:
    """All diagnostics for one decoded source, noqa applied, sorted.

    `rules`: run these rule classes instead of the registry's (tests of the fix engine use
    rules of their own); the configured selection still applies to their codes.
    """
    if file_is_exempt(source):
        return []
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
    found = [d for d in found if not suppressed(d, lines)]
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
        parsed = syntax_check(source, path) or libcst_parse(source)
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
            ctx = FileContext(path, source, config, parsed, SemanticModel(module_name=name), index)
            found = check_parsed(ctx, to_run)
            failure, lines = None, ctx.lines
    else:
        failure = syntax_check(source, path) if syntax_enabled else None
        found = []
    return found, failure, lines
