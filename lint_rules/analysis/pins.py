"""Which pins a method applies, and whether it is a pin helper.

A pin is named "header:<key>" (a conversation-scoped header key) or "attr:<name>" (a
conversation-scoped LLM attribute). Foundation version: configured helper names and direct
writes of scoped attributes/keys; the scope-leak rules refine recognition from behaviour.
"""

from __future__ import annotations

import libcst as cst

from lint_rules.config import Config
from lint_rules.semantic import FunctionInfo, SemanticModel, dotted_name, string_value


def scoped_header_key(node: cst.BaseExpression | None, config: Config) -> str | None:
    value = string_value(node)
    if value is not None and value.lower() in {k.lower() for k in config.scoped_header_keys}:
        return value.lower()
    return None


def direct_pins(fn: FunctionInfo, config: Config) -> frozenset[str]:
    pins: set[str] = set()
    attrs = set(config.scoped_attributes)
    for node in _walk_statements(fn.node.body):
        if isinstance(node, cst.Attribute) and node.attr.value in attrs:
            pins.add(f"attr:{node.attr.value}")
        key = scoped_header_key(node, config) if isinstance(node, cst.BaseExpression) else None
        if key is not None:
            pins.add(f"header:{key}")
    return frozenset(pins)


def self_calls(fn: FunctionInfo) -> frozenset[str]:
    me = fn.self_name
    if me is None:
        return frozenset()
    names = set()
    for node in _walk_statements(fn.node.body):
        if isinstance(node, cst.Call):
            name = dotted_name(node.func)
            if name and name.startswith(me + ".") and name.count(".") == 1:
                names.add(name.split(".", 1)[1])
    return frozenset(names)


def summarize_method(fn: FunctionInfo, model: SemanticModel, config: Config, line: int):
    from lint_rules.index import MethodSummary

    pins = direct_pins(fn, config)
    is_helper = fn.name in config.pin_helpers
    return MethodSummary(fn.name, line, tuple(p.name for p in fn.params), self_calls(fn), pins,
                         is_helper)


def _walk_statements(body: cst.CSTNode):
    from lint_rules.engine import walk

    found: list[cst.CSTNode] = []
    walk(body, found.append, lambda _n: None)
    return found
