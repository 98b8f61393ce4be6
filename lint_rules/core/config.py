"""Settings: defaults that fit the SDK in domain.md, `[tool.llm-affinity-lint]`, and overrides.

Every list option `X` has an `extend-X` twin that adds to it instead of replacing it. Unknown
keys, wrong types and unknown rule codes raise `ConfigError`, which names the key and the file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from lint_rules.core.codes import CODES, REMOVED

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TABLE = "llm-affinity-lint"


class ConfigError(Exception):
    """A setting that cannot be used; the message names the key and the file."""


# Folders never worth linting (ruff's default excludes, plus the usual virtualenv names).
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox",
    ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules",
    "site-packages", "venv", ".llm_affinity_lint_cache", "__pycache__",
)


# Published LLM base classes of the popular agent SDKs (looked up in their releases), by the
# qualified names users import them under. Subclasses are recognised through the class's bases.
SDK_LLM_CLASSES: tuple[str, ...] = (
    "LLM", "openhands.sdk.LLM", "openhands.sdk.llm.LLM",
    # pydantic-ai
    "pydantic_ai.models.Model",
    # openai-agents
    "agents.Model", "agents.models.interface.Model", "agents.OpenAIChatCompletionsModel",
    "agents.OpenAIResponsesModel", "agents.extensions.models.litellm_model.LitellmModel",
    # smolagents
    "smolagents.Model", "smolagents.models.Model", "smolagents.ApiModel",
    "smolagents.models.ApiModel",
    # LangChain
    "langchain_core.language_models.BaseChatModel",
    "langchain_core.language_models.chat_models.BaseChatModel",
    "langchain_core.language_models.BaseLanguageModel",
    "langchain_core.language_models.base.BaseLanguageModel",
    "langchain_core.language_models.BaseLLM", "langchain_core.language_models.llms.BaseLLM",
    "langchain_openai.ChatOpenAI", "langchain_openai.AzureChatOpenAI",
    "langchain_openai.chat_models.base.BaseChatOpenAI",
    # LiteLLM
    "litellm.Router", "litellm.router.Router",
    # LlamaIndex
    "llama_index.core.llms.LLM", "llama_index.core.base.llms.base.BaseLLM",
    # Haystack
    "haystack.components.generators.chat.OpenAIChatGenerator",
    # DSPy
    "dspy.LM", "dspy.BaseLM", "dspy.clients.lm.LM", "dspy.clients.base_lm.BaseLM",
    # Google ADK
    "google.adk.models.BaseLlm", "google.adk.models.base_llm.BaseLlm",
    "google.adk.models.lite_llm.LiteLlm", "google.adk.models.LiteLlm",
    # CAMEL
    "camel.models.BaseModelBackend", "camel.models.base_model.BaseModelBackend",
    # CrewAI
    "crewai.LLM", "crewai.llm.LLM", "crewai.llms.base_llm.BaseLLM",
    # AutoGen
    "autogen_core.models.ChatCompletionClient",
    # Letta
    "letta.llm_api.llm_client_base.LLMClientBase",
    # Embedding models: model clients shared like LLMs (one `embed_model` serves every index
    # and retriever of an application), with the same hook fields (`callback_manager`).
    "llama_index.core.base.embeddings.base.BaseEmbedding", "llama_index.core.embeddings.BaseEmbedding",
    "langchain_core.embeddings.Embeddings", "langchain_core.embeddings.embeddings.Embeddings",
    # Provider families, by qualified-name pattern (`*` and `?` as in fnmatch)
    "pydantic_ai.models.*Model", "agents.models.*Model", "agents.extensions.models.*Model",
    "smolagents.*Model", "camel.models.*Model", "langchain_*.Chat*", "langchain_*.*LLM",
    "haystack.components.generators.*Generator",
    "haystack_integrations.components.generators.*Generator", "google.adk.models.*Llm",
    "google.adk.models.*Gemini", "autogen_ext.models.*Client", "crewai.llms.*LLM",
    "crewai.llms.*Completion", "dspy.clients.*LM",
)

# Last segments of qualified LLM classes too generic to match as bare names: `Model` of an
# unrelated library (or a database model) is not an LLM; these match only through the imports.
GENERIC_CLASS_NAMES = frozenset({
    "Model", "LM", "BaseLM", "Router", "Client", "Agent", "Generator", "Instructor",
})

# Named presets: settings an SDK needs beyond the defaults, where its LLM objects live under a
# generic attribute name that is not an LLM in other code bases. `preset = "pydantic-ai"` extends
# the defaults; the table's own keys apply after it.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "openhands": {},
    "pydantic-ai": {"llm_attributes": ("model",)},
    "openai-agents": {"llm_attributes": ("model",), "conversation_id_expressions": ("group_id",)},
    "smolagents": {"llm_attributes": ("model",)},
    "langchain": {"llm_attributes": ("model", "chat_model")},
    "langgraph": {"llm_attributes": ("model", "chat_model")},
    "litellm": {"llm_attributes": ("router", "llm_router")},
    "llama-index": {"llm_attributes": ("_llm",)},
    "haystack": {"llm_attributes": ("chat_generator", "generator")},
    "dspy": {"llm_attributes": ("lm",)},
    "google-adk": {"llm_attributes": ("model", "canonical_model"),
                   "conversation_id_expressions": ("invocation_id", "session.id")},
    "camel": {"llm_attributes": ("model_backend", "model")},
    "crewai": {"llm_attributes": ("function_calling_llm",)},
    "autogen": {"llm_attributes": ("model_client", "_model_client")},
    "letta": {"llm_attributes": ("llm_client",)},
}

# The preset an SDK's own project gets when its table names none: its maintainers run the tool in
# its repository, whose `[project] name` says which SDK it is (ruff reads `requires-python` the
# same way). Distribution names, normalised as PEP 503 does, matched as globs.
PRESET_PROJECTS: dict[str, tuple[str, ...]] = {
    "openhands": ("openhands", "openhands-*"),
    "pydantic-ai": ("pydantic-ai", "pydantic-ai-*"),
    "openai-agents": ("openai-agents",),
    "smolagents": ("smolagents",),
    "langchain": ("langchain", "langchain-*"),
    "langgraph": ("langgraph", "langgraph-*"),
    "litellm": ("litellm", "litellm-*"),
    "llama-index": ("llama-index", "llama-index-*"),
    "haystack": ("haystack-ai", "haystack-experimental"),
    "dspy": ("dspy", "dspy-ai"),
    "google-adk": ("google-adk",),
    "camel": ("camel-ai",),
    "crewai": ("crewai", "crewai-tools"),
    "autogen": ("autogen-agentchat", "autogen-core", "autogen-ext"),
    "letta": ("letta",),
}


def preset_for_project(name: object) -> str | None:
    """The preset of the SDK whose distribution is `name` (`[project] name`), or None."""
    if not isinstance(name, str):
        return None
    normal = re.sub(r"[-_.]+", "-", name.strip()).lower()
    for preset, patterns in PRESET_PROJECTS.items():
        if any(fnmatch.fnmatchcase(normal, pattern) for pattern in patterns):
            return preset
    return None


@dataclass(frozen=True)
class Config:
    """The resolved settings a check runs with. Field names are the TOML keys with `_`."""

    # --- selection ---
    select: tuple[str, ...] = ("LLA",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    # --- the domain ---
    # Header keys whose value identifies one conversation (matched case-insensitively).
    scoped_header_keys: tuple[str, ...] = ("x-litellm-session-id",)
    # LLM attributes / call keywords that hold a conversation-scoped value.
    scoped_attributes: tuple[str, ...] = ("_prompt_cache_key", "prompt_cache_key", "_call_context", "call_context")
    # Dotted expressions (suffix-matched on attribute chains) that yield a conversation id.
    conversation_id_expressions: tuple[str, ...] = (
        "self.id", "self._state.id", "self.state.id", "state.id", "conversation_id",
        "conversation.id", "self.conversation_id", "session_id", "self.session_id",
        "self._conversation_id",
        # Other agent SDKs: one id per run (LangChain callbacks, pydantic-ai, Letta), per thread
        # (LangGraph `config["configurable"]["thread_id"]`, OpenAI Assistants), per session (ADK).
        "run_id", "thread_id",
        # DSPy: a per-rollout id that keys the cache and the sampling of one rollout.
        "rollout_id",
    )
    # Qualified names (or bare class names) of LLM classes.
    # A qualified entry matches through the imports; its last segment also matches as a bare
    # name unless it is a generic word (`Model`, `LM`, `Router`: see `GENERIC_CLASS_NAMES`).
    llm_classes: tuple[str, ...] = SDK_LLM_CLASSES
    # Attributes that hold an LLM (`x.llm`, `x.condenser_llm`, ...).
    llm_attributes: tuple[str, ...] = (
        "llm", "_llm", "chat_model", "model_backend", "model_client", "_model_client",
        "llm_client", "function_calling_llm",
        # Embedding models (LlamaIndex `embed_model`, LangChain/CAMEL `embedding_model`).
        "embed_model", "_embed_model", "embedding_model", "_embedding_model",
        # DSPy: `program.lm`, `dspy.settings.lm`, `predictor.lm`.
        "lm",
    )
    # Methods that yield the LLMs of an agent or registry by reference.
    llm_sources: tuple[str, ...] = ("get_all_llms", "get_llm", "get_lm", "get", "values")
    # Pin helpers by name (they are also recognised from what they do).
    pin_helpers: tuple[str, ...] = (
        "_pin_prompt_cache_key", "_pin_session_affinity_header", "_bind_conversation_context",
    )
    # Methods that put a new LLM into a running conversation.
    llm_install_methods: tuple[str, ...] = ("switch_llm", "switch_profile", "set_llm", "update_llm")
    # Keyword names that carry a call context into an LLM call.
    call_context_keywords: tuple[str, ...] = ("call_context",)
    # Classes (qualified or bare names) of the per-conversation call context: a parameter or
    # local typed as one of them (or built by its constructor) is the context in scope (LLA007).
    call_context_classes: tuple[str, ...] = ("LLMCallContext", "CallContext")
    # Methods on an LLM object that send a request (what LLA007 calls an "LLM call").
    llm_call_methods: tuple[str, ...] = (
        "completion", "acompletion", "responses", "aresponses", "generate", "agenerate",
    )
    # Methods where a conversation class applies its pins when it sets up (plus what they call).
    setup_methods: tuple[str, ...] = (
        "__init__", "__post_init__", "model_post_init", "_ensure_agent_ready",
        "_ensure_plugins_loaded",
    )
    # Keyword names of request headers.
    header_keywords: tuple[str, ...] = ("extra_headers", "headers", "default_headers")
    # Fields of an LLM object that hold extra request parameters (a dict sent with every call):
    # structural evidence that a class with a model-name field is an LLM config object.
    request_extra_fields: tuple[str, ...] = (
        "extra_headers", "default_headers", "extra_body", "extra_query", "default_query",
        "model_kwargs", "model_settings", "additional_kwargs", "generate_kwargs",
        "generation_kwargs", "generation_config", "model_config_dict",
    )
    # Fields of an LLM object that hold hooks run on every call (a callback manager, callbacks, a
    # cost tracker): one component's hook installed in place on a shared LLM observes, bills or
    # traces every other component's calls, so a non-constant write is a pin like a scoped value.
    hook_attributes: tuple[str, ...] = (
        "callback_manager", "callbacks", "_callbacks", "callback_handlers", "usage_callback",
        "cost_tracker", "usage_tracker", "token_counter",
    )
    # Opt-in: classes (qualified or bare names) whose instances are shared like LLMs (agents,
    # memory blocks, tool sets); the scope-leak and stale-guard rules treat them like LLMs.
    shared_classes: tuple[str, ...] = ()
    # Named presets of the settings for one SDK (`PRESETS`); applied under the table's own keys.
    preset: tuple[str, ...] = ()
    # Module attributes that are process-global settings of a library: LiteLLM's, the OpenAI
    # module client's (`openai.api_key`, `openai.organization`), and Google's Vertex AI / Gemini
    # SDK initialisers (`vertexai.init(project=..., credentials=...)`, `aiplatform.init(...)`,
    # `genai.configure(api_key=...)`), which every later client of the process uses.
    library_globals: tuple[str, ...] = (
        "litellm.*", "openai.*", "vertexai.*", "google.cloud.aiplatform.*", "google.generativeai.*")
    # Names that mark a value as a credential or tenant secret.
    credential_names: tuple[str, ...] = (
        "api_key", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "api_token",
        "access_token", "secret", "password", "token", "tenant_id", "api_base", "base_url",
    )
    # The Python whose grammar judges files (`"py312"` or `"3.12"`); empty: the closest
    # pyproject's `requires-python` lower bound, else the newest grammar (see core/target.py).
    target_version: str = ""
    # Where this config came from (for messages and --show-settings); not a TOML key.
    source: str = field(default="<defaults>", compare=False)
    # The folder `per-file-ignores` patterns are relative to: the config file's folder (ruff's
    # rule), or the working directory when no file was found. Not a TOML key.
    anchor: str | None = None
    # Front-end settings (`output-format`, `cache-dir`, `fix`, `unsafe-fixes`, `show-fixes`) as
    # (key, value) pairs: the command line reads them; they never change findings, so the
    # cache key leaves them out.
    front_end: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    # ------------------------------------------------------------------ selection
    def rule_enabled(self, code: str, path: str | None = None) -> bool:
        if not _matches_any(code, self.select) or _matches_any(code, self.ignore):
            return False
        if path is not None and self.per_file_ignores:
            return not self._per_file_ignored(code, anchored_path(path, self.anchor))
        return True

    def _per_file_ignored(self, code: str, posix: str) -> bool:
        """Ruff's per-file-ignores: every pattern whose glob matches the path ignores its codes;
        a pattern starting with `!` applies to the files it does *not* match."""
        for pattern, codes in self.per_file_ignores:
            if pattern.startswith("!"):
                hit = not _path_matches(posix, pattern[1:])
            else:
                hit = _path_matches(posix, pattern)
            if hit and _matches_any(code, codes):
                return True
        return False

    def enabled_codes(self, all_codes: list[str], path: str | None = None) -> list[str]:
        if path is None or not self.per_file_ignores:
            return [c for c in all_codes if self.rule_enabled(c)]
        posix = anchored_path(path, self.anchor)
        return [c for c in all_codes
                if self.rule_enabled(c) and not self._per_file_ignored(c, posix)]

    def fingerprint(self) -> str:
        """A stable hash of every setting that can change findings (the cache keys on it)."""
        # Patterns are relative to the working directory when there is no anchor.
        return _fingerprint(self, os.getcwd() if self.anchor is None else None)

    def as_toml_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("source", "anchor"):
                continue
            if f.name == "front_end":
                out.update(dict(self.front_end))
                continue
            value = getattr(self, f.name)
            if f.name == "per_file_ignores":
                value = {k: list(v) for k, v in value}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name.replace("_", "-")] = value
        return out


def anchored_path(path: str, anchor: str | None) -> str:
    """`path` relative to `anchor` (default: the working directory), with `/` separators; as
    given when it lies outside. Per-file-ignores match this, wherever the tool was started."""
    base = anchor or os.getcwd()
    absolute = os.path.abspath(path)
    for p, b in ((absolute, os.path.abspath(base)),
                 (os.path.join(os.path.realpath(os.path.dirname(absolute)),
                               os.path.basename(absolute)), os.path.realpath(base))):
        prefix = b if b.endswith(os.sep) else b + os.sep
        if p.startswith(prefix):
            return Path(p[len(prefix):]).as_posix()
    return Path(path).as_posix()


def _matches_any(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(p == "ALL" or code.startswith(p) for p in prefixes)


def _path_matches(posix_path: str, pattern: str) -> bool:
    """Ruff-like: a glob matched against the whole path, or against its file name."""
    if fnmatch.fnmatch(posix_path, pattern) or fnmatch.fnmatch(posix_path, "*/" + pattern):
        return True
    return "/" not in pattern and fnmatch.fnmatch(posix_path.rsplit("/", 1)[-1], pattern)


_LIST_KEYS = {
    f.name for f in fields(Config) if f.type.startswith("tuple[str")  # type: ignore[union-attr]
}
_BOOL_KEYS = {"respect_gitignore", "force_exclude"}
_CODE_KEYS = {"select", "ignore", "extend_select"}
_TARGET_VERSION = re.compile(r"^(py3\d{1,2}|3\.\d{1,2})$")
_CODE_PATTERN = re.compile(r"^(ALL|LLA\d{0,3})$")


def known_code_prefix(code: str, all_codes: list[str]) -> bool:
    return code == "ALL" or any(c.startswith(code) for c in all_codes)


def _check_code(code: str, where: str, codes: list[str]) -> None:
    if code in REMOVED:
        raise ConfigError(f"{where}: rule code '{code}' was removed: {REMOVED[code]}")
    if not _CODE_PATTERN.match(code) or not known_code_prefix(code, codes):
        raise ConfigError(f"{where}: unknown rule code '{code}'")


def apply_settings(base: Config, table: dict[str, Any], origin: str) -> Config:
    """Validate a `[tool.llm-affinity-lint]`-shaped dict and lay it over `base`."""
    codes = sorted(CODES)
    changes: dict[str, Any] = {}
    extends: dict[str, tuple[str, ...]] = {}
    for raw_key, value in table.items():
        if raw_key.replace("-", "_") in ("preset", "extend_preset"):
            base = _apply_preset(base, value, f"{origin}: key '{raw_key}'")
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in ("preset", "extend_preset"):
            continue
        extend = key.startswith("extend_")
        target = key[len("extend_"):] if extend else key
        where = f"{origin}: key '{raw_key}'"
        if target == "per_file_ignores":
            changes_value = _per_file_ignores(value, where, codes)
            if extend:
                extends_pfi = changes.get("per_file_ignores", base.per_file_ignores)
                changes["per_file_ignores"] = tuple(extends_pfi) + changes_value
            else:
                changes["per_file_ignores"] = changes_value
            continue
        if target in _BOOL_KEYS and not extend:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {_typename(value)}")
            changes[target] = value
            continue
        if target == "target_version" and not extend:
            if not isinstance(value, str) or not _TARGET_VERSION.match(value.strip()):
                raise ConfigError(f"{where}: expected a Python version such as \"py312\" or "
                                  f"\"3.12\", got {value!r}")
            changes[target] = value.strip()
            continue
        if target not in _LIST_KEYS or target in ("source", "anchor"):
            raise ConfigError(f"{where}: unknown key")
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: expected a list of strings, got {_typename(value)}")
        if target in _CODE_KEYS or key in _CODE_KEYS:
            for code in value:
                _check_code(code, where, codes)
        if extend:
            extends[target] = extends.get(target, ()) + tuple(value)
        else:
            changes[target] = tuple(value)
    config = replace(base, **changes)
    for target, extra in extends.items():
        config = replace(config, **{target: tuple(getattr(config, target)) + extra})
    return replace(config, source=origin)


def _apply_preset(base: Config, value: Any, where: str) -> Config:
    """`preset = "langchain"` (or a list of names): extend the settings by each preset's lists."""
    names = [value] if isinstance(value, str) else value
    if not (isinstance(names, list) and all(isinstance(v, str) for v in names)):
        raise ConfigError(f"{where}: expected a preset name or a list of them, got {_typename(value)}")
    for name in names:
        preset = PRESETS.get(name)
        if preset is None:
            raise ConfigError(f"{where}: unknown preset '{name}' (known: {', '.join(sorted(PRESETS))})")
        extra = {k: tuple(getattr(base, k)) + tuple(v for v in vs if v not in getattr(base, k))
                 for k, vs in preset.items()}
        base = replace(base, preset=tuple(base.preset) + (name,), **extra)
    return base


