"""The file being checked and the one owner of the facts every rule shares about it.

`FileContext` is what a rule sees: the source, the libcst tree, the semantic model, settings,
the project index, positions and edit helpers. `FileFacts` (`ctx.facts`) owns the shared
analyses of one module (LLM objects, conversation-scoped values, ownership, writes onto LLMs,
what each function pins), built once per file on first use and shared by every rule. The
project index builds a `FileFacts` of its own for each module it summarises.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange

from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.llm_writes import WriteFinder
from lint_rules.analysis.ownership import OwnershipAnalysis
from lint_rules.analysis.scoped_values import ScopedValues
from lint_rules.core.config import Config
from lint_rules.core.diagnostics import Edit
from lint_rules.core.source import LineIndex
from lint_rules.syntax.deep_stack import code_for_node, positions
from lint_rules.syntax.parse import ast_tree
from lint_rules.syntax.semantic import SemanticModel

if TYPE_CHECKING:  # the index is built on this module; only its type is needed here
    from lint_rules.analysis.project_index import ProjectIndex


class FileFacts:
    """The shared analyses of one module and their caches (one instance per checked file)."""

    def __init__(self, config: Config, model: SemanticModel) -> None:
        self.config = config
        self.model = model
        self.llms = LLMFacts(config, model)
        self.scoped = ScopedValues(config, model)
        self.ownership = OwnershipAnalysis(self.llms)
        self.writes = WriteFinder(self.llms, self.scoped)
        self.helpers: dict[int, bool] = {}  # id(FunctionInfo) -> is a pin helper
        self.pins: dict[int, frozenset] = {}  # id(FunctionInfo) -> pins it applies
        self.effects: object | None = None  # function summaries (call_effects.effects_of)
        self.llm_token_in_source: bool | None = None  # an LLM trigger token occurs in the file
        self.call_hops: dict[int, list] = {}  # id(FunctionInfo) -> its borrowed call hops (LLA001, LLA006)


class FileContext:
    """Everything a rule may ask about the file being checked."""

    def __init__(self, path: str, source: str, config: Config, module: cst.Module,
                 model: SemanticModel, index: ProjectIndex | None,
                 tree: ast.Module | None = None) -> None:
        self.path = path
        self.source = source
        self.config = config
        self.module = module
        self.model = model
        self.index = index
        self._tree = tree  # CPython's `ast` of the source, when the engine has it
        self._tree_asked = tree is not None
        self.lines = LineIndex(source)
        self._positions: object | None = None
        self._facts: FileFacts | None = None

    @property
    def facts(self) -> FileFacts:
        if self._facts is None:
            self._facts = FileFacts(self.config, self.model)
        return self._facts

    def ast_tree(self) -> ast.Module | None:
        """CPython's `ast` of the file (parsed here when the engine had none; None when the
        interpreter cannot read it, e.g. newer syntax)."""
        if not self._tree_asked:
            self._tree, self._tree_asked = ast_tree(self.source), True
        return self._tree

    # --- positions and text (positions are computed on first use only) ---
    def position(self, node: cst.CSTNode) -> CodeRange:
        if self._positions is None:
            self._positions = positions(self.module)
        return self._positions[node]  # type: ignore[index]

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """str offsets [start, end) of a node in the source."""
        rng = self.position(node)
        return (self.lines.offset(rng.start.line, rng.start.column),
                self.lines.offset(rng.end.line, rng.end.column))

    def code(self, node: cst.CSTNode) -> str:
        return code_for_node(self.module, node)

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

    def line_start(self, node: cst.CSTNode) -> int:
        return self.lines.starts[self.position(node).start.line - 1]

    def line_end(self, node: cst.CSTNode) -> int:
        """Offset just past the line break of the node's last line."""
        row = self.position(node).end.line
        return self.lines.starts[row] if row < len(self.lines.starts) else len(self.source)

    def newline(self) -> str:
        return self.module.default_newline


