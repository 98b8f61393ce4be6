"""What a rule is: its metadata (code, name, docs, examples) and its hooks into the engine.

A rule module defines one `Rule` subclass. The engine instantiates it once per checked file with
a `FileContext` and, during its single traversal of the tree, calls:

- `visit_<Node>(node)` / `leave_<Node>(node)` for any libcst node type the rule names (the
  libcst visitor convention);
- `check_function(fn)` when a function's body has been walked (`fn` is a `FunctionInfo`);
- `check_class(cls)` when a class body has been walked;
- `check_module()` at the end.

The semantic model (`ctx.model`: classes, functions, imports) is complete before any hook runs.

Every hook has a no-op default here; the engine calls only the hooks a rule overrides. Shared
facts come from `ctx.facts` (never built by a rule); a rule never reads files.

Rules report with `self.report(node, message, fix=None)`. Two prefilter stages decide whether a
rule runs on a file at all; both must be true necessary conditions for its findings (the
prefilter tests check that they never change findings):

- `trigger_tokens`: literal substrings of which at least one must occur in the file; the engine
  never parses a file that holds none of the enabled rules' tokens;
- `may_fire(tree, source, config)` (when `ast_prefilter` is set): a check of CPython's `ast` of
  a file that passed the tokens, for rules whose tokens are common words (LLA005's `token`,
  `password`); an `ast` costs about a tenth of a libcst parse.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from lint_rules.analysis.context import FileContext
from lint_rules.analysis.rule_stages import StageInput
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Fix
from lint_rules.syntax.semantic import ClassInfo, FunctionInfo

DOCS_URL = "https://github.com/llm-affinity-lint/llm-affinity-lint/blob/main/docs/rules/{code}.md"


@dataclass(frozen=True)
class Example:
    """A code sample for the docs and the tests: `bad` ones must produce the rule's code on each
    line marked `# <CODE>` and nowhere else; `good` ones must produce nothing. `fixed` is the
    expected source after applying the rule's fixes (unsafe ones included)."""

    code: str
    fixed: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # a [tool.llm-affinity-lint]-shaped table
    path: str = "example.py"
    title: str = ""


@dataclass(frozen=True)
class Evidence:
    """A step of a finding's evidence: at `node` of this file, or at `path:row` elsewhere."""

    message: str
    node: cst.CSTNode | None = None
    path: str | None = None
    row: int = 0


@dataclass(frozen=True)
class Report:
    node: cst.CSTNode
    message: str
    fix: Fix | None
    related: tuple[Evidence, ...] = ()


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, stable like the code
    summary: ClassVar[str]  # one line
    rationale: ClassVar[str]  # markdown: why it matters, what is and is not reported
    fix_description: ClassVar[str | None] = None  # markdown; None when the rule never fixes
    bad_examples: ClassVar[tuple[Example, ...]] = ()
    good_examples: ClassVar[tuple[Example, ...]] = ()
    ast_prefilter: ClassVar[bool] = False  # the engine calls `may_fire` before a libcst parse
    # The engine reports this code itself (LLA000): documented like a rule, never scheduled.
    reported_by_engine: ClassVar[bool] = False

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.reports: list[Report] = []

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        """Literal substrings, one of which must occur in a file for this rule to fire.

        An empty result means "may fire anywhere" and disables the prefilter for this rule.
        """
        return ()

    @classmethod
    def may_fire(cls, tree: ast.Module, source: str, config: Config) -> bool:
        """Second prefilter stage (only called when `ast_prefilter` is set): False only when the
        rule cannot report in this file."""
        return True

    @classmethod
    def ast_stage(cls, stage: StageInput) -> bool:
        """The same stage with everything the engine knows of the file (`analysis.rule_stages`:
        the tree's facts gathered once for every rule, the project's writing callees)."""
        return cls.may_fire(stage.tree, stage.source, stage.config)

    def check_function(self, fn: FunctionInfo) -> None:
        """A function's body has been walked."""

    def check_class(self, cls: ClassInfo) -> None:
        """A class body has been walked."""

    def check_module(self) -> None:
        """The whole module has been walked."""

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None,
               related: tuple[Evidence, ...] = ()) -> None:
        self.reports.append(Report(node, message, fix, related))

    @classmethod
    def url(cls) -> str:
        return DOCS_URL.format(code=cls.code)
