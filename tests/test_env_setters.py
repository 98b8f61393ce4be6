"""EnvSetters: which parameters a function writes into os.environ, across calls of one file."""

from __future__ import annotations

import libcst as cst

from lint_rules.analysis.env_setters import EnvSetters, TenantRecords, variable_holds
from lint_rules.analysis.llm_objects import LLMFacts
from lint_rules.analysis.process_state import GlobalSinks, credential_matcher
from lint_rules.core.config import Config
from lint_rules.syntax.semantic import build_model


def setters(source: str) -> tuple[EnvSetters, dict[str, dict[str, str]]]:
    model = build_model(cst.parse_module(source), "/tmp/pkg/mod.py")
    sinks = GlobalSinks(Config(), model, LLMFacts(Config(), model))
    found = EnvSetters(model, sinks)
    return found, {fn.qualname: found.of(fn) for fn in model.functions if found.of(fn)}


def test_direct_and_handed_on_through_methods_and_functions() -> None:
    _, table = setters(
        "import os\n"
        "class S:\n"
        "    def temp(self, env_vars):\n        os.environ.update(env_vars)\n"
        "    def run(self, cfg, env):\n        with self.temp(env):\n            pass\n"
        "    def outer(self, e):\n        return self.run(None, env=e)\n"
        "def loop(values):\n"
        "    for k, v in values.items():\n        os.environ[k] = v\n"
        "def put(name, value):\n    os.putenv(name, value)\n")
    assert table["S.temp"] == {"env_vars": "temp"}
    assert table["S.run"] == {"env": "temp"}
    assert table["S.outer"] == {"e": "temp"}
    assert table["loop"] == {"values": "loop"}
    assert table["put"] == {"value": "put"}


def test_recursion_and_mutual_recursion_terminate() -> None:
    _, table = setters(
        "import os\n"
        "def a(x, n):\n    if n:\n        return b(x, n - 1)\n    os.environ.update(x)\n"
        "def b(y, n):\n    return a(y, n)\n"
        "def c(z):\n    return c(z)\n")
    assert table["a"] == {"x": "a"}
    assert table["b"] == {"y": "a"}
    assert "c" not in table


def test_copies_and_other_sinks_are_not_setters() -> None:
    _, table = setters(
        "import os\n"
        "CACHE = {}\n"
        "def copy_env(extra):\n    env = dict(os.environ)\n    env.update(extra)\n    return env\n"
        "def cache(v):\n    CACHE['k'] = v\n"
        "def const(v):\n    os.environ['X'] = '1'\n")
    assert table == {}


def test_tenant_records_follow_in_place_merges() -> None:
    source = ("import os\n"
              "def f(self, config_id):\n"
              "    env = os.environ.copy()\n"
              "    env.update(self.m.get_vars(actor=self.user))\n"
              "    other = os.environ.copy()\n"
              "    other.update(self.m.get_vars(config_id=config_id))\n"
              "    return env, other\n")
    model = build_model(cst.parse_module(source), "/tmp/pkg/mod.py")
    fn = model.functions[0]
    records = TenantRecords(model)
    assert records.holds(cst.Name("env"), fn) is not None
    assert records.holds(cst.Name("other"), fn) is None


def test_environment_variable_names_that_say_what_they_hold() -> None:
    is_credential = credential_matcher(Config())

    def holds(literal: str) -> str | None:
        return variable_holds(cst.parse_expression(literal), is_credential)

    assert holds('"OPENAI_API_KEY"') == "a credential"
    assert holds('"AWS_BEARER_TOKEN_BEDROCK"') is None  # the credential word is not last
    assert holds('"HF_TOKEN"') == "a credential"
    assert holds('"GOOGLE_APPLICATION_CREDENTIALS"') == "a credential"
    assert holds("'VERTEX_CREDENTIALS_JSON'") == "a credential"
    assert holds('"LANGFUSE_PROJECT_ID"') == "an identity"
    assert holds('"TENANT_ID"') == "a credential"  # tenant_id is a configured credential name
    assert holds('"TOKENIZERS_PARALLELISM"') is None
    assert holds('"GOOGLE_CLOUD_PROJECT"') is None
    assert holds('"my_project_id"') is None  # not an environment-style name
    assert holds('"A-B_API_KEY"') is None
    assert holds("key") is None
    assert holds('f"{x}_API_KEY"') is None
    assert holds('"\\x48F_TOKEN"') is None  # an escape: the text does not spell the name
