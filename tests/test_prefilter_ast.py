"""LLA005's second prefilter stage (`analysis/globals_prefilter.py`, on CPython's `ast`) answers
"maybe" wherever the libcst analysis can answer "yes", and "no" on the common harmless shapes.

Each half is checked against the analysis it over-approximates, not only through the findings
(which are empty on the standard library): `writes_shared_state` against every sink
`GlobalSinks` finds, `holds_instance_data` against every value `InstanceData` describes.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from markers import config_for, options_of
from test_prefilter import FIXTURES, SAMPLE_SDK, stdlib_sample

from lint_rules.analysis.env_setters import is_environment
from lint_rules.analysis.process_state import InstanceData
from lint_rules.analysis.process_state_ast import (
    holds_instance_data,
    may_leak_into_globals,
    writes_environment,
    writes_shared_state,
)
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.core.config import Config
from lint_rules.core.source import SourceDecodeError, decode_source
from lint_rules.engine import check_text, may_have_findings, rules_that_may_fire
from lint_rules.rules.lla005_process_global_leak import ProcessGlobalLeak
from lint_rules.syntax.parse import module_name_for

# Shapes that are findings only through a detail of the libcst analysis: the ast stage must
# let every one of them through (one snippet per case: the stage answers per file).
LEAKS = {
    "one-line body: its assignment is no local for libcst": """
        CACHE = {}
        class C:
            def f(self): CACHE = {}; CACHE["k"] = self.api_key
    """,
    "body after a backslash on the def line": """
        CACHE = {}
        def f(api_key): \\
            CACHE = {}; CACHE["k"] = api_key
    """,
    "import below the function, same name as a module-level dict": """
        def f(api_key):
            registry["k"] = api_key
        registry = {}
        from x import registry as other
    """,
    "local alias of the environment": """
        import os
        def f(self):
            env = os.environ
            env["KEY"] = self.api_key
    """,
    "annotated local alias of the environment": """
        import os
        def f(api_key):
            env: dict = os.environ
            env["KEY"] = api_key
    """,
    "environ imported under another name": """
        from os import environ as E
        def f(api_key):
            E["KEY"] = api_key
    """,
    "environ |= mapping": """
        import os
        def f(api_key):
            os.environ |= {"KEY": api_key}
    """,
    "putenv imported under another name": """
        from os import putenv as p
        def f(password):
            p("PASSWORD", password)
    """,
    "putenv in a lambda": """
        import os
        def f(password):
            return lambda: os.putenv("PASSWORD", password)
    """,
    "classmethod whose first parameter is keyword-only": """
        class C:
            @classmethod
            def f(*, cls, api_key):
                cls.key = api_key
    """,
    "type(self) attribute": """
        class C:
            def f(self):
                type(self).key = self.api_key
    """,
    "container held by type(self)": """
        class C:
            cache = {}
            def f(self):
                type(self).cache["k"] = self.api_key
    """,
    "__class__ attribute": """
        class C:
            def f(self):
                self.__class__.key = self.access_token
    """,
    "setattr on a class of the file": """
        class LLM:
            pass
        def f(api_key):
            setattr(LLM, "key", api_key)
    """,
    "imported capitalised class": """
        from pkg.models import Settings
        def f(api_key):
            Settings.key = api_key
    """,
    "global rebinding": """
        KEY = None
        def f(api_key):
            global KEY
            KEY = api_key
    """,
    "module-level annotated dict, mutator call": """
        CACHE: dict[str, str] = {}
        def f(self):
            CACHE.setdefault("k", self.secret)
    """,
    "module-level deque": """
        import collections
        SEEN = collections.deque()
        def f(self):
            SEEN.append(self.password)
    """,
    "library global": """
        import litellm
        class C:
            def f(self):
                litellm.api_key = self.api_key
    """,
    "library global through an alias, container": """
        import litellm as ll
        def f(api_key):
            ll.headers.update({"k": api_key})
    """,
    "library container imported by name": """
        from litellm import headers
        def f(api_key):
            headers["k"] = api_key
    """,
    "nested function writing a module dict": """
        CACHE = {}
        class C:
            def f(self):
                def inner():
                    CACHE["k"] = self.api_key
                return inner
    """,
    "credential as a string key": """
        CACHE = {}
        def f(cfg):
            CACHE["k"] = cfg["api_key"]
    """,
    "credential through .get": """
        CACHE = {}
        def f(cfg):
            CACHE["k"] = cfg.get("api_key")
    """,
    "credential as a method call's receiver": """
        CACHE = {}
        class C:
            def f(self):
                CACHE["k"] = self.api_key.strip()
    """,
    "credential through a local variable": """
        CACHE = {}
        class C:
            def f(self):
                key = self.tenant.api_key
                CACHE["k"] = key
    """,
    "conversation id": """
        SESSIONS = []
        class Conversation:
            def f(self):
                SESSIONS.append(self.id)
    """,
    "field of an LLM config object": """
        import os
        class TenantLLMConfig:
            def f(self):
                os.environ["REGION"] = self.region
    """,
}

LEAK_OPTIONS = {
    "relative import of a configured library": ("""
        from . import settings
        def f(api_key):
            settings.api_key = api_key
    """, {"library-globals": ["settings.*"]}),
    "setattr on a library with a narrow pattern": ("""
        import litellm
        def f(api_key):
            setattr(litellm, "api_key", api_key)
    """, {"library-globals": ["litellm.api_*"]}),
    "imported lower-case LLM class": ("""
        from pkg import chat_model
        def f(api_key):
            chat_model.key = api_key
    """, {"llm-classes": ["pkg.chat_model"]}),
}
if sys.version_info >= (3, 11):
    LEAKS["assignment inside try/except*: no local for libcst"] = """
        CACHE = {}
        def f(api_key):
            try:
                CACHE = {}
            except* ValueError:
                pass
            CACHE["k"] = api_key
    """

CASES = [(name, textwrap.dedent(code), {}) for name, code in LEAKS.items()] + [
    (name, textwrap.dedent(code), options) for name, (code, options) in LEAK_OPTIONS.items()]


@pytest.mark.parametrize("name,source,options", CASES, ids=[c[0] for c in CASES])
def test_every_leak_shape_passes_the_ast_stage(name, source, options) -> None:
    config = config_for(options)
    found = check_text(source, "mod.py", config, ProjectIndex(config), prefilter=False)
    assert [d.code for d in found] == ["LLA005"], "the case must be a real finding"
    assert may_have_findings(source, config, ("LLA005",))
    assert may_leak_into_globals(ast.parse(source), source, config), name
    assert check_text(source, "mod.py", config, ProjectIndex(config)) == found


# An LLM field is instance data (`InstanceData`); each case reaches its LLM only through one
# route of `LLMSpellings.mentioned` (file path, source, settings).
LLM_FIELD_LEAKS = {
    "bare class name in a string annotation": ("mod.py", """
        CACHE = {}
        def f(x: "Optional[ChatOpenAI]"):
            CACHE["k"] = x.temperature
    """, {}),
    "class named after an LLM class": ("mod.py", """
        CACHE = {}
        class TenantLLMConfig:
            def f(self):
                CACHE["k"] = self.region
    """, {}),
    "pattern reached through an import": ("mod.py", """
        from pydantic_ai.models.foo import FooModel
        CACHE = {}
        def f(m: FooModel):
            CACHE["k"] = m.settings
    """, {}),
    "pattern reached through a relative import in the package": ("pydantic_ai/models/x.py", """
        from .foo import FooModel
        CACHE = {}
        def f(m: FooModel):
            CACHE["k"] = m.settings
    """, {}),
    "class qualified by its own module": ("agents.py", """
        CACHE = {}
        class Model:
            pass
        def f(m: Model):
            CACHE["k"] = m.settings
    """, {}),
    "class recognised by what it does": ("mod.py", """
        CACHE = {}
        class Backend:
            model: str
            def completion(self, messages):
                CACHE["k"] = self.temperature
    """, {}),
    "pattern starting with a wildcard": ("mod.py", """
        CACHE = {}
        def f(b: "x.TenantBrain"):
            CACHE["k"] = b.settings
    """, {"llm-classes": ["*Brain"]}),
    # The stage asks per function whether an expression may be an LLM: each of these functions
    # reaches its LLM class through a name that is no LLM spelling by itself.
    "class of the file recognised by what it does, defined below the function": ("mod.py", """
        CACHE = {}
        def f(b: Backend):
            CACHE["k"] = b.temperature
        class Backend:
            model: str
            def completion(self, messages):
                return messages
    """, {}),
    "LLM class imported under another name": ("mod.py", """
        from openhands.sdk import LLM as Brain
        CACHE = {}
        def f(b: Brain):
            CACHE["k"] = b.temperature
    """, {}),
    "class of the file deriving from one, in a string annotation": ("mod.py", """
        from langchain_openai import ChatOpenAI
        CACHE = {}
        def f(m: "Optional[Mine]"):
            CACHE["k"] = m.region
        class Mine(Base):
            pass
        class Base(ChatOpenAI):
            pass
    """, {}),
}


@pytest.mark.parametrize("name", list(LLM_FIELD_LEAKS))
def test_llm_field_leaks_pass_the_stage(name, tmp_path) -> None:
    relative, code, options = LLM_FIELD_LEAKS[name]
    source = textwrap.dedent(code)
    config = config_for(options)
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in Path(relative).parents:
        if str(folder) != ".":
            (tmp_path / folder / "__init__.py").write_text("")
    path.write_text(source)
    found = check_text(source, str(path), config, ProjectIndex(config), prefilter=False)
    assert [d.code for d in found] == ["LLA005"], "the case must be a real finding"
    assert "LLM" in found[0].message, found[0].message
    assert rules_that_may_fire(source, config, ("LLA005",), path=str(path)), name
    assert check_text(source, str(path), config, ProjectIndex(config)) == found


HARMLESS = {
    "credential words only in text": """
        '''Reads a token, a password or a secret from the user.'''
        CACHE = {}
        def f(value):
            CACHE["k"] = value  # the token
    """,
    "credential identifiers, writes to locals and self only": """
        def f(self, api_key, password):
            headers = {}
            headers["Authorization"] = api_key
            self.password = password
            self.cache["k"] = password
            items = []
            items.append(api_key)
    """,
    "module named token, used through attributes": """
        import token
        CACHE = {}
        def f(tok):
            CACHE[tok.type] = token.tok_name[tok.type]
    """,
    # LLM class tokens inside other words (`LM` in `HTML`), or a generic class name of another
    # library (`typing.Generator`): no LLM expression, so no LLM field is instance data.
    "LLM tokens inside other identifiers": """
        from typing import Generator
        HTML_CACHE = {}
        class Page:
            def render(self) -> Generator[str, None, None]:
                HTML_CACHE[self.name] = self.body
                yield self.body
    """,
    # The file spells an LLM, but the function that writes into a module dict holds no
    # expression that can be one (the stage asks function by function).
    "LLM in the file, not in the writing function": """
        from openhands.sdk import LLM
        _SEEN = {}
        def remember(name, value):
            _SEEN[name] = value
        def connect(llm: LLM, api_key):
            return llm.model_copy(update={"api_key": api_key})
    """,
    # `BaseModel` matches the pattern `pydantic_ai.models.*Model` by its last name only, and
    # a `model` field without a model-call method does not make a class an LLM class.
    "pydantic model with a model field": """
        from pydantic import BaseModel
        _SEEN = {}
        class Settings(BaseModel):
            model: str = "gpt"  # no token in here
        def remember(settings: Settings):
            _SEEN[settings.model] = settings.region
    """,
    # A library global takes any caller data; a module dict only named instance data.
    "library imported, module dict written": """
        import openai
        _SEEN = {}
        def remember(name, value):
            _SEEN[name] = value
        def configured():
            return openai.api_key is not None
    """,
    # The environment is only read: no setter or tenant record can be written there.
    "environment read, module dict written": """
        import os
        _SEEN = {}
        def remember(name):
            _SEEN[name] = os.environ.get("GITHUB_TOKEN")
    """,
}


@pytest.mark.parametrize("name", list(HARMLESS))
def test_harmless_shapes_are_rejected_before_libcst(name) -> None:
    source = textwrap.dedent(HARMLESS[name])
    config = Config()
    assert may_have_findings(source, config, ("LLA005",))  # stage one lets it through
    assert rules_that_may_fire(source, config, ("LLA005",), path="mod.py") == ()


# ---------------------------------------------------------------------- sink by sink, value by value
class _Everything(ProcessGlobalLeak):
    """LLA005 taken apart: reports each function that writes into shared state ("sink"), each
    function where `InstanceData` describes some assigned value or call argument ("data"), and
    functions with both ("both": a superset of the real findings)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._values: list[tuple[cst.CSTNode, object]] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        super().visit_Assign(node)
        fn = self.ctx.model.current_function
        if fn is not None:
            self._values.append((node.value, fn))

    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        fn = self.ctx.model.current_function
        if fn is not None:
            self._values.extend((a.value, fn) for a in node.args)

    def check_module(self) -> None:
        # A write into the environment, directly or through a same-file setter (`with
        # self.temporary_env(env):`): the rule's second ast stage (`writes_environment`, the
        # setter's own write) covers it.
        for c in self._candidates:
            if c.sink.description.startswith("`os.environ` (by "):
                self.report(c.node, "setter")
            if is_environment(c.sink) and c.fn is not None:
                self.report(c.node, "environment")
        sinks = {id(c.fn): c.node for c in self._candidates
                 if not c.sink.description.startswith("`os.environ` (by ")
                 and (c.sink.global_name is None
                      or self._sinks.is_module_container(c.sink.global_name, c.fn))}
        data = InstanceData(self.ctx, self._llms)
        described = {id(fn): value for value, fn in self._values
                     if data.describe(value, fn) is not None}
        # A library global takes any caller data, not only what `describe` names.
        library = {id(c.fn) for c in self._candidates if c.sink.library is not None
                   and any(data.caller_data(v, c.fn) is not None for v in c.values)}
        for key, node in sinks.items():
            self.report(node, "sink")
            if key in described or key in library:
                self.report(node, "both")
        for node in described.values():
            self.report(node, "data")


