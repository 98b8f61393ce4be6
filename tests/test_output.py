"""The report formats: concise, full, json, json-lines, github, sarif.

The tests build their own diagnostics and never depend on which rules are registered.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from lint_rules.core.diagnostics import Applicability, Diagnostic, Edit, Fix, Location, apply_edits
from lint_rules.output import FORMATS, _common, write_diagnostics
from lint_rules.rules import all_rules, documented_rules, get_rule

SOURCE = "import os\nx = 1\ny = 2\n"


def offset_to_location(source: str, offset: int) -> Location:
    before = source[:offset]
    row = before.count("\n") + 1
    return Location(row, offset - (before.rfind("\n") + 1) + 1)


def edit(source: str, start: int, end: int, content: str, *, located: bool = True) -> Edit:
    if not located:
        return Edit(start, end, content)
    return Edit(
        start, end, content, offset_to_location(source, start), offset_to_location(source, end)
    )


def make_diagnostics(path: str = "pkg/mod.py") -> list[Diagnostic]:
    """No fix, a safe fix and an unsafe fix (with two edits), in a non-sorted order."""
    return [
        Diagnostic(
            code="LLA002",
            name="second-rule",
            message="`y` leaks",
            path=path,
            start=Location(3, 1),
            end=Location(3, 2),
            fix=None,
            line_text="y = 2\n",
        ),
        Diagnostic(
            code="LLA001",
            name="first-rule",
            message="`os` is shared",
            path=path,
            start=Location(1, 8),
            end=Location(1, 10),
            fix=Fix("Remove `os`", (edit(SOURCE, 7, 9, "sys"),), Applicability.SAFE),
            line_text="import os\n",
        ),
        Diagnostic(
            code="LLA001",
            name="first-rule",
            message="`x` is shared",
            path=path,
            start=Location(2, 1),
            end=Location(2, 2),
            fix=Fix(
                "Rename `x`",
                (edit(SOURCE, 10, 11, "x_local"), edit(SOURCE, 16, 16, "# moved\n")),
                Applicability.UNSAFE,
            ),
            line_text="x = 1\n",
        ),
    ]


def render(diagnostics: list[Diagnostic], fmt: str, **flags: bool) -> str:
    stream = io.StringIO()
    write_diagnostics(diagnostics, fmt, stream, **flags)
    return stream.getvalue()


class FakeRule:
    """Duck-typed rule metadata; not a `Rule` subclass, so the real registry stays untouched."""

    code = "LLA001"
    name = "first-rule"
    summary = "First rule summary"
    rationale = "Why it **matters**."
    fix_description = "Renames the thing."

    @classmethod
    def url(cls) -> str:
        return "https://example.invalid/docs/LLA001.md"


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "registered_rules", lambda: (get_rule("LLA000"), FakeRule))


# --- dispatch ---------------------------------------------------------------------------------


def test_formats_lists_every_format() -> None:
    assert FORMATS == ("concise", "full", "json", "json-lines", "github", "sarif", "gitlab",
                       "junit", "grouped")


def test_unknown_format_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'.*concise.*sarif"):
        render(make_diagnostics(), "xml")


# --- concise ----------------------------------------------------------------------------------


def test_concise_lines_mark_only_fixes_that_would_be_applied() -> None:
    assert render(make_diagnostics(), "concise").splitlines() == [
        "pkg/mod.py:3:1: LLA002 `y` leaks",
        "pkg/mod.py:1:8: LLA001 [*] `os` is shared",
        "pkg/mod.py:2:1: LLA001 `x` is shared",  # unsafe: not applied without --unsafe-fixes
    ]


def test_concise_marks_unsafe_fixes_with_unsafe_fixes_enabled() -> None:
    assert render(make_diagnostics(), "concise", unsafe_fixes=True).splitlines() == [
        "pkg/mod.py:3:1: LLA002 `y` leaks",
        "pkg/mod.py:1:8: LLA001 [*] `os` is shared",
        "pkg/mod.py:2:1: LLA001 [*] `x` is shared",
    ]


def test_concise_without_fix_mode_hint_shows_no_markers() -> None:
    out = render(make_diagnostics(), "concise", fix_mode_hint=False, unsafe_fixes=True)
    assert "[*]" not in out
    assert out.splitlines()[1] == "pkg/mod.py:1:8: LLA001 `os` is shared"


def test_concise_keeps_the_given_order_and_writes_nothing_for_no_findings() -> None:
    diagnostics = make_diagnostics()
    reversed_out = render(diagnostics[::-1], "concise").splitlines()
    assert reversed_out == render(diagnostics, "concise").splitlines()[::-1]
    assert render([], "concise") == ""


# --- full -------------------------------------------------------------------------------------


def test_full_shows_source_line_carets_and_help() -> None:
    assert render(make_diagnostics(), "full") == (
        "pkg/mod.py:3:1: LLA002 `y` leaks\n"
        "  |\n"
        "3 | y = 2\n"
        "  | ^ LLA002\n"
        "  |\n"
        "\n"
        "pkg/mod.py:1:8: LLA001 [*] `os` is shared\n"
        "  |\n"
        "1 | import os\n"
        "  |        ^^ LLA001\n"
        "  |\n"
        "  = help: Remove `os`\n"
        "\n"
        "pkg/mod.py:2:1: LLA001 `x` is shared\n"
        "  |\n"
        "2 | x = 1\n"
        "  | ^ LLA001\n"
        "  |\n"
        "  = help: Rename `x`\n"
        "\n"
    )


def _full_lines(**changes: object) -> list[str]:
    base = dict(
        code="LLA003",
        name="third",
        message="m",
        path="a.py",
        start=Location(1, 1),
        end=Location(1, 2),
        line_text="",
    )
    base.update(changes)
    return render([Diagnostic(**base)], "full").splitlines()  # type: ignore[arg-type]


def test_full_gutter_grows_with_the_row_number() -> None:
    lines = _full_lines(start=Location(123, 5), end=Location(123, 8), line_text="    foo(1)\n")
    assert lines[1:5] == [
        "    |",
        "123 |     foo(1)",
        "    |     ^^^ LLA003",
        "    |",
    ]


def test_full_underlines_to_end_of_line_when_the_range_spans_rows() -> None:
    lines = _full_lines(start=Location(4, 5), end=Location(6, 2), line_text="x = call(\n")
    assert lines[2:4] == ["4 | x = call(", "  |     ^^^^^ LLA003"]


def test_full_empty_range_gets_one_caret_and_empty_line_has_no_trailing_space() -> None:
    lines = _full_lines(start=Location(2, 1), end=Location(2, 1), line_text="\n")
    assert lines[2:4] == ["2 |", "  | ^ LLA003"]


def test_full_aligns_carets_after_tabs_and_wide_characters() -> None:
    # Columns count characters; the display expands tabs and gives wide characters two cells.
    line = "\tname = '中文' + value\n"
    start = line.index("value") + 1
    lines = _full_lines(start=Location(1, start), end=Location(1, start + 5), line_text=line)
    shown, carets = lines[2], lines[3]
    assert shown == "1 |     name = '中文' + value"
    # Display cells: everything before "value" is 4 + len("name = '") + 4 + len("' + ") cells.
    offset = 4 + len("name = '") + 4 + len("' + ")
    assert carets == "  | " + " " * offset + "^^^^^ LLA003"


# --- json -------------------------------------------------------------------------------------

RUFF_KEYS = [
    "cell",
    "code",
    "end_location",
    "filename",
    "fix",
    "location",
    "message",
    "name",
    "noqa_row",
    "severity",
    "url",
]


def _is_location(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"row", "column"}
        and all(type(v) is int and v >= 1 for v in value.values())
    )


def test_json_objects_have_ruffs_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_registry: None
) -> None:
    monkeypatch.chdir(tmp_path)
    out = render(make_diagnostics(), "json")
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 3
    for obj in data:
        assert list(obj) == RUFF_KEYS
        assert obj["cell"] is None
        assert isinstance(obj["code"], str) and isinstance(obj["message"], str)
        assert _is_location(obj["location"]) and _is_location(obj["end_location"])
        assert obj["filename"] == str(tmp_path / "pkg" / "mod.py")
        assert os.path.isabs(obj["filename"])
        assert obj["noqa_row"] == obj["location"]["row"]
        assert obj["severity"] == "error" and isinstance(obj["name"], str) and obj["name"]
        assert obj["fix"] is None or isinstance(obj["fix"], dict)
    no_fix, safe, unsafe = data
    assert no_fix["code"] == "LLA002" and no_fix["fix"] is None
    assert no_fix["location"] == {"row": 3, "column": 1}
    assert no_fix["url"] is None  # not a registered rule
    assert safe["url"] == unsafe["url"] == "https://example.invalid/docs/LLA001.md"
    assert safe["fix"] == {
        "applicability": "safe",
        "edits": [
            {
                "content": "sys",
                "end_location": {"row": 1, "column": 10},
                "location": {"row": 1, "column": 8},
            }
        ],
        "message": "Remove `os`",
    }
    assert unsafe["fix"]["applicability"] == "unsafe"
    assert [e["content"] for e in unsafe["fix"]["edits"]] == ["x_local", "# moved\n"]
    assert unsafe["fix"]["edits"][1]["location"] == unsafe["fix"]["edits"][1]["end_location"]
    assert unsafe["fix"]["edits"][1]["location"] == {"row": 3, "column": 1}


def test_json_shows_every_fix_whatever_the_flags() -> None:
    diagnostics = make_diagnostics()
    plain = render(diagnostics, "json")
    assert render(diagnostics, "json", unsafe_fixes=True, fix_mode_hint=False) == plain


def test_json_syntax_error_links_its_page_and_unlocated_edits_are_null() -> None:
    diagnostics = [
        Diagnostic("LLA000", "syntax-error", "bad", "/abs/x.py", Location(2, 3), Location(2, 4)),
        Diagnostic(
            "LLA009",
            "other",
            "m",
            "/abs/x.py",
            Location(1, 1),
            Location(1, 2),
            Fix("f", (Edit(0, 1, "y"),)),
        ),
    ]
    syntax, other = json.loads(render(diagnostics, "json"))
    assert syntax["url"].endswith("/docs/rules/LLA000.md") and syntax["fix"] is None
    assert syntax["filename"] == "/abs/x.py"
    assert other["fix"]["edits"] == [{"content": "y", "end_location": None, "location": None}]


def test_json_empty_list_is_an_empty_array() -> None:
    out = render([], "json")
    assert out.strip() == "[]"
    assert json.loads(out) == []


def test_json_is_the_only_thing_written() -> None:
    # The whole stream must be one JSON document (no summary line around it).
    json.loads(render(make_diagnostics(), "json"))
    assert json.loads(render(make_diagnostics(), "sarif"))["version"] == "2.1.0"


# --- json-lines -------------------------------------------------------------------------------


def test_json_lines_is_one_json_object_per_line(fake_registry: None) -> None:
    diagnostics = make_diagnostics()
    lines = render(diagnostics, "json-lines").splitlines()
    assert len(lines) == len(diagnostics)
    objects = [json.loads(line) for line in lines]
    assert all(list(obj) == RUFF_KEYS for obj in objects)
    assert objects == json.loads(render(diagnostics, "json"))
    assert [o["code"] for o in objects] == ["LLA002", "LLA001", "LLA001"]
    assert render([], "json-lines") == ""


def test_json_lines_keeps_newlines_in_messages_inside_one_line() -> None:
    d = Diagnostic("LLA001", "n", "two\nlines", "a.py", Location(1, 1), Location(1, 2))
    lines = render([d], "json-lines").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["message"] == "two\nlines"


# --- github -----------------------------------------------------------------------------------


def test_github_workflow_commands() -> None:
    assert render(make_diagnostics(), "github").splitlines() == [
        "::error title=llm-affinity-lint (LLA002),file=pkg/mod.py,line=3,col=1,endLine=3,"
        "endColumn=2::LLA002 `y` leaks",
        "::error title=llm-affinity-lint (LLA001),file=pkg/mod.py,line=1,col=8,endLine=1,"
        "endColumn=10::LLA001 `os` is shared",
        "::error title=llm-affinity-lint (LLA001),file=pkg/mod.py,line=2,col=1,endLine=2,"
        "endColumn=2::LLA001 `x` is shared",
    ]
    assert render([], "github") == ""


def _unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def test_github_escapes_data_and_properties() -> None:
    path = "dir,with:odd%\nname.py"
    message = "100% sure: a, b\r\nnext"
    d = Diagnostic("LLA001", "n", message, path, Location(1, 2), Location(1, 3))
    out = render([d], "github")
    assert out.count("\n") == 1 and "\r" not in out
    line = out.rstrip("\n")
    assert line == (
        "::error title=llm-affinity-lint (LLA001),file=dir%2Cwith%3Aodd%25%0Aname.py,"
        "line=1,col=2,endLine=1,endColumn=3::LLA001 100%25 sure: a, b%0D%0Anext"
    )
    # The command parses back: properties split on "," and "=", the message after "::".
    head, _, data = line.removeprefix("::error ").partition("::")
    properties = dict(item.split("=", 1) for item in head.split(","))
    assert _unescape(properties["file"]) == path
    assert _unescape(data) == f"LLA001 {message}"
    # Data escaping leaves ":" and "," alone, as GitHub's toolkit does.
    assert "sure: a, b" in data


# --- sarif ------------------------------------------------------------------------------------

LEVELS = {"none", "note", "warning", "error"}
COLUMN_KINDS = {"utf16CodeUnits", "unicodeCodePoints"}


def _check_message(message: object, where: str) -> None:
    assert isinstance(message, dict), where
    assert "text" in message or "id" in message, f"{where}: message needs text or id"
    if "text" in message:
        assert isinstance(message["text"], str), where


def _check_multiformat(value: object, where: str) -> None:
    assert isinstance(value, dict), where
    assert isinstance(value.get("text"), str), f"{where}: text is required"
    if "markdown" in value:
        assert isinstance(value["markdown"], str), where


def _check_artifact_location(value: object, where: str) -> None:
    assert isinstance(value, dict), where
    assert isinstance(value.get("uri"), str) and value["uri"], f"{where}: uri"
    if "uriBaseId" in value:
        assert isinstance(value["uriBaseId"], str), where
        assert "://" not in value["uri"], f"{where}: a uri with a base id must be relative"
        assert not value["uri"].startswith("/"), where


def _check_region(region: object, where: str) -> None:
    assert isinstance(region, dict), where
    assert "startLine" in region or "charOffset" in region, f"{where}: text region needs one"
    for key in ("startLine", "startColumn", "endLine", "endColumn"):
        if key in region:
            assert type(region[key]) is int and region[key] >= 1, f"{where}: {key}"
    for key in ("charOffset", "charLength"):
        if key in region:
            assert type(region[key]) is int and region[key] >= 0, f"{where}: {key}"
    if "startLine" in region and "endLine" in region:
        assert region["endLine"] >= region["startLine"], where
        if region["endLine"] == region["startLine"] and "endColumn" in region:
            assert region["endColumn"] >= region.get("startColumn", 1), where


def _check_fix(fix: object, where: str) -> None:
    assert isinstance(fix, dict), where
    if "description" in fix:
        _check_message(fix["description"], f"{where}.description")
    changes = fix.get("artifactChanges")
    assert isinstance(changes, list) and changes, f"{where}: artifactChanges (minItems 1)"
    for i, change in enumerate(changes):
        w = f"{where}.artifactChanges[{i}]"
        assert isinstance(change, dict), w
        _check_artifact_location(change.get("artifactLocation"), f"{w}.artifactLocation")
        replacements = change.get("replacements")
        assert isinstance(replacements, list) and replacements, f"{w}: replacements (minItems 1)"
        for j, replacement in enumerate(replacements):
            assert isinstance(replacement, dict), w
            _check_region(replacement.get("deletedRegion"), f"{w}.replacements[{j}].deletedRegion")
            if "insertedContent" in replacement:
                content = replacement["insertedContent"]
                assert isinstance(content, dict) and isinstance(content.get("text"), str), w


def validate_sarif(log: object) -> None:
    """Required keys and types of SARIF 2.1.0 for the objects we emit (sarif-schema-2.1.0)."""
    assert isinstance(log, dict)
    assert log.get("version") == "2.1.0"
    if "$schema" in log:
        assert isinstance(log["$schema"], str)
    runs = log.get("runs")
    assert isinstance(runs, list)
    for r, run in enumerate(runs):
        assert isinstance(run, dict), f"runs[{r}]"
        if "columnKind" in run:
            assert run["columnKind"] in COLUMN_KINDS
        for base_id, base in run.get("originalUriBaseIds", {}).items():
            assert isinstance(base, dict) and base["uri"].endswith("/"), base_id
        tool = run.get("tool")
        assert isinstance(tool, dict), "run.tool is required"
        driver = tool.get("driver")
        assert isinstance(driver, dict), "tool.driver is required"
        assert isinstance(driver.get("name"), str) and driver["name"], "driver.name is required"
        for key in ("version", "informationUri"):
            if key in driver:
                assert isinstance(driver[key], str), key
        rules = driver.get("rules", [])
        assert isinstance(rules, list)
        ids = []
        for i, rule in enumerate(rules):
            w = f"rules[{i}]"
            assert isinstance(rule, dict), w
            assert isinstance(rule.get("id"), str) and rule["id"], f"{w}: id is required"
            ids.append(rule["id"])
            for key in ("shortDescription", "fullDescription", "help"):
                if key in rule:
                    _check_multiformat(rule[key], f"{w}.{key}")
            if "helpUri" in rule:
                assert isinstance(rule["helpUri"], str), w
            if "defaultConfiguration" in rule:
                assert rule["defaultConfiguration"].get("level", "warning") in LEVELS, w
        assert len(ids) == len(set(ids)), "rule ids must be unique"
        results = run.get("results", [])
        assert isinstance(results, list)
        for i, result in enumerate(results):
            w = f"results[{i}]"
            assert isinstance(result, dict), w
            _check_message(result.get("message"), f"{w}.message")
            if "level" in result:
                assert result["level"] in LEVELS, w
            if "ruleIndex" in result:
                index = result["ruleIndex"]
                assert type(index) is int and 0 <= index < len(rules), f"{w}: ruleIndex"
                assert rules[index]["id"] == result.get("ruleId"), f"{w}: ruleIndex/ruleId"
            for j, location in enumerate(result.get("locations", [])):
                assert isinstance(location, dict), w
                physical = location.get("physicalLocation")
                if physical is not None:
                    pw = f"{w}.locations[{j}].physicalLocation"
                    assert isinstance(physical, dict), pw
                    assert "artifactLocation" in physical or "address" in physical, pw
                    if "artifactLocation" in physical:
                        _check_artifact_location(physical["artifactLocation"], f"{pw}.uri")
                    if "region" in physical:
                        _check_region(physical["region"], f"{pw}.region")
            for j, fix in enumerate(result.get("fixes", [])):
                _check_fix(fix, f"{w}.fixes[{j}]")


def sarif(diagnostics: list[Diagnostic]) -> dict:
    log = json.loads(render(diagnostics, "sarif"))
    validate_sarif(log)
    return log


def test_sarif_validator_rejects_broken_documents() -> None:
    log = sarif(make_diagnostics())
    broken = json.loads(json.dumps(log))
    del broken["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(AssertionError):
        validate_sarif(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["ruleIndex"] += 1
    with pytest.raises(AssertionError):
        validate_sarif(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][1]["fixes"][0]["artifactChanges"][0]["replacements"] = []
    with pytest.raises(AssertionError):
        validate_sarif(broken)


def test_sarif_document_shape_and_results() -> None:
    log = sarif(make_diagnostics())
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "llm-affinity-lint"
    assert driver["informationUri"].startswith("https://")
    assert run["columnKind"] == "unicodeCodePoints"
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["LLA002", "LLA001", "LLA001"]
    assert all(r["level"] == "error" for r in results)
    messages = [r["message"]["text"] for r in results]
    assert messages == ["`y` leaks", "`os` is shared", "`x` is shared"]
    physical = results[1]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "pkg/mod.py", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 1, "startColumn": 8, "endLine": 1, "endColumn": 10}
    root = Path.cwd().as_uri()
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == root.rstrip("/") + "/"
    assert "fixes" not in results[0]
    (safe_fix,) = results[1]["fixes"]
    assert safe_fix["description"]["text"] == "Remove `os`"
    assert safe_fix["properties"]["applicability"] == "safe"
    (change,) = safe_fix["artifactChanges"]
    assert change["artifactLocation"] == physical["artifactLocation"]
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 1, "startColumn": 8, "endLine": 1, "endColumn": 10},
            "insertedContent": {"text": "sys"},
        }
    ]
    (unsafe_fix,) = results[2]["fixes"]
    assert unsafe_fix["properties"]["applicability"] == "unsafe"
    assert len(unsafe_fix["artifactChanges"][0]["replacements"]) == 2


def test_sarif_rules_cover_registered_rules_syntax_error_and_referenced_codes() -> None:
    log = sarif(make_diagnostics())
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    expected = {rule.code for rule in documented_rules()} | {"LLA000", "LLA001", "LLA002"}
    assert set(rules) == expected
    assert rules["LLA000"]["name"] == "syntax-error"
    assert rules["LLA000"]["shortDescription"]["text"] == get_rule("LLA000").summary
    assert rules["LLA000"]["helpUri"].endswith("/docs/rules/LLA000.md")
    assert all(r["defaultConfiguration"]["level"] == "error" for r in rules.values())
    for rule in all_rules():
        descriptor = rules[rule.code]
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["helpUri"] == rule.url()
    if "LLA002" not in {rule.code for rule in all_rules()}:
        assert rules["LLA002"]["name"] == "second-rule"
        assert "helpUri" not in rules["LLA002"]  # no docs page to point at


def test_sarif_rule_metadata_comes_from_the_rule_class(fake_registry: None) -> None:
    log = sarif(make_diagnostics())
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["LLA000", "LLA001", "LLA002"]
    lla001 = rules[1]
    assert lla001["name"] == "first-rule"
    assert lla001["shortDescription"] == {"text": "First rule summary"}
    assert lla001["fullDescription"]["text"] == "Why it **matters**."
    assert "Renames the thing." in lla001["help"]["markdown"]
    assert lla001["helpUri"] == "https://example.invalid/docs/LLA001.md"
    assert [r["ruleIndex"] for r in log["runs"][0]["results"]] == [2, 1, 1]


def test_sarif_absolute_paths_are_file_uris(tmp_path: Path) -> None:
    path = tmp_path / "dir with space" / "mod.py"
    log = sarif(make_diagnostics(str(path)))
    run = log["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": path.as_uri()}
    assert "%20" in location["uri"]
    assert "originalUriBaseIds" not in run  # nothing is relative


def test_sarif_relative_uris_are_percent_encoded() -> None:
    d = Diagnostic("LLA001", "n", "m", "a dir/b#c.py", Location(1, 1), Location(1, 2))
    location = sarif([d])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a%20dir/b%23c.py", "uriBaseId": "%SRCROOT%"}


def test_sarif_empty_run_is_valid() -> None:
    log = sarif([])
    (run,) = log["runs"]
    assert run["results"] == []
    assert "LLA000" in [r["id"] for r in run["tool"]["driver"]["rules"]]


def test_sarif_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from lint_rules.output import _common

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    monkeypatch.setattr(_common, "__version__", "9.8.7")
    assert sarif([])["runs"][0]["tool"]["driver"]["version"] == "9.8.7"
    monkeypatch.setattr(metadata, "version", lambda name: "1.2.3")
    assert sarif([])["runs"][0]["tool"]["driver"]["version"] == "1.2.3"


def test_sarif_unlocated_edit_falls_back_to_character_offsets() -> None:
    unlocated = Fix("f", (edit(SOURCE, 7, 9, "sys", located=False),))
    d = Diagnostic("LLA001", "n", "m", "a.py", Location(1, 8), Location(1, 10), unlocated)
    (replacement,) = sarif([d])["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0][
        "replacements"
    ]
    assert replacement["deletedRegion"] == {"charOffset": 7, "charLength": 2}


def test_sarif_fix_without_edits_is_left_out() -> None:
    d = Diagnostic("LLA001", "n", "m", "a.py", Location(1, 1), Location(1, 2), Fix("f", ()))
    assert "fixes" not in sarif([d])["runs"][0]["results"][0]


# --- the edits in the machine formats reproduce the fix ---------------------------------------


def _offset(source: str, row: int, column: int) -> int:
    line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
    return line_starts[row - 1] + column - 1


def _replay(source: str, spans: list[tuple[int, int, str]]) -> str:
    for start, end, content in sorted(spans, reverse=True):
        source = source[:start] + content + source[end:]
    return source


@pytest.mark.parametrize("index", [1, 2])
def test_reported_edits_replay_to_the_fixed_source(index: int) -> None:
    diagnostic = make_diagnostics()[index]
    assert diagnostic.fix is not None
    expected = apply_edits(SOURCE, list(diagnostic.fix.edits))
    assert expected != SOURCE

    json_edits = json.loads(render([diagnostic], "json"))[0]["fix"]["edits"]
    spans = [
        (
            _offset(SOURCE, e["location"]["row"], e["location"]["column"]),
            _offset(SOURCE, e["end_location"]["row"], e["end_location"]["column"]),
            e["content"],
        )
        for e in json_edits
    ]
    assert _replay(SOURCE, spans) == expected

    change = sarif([diagnostic])["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0]
    spans = [
        (
            _offset(SOURCE, r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
            _offset(SOURCE, r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
            r["insertedContent"]["text"],
        )
        for r in change["replacements"]
    ]
    assert _replay(SOURCE, spans) == expected


# --- optional: a minimal JSON schema, when jsonschema happens to be installed ------------------

_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}
_MULTIFORMAT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
_POSITIVE = {"type": "integer", "minimum": 1}
_REGION = {
    "type": "object",
    "properties": {
        "startLine": _POSITIVE,
        "startColumn": _POSITIVE,
        "endLine": _POSITIVE,
        "endColumn": _POSITIVE,
        "charOffset": {"type": "integer", "minimum": 0},
        "charLength": {"type": "integer", "minimum": 0},
    },
}
_ARTIFACT_LOCATION = {
    "type": "object",
    "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}},
}
MINIMAL_SARIF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"enum": ["2.1.0"]},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": _MULTIFORMAT,
                                                "fullDescription": _MULTIFORMAT,
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "message": _MESSAGE,
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": {"enum": sorted(LEVELS)},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "anyOf": [
                                                    {"required": ["artifactLocation"]},
                                                    {"required": ["address"]},
                                                ],
                                                "properties": {
                                                    "artifactLocation": _ARTIFACT_LOCATION,
                                                    "region": _REGION,
                                                },
                                            }
                                        },
                                    },
                                },
                                "fixes": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["artifactChanges"],
                                        "properties": {
                                            "artifactChanges": {
                                                "type": "array",
                                                "minItems": 1,
                                                "items": {
                                                    "type": "object",
                                                    "required": [
                                                        "artifactLocation",
                                                        "replacements",
                                                    ],
                                                    "properties": {
                                                        "replacements": {
                                                            "type": "array",
                                                            "minItems": 1,
                                                            "items": {
                                                                "type": "object",
                                                                "required": ["deletedRegion"],
                                                                "properties": {
                                                                    "deletedRegion": _REGION
                                                                },
                                                            },
                                                        }
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_sarif_matches_a_minimal_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for diagnostics in (make_diagnostics(), []):
        jsonschema.validate(sarif(diagnostics), MINIMAL_SARIF_SCHEMA)