def _per_file_ignores(value: Any, where: str, codes: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob = [codes], got {_typename(value)}")
    out = []
    for pattern, pattern_codes in value.items():
        if not (isinstance(pattern_codes, list) and all(isinstance(c, str) for c in pattern_codes)):
            raise ConfigError(f"{where}: '{pattern}' must map to a list of rule codes")
        for code in pattern_codes:
            _check_code(code, where, codes)
        out.append((pattern, tuple(pattern_codes)))
    return tuple(out)


def _typename(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def read_pyproject(path: Path) -> dict[str, Any] | None:
    """The tool's table from one pyproject.toml, or None when the file has none."""
    return _tool_table(_read_toml(path), path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; tomllib lets this escape
        raise ConfigError(f"{path}: not valid TOML: invalid utf-8 byte 0x{exc.object[exc.start]:02x}") from None
    except RecursionError:  # deeply nested arrays or inline tables
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return data


def _tool_table(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or TABLE not in tool:
        return None
    table = tool[TABLE]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.{TABLE}] must be a table")
    return table


def _kind(path: Path) -> str | None:
    """'dir', 'file', 'other', or None when `path` cannot be seen: missing, or inside a folder
    this user may not search (Path.is_file() raises PermissionError there: r05)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def find_config_file(start: Path) -> Path | None:
    """The closest pyproject.toml with our table, walking up from `start` (ruff: closest wins).
    A folder this user cannot search is passed over, as if it held no pyproject.toml."""
    start = start.resolve()
    for folder in [start, *start.parents] if _kind(start) == "dir" else start.parents:
        candidate = folder / "pyproject.toml"
        if _kind(candidate) == "file" and read_pyproject(candidate) is not None:
            return candidate
    return None


# The command line's own settings, as ruff has them at the top of its table: key -> (type, the
# values allowed or None). `cache-dir` is relative to the file's folder.
FRONT_END_KEYS: dict[str, tuple[type, tuple[str, ...] | None]] = {
    "output-format": (str, ("concise", "full", "json", "json-lines", "github", "sarif", "gitlab",
                            "junit", "grouped")),
    "cache-dir": (str, None),
    "fix": (bool, None),
    "unsafe-fixes": (bool, None),
    "show-fixes": (bool, None),
}


def _front_end(table: dict[str, Any], path: Path) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """Split the front-end keys off `table` (validated); the rest goes to `apply_settings`."""
    rest, front = {}, []
    for key, value in table.items():
        if key not in FRONT_END_KEYS:
            rest[key] = value
            continue
        kind, allowed = FRONT_END_KEYS[key]
        where = f"{path}: key '{key}'"
        if not isinstance(value, kind):
            expected = "true or false" if kind is bool else "a string"
            raise ConfigError(f"{where}: expected {expected}, got {_typename(value)}")
        if allowed is not None and value not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got '{value}'")
        if key == "cache-dir":
            value = str(path.resolve().parent / os.path.expanduser(value))
        front.append((key, value))
    return rest, tuple(front)


def load_config(path: Path | None) -> Config:
    """Defaults laid under the given pyproject's table (no file: the defaults)."""
    if path is None:
        return Config()
    data = _read_toml(path)
    table = _tool_table(data, path)
    anchor = str(path.resolve().parent)
    if table is None:
        if path.name != "pyproject.toml":
            raise ConfigError(f"{path}: has no [tool.{TABLE}] table")
        return replace(Config(), source=str(path), anchor=anchor)
    table, front = _front_end(table, path)
    base = Config()
    project = data.get("project")
    inferred = preset_for_project(project.get("name")) if isinstance(project, dict) else None
    if inferred is not None and "preset" not in table:  # `preset = []` opts out
        base = _apply_preset(base, inferred, f"{path}: [project] name")
    return replace(apply_settings(base, table, str(path)), anchor=anchor, front_end=front)


def discover_config(paths: list[Path], explicit: Path | None = None) -> tuple[Config, Path | None]:
    """`--config` wins; otherwise the closest table above the first path that has one."""
    if explicit is not None:
        if _kind(explicit) != "file":
            raise ConfigError(f"{explicit}: no such config file")
        return load_config(explicit), explicit.resolve().parent
    # Closest to the checked paths (cwd only when no path is given); a path outside any
    # project gets the defaults rather than whatever project the shell happens to be in.
    for start in paths or [Path.cwd()]:
        found = find_config_file(start if _kind(start) else start.parent if _kind(start.parent) else Path.cwd())
        if found is not None:
            return load_config(found), found.parent
    return Config(), None


@lru_cache(maxsize=64)
def _fingerprint(config: Config, cwd: str | None) -> str:
    """`Config.fingerprint`, computed once per settings (asked for every module a run reads)."""
    data = {f.name: getattr(config, f.name) for f in fields(config)
            if f.name not in ("source", "front_end")}
    if cwd is not None:
        data["anchor"] = cwd
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]


class ConfigResolver:
    """The settings of each file, as ruff resolves them: the closest pyproject.toml with our
    table above the file wins (no merging), then the command line's overrides on top; with
    `--config`, that one file for every path. Cached per folder: one lookup per folder a run
    touches, whatever the number of files."""

    def __init__(self, overrides: dict[str, Any] | None = None, explicit: Path | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._by_file: dict[Path, tuple[Config, Path | None]] = {}
        self._by_folder: dict[Path, Path | None] = {}
        self._by_parent: dict[str, tuple[Config, Path | None]] = {}
        self._fixed: tuple[Config, Path | None] | None = None
        if explicit is not None:
            config, root = discover_config([], explicit)
            self._fixed = (self._override(config), root)

    def _override(self, config: Config) -> Config:
        if not self.overrides:
            return config
        return replace(apply_settings(config, self.overrides, "command line"), source=config.source)

    def _config_file(self, folder: Path) -> Path | None:
        if folder in self._by_folder:
            return self._by_folder[folder]
        candidate = folder / "pyproject.toml"
        if _kind(candidate) == "file" and read_pyproject(candidate) is not None:
            found: Path | None = candidate
        elif folder.parent == folder:
            found = None
        else:
            found = self._config_file(folder.parent)
        self._by_folder[folder] = found
        return found

    def for_path(self, path: Path, *, is_file: bool = False) -> tuple[Config, Path | None]:
        """(settings, project root) for a file or folder, existing or not (stdin's name).
        `is_file`: the caller knows it is a file (discovery): no stat, one lookup per folder."""
        if self._fixed is not None:
            return self._fixed
        if is_file:
            parent = os.path.dirname(os.path.abspath(path))
            known = self._by_parent.get(parent)
            if known is None:
                known = self._by_parent[parent] = self.for_path(Path(parent))
            return known
        absolute = Path(os.path.abspath(path))
        folder = absolute if _kind(absolute) == "dir" else absolute.parent
        while _kind(folder) is None and folder.parent != folder:  # a path that does not exist
            folder = folder.parent
        try:
            folder = folder.resolve()
        except (OSError, RuntimeError):
            pass
        found = self._config_file(folder)
        if found not in self._by_file:
            config = load_config(found) if found is not None else Config()
            self._by_file[found] = (self._override(config), found.parent if found else None)
        return self._by_file[found]


def toml_value(value: object) -> str:
    """A settings value spelled as TOML (`show-settings`, the rule docs' option examples)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