def _corpus() -> list[tuple[str, str, Config]]:
    out = [(f"case-{i}.py", source, config_for(options))
           for i, (_, source, options) in enumerate(CASES)]
    for path in FIXTURES + SAMPLE_SDK:
        source = path.read_text(encoding="utf-8")
        out.append((str(path), source, config_for(options_of(source))))
    # Files that pass stage one (they mention a credential): the ones the ast stage judges.
    config = Config()
    stage_one = []
    for path in stdlib_sample(step=1):
        try:
            source = decode_source(path.read_bytes()).text
        except (OSError, SourceDecodeError):
            continue
        if may_have_findings(source, config, ("LLA005",)):
            stage_one.append((str(path), source, config))
    others = [(str(p), decode_source(p.read_bytes()).text, config) for p in stdlib_sample(step=29)]
    return out + stage_one[::6] + others


@pytest.mark.slow
def test_each_half_covers_what_the_libcst_analysis_finds() -> None:
    counts = {"sink": 0, "data": 0, "both": 0, "setter": 0, "environment": 0}
    for path, source, config in _corpus():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        diagnostics = check_text(source, path, config, ProjectIndex(config), prefilter=False,
                                 rules=[_Everything])
        if any(d.code == "LLA000" for d in diagnostics):
            continue  # libcst cannot parse what this Python accepts: no analysis to compare
        found = {d.message for d in diagnostics}
        for kind in found:
            counts[kind] += 1
        module = module_name_for(path)[0]  # what the engine gives the stage
        if "sink" in found:
            assert writes_shared_state(tree, source, config), path
        if "data" in found:
            assert holds_instance_data(tree, source, config, module), path
        if "both" in found:
            assert may_leak_into_globals(tree, source, config, module_name=module), path
        if "setter" in found or "environment" in found:
            assert writes_environment(tree, source, config), path
    # Each half was really exercised (the corpus has dozens of files of each kind).
    assert counts["sink"] > 15 and counts["data"] > 25 and counts["both"] > 30, counts
    assert counts["setter"] >= 1 and counts["environment"] > 5, counts


@pytest.mark.parametrize("expression, module", [
    ('importlib.import_module("google.generativeai")', "google.generativeai"),
    ('cast(Any, importlib.import_module("a.b"))', "a.b"),
    ('import_module("a")', "a"),
    ('cast(typ=Any, val=importlib.import_module("a"))', None),
    ('importlib.import_module(".relative")', None),
    ("importlib.import_module(name)", None),
    ('import_module("x", "pkg")', None),
    ("import_module(*names)", None),
])
def test_both_trees_read_a_dynamic_import_alike(expression, module) -> None:
    # The stage must pass every file whose libcst model binds the import (LLA005's sinks).
    from lint_rules.analysis.process_state_ast import _dynamic_import
    from lint_rules.syntax.semantic import dynamic_import

    assert dynamic_import(cst.parse_expression(expression)) == module
    assert _dynamic_import(ast.parse(expression, mode="eval").body) == module
