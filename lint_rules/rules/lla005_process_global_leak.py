"""LLA005 process-global-leak (foundation version: `os.environ[...] = <instance data>`)."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from lint_rules.config import Config
from lint_rules.rules.base import Example, Rule
from lint_rules.semantic import dotted_name


class ProcessGlobalLeak(Rule):
    code = "LLA005"
    name = "process-global-leak"
    summary = "Conversation or tenant data written into process-global state"
    rationale = """\
An agent server runs many conversations in one process. `os.environ`, module-level dicts, class
attributes and a library's module settings are shared by all of them at once: a credential or a
conversation id written there by one conversation is read by every other one.

Pass the value with each call instead (`completion(..., api_key=self.api_key)`).
"""
    bad_examples = (
        Example(
            """\
import os

class LLMConfig:
    def export(self):
        os.environ["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id  # LLA005
""",
            title="a per-LLM credential copied into the environment",
        ),
    )
    good_examples = (
        Example(
            """\
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

class LLMConfig:
    def call(self, client):
        return client.complete(api_key=self.aws_access_key_id)
""",
            title="start-up constants, and credentials passed per call",
        ),
    )

    @classmethod
    def trigger_tokens(cls, config: Config) -> Iterable[str]:
        return ("environ",)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if not isinstance(target.target, cst.Subscript):
                continue
            if self.ctx.model.resolve_expr(target.target.value) != "os.environ":
                continue
            source = self._instance_data(node.value)
            if source is not None:
                self.report(node, f"`{source}` is written into `os.environ`, which every "
                                  "conversation in the process shares; pass it per call instead")

    def _instance_data(self, value: cst.BaseExpression) -> str | None:
        fn = self.ctx.model.current_function
        me = fn.self_name if fn is not None else None
        credentials = set(self.ctx.config.credential_names)
        found: list[str] = []

        def visit(node: cst.CSTNode) -> None:
            name = dotted_name(node) if isinstance(node, cst.Attribute) else None
            if name and me and name.startswith(me + ".") and name.split(".")[-1] in credentials:
                found.append(name)

        from lint_rules.engine import walk

        walk(value, visit, lambda _n: None)
        return found[0] if found else None
