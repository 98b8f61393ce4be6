"""LLM objects of other agent SDKs: qualified bases, generic names, presets, shared classes."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from lint_rules.analysis.llm_objects import LLMFacts, trigger_tokens
from lint_rules.api import check_source
from lint_rules.core.config import (
    PRESET_PROJECTS,
    PRESETS,
    Config,
    ConfigError,
    apply_settings,
    load_config,
    preset_for_project,
)
from lint_rules.syntax.semantic import build_model


def facts(source: str, config: Config | None = None) -> LLMFacts:
    model = build_model(cst.parse_module(source), "/tmp/pkg/mod.py")
    return LLMFacts(config or Config(), model)


def test_generic_model_name_needs_its_import() -> None:
    assert facts("from pydantic_ai.models import Model\n").is_llm_class("Model")
    assert facts("from smolagents import Model\n").is_llm_class("Model")
    assert not facts("from django.db.models import Model\n").is_llm_class("Model")
    assert not facts("class Model:\n    name: str\n").is_llm_class("Model")


def test_provider_families_match_by_pattern() -> None:
    f = facts("from pydantic_ai.models.openai import OpenAIChatModel\n"
              "from langchain_anthropic import ChatAnthropic\n"
              "from pydantic_ai.models import ModelSettings\n")
    assert f.is_llm_class("OpenAIChatModel")
    assert f.is_llm_class("ChatAnthropic")
    assert not f.is_llm_class("ModelSettings")


def test_local_subclass_and_structural_classes() -> None:
    f = facts(
        "from langchain_core.language_models import BaseChatModel\n"
        "class Mine(BaseChatModel):\n    pass\n"
        "class Child(Mine):\n    pass\n"
        "class Gateway:\n"
        "    def __init__(self, model_name):\n        self.model_name = model_name\n"
        "    def completion(self, messages):\n        return messages\n"
        "class Recorder:\n"
        "    def __init__(self, model):\n        self.model = model\n"
        "    def save(self):\n        pass\n"
        "class A(B):\n    pass\n"
        "class B(A):\n    pass\n")
    assert f.is_llm_class("Mine") and f.is_llm_class("Child") and f.is_llm_class("Gateway")
    assert not f.is_llm_class("Recorder")
    assert not f.is_llm_class("A")  # a cycle of bases ends, and is not an LLM


def test_union_annotations_and_typed_self_attributes() -> None:
    source = ("from agents import Model\n"
              "from typing import Optional, Union\n"
              "class Holder:\n"
              "    backup: Optional[Model] = None\n"
              "    def __init__(self, model: str | Model | None, other: Union[int, str]):\n"
              "        self.model = model\n"
              "        self.other = other\n")
    f = facts(source)
    cls = f.model.class_named("Holder")
    assert f.typed_attributes(cls) == {"backup", "model"}


def test_preset_extends_defaults_and_table_keys_apply_after() -> None:
    config = apply_settings(Config(), {"preset": "dspy", "extend-llm-attributes": ["x"]}, "t")
    assert config.preset == ("dspy",)
    assert config.llm_attributes[-2:] == ("lm", "x")
    assert "llm" in config.llm_attributes
    both = apply_settings(Config(), {"preset": ["pydantic-ai", "google-adk"]}, "t")
    assert "model" in both.llm_attributes and "invocation_id" in both.conversation_id_expressions


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        apply_settings(Config(), {"preset": "nope"}, "t")
    with pytest.raises(ConfigError, match="expected a preset name"):
        apply_settings(Config(), {"preset": 3}, "t")


def test_every_preset_names_real_settings() -> None:
    names = set(Config().as_toml_dict())
    for preset in PRESETS.values():
        assert {k.replace("_", "-") for k in preset} <= names


def test_preset_is_inferred_from_the_project_name() -> None:
    assert preset_for_project("openai-agents") == "openai-agents"
    assert preset_for_project("Pydantic_AI.slim") == "pydantic-ai"  # PEP 503 normalisation
    assert preset_for_project("langchain-openai") == "langchain"
    assert preset_for_project("llama-index-core") == "llama-index"
    assert preset_for_project("camel-ai") == "camel"
    assert preset_for_project("openai") is None  # a client library, not an agent SDK
    assert preset_for_project("my-agents") is None
    assert preset_for_project(None) is None
    assert set(PRESET_PROJECTS) <= set(PRESETS)


def _project(tmp_path: Path, name: str, table: str = "") -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "{name}"\n\n[tool.llm-affinity-lint]\n{table}')
    return path


def test_the_sdks_own_project_gets_its_preset(tmp_path: Path) -> None:
    config = load_config(_project(tmp_path, "openai-agents"))
    assert config.preset == ("openai-agents",)
    assert "model" in config.llm_attributes and "group_id" in config.conversation_id_expressions
    # The table's keys still apply after it.
    extended = load_config(_project(tmp_path, "openai-agents", 'extend-llm-attributes = ["x"]\n'))
    assert extended.preset == ("openai-agents",) and extended.llm_attributes[-1] == "x"


def test_an_explicit_preset_replaces_the_inferred_one(tmp_path: Path) -> None:
    assert load_config(_project(tmp_path, "openai-agents", "preset = []\n")).preset == ()
    assert "model" not in load_config(_project(tmp_path, "openai-agents", "preset = []\n")).llm_attributes
    chosen = load_config(_project(tmp_path, "openai-agents", 'preset = "letta"\n'))
    assert chosen.preset == ("letta",) and "group_id" not in chosen.conversation_id_expressions
    assert load_config(_project(tmp_path, "my-service")).preset == ()


def test_the_inferred_preset_changes_what_is_found(tmp_path: Path) -> None:
    source = ("class Runner:\n"
              "    def __init__(self, agent):\n"
              "        self.agent = agent\n"
              "    def run(self, session_id):\n"
              "        self.agent.model.extra_headers['x-litellm-session-id'] = session_id\n")
    inferred = load_config(_project(tmp_path, "openai-agents"))
    assert [d.code for d in check_source(source, "runner.py", inferred)] == ["LLA001"]
    assert check_source(source, "runner.py", Config()) == []


def test_show_settings_lists_the_new_keys() -> None:
    shown = Config().as_toml_dict()
    for key in ("request-extra-fields", "shared-classes", "preset", "llm-classes"):
        assert key in shown
    assert "pydantic_ai.models.Model" in shown["llm-classes"]


def test_tokens_cover_shared_classes_and_structural_classes() -> None:
    config = apply_settings(Config(), {"shared-classes": ["myapp.memory.MemoryBlock"]}, "t")
    tokens = trigger_tokens(config)
    assert "MemoryBlock" in tokens and "model" in tokens
    assert all(t for t in tokens)


def test_embedding_models_are_shared_model_clients() -> None:
    f = facts("from llama_index.core.base.embeddings.base import BaseEmbedding\n"
              "from langchain_core.embeddings import Embeddings\n"
              "class Encoder:\n"
              "    def __init__(self, model_name):\n        self.model_name = model_name\n"
              "    def get_text_embedding(self, text):\n        return [0.0]\n"
              "class Indexer:\n"
              "    def __init__(self, model_name):\n        self.model_name = model_name\n"
              "    def index(self, text):\n        return text\n")
    assert f.is_llm_class("BaseEmbedding") and f.is_llm_class("Embeddings")
    assert f.is_llm_class("Encoder")
    assert not f.is_llm_class("Indexer")
    assert {"embed_model", "_embed_model"} <= set(Config().llm_attributes)
