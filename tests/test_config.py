"""The config loader: discovery, precedence, extend-, and errors that name the key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lint_rules.core.config import (
    Config,
    ConfigError,
    apply_settings,
    discover_config,
    load_config,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fit_the_seed_sdk() -> None:
    config = Config()
    assert "x-litellm-session-id" in config.scoped_header_keys
    assert "_prompt_cache_key" in config.scoped_attributes
    assert "self._state.id" in config.conversation_id_expressions
    assert "_pin_session_affinity_header" in config.pin_helpers
    assert "switch_llm" in config.llm_install_methods
    assert config.rule_enabled("LLA001") and config.rule_enabled("LLA000")


def test_closest_pyproject_with_table_wins(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.llm-affinity-lint]\nignore = ["LLA005"]\n')
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'x'\n")  # no table: skipped
    write(tmp_path / "pkg" / "sub" / "pyproject.toml", '[tool.llm-affinity-lint]\nselect = ["LLA001"]\n')
    deep = tmp_path / "pkg" / "sub" / "a" / "b"
    deep.mkdir(parents=True)
    config, root = discover_config([deep])
    assert config.select == ("LLA001",) and config.ignore == ()  # closest wins, no merging
    assert root == (tmp_path / "pkg" / "sub").resolve()
    config, root = discover_config([tmp_path / "pkg"])
    assert config.ignore == ("LLA005",) and root == tmp_path.resolve()


def test_explicit_config_overrides_discovery(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.llm-affinity-lint]\nignore = ["LLA005"]\n')
    other = write(tmp_path / "other" / "custom.toml", '[tool.llm-affinity-lint]\nignore = ["LLA001"]\n')
    config, _ = discover_config([tmp_path], explicit=other)
    assert config.ignore == ("LLA001",)


def test_extend_keys_add_to_defaults() -> None:
    config = apply_settings(Config(), {"extend-scoped-header-keys": ["x-tenant"],
                                       "pin-helpers": ["_pin"]}, "t")
    assert config.scoped_header_keys == ("x-litellm-session-id", "x-tenant")
    assert config.pin_helpers == ("_pin",)


def test_per_file_ignores(tmp_path: Path) -> None:
    config = apply_settings(Config(), {"per-file-ignores": {"tests/*": ["LLA001"], "conf.py": ["LLA"]}}, "t")
    assert not config.rule_enabled("LLA001", "tests/test_a.py")
    assert config.rule_enabled("LLA002", "tests/test_a.py")
    assert not config.rule_enabled("LLA004", "pkg/conf.py")
    assert config.rule_enabled("LLA001", "pkg/a.py")


@pytest.mark.parametrize("table,needle", [
    ({"slect": ["LLA001"]}, "key 'slect': unknown key"),
    ({"select": "LLA001"}, "key 'select': expected a list of strings, got a string"),
    ({"select": ["LLA999"]}, "unknown rule code 'LLA999'"),
    ({"ignore": ["E501"]}, "unknown rule code 'E501'"),
    ({"respect-gitignore": "yes"}, "expected true or false"),
    ({"per-file-ignores": {"a.py": ["XYZ1"]}}, "unknown rule code 'XYZ1'"),
    ({"per-file-ignores": ["a.py"]}, "expected a table"),
    ({"llm-classes": [1]}, "expected a list of strings"),
])
def test_bad_settings_name_key_and_file(tmp_path: Path, table: dict, needle: str) -> None:
    import json

    lines = [f"{k} = {json.dumps(v)}" if not isinstance(v, dict)
             else f"[tool.llm-affinity-lint.{k}]\n" + "\n".join(f'"{a}" = {json.dumps(b)}' for a, b in v.items())
             for k, v in table.items()]
    path = write(tmp_path / "pyproject.toml", "[tool.llm-affinity-lint]\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[tool.llm-affinity-lint\nselect = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        discover_config([tmp_path])


def test_fingerprint_changes_with_settings() -> None:
    a = Config()
    b = apply_settings(a, {"extend-pin-helpers": ["_x"]}, "t")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == Config().fingerprint()
