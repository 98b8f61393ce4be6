"""LLA004 header-bypass and LLA005 process-global-leak beyond the fixture files: the sample SDK's
planted markers, precision on the standard library and on this project, the prefilter tokens,
fixes, messages and odd input."""

from __future__ import annotations

import os
import sysconfig
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import libcst as cst
import pytest
from markers import expected_markers

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source, fix_source
from lint_rules.core.config import Config, apply_settings
from lint_rules.core.diagnostics import Applicability
from lint_rules.engine import check_text, may_have_findings

CODES = ("LLA004", "LLA005")
HERE = Path(__file__).parent
ROOT = HERE.parent
SAMPLE = HERE / "fixtures" / "sample_sdk"
FIXTURES = sorted(p for p in (HERE / "fixtures" / "rules").glob("LLA00[45]_*.py")
                  if not p.name.endswith(".fixed.py"))
STDLIB = Path(sysconfig.get_paths()["stdlib"])

# Reviewed stdlib LLA005 findings, keyed by path relative to the stdlib and line: none remain.
REVIEWED_STDLIB_LLA005: set[tuple[str, int]] = set()


def config(**table) -> Config:
    return apply_settings(Config(), {"select": list(CODES), **table}, "test")


def check(code: str, cfg: Config | None = None) -> list:
    return check_source(textwrap.dedent(code), "example.py", cfg or config())


def rows(diagnostics) -> set[tuple[int, str]]:
    return {(d.start.row, d.code) for d in diagnostics}


# ---------------------------------------------------------------------------- the sample SDK
SAMPLE_FILES = sorted(SAMPLE.rglob("*.py"))


