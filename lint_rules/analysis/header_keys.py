"""The one definition of a conversation-scoped header key, and the prefilter tokens for keys.

A key expression is scoped when the string it spells, compared case-insensitively (HTTP header
names are), is one of `scoped-header-keys`. It may spell it as a literal, a module constant
(`SESSION_HEADER = "x-litellm-session-id"`) or a class constant (`self.HEADER`, `Cls.HEADER`);
a local of the same name shadows the module constant.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis.local_bindings import local_defs
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import FunctionInfo, SemanticModel, dotted_name, string_value


class AnyCase(str):
    """A prefilter token matched case-insensitively (the engine compares it with the lowered
    text), for spellings the analysis matches in any case."""


def header_key_tokens(config: Config) -> tuple[AnyCase, ...]:
    """A file can name a scoped header key only where its text holds one, in some case: in a
    constant it points to, that constant's text is in the same file."""
    return tuple(AnyCase(k.lower()) for k in config.scoped_header_keys if k)


class HeaderKeys:
    def __init__(self, config: Config, model: SemanticModel | None = None) -> None:
        self.keys = frozenset(k.lower() for k in config.scoped_header_keys)
        self.model = model

    def is_scoped(self, text: str | None) -> bool:
        return text is not None and text.lower() in self.keys

    def key_of(self, node: cst.BaseExpression | None, fn: FunctionInfo | None = None) -> str | None:
        """The scoped key (lower case) the expression spells, else None."""
        text = self.constant_text(node, fn)
        return text.lower() if self.is_scoped(text) else None

    def constant_text(self, node: cst.BaseExpression | None,
                      fn: FunctionInfo | None = None) -> str | None:
        """The string a literal, module constant or class constant spells."""
        value = string_value(node)
        if value is not None or node is None or self.model is None:
            return value
        if isinstance(node, cst.Name):
            if fn is not None and local_defs(fn, node.value):
                return None  # a local shadows the module constant
            return string_value(self.model.globals.get(node.value))
        if isinstance(node, cst.Attribute) and fn is not None and fn.cls is not None:
            owner = dotted_name(node.value)
            if owner in (fn.self_name, fn.cls.name):
                return string_value(fn.cls.attributes.get(node.attr.value))
        return None