def test_the_sample_sdk_plants_both_codes() -> None:
    planted = [code for p in SAMPLE_FILES for _, code in expected_markers(p.read_text("utf-8"))]
    assert planted.count("LLA004") == 3 and planted.count("LLA005") == 4


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[str(p.relative_to(SAMPLE)) for p in SAMPLE_FILES])
def test_sample_sdk_findings_are_its_planted_markers(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    cfg = config()
    expected = {(row, code) for row, code in expected_markers(source) if code in CODES}
    assert rows(check_source(source, str(path), cfg, ProjectIndex(cfg, [SAMPLE]))) == expected


# ---------------------------------------------------------------------------- precision on real code
def _stdlib_files() -> list[Path]:
    return sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _findings_in(path: str) -> list[tuple[str, int, str]]:
    source = _read(Path(path))
    if source is None:
        return []
    return [(str(Path(d.path).relative_to(STDLIB)), d.start.row, d.code)
            for d in check_source(source, path, config(), ProjectIndex(config()))
            if d.code in CODES]


def test_standard_library_findings_are_the_reviewed_ones() -> None:
    """Every stdlib .py file; the prefilter (a true necessary condition, see the tests below)
    lets through only files that spell instance data (`token`, `password`, `self.id`...)."""
    files = _stdlib_files()
    assert len(files) > 500
    cfg = config()
    start = time.perf_counter()
    candidates = [str(p) for p in files
                  if (source := _read(p)) is not None and may_have_findings(source, cfg, CODES)]
    assert len(candidates) < len(files) // 5  # the prefilter does its job
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        found = [f for chunk in pool.map(_findings_in, candidates, chunksize=8) for f in chunk]
    assert [f for f in found if f[2] == "LLA004"] == []
    assert {(p, row) for p, row, code in found if code == "LLA005"} == REVIEWED_STDLIB_LLA005
    print(f"\nstdlib: {len(files)} files, {len(candidates)} parsed, {len(found)} findings, "
          f"{time.perf_counter() - start:.1f}s")


LOOKALIKES = [
    "http/client.py", "http/server.py", "email/message.py", "urllib/request.py", "wsgiref/handlers.py",
    "os.py", "subprocess.py", "smtplib.py", "ftplib.py", "multiprocessing/managers.py", "getpass.py",
    "netrc.py", "webbrowser.py", "xmlrpc/client.py",
]


@pytest.mark.parametrize("relative", LOOKALIKES)
def test_stdlib_lookalikes_fully_analysed_are_silent(relative: str) -> None:
    """Header plumbing, environment writes and credentials in the stdlib, without the prefilter."""
    path = STDLIB / relative
    source = _read(path)
    if source is None:
        pytest.skip(f"{relative} is not in this Python")
    cfg = config()
    assert check_text(source, str(path), cfg, ProjectIndex(cfg), prefilter=False) == []


def test_this_project_is_silent() -> None:
    cfg = config()
    for path in sorted((ROOT / "lint_rules").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert check_text(source, str(path), cfg, ProjectIndex(cfg), prefilter=False) == [], path


# ---------------------------------------------------------------------------- prefilter tokens
@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_prefilter_never_changes_findings(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    from markers import config_for, options_of

    cfg = config_for(options_of(source))
    with_it = check_text(source, str(path), cfg, ProjectIndex(cfg), prefilter=True)
    without = check_text(source, str(path), cfg, ProjectIndex(cfg), prefilter=False)
    assert with_it == without


def test_odd_spellings_are_consistent_with_and_without_the_prefilter() -> None:
    """`self . id` is not a conversation id (tokens are spellings: skipping files without the
    plain one loses nothing); a scoped header key is one in any case (HTTP header names are
    case-insensitive), and the prefilter matches its tokens in any case too."""
    source = textwrap.dedent("""\
        import os
        REGISTRY = {}
        class Conversation:
            def leak(self):
                REGISTRY["s"] = (self . id)
            def headers(self, kwargs):
                kwargs.setdefault("extra_headers", {"X-TENANT-SESSION": "v"})
        """)
    cfg = config(**{"scoped-header-keys": ["x-tenant-session"]})
    assert may_have_findings(source, cfg, CODES)
    assert rows(check_text(source, "x.py", cfg, None, prefilter=False)) == {(7, "LLA004")}
    assert rows(check_text(source, "x.py", cfg, None, prefilter=True)) == {(7, "LLA004")}
    plain = source.replace("(self . id)", "self.id")
    assert rows(check_text(plain, "x.py", cfg, None, prefilter=False)) == {(5, "LLA005"), (7, "LLA004")}


# ---------------------------------------------------------------------------- LLA004 behaviour
def test_header_bypass_fix_is_unsafe_and_makes_the_pinned_headers_win() -> None:
    code = """\
        def build(llm, kwargs):
            return kwargs.get("extra_headers") or llm.extra_headers
        """
    [finding] = check(code)
    assert finding.code == "LLA004" and finding.fix.applicability is Applicability.UNSAFE
    assert "x-litellm-session-id" in finding.message
    assert fix_source(textwrap.dedent(code), "x.py", config(), unsafe=False).source == textwrap.dedent(code)
    fixed = fix_source(textwrap.dedent(code), "x.py", config(), unsafe=True).source
    namespace: dict = {}
    exec(compile(fixed, "x.py", "exec"), namespace)

    class FakeLLM:
        extra_headers = {"x-litellm-session-id": "conv-1", "X-Title": "app"}

    merged = namespace["build"](FakeLLM(), {"extra_headers": {"x-litellm-session-id": "evil", "A": "1"}})
    assert merged == {"x-litellm-session-id": "conv-1", "X-Title": "app", "A": "1"}
    assert namespace["build"](FakeLLM(), {}) == FakeLLM.extra_headers


def test_guarded_default_fix_runs_the_merge_unconditionally() -> None:
    code = """\
        def build(llm, kwargs):
            if "extra_headers" not in kwargs:  # caller passed none
                kwargs["extra_headers"] = dict(llm.extra_headers)
            return kwargs
        """
    fixed = fix_source(textwrap.dedent(code), "x.py", config(), unsafe=True).source
    assert "if " not in fixed and "# caller passed none" in fixed
    namespace: dict = {}
    exec(compile(fixed, "x.py", "exec"), namespace)

    class FakeLLM:
        extra_headers = {"x-litellm-session-id": "conv-1"}

    out = namespace["build"](FakeLLM(), {"extra_headers": {"A": "1"}})
    assert out["extra_headers"] == {"A": "1", "x-litellm-session-id": "conv-1"}


def test_reinjection_must_come_after_the_bypass() -> None:
    before = """\
        def build(self, llm, kwargs):
            headers = {"x-litellm-session-id": self.id}
            merged = {**llm.extra_headers, **kwargs.get("extra_headers", {})}
            return headers, merged
        """
    after = """\
        def build(self, llm, kwargs):
            merged = {**llm.extra_headers, **kwargs.get("extra_headers", {})}
            merged["x-litellm-session-id"] = self.id
            return merged
        """
    assert rows(check(before)) == {(3, "LLA004")}
    assert check(after) == []


def test_header_keyword_setting_is_honoured() -> None:
    code = """\
        def build(llm, kwargs):
            return kwargs.get("headers") or llm.headers
        """
    assert rows(check(code)) == {(2, "LLA004")}
    assert check(code, config(**{"header-keywords": ["extra_headers"]})) == []


def test_llm_headers_inside_a_non_llm_class_are_not_pinned() -> None:
    code = """\
        class Session:
            def request(self, headers=None):
                return headers or self.headers
        class LLM:
            def request(self, headers=None):
                return headers or self.headers
        """
    assert rows(check(code)) == {(6, "LLA004")}


# ---------------------------------------------------------------------------- LLA005 behaviour
def test_process_global_message_names_value_and_sink_and_has_no_fix() -> None:
    [finding] = check("""\
        import os as _os
        class TenantConfig:
            def apply(self):
                _os.environ["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key
        """)
    assert finding.fix is None
    assert "`self.aws_secret_access_key`" in finding.message and "`os.environ`" in finding.message
    assert "pass it with each call" in finding.message


def test_module_container_bound_after_the_function_counts() -> None:
    code = """\
        def remember(conversation_id):
            SEEN.append(conversation_id)
        SEEN = []
        """
    assert rows(check(code)) == {(2, "LLA005")}


def test_a_local_or_parameter_shadowing_the_global_is_not_global() -> None:
    code = """\
        SEEN = []
        def remember(conversation_id, SEEN):
            SEEN.append(conversation_id)
        def remember_local(conversation_id):
            SEEN = []
            SEEN.append(conversation_id)
        def outer(conversation_id):
            SEEN = []
            def inner():
                SEEN.append(conversation_id)
            return inner
        """
    assert check(code) == []


def test_immutable_module_values_are_not_containers_but_global_rebinding_is_a_write() -> None:
    code = """\
        NAME = "x"
        KEY = None
        def f(conversation_id):
            NAME.join([conversation_id])
        def g(api_key):
            global KEY
            KEY = api_key
        """
    assert rows(check(code)) == {(7, "LLA005")}


def test_startup_functions_are_module_level_functions_only() -> None:
    code = """\
        import os
        def main(api_key):
            os.environ["OPENAI_API_KEY"] = api_key
        class Server:
            def main(self, api_key):
                os.environ["OPENAI_API_KEY"] = api_key
        def set_tenant_key(api_key):
            os.environ["OPENAI_API_KEY"] = api_key
        """
    assert rows(check(code)) == {(6, "LLA005"), (8, "LLA005")}


def test_results_of_arbitrary_calls_are_not_the_credentials_they_were_given() -> None:
    code = """\
        import os
        class C:
            def f(self, token):
                os.environ["HASH"] = lookup(token)
                os.environ["ADDR"] = token.address
                os.environ["KEY"] = str(token).strip()
        """
    assert rows(check(code)) == {(6, "LLA005")}


@pytest.mark.parametrize("code", [
    "import os\nos.environ[...] = 1\n",
    "import os\ndef f(self):\n    os.putenv()\n    setattr(type(self))\n    os.environ.update(**{})\n",
    "import os\nclass A:\n    os.environ['A'] = api_key\n",
    "import os\nf = lambda self: os.environ.setdefault('K', self.api_key)\n",
    "def f(llm, kwargs):\n    return {**llm.extra_headers, **kwargs.get('extra_headers')}[0] | dict()\n",
    "def f(llm, kwargs):\n    if 'extra_headers' not in kwargs: kwargs['extra_headers'] = llm.extra_headers\n",
    "def f(llm, kwargs):\n    dict(llm.extra_headers, *kwargs)\n    (yield)\n",
    "def f(llm, kwargs, x):\n    if x:\n        pass\n    elif 'extra_headers' not in kwargs:\n"
    "        kwargs['extra_headers'] = llm.extra_headers\n",
])
def test_odd_shapes_never_crash(code: str) -> None:
    for diagnostic in check_source(code, "odd.py", config()):
        assert diagnostic.code in CODES
    result = fix_source(code, "odd.py", config(), unsafe=True)
    assert result.error is None
    cst.parse_module(result.source)


# ---------------------------------------------------------------------------- the fix, run for real
def _run_sample_test(folder: Path, name: str) -> int:
    import subprocess
    import sys

    env = {**os.environ, "AGENTSDK_SAMPLE_TESTS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests_sample", "-k", name],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300).returncode


def test_header_bypass_fix_restores_affinity_in_the_sample_sdk(tmp_path: Path) -> None:
    """The sample's own behavioural test for call-site headers fails before the LLA004 fix and
    passes after it; the other tests of the sample are not the fix's business."""
    import shutil

    copy = tmp_path / "sample_sdk"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    name = "test_call_site_headers_keep_session_affinity"
    assert _run_sample_test(copy, name) == 1
    cfg = apply_settings(Config(), {"select": ["LLA004"]}, "test")
    for path in copy.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        result = fix_source(source, str(path), cfg, unsafe=True)
        assert result.error is None and not result.remaining
        path.write_text(result.source, encoding="utf-8")
    assert _run_sample_test(copy, name) == 0
